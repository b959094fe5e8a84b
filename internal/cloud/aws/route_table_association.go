package aws

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/kapstan/kapstan/internal/engine"
)

// RouteTableAssociation makes a subnet use a route table. It is found
// inside its route table, by subnet.
type RouteTableAssociation struct {
	Name       string
	ID         string
	RouteTable engine.Ref
	Subnet     engine.Ref
}

func (r *RouteTableAssociation) Address() engine.Address {
	return engine.Address{Kind: KindRouteTableAssociation, Name: r.Name}
}
func (r *RouteTableAssociation) Dependencies() []engine.Address {
	return deps(r.RouteTable, r.Subnet)
}
func (r *RouteTableAssociation) CloudID() string { return r.ID }

// AssociationName is the address name of a subnet's route table
// association: a subnet has exactly one.
func AssociationName(subnet string) string { return subnet }

// Diff compares the table the subnet uses; moving a subnet to another
// table is one call. The subnet is what the association was found by.
func (r *RouteTableAssociation) Diff(actual engine.Resource, refs engine.Refs) []engine.FieldDiff {
	a := actual.(*RouteTableAssociation)
	var d engine.Differ
	d.Ref("routeTable", a.RouteTable.ID, r.RouteTable, refs, false)
	d.Ref("subnet", a.Subnet.ID, r.Subnet, refs, true)
	return d.Diffs()
}

// associationLive reports whether a route table association is a live
// subnet association (not the main one, nor a gateway's, nor one on its
// way out).
func associationLive(as ec2types.RouteTableAssociation) bool {
	if aws.ToBool(as.Main) || aws.ToString(as.SubnetId) == "" {
		return false
	}
	if st := as.AssociationState; st != nil {
		switch st.State {
		case ec2types.RouteTableAssociationStateCodeDisassociating, ec2types.RouteTableAssociationStateCodeDisassociated,
			ec2types.RouteTableAssociationStateCodeFailed:
			return false
		}
	}
	return true
}

// networkAssociations returns the subnet associations of the cluster's
// route tables as actual resources, by subnet id. Those of subnets the
// cluster does not own have no address: they are never named or listed.
func (c *Cloud) networkAssociations(ctx context.Context) (map[string]*RouteTableAssociation, error) {
	rts, err := c.networkRouteTables(ctx)
	if err != nil {
		return nil, err
	}
	subnets, err := c.networkSubnetIndex(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string]*RouteTableAssociation{}
	for _, t := range rts {
		for _, as := range t.rt.Associations {
			if !associationLive(as) {
				continue
			}
			subnet := aws.ToString(as.SubnetId)
			a := &RouteTableAssociation{
				ID:         aws.ToString(as.RouteTableAssociationId),
				RouteTable: engine.Ref{ID: aws.ToString(t.rt.RouteTableId), Addr: t.addr},
				Subnet:     networkRef(subnet, subnets),
			}
			if !a.Subnet.Addr.IsZero() {
				a.Name = AssociationName(a.Subnet.Addr.Name)
			}
			out[subnet] = a
		}
	}
	return out, nil
}

func (r *RouteTableAssociation) find(ctx context.Context, c *Cloud, refs engine.Refs) (engine.Resource, error) {
	subnet := engine.ResolveID(refs, r.Subnet)
	if subnet == "" {
		return nil, nil // the subnet does not exist yet
	}
	assocs, err := c.networkAssociations(ctx)
	if err != nil {
		return nil, err
	}
	if a, ok := assocs[subnet]; ok {
		a.Name = r.Name
		return a, nil
	}
	return nil, nil
}

func (r *RouteTableAssociation) create(ctx context.Context, c *Cloud, refs engine.Refs) (engine.Resource, error) {
	rt, subnet := engine.ResolveID(refs, r.RouteTable), engine.ResolveID(refs, r.Subnet)
	switch {
	case rt == "":
		return nil, fmt.Errorf("creating route table association %s: route table %s not created yet", r.Name, r.RouteTable)
	case subnet == "":
		return nil, fmt.Errorf("creating route table association %s: subnet %s not created yet", r.Name, r.Subnet)
	}
	out, err := c.EC2.AssociateRouteTable(ctx, &ec2.AssociateRouteTableInput{RouteTableId: aws.String(rt), SubnetId: aws.String(subnet)})
	if hasCode(err, "Resource.AlreadyAssociated") {
		// The response of an earlier attempt was lost, or the subnet uses
		// a table the cluster does not own.
		return r.existing(ctx, c, rt, subnet, err)
	}
	if err != nil {
		err = fmt.Errorf("creating route table association %s: %w", r.Name, err)
		if isNotFound(err) { // the table or subnet was created a moment ago
			return nil, engine.Retryable(err)
		}
		return nil, err
	}
	return r.actual(aws.ToString(out.AssociationId), rt, subnet), nil
}

