package aws

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/kapstan/kapstan/internal/engine"
)

// Route sends Destination through an internet gateway or a NAT gateway
// (exactly one is set). Routes have no tags and no id of their own: they
// are found inside their route table, by destination.
type Route struct {
	Name            string
	RouteTable      engine.Ref
	Destination     string
	InternetGateway engine.Ref
	NATGateway      engine.Ref
}

func (r *Route) Address() engine.Address { return engine.Address{Kind: KindRoute, Name: r.Name} }
func (r *Route) Dependencies() []engine.Address {
	return deps(r.RouteTable, r.InternetGateway, r.NATGateway)
}
func (r *Route) Summary() string {
	if !r.NATGateway.IsZero() {
		return r.Destination + " via " + r.NATGateway.String()
	}
	return r.Destination + " via " + r.InternetGateway.String()
}

// RouteName is the address name of the route to destination in a route
// table. Routes are found by content, so the model and the cloud must name
// them alike.
func RouteName(routeTable, destination string) string {
	return routeTable + ":" + destination
}

// Diff compares the route's target. The table and destination are what
// the route was found by, so they always match.
func (r *Route) Diff(actual engine.Resource, refs engine.Refs) []engine.FieldDiff {
	a := actual.(*Route)
	var d engine.Differ
	networkRefDiff(&d, "internetGateway", a.InternetGateway.ID, r.InternetGateway, refs, false)
	networkRefDiff(&d, "natGateway", a.NATGateway.ID, r.NATGateway, refs, false)
	return d.Diffs()
}

// routeManaged reports whether a route in one of the cluster's tables is
// one kapstan manages. Left alone: the VPC's `local` route and others AWS
// makes with the table, routes propagated from a virtual private gateway,
// and routes of VPC endpoints to a prefix list, which belong to the
// endpoint.
func routeManaged(rt ec2types.Route) bool {
	switch {
	case aws.ToString(rt.GatewayId) == "local",
		rt.Origin == ec2types.RouteOriginCreateRouteTable,
		rt.Origin == ec2types.RouteOriginEnableVgwRoutePropagation,
		strings.HasPrefix(aws.ToString(rt.GatewayId), "vpce-"),
		routeDestination(rt) == "":
		return false
	}
	return true
}

func routeDestination(rt ec2types.Route) string {
	if d := aws.ToString(rt.DestinationCidrBlock); d != "" {
		return d
	}
	return aws.ToString(rt.DestinationIpv6CidrBlock)
}

// routeCIDRs splits a destination into the IPv4 and IPv6 fields of the
// route calls.
func routeCIDRs(dest string) (v4, v6 *string) {
	if strings.Contains(dest, ":") {
		return nil, aws.String(dest)
	}
	return aws.String(dest), nil
}

// networkRoutes returns the managed routes of one of the cluster's route
// tables as actual resources, named after the table's address.
func (c *Cloud) networkRoutes(ctx context.Context, t networkRouteTable) ([]*Route, error) {
	igws, err := c.networkInternetGatewayIndex(ctx)
	if err != nil {
		return nil, err
	}
	nats, err := c.networkNATGatewayIndex(ctx)
	if err != nil {
		return nil, err
	}
	var out []*Route
	for _, rt := range t.rt.Routes {
		if !routeManaged(rt) {
			continue
		}
		dest := routeDestination(rt)
		out = append(out, &Route{
			Name:            RouteName(t.addr.Name, dest),
			RouteTable:      engine.Ref{ID: aws.ToString(t.rt.RouteTableId), Addr: t.addr},
			Destination:     dest,
			InternetGateway: networkRef(aws.ToString(rt.GatewayId), igws),
			NATGateway:      networkRef(aws.ToString(rt.NatGatewayId), nats),
		})
	}
	return out, nil
}

func (r *Route) find(ctx context.Context, c *Cloud, refs engine.Refs) (engine.Resource, error) {
	rtID := engine.ResolveID(refs, r.RouteTable)
	if rtID == "" {
		return nil, nil // the table does not exist yet
	}
	t, err := c.networkRouteTableByID(ctx, rtID)
	if err != nil || t == nil {
		return nil, err
	}
	routes, err := c.networkRoutes(ctx, *t)
	if err != nil {
		return nil, err
	}
	for _, a := range routes {
		if a.Destination == r.Destination {
			a.Name = r.Name
			return a, nil
		}
	}
	return nil, nil
}

