package aws

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/kapstan/kapstan/internal/engine"
)

// routeTableAPI is the EC2 calls the RouteTable, Route and
// RouteTableAssociation kinds make: routes and associations live inside
// route tables and are read with them.
type routeTableAPI interface {
	DescribeRouteTables(ctx context.Context, params *ec2.DescribeRouteTablesInput, optFns ...func(*ec2.Options)) (*ec2.DescribeRouteTablesOutput, error)
	CreateRouteTable(ctx context.Context, params *ec2.CreateRouteTableInput, optFns ...func(*ec2.Options)) (*ec2.CreateRouteTableOutput, error)
	DeleteRouteTable(ctx context.Context, params *ec2.DeleteRouteTableInput, optFns ...func(*ec2.Options)) (*ec2.DeleteRouteTableOutput, error)
	CreateRoute(ctx context.Context, params *ec2.CreateRouteInput, optFns ...func(*ec2.Options)) (*ec2.CreateRouteOutput, error)
	ReplaceRoute(ctx context.Context, params *ec2.ReplaceRouteInput, optFns ...func(*ec2.Options)) (*ec2.ReplaceRouteOutput, error)
	DeleteRoute(ctx context.Context, params *ec2.DeleteRouteInput, optFns ...func(*ec2.Options)) (*ec2.DeleteRouteOutput, error)
	AssociateRouteTable(ctx context.Context, params *ec2.AssociateRouteTableInput, optFns ...func(*ec2.Options)) (*ec2.AssociateRouteTableOutput, error)
	ReplaceRouteTableAssociation(ctx context.Context, params *ec2.ReplaceRouteTableAssociationInput, optFns ...func(*ec2.Options)) (*ec2.ReplaceRouteTableAssociationOutput, error)
	DisassociateRouteTable(ctx context.Context, params *ec2.DisassociateRouteTableInput, optFns ...func(*ec2.Options)) (*ec2.DisassociateRouteTableOutput, error)
	CreateTags(ctx context.Context, params *ec2.CreateTagsInput, optFns ...func(*ec2.Options)) (*ec2.CreateTagsOutput, error)
}

// RouteTable holds routes; subnets use it through associations.
type RouteTable struct {
	Name string
	ID   string
	VPC  engine.Ref
	Tags Tags
}

func (r *RouteTable) Address() engine.Address {
	return engine.Address{Kind: KindRouteTable, Name: r.Name}
}
func (r *RouteTable) Dependencies() []engine.Address { return deps(r.VPC) }
func (r *RouteTable) CloudID() string                { return r.ID }

// Diff compares the route table's VPC, which cannot change, and its tags.
// Its routes and associations are resources of their own.
func (r *RouteTable) Diff(actual engine.Resource, refs engine.Refs) []engine.FieldDiff {
	a := actual.(*RouteTable)
	var d engine.Differ
	d.Ref("vpc", a.VPC.ID, r.VPC, refs, true)
	d.Tags(a.Tags, r.Tags)
	return d.Diffs()
}

// networkRouteTable is one of the cluster's route tables as read from AWS,
// with its address.
type networkRouteTable struct {
	addr engine.Address
	rt   ec2types.RouteTable
}

// networkRouteTables is the cluster's owned route tables, with their
// routes and associations: one read per plan serves the three kinds.
func (c *Cloud) networkRouteTables(ctx context.Context) ([]networkRouteTable, error) {
	return cached(ctx, c, "network/routetables", func(ctx context.Context) ([]networkRouteTable, error) {
		var out []networkRouteTable
		p := ec2.NewDescribeRouteTablesPaginator(c.EC2, &ec2.DescribeRouteTablesInput{Filters: c.ownedFilters(KindRouteTable)})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return nil, fmt.Errorf("describing route tables: %w", err)
			}
			for _, rt := range page.RouteTables {
				if addr, ok := c.networkOwnedAddress(KindRouteTable, rt.Tags); ok {
					out = append(out, networkRouteTable{addr: addr, rt: rt})
				}
			}
		}
		// In address order, so that the routes and associations listed
		// from them come in a stable order too.
		slices.SortFunc(out, func(a, b networkRouteTable) int { return strings.Compare(a.addr.String(), b.addr.String()) })
		return out, nil
	})
}