// existing returns the association of subnet with rt, which AWS says
// exists already; if the subnet is associated with another table, that is
// not the cluster's to change and createErr is returned.
func (r *RouteTableAssociation) existing(ctx context.Context, c *Cloud, rt, subnet string, createErr error) (engine.Resource, error) {
	out, err := c.EC2.DescribeRouteTables(ctx, &ec2.DescribeRouteTablesInput{
		Filters: []ec2types.Filter{{Name: aws.String("association.subnet-id"), Values: []string{subnet}}},
	})
	if err != nil {
		return nil, fmt.Errorf("creating route table association %s: %w", r.Name, err)
	}
	for _, t := range out.RouteTables {
		for _, as := range t.Associations {
			if associationLive(as) && aws.ToString(as.SubnetId) == subnet {
				if aws.ToString(t.RouteTableId) == rt {
					return r.actual(aws.ToString(as.RouteTableAssociationId), rt, subnet), nil
				}
				return nil, fmt.Errorf("creating route table association %s: subnet %s uses route table %s, which this cluster does not own: %w",
					r.Name, subnet, aws.ToString(t.RouteTableId), createErr)
			}
		}
	}
	return nil, engine.Retryable(fmt.Errorf("creating route table association %s: %w", r.Name, createErr))
}

func (r *RouteTableAssociation) actual(id, rt, subnet string) *RouteTableAssociation {
	return &RouteTableAssociation{
		Name:       r.Name,
		ID:         id,
		RouteTable: engine.Ref{ID: rt, Addr: r.RouteTable.Addr},
		Subnet:     engine.Ref{ID: subnet, Addr: r.Subnet.Addr},
	}
}

// update moves the subnet to the desired table in one call, so that it is
// never left without routes.
func (r *RouteTableAssociation) update(ctx context.Context, c *Cloud, actual engine.Resource, diffs []engine.FieldDiff, refs engine.Refs) (engine.Resource, error) {
	a := actual.(*RouteTableAssociation)
	rt := engine.ResolveID(refs, r.RouteTable)
	if rt == "" {
		return nil, fmt.Errorf("updating route table association %s: route table %s not created yet", r.Name, r.RouteTable)
	}
	out, err := c.EC2.ReplaceRouteTableAssociation(ctx, &ec2.ReplaceRouteTableAssociationInput{
		AssociationId: aws.String(a.ID), RouteTableId: aws.String(rt),
	})
	if err != nil {
		err = fmt.Errorf("updating route table association %s: %w", r.Name, err)
		if isNotFound(err) { // the table was created a moment ago
			return nil, engine.Retryable(err)
		}
		return nil, err
	}
	return r.actual(aws.ToString(out.NewAssociationId), rt, a.Subnet.ID), nil
}

func (r *RouteTableAssociation) delete(ctx context.Context, c *Cloud) error {
	_, err := c.EC2.DisassociateRouteTable(ctx, &ec2.DisassociateRouteTableInput{AssociationId: aws.String(r.ID)})
	return networkDeleteErr(err, "route table association", r.Name)
}

// ownedRouteTableAssociations lists the associations of the cluster's
// route tables with the cluster's own subnets. An association with a
// shared subnet is skipped: it has no name to compare with the spec's.
func (c *Cloud) ownedRouteTableAssociations(ctx context.Context) ([]engine.Resource, error) {
	assocs, err := c.networkAssociations(ctx)
	if err != nil {
		return nil, err
	}
	byAddr := map[engine.Address]*RouteTableAssociation{}
	for _, a := range assocs {
		if a.Name != "" {
			byAddr[a.Address()] = a
		}
	}
	return networkSorted(byAddr), nil
}
