package aws

// Placeholders until the network resources are implemented; delete this file then.

import (
	"context"
	"errors"

	"github.com/kapstan/kapstan/internal/engine"
)

var _ = errors.New
var _ context.Context
var _ engine.Address

type vpcAPI interface{}
type subnetAPI interface{}
type internetGatewayAPI interface{}
type routeTableAPI interface{}
type natGatewayAPI interface{}

func (r *VPC) Diff(actual engine.Resource, refs engine.Refs) []engine.FieldDiff { return nil }
func (r *VPC) find(ctx context.Context, c *Cloud, refs engine.Refs) (engine.Resource, error) {
	return nil, errors.New("not implemented")
}
func (r *VPC) create(ctx context.Context, c *Cloud, refs engine.Refs) (engine.Resource, error) {
	return nil, errors.New("not implemented")
}
func (r *VPC) update(ctx context.Context, c *Cloud, actual engine.Resource, diffs []engine.FieldDiff, refs engine.Refs) (engine.Resource, error) {
	return nil, errors.New("not implemented")
}
func (r *VPC) delete(ctx context.Context, c *Cloud) error                 { return errors.New("not implemented") }
func (c *Cloud) ownedVPCs(ctx context.Context) ([]engine.Resource, error) { return nil, nil }

func (r *InternetGateway) Diff(actual engine.Resource, refs engine.Refs) []engine.FieldDiff {
	return nil
}
func (r *InternetGateway) find(ctx context.Context, c *Cloud, refs engine.Refs) (engine.Resource, error) {
	return nil, errors.New("not implemented")
}
func (r *InternetGateway) create(ctx context.Context, c *Cloud, refs engine.Refs) (engine.Resource, error) {
	return nil, errors.New("not implemented")
}
func (r *InternetGateway) update(ctx context.Context, c *Cloud, actual engine.Resource, diffs []engine.FieldDiff, refs engine.Refs) (engine.Resource, error) {
	return nil, errors.New("not implemented")
}
func (r *InternetGateway) delete(ctx context.Context, c *Cloud) error {
	return errors.New("not implemented")
}
func (c *Cloud) ownedInternetGateways(ctx context.Context) ([]engine.Resource, error) {
	return nil, nil
}

func (r *Subnet) Diff(actual engine.Resource, refs engine.Refs) []engine.FieldDiff { return nil }
func (r *Subnet) find(ctx context.Context, c *Cloud, refs engine.Refs) (engine.Resource, error) {
	return nil, errors.New("not implemented")
}
func (r *Subnet) create(ctx context.Context, c *Cloud, refs engine.Refs) (engine.Resource, error) {
	return nil, errors.New("not implemented")
}
func (r *Subnet) update(ctx context.Context, c *Cloud, actual engine.Resource, diffs []engine.FieldDiff, refs engine.Refs) (engine.Resource, error) {
	return nil, errors.New("not implemented")
}
func (r *Subnet) delete(ctx context.Context, c *Cloud) error                 { return errors.New("not implemented") }
func (c *Cloud) ownedSubnets(ctx context.Context) ([]engine.Resource, error) { return nil, nil }

func (r *RouteTable) Diff(actual engine.Resource, refs engine.Refs) []engine.FieldDiff { return nil }
func (r *RouteTable) find(ctx context.Context, c *Cloud, refs engine.Refs) (engine.Resource, error) {
	return nil, errors.New("not implemented")
}
func (r *RouteTable) create(ctx context.Context, c *Cloud, refs engine.Refs) (engine.Resource, error) {
	return nil, errors.New("not implemented")
}
func (r *RouteTable) update(ctx context.Context, c *Cloud, actual engine.Resource, diffs []engine.FieldDiff, refs engine.Refs) (engine.Resource, error) {
	return nil, errors.New("not implemented")
}
func (r *RouteTable) delete(ctx context.Context, c *Cloud) error {
	return errors.New("not implemented")
}
func (c *Cloud) ownedRouteTables(ctx context.Context) ([]engine.Resource, error) { return nil, nil }

func (r *Route) Diff(actual engine.Resource, refs engine.Refs) []engine.FieldDiff { return nil }
func (r *Route) find(ctx context.Context, c *Cloud, refs engine.Refs) (engine.Resource, error) {
	return nil, errors.New("not implemented")
}
func (r *Route) create(ctx context.Context, c *Cloud, refs engine.Refs) (engine.Resource, error) {
	return nil, errors.New("not implemented")
}
func (r *Route) update(ctx context.Context, c *Cloud, actual engine.Resource, diffs []engine.FieldDiff, refs engine.Refs) (engine.Resource, error) {
	return nil, errors.New("not implemented")
}
func (r *Route) delete(ctx context.Context, c *Cloud) error                 { return errors.New("not implemented") }
func (c *Cloud) ownedRoutes(ctx context.Context) ([]engine.Resource, error) { return nil, nil }

func (r *RouteTableAssociation) Diff(actual engine.Resource, refs engine.Refs) []engine.FieldDiff {
	return nil
}
func (r *RouteTableAssociation) find(ctx context.Context, c *Cloud, refs engine.Refs) (engine.Resource, error) {
	return nil, errors.New("not implemented")
}
func (r *RouteTableAssociation) create(ctx context.Context, c *Cloud, refs engine.Refs) (engine.Resource, error) {
	return nil, errors.New("not implemented")
}
func (r *RouteTableAssociation) update(ctx context.Context, c *Cloud, actual engine.Resource, diffs []engine.FieldDiff, refs engine.Refs) (engine.Resource, error) {
	return nil, errors.New("not implemented")
}
func (r *RouteTableAssociation) delete(ctx context.Context, c *Cloud) error {
	return errors.New("not implemented")
}
func (c *Cloud) ownedRouteTableAssociations(ctx context.Context) ([]engine.Resource, error) {
	return nil, nil
}

func (r *ElasticIP) Diff(actual engine.Resource, refs engine.Refs) []engine.FieldDiff { return nil }
func (r *ElasticIP) find(ctx context.Context, c *Cloud, refs engine.Refs) (engine.Resource, error) {
	return nil, errors.New("not implemented")
}
func (r *ElasticIP) create(ctx context.Context, c *Cloud, refs engine.Refs) (engine.Resource, error) {
	return nil, errors.New("not implemented")
}
func (r *ElasticIP) update(ctx context.Context, c *Cloud, actual engine.Resource, diffs []engine.FieldDiff, refs engine.Refs) (engine.Resource, error) {
	return nil, errors.New("not implemented")
}
func (r *ElasticIP) delete(ctx context.Context, c *Cloud) error                 { return errors.New("not implemented") }
func (c *Cloud) ownedElasticIPs(ctx context.Context) ([]engine.Resource, error) { return nil, nil }

func (r *NATGateway) Diff(actual engine.Resource, refs engine.Refs) []engine.FieldDiff { return nil }
func (r *NATGateway) find(ctx context.Context, c *Cloud, refs engine.Refs) (engine.Resource, error) {
	return nil, errors.New("not implemented")
}
func (r *NATGateway) create(ctx context.Context, c *Cloud, refs engine.Refs) (engine.Resource, error) {
	return nil, errors.New("not implemented")
}
func (r *NATGateway) update(ctx context.Context, c *Cloud, actual engine.Resource, diffs []engine.FieldDiff, refs engine.Refs) (engine.Resource, error) {
	return nil, errors.New("not implemented")
}
func (r *NATGateway) delete(ctx context.Context, c *Cloud) error {
	return errors.New("not implemented")
}
func (c *Cloud) ownedNATGateways(ctx context.Context) ([]engine.Resource, error) { return nil, nil }