// networkRouteTableByID returns the cluster's route table with id.
func (c *Cloud) networkRouteTableByID(ctx context.Context, id string) (*networkRouteTable, error) {
	rts, err := c.networkRouteTables(ctx)
	if err != nil {
		return nil, err
	}
	for i := range rts {
		if aws.ToString(rts[i].rt.RouteTableId) == id {
			return &rts[i], nil
		}
	}
	return nil, nil
}

// routeTablesByAddress returns the cluster's route tables as actual
// resources.
func (c *Cloud) routeTablesByAddress(ctx context.Context) (map[engine.Address]*RouteTable, error) {
	rts, err := c.networkRouteTables(ctx)
	if err != nil {
		return nil, err
	}
	vpcs, err := c.networkVPCIndex(ctx)
	if err != nil {
		return nil, err
	}
	out := map[engine.Address]*RouteTable{}
	for _, t := range rts {
		out[t.addr] = &RouteTable{
			Name: t.addr.Name,
			ID:   aws.ToString(t.rt.RouteTableId),
			VPC:  networkRef(aws.ToString(t.rt.VpcId), vpcs),
			Tags: fromEC2Tags(t.rt.Tags),
		}
	}
	return out, nil
}

func (r *RouteTable) find(ctx context.Context, c *Cloud, refs engine.Refs) (engine.Resource, error) {
	rts, err := c.routeTablesByAddress(ctx)
	if err != nil {
		return nil, err
	}
	if a, ok := rts[r.Address()]; ok {
		return a, nil
	}
	return nil, nil
}

func (r *RouteTable) create(ctx context.Context, c *Cloud, refs engine.Refs) (engine.Resource, error) {
	vpc := engine.ResolveID(refs, r.VPC)
	if vpc == "" {
		return nil, fmt.Errorf("creating route table %s: VPC %s not created yet", r.Name, r.VPC)
	}
	out, err := c.EC2.CreateRouteTable(ctx, &ec2.CreateRouteTableInput{
		VpcId:             aws.String(vpc),
		TagSpecifications: ec2TagSpec(ec2types.ResourceTypeRouteTable, r.Tags),
	})
	if err != nil {
		err = fmt.Errorf("creating route table %s: %w", r.Name, err)
		if isNotFound(err) { // the VPC was created a moment ago
			return nil, engine.Retryable(err)
		}
		return nil, err
	}
	return &RouteTable{
		Name: r.Name,
		ID:   aws.ToString(out.RouteTable.RouteTableId),
		VPC:  engine.Ref{ID: vpc, Addr: r.VPC.Addr},
		Tags: maps.Clone(r.Tags),
	}, nil
}

func (r *RouteTable) update(ctx context.Context, c *Cloud, actual engine.Resource, diffs []engine.FieldDiff, refs engine.Refs) (engine.Resource, error) {
	a := *actual.(*RouteTable)
	tags, err := networkAddTags(ctx, c, a.ID, a.Tags, r.Tags, diffs)
	if err != nil {
		return nil, fmt.Errorf("tagging route table %s: %w", r.Name, err)
	}
	a.Tags = tags
	return &a, nil
}

// delete deletes the route table with its routes. AWS refuses while a
// subnet is associated with it (DependencyViolation, retried); the
// associations are deleted first, as they depend on the table.
func (r *RouteTable) delete(ctx context.Context, c *Cloud) error {
	_, err := c.EC2.DeleteRouteTable(ctx, &ec2.DeleteRouteTableInput{RouteTableId: aws.String(r.ID)})
	return networkDeleteErr(err, "route table", r.Name)
}

// ownedRouteTables lists the route tables this cluster made.
func (c *Cloud) ownedRouteTables(ctx context.Context) ([]engine.Resource, error) {
	rts, err := c.routeTablesByAddress(ctx)
	if err != nil {
		return nil, err
	}
	return networkSorted(rts), nil
}
