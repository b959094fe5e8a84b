package aws

import (
	"context"
	"fmt"
	"maps"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/kapstan/kapstan/internal/engine"
)

// internetGatewayAPI is the EC2 calls the InternetGateway kind makes.
type internetGatewayAPI interface {
	DescribeInternetGateways(ctx context.Context, params *ec2.DescribeInternetGatewaysInput, optFns ...func(*ec2.Options)) (*ec2.DescribeInternetGatewaysOutput, error)
	CreateInternetGateway(ctx context.Context, params *ec2.CreateInternetGatewayInput, optFns ...func(*ec2.Options)) (*ec2.CreateInternetGatewayOutput, error)
	AttachInternetGateway(ctx context.Context, params *ec2.AttachInternetGatewayInput, optFns ...func(*ec2.Options)) (*ec2.AttachInternetGatewayOutput, error)
	DetachInternetGateway(ctx context.Context, params *ec2.DetachInternetGatewayInput, optFns ...func(*ec2.Options)) (*ec2.DetachInternetGatewayOutput, error)
	DeleteInternetGateway(ctx context.Context, params *ec2.DeleteInternetGatewayInput, optFns ...func(*ec2.Options)) (*ec2.DeleteInternetGatewayOutput, error)
	CreateTags(ctx context.Context, params *ec2.CreateTagsInput, optFns ...func(*ec2.Options)) (*ec2.CreateTagsOutput, error)
}

// InternetGateway gives public subnets their route to the internet; it is
// attached to VPC when created.
type InternetGateway struct {
	Name string
	ID   string
	VPC  engine.Ref
	Tags Tags
}

func (r *InternetGateway) Address() engine.Address {
	return engine.Address{Kind: KindInternetGateway, Name: r.Name}
}
func (r *InternetGateway) Dependencies() []engine.Address { return deps(r.VPC) }
func (r *InternetGateway) CloudID() string                { return r.ID }

// Diff compares the gateway's attachment and tags. The attachment is
// compared rather than assumed: a create whose attach failed leaves a
// detached gateway, which the next run attaches.
func (r *InternetGateway) Diff(actual engine.Resource, refs engine.Refs) []engine.FieldDiff {
	a := actual.(*InternetGateway)
	var d engine.Differ
	d.Ref("vpc", a.VPC.ID, r.VPC, refs, false)
	d.Tags(a.Tags, r.Tags)
	return d.Diffs()
}

// networkInternetGateways is the cluster's internet gateways, read once
// per plan.
func (c *Cloud) networkInternetGateways(ctx context.Context) ([]ec2types.InternetGateway, error) {
	return cached(ctx, c, "network/internetgateways", func(ctx context.Context) ([]ec2types.InternetGateway, error) {
		var out []ec2types.InternetGateway
		p := ec2.NewDescribeInternetGatewaysPaginator(c.EC2, &ec2.DescribeInternetGatewaysInput{Filters: c.ownedFilters(KindInternetGateway)})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return nil, fmt.Errorf("describing internet gateways: %w", err)
			}
			out = append(out, page.InternetGateways...)
		}
		return out, nil
	})
}

// networkInternetGatewayIndex maps the cluster's internet gateway ids to
// their addresses.
func (c *Cloud) networkInternetGatewayIndex(ctx context.Context) (map[string]engine.Address, error) {
	igws, err := c.networkInternetGateways(ctx)
	if err != nil {
		return nil, err
	}
	idx := map[string]engine.Address{}
	for _, g := range igws {
		if addr, ok := c.networkOwnedAddress(KindInternetGateway, g.Tags); ok {
			idx[aws.ToString(g.InternetGatewayId)] = addr
		}
	}
	return idx, nil
}

// internetGatewaysByAddress returns the cluster's internet gateways as
// actual resources.
func (c *Cloud) internetGatewaysByAddress(ctx context.Context) (map[engine.Address]*InternetGateway, error) {
	igws, err := c.networkInternetGateways(ctx)
	if err != nil {
		return nil, err
	}
	vpcs, err := c.networkVPCIndex(ctx)
	if err != nil {
		return nil, err
	}
	out := map[engine.Address]*InternetGateway{}
	for _, g := range igws {
		addr, ok := c.networkOwnedAddress(KindInternetGateway, g.Tags)
		if !ok {
			continue
		}
		a := &InternetGateway{Name: addr.Name, ID: aws.ToString(g.InternetGatewayId), Tags: fromEC2Tags(g.Tags)}
		for _, att := range g.Attachments {
			// AWS says "available" for an attached gateway; "attaching"
			// will be.
			if att.State != ec2types.AttachmentStatusDetached && att.State != ec2types.AttachmentStatusDetaching {
				a.VPC = networkRef(aws.ToString(att.VpcId), vpcs)
			}
		}
		out[addr] = a
	}
	return out, nil
}