// targets resolves the route's table and target.
func (r *Route) targets(refs engine.Refs) (rt, igw, nat string, err error) {
	rt = engine.ResolveID(refs, r.RouteTable)
	igw = engine.ResolveID(refs, r.InternetGateway)
	nat = engine.ResolveID(refs, r.NATGateway)
	switch {
	case rt == "":
		err = fmt.Errorf("route table %s not created yet", r.RouteTable)
	case !r.InternetGateway.IsZero() && igw == "":
		err = fmt.Errorf("internet gateway %s not created yet", r.InternetGateway)
	case !r.NATGateway.IsZero() && nat == "":
		err = fmt.Errorf("NAT gateway %s not created yet", r.NATGateway)
	case igw == "" && nat == "":
		err = fmt.Errorf("route has no target")
	}
	return rt, igw, nat, err
}

func (r *Route) actual(rt, igw, nat string) *Route {
	a := &Route{Name: r.Name, RouteTable: engine.Ref{ID: rt, Addr: r.RouteTable.Addr}, Destination: r.Destination}
	if igw != "" {
		a.InternetGateway = engine.Ref{ID: igw, Addr: r.InternetGateway.Addr}
	}
	if nat != "" {
		a.NATGateway = engine.Ref{ID: nat, Addr: r.NATGateway.Addr}
	}
	return a
}

func (r *Route) create(ctx context.Context, c *Cloud, refs engine.Refs) (engine.Resource, error) {
	rt, igw, nat, err := r.targets(refs)
	if err != nil {
		return nil, fmt.Errorf("creating route %s: %w", r.Name, err)
	}
	v4, v6 := routeCIDRs(r.Destination)
	_, err = c.EC2.CreateRoute(ctx, &ec2.CreateRouteInput{
		RouteTableId:             aws.String(rt),
		DestinationCidrBlock:     v4,
		DestinationIpv6CidrBlock: v6,
		GatewayId:                networkOptional(igw),
		NatGatewayId:             networkOptional(nat),
	})
	if hasCode(err, "RouteAlreadyExists") {
		// A create whose response was lost, or a route added since the
		// plan: make it point where it should.
		return r.replace(ctx, c, rt, igw, nat)
	}
	if err != nil {
		err = fmt.Errorf("creating route %s: %w", r.Name, err)
		if isNotFound(err) { // the table or gateway was created a moment ago
			return nil, engine.Retryable(err)
		}
		return nil, err
	}
	return r.actual(rt, igw, nat), nil
}

func (r *Route) replace(ctx context.Context, c *Cloud, rt, igw, nat string) (engine.Resource, error) {
	v4, v6 := routeCIDRs(r.Destination)
	_, err := c.EC2.ReplaceRoute(ctx, &ec2.ReplaceRouteInput{
		RouteTableId:             aws.String(rt),
		DestinationCidrBlock:     v4,
		DestinationIpv6CidrBlock: v6,
		GatewayId:                networkOptional(igw),
		NatGatewayId:             networkOptional(nat),
	})
	if err != nil {
		err = fmt.Errorf("replacing route %s: %w", r.Name, err)
		if isNotFound(err) { // the new target was created a moment ago
			return nil, engine.Retryable(err)
		}
		return nil, err
	}
	return r.actual(rt, igw, nat), nil
}

// update points the route at its new target in one call.
func (r *Route) update(ctx context.Context, c *Cloud, actual engine.Resource, diffs []engine.FieldDiff, refs engine.Refs) (engine.Resource, error) {
	rt, igw, nat, err := r.targets(refs)
	if err != nil {
		return nil, fmt.Errorf("updating route %s: %w", r.Name, err)
	}
	return r.replace(ctx, c, rt, igw, nat)
}

func (r *Route) delete(ctx context.Context, c *Cloud) error {
	v4, v6 := routeCIDRs(r.Destination)
	_, err := c.EC2.DeleteRoute(ctx, &ec2.DeleteRouteInput{
		RouteTableId:             aws.String(r.RouteTable.ID),
		DestinationCidrBlock:     v4,
		DestinationIpv6CidrBlock: v6,
	})
	return networkDeleteErr(err, "route", r.Name)
}

// ownedRoutes lists the managed routes in the cluster's route tables.
func (c *Cloud) ownedRoutes(ctx context.Context) ([]engine.Resource, error) {
	rts, err := c.networkRouteTables(ctx)
	if err != nil {
		return nil, err
	}
	var out []engine.Resource
	for _, t := range rts {
		routes, err := c.networkRoutes(ctx, t)
		if err != nil {
			return nil, err
		}
		for _, a := range routes {
			out = append(out, a)
		}
	}
	return out, nil
}