func (r *InternetGateway) find(ctx context.Context, c *Cloud, refs engine.Refs) (engine.Resource, error) {
	igws, err := c.internetGatewaysByAddress(ctx)
	if err != nil {
		return nil, err
	}
	if a, ok := igws[r.Address()]; ok {
		return a, nil
	}
	return nil, nil
}

func (r *InternetGateway) create(ctx context.Context, c *Cloud, refs engine.Refs) (engine.Resource, error) {
	vpc := engine.ResolveID(refs, r.VPC)
	if vpc == "" {
		return nil, fmt.Errorf("creating internet gateway %s: VPC %s not created yet", r.Name, r.VPC)
	}
	out, err := c.EC2.CreateInternetGateway(ctx, &ec2.CreateInternetGatewayInput{
		TagSpecifications: ec2TagSpec(ec2types.ResourceTypeInternetGateway, r.Tags),
	})
	if err != nil {
		return nil, fmt.Errorf("creating internet gateway %s: %w", r.Name, err)
	}
	a := &InternetGateway{Name: r.Name, ID: aws.ToString(out.InternetGateway.InternetGatewayId), Tags: maps.Clone(r.Tags)}
	// The gateway is tagged: if attaching fails, the next run finds it
	// detached and its diff attaches it. Retrying the whole create here
	// would make a second gateway.
	if err := a.attach(ctx, c, vpc); err != nil {
		return nil, err
	}
	a.VPC = engine.Ref{ID: vpc, Addr: r.VPC.Addr}
	return a, nil
}

func (a *InternetGateway) attach(ctx context.Context, c *Cloud, vpc string) error {
	err := networkRetryNotFound(ctx, func() error {
		_, err := c.EC2.AttachInternetGateway(ctx, &ec2.AttachInternetGatewayInput{
			InternetGatewayId: aws.String(a.ID), VpcId: aws.String(vpc),
		})
		return err
	})
	if err != nil {
		return fmt.Errorf("attaching internet gateway %s to %s: %w", a.Name, vpc, err)
	}
	return nil
}

// detach detaches the gateway from vpc. Detaching what is not attached is
// done already; a VPC whose instances still have public addresses refuses
// (DependencyViolation) until they are gone, so that is retried.
func (a *InternetGateway) detach(ctx context.Context, c *Cloud, vpc string) error {
	_, err := c.EC2.DetachInternetGateway(ctx, &ec2.DetachInternetGatewayInput{
		InternetGatewayId: aws.String(a.ID), VpcId: aws.String(vpc),
	})
	switch {
	case err == nil, isNotFound(err), hasCode(err, "Gateway.NotAttached"):
		return nil
	case isDependencyViolation(err):
		return engine.Retryable(fmt.Errorf("detaching internet gateway %s from %s: %w", a.Name, vpc, err))
	}
	return fmt.Errorf("detaching internet gateway %s from %s: %w", a.Name, vpc, err)
}

func (r *InternetGateway) update(ctx context.Context, c *Cloud, actual engine.Resource, diffs []engine.FieldDiff, refs engine.Refs) (engine.Resource, error) {
	a := *actual.(*InternetGateway)
	if networkHasDiff(diffs, "vpc") {
		vpc := engine.ResolveID(refs, r.VPC)
		if vpc == "" {
			return nil, fmt.Errorf("updating internet gateway %s: VPC %s not created yet", r.Name, r.VPC)
		}
		if a.VPC.ID != "" {
			if err := a.detach(ctx, c, a.VPC.ID); err != nil {
				return nil, err
			}
			a.VPC = engine.Ref{}
		}
		if err := a.attach(ctx, c, vpc); err != nil {
			return nil, err
		}
		a.VPC = engine.Ref{ID: vpc, Addr: r.VPC.Addr}
	}
	tags, err := networkAddTags(ctx, c, a.ID, a.Tags, r.Tags, diffs)
	if err != nil {
		return nil, fmt.Errorf("tagging internet gateway %s: %w", r.Name, err)
	}
	a.Tags = tags
	return &a, nil
}

// delete detaches the gateway, then deletes it: AWS refuses to delete an
// attached gateway.
func (r *InternetGateway) delete(ctx context.Context, c *Cloud) error {
	if r.VPC.ID != "" {
		if err := r.detach(ctx, c, r.VPC.ID); err != nil {
			return err
		}
	}
	_, err := c.EC2.DeleteInternetGateway(ctx, &ec2.DeleteInternetGatewayInput{InternetGatewayId: aws.String(r.ID)})
	return networkDeleteErr(err, "internet gateway", r.Name)
}

// ownedInternetGateways lists the internet gateways this cluster made.
func (c *Cloud) ownedInternetGateways(ctx context.Context) ([]engine.Resource, error) {
	igws, err := c.internetGatewaysByAddress(ctx)
	if err != nil {
		return nil, err
	}
	return networkSorted(igws), nil
}
