package aws

import (
	"context"
	"fmt"
	"maps"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/kapstan/kapstan/internal/engine"
)

// subnetAPI is the EC2 calls the Subnet kind makes.
type subnetAPI interface {
	DescribeSubnets(ctx context.Context, params *ec2.DescribeSubnetsInput, optFns ...func(*ec2.Options)) (*ec2.DescribeSubnetsOutput, error)
	CreateSubnet(ctx context.Context, params *ec2.CreateSubnetInput, optFns ...func(*ec2.Options)) (*ec2.CreateSubnetOutput, error)
	ModifySubnetAttribute(ctx context.Context, params *ec2.ModifySubnetAttributeInput, optFns ...func(*ec2.Options)) (*ec2.ModifySubnetAttributeOutput, error)
	DeleteSubnet(ctx context.Context, params *ec2.DeleteSubnetInput, optFns ...func(*ec2.Options)) (*ec2.DeleteSubnetOutput, error)
	CreateTags(ctx context.Context, params *ec2.CreateTagsInput, optFns ...func(*ec2.Options)) (*ec2.CreateTagsOutput, error)
}

// Subnet is one subnet of the cluster. When Shared, it exists already and
// kapstan only tags it.
type Subnet struct {
	Name   string
	ID     string
	VPC    engine.Ref
	CIDR   string
	Zone   string
	Shared bool
	// MapPublicIP gives instances launched here a public address.
	MapPublicIP bool
	Tags        Tags
}

func (r *Subnet) Address() engine.Address        { return engine.Address{Kind: KindSubnet, Name: r.Name} }
func (r *Subnet) Dependencies() []engine.Address { return deps(r.VPC) }
func (r *Subnet) CloudID() string                { return r.ID }
func (r *Subnet) Summary() string {
	if r.Shared {
		return fmt.Sprintf("existing %s, tag as shared", r.ID)
	}
	return fmt.Sprintf("%s in %s", r.CIDR, r.Zone)
}

// Diff compares the desired subnet with the one in AWS. Range, zone and
// VPC cannot change in place. For a shared subnet they are checked only
// against what the spec states, and a mismatch (a spec naming the wrong
// subnet) stops the plan, as a replacement would: kapstan never replaces
// a subnet it does not own.
func (r *Subnet) Diff(actual engine.Resource, refs engine.Refs) []engine.FieldDiff {
	a := actual.(*Subnet)
	var d engine.Differ
	if !r.Shared || r.CIDR != "" {
		d.Immutable("cidr", a.CIDR, r.CIDR)
	}
	if !r.Shared || r.Zone != "" {
		d.Immutable("zone", a.Zone, r.Zone)
	}
	if !r.Shared || !r.VPC.IsZero() {
		d.Ref("vpc", a.VPC.ID, r.VPC, refs, true)
	}
	if !r.Shared {
		d.Bool("mapPublicIp", a.MapPublicIP, r.MapPublicIP)
	}
	d.Tags(a.Tags, r.Tags)
	return d.Diffs()
}

// networkSubnets is the cluster's owned subnets, read once per plan.
func (c *Cloud) networkSubnets(ctx context.Context) ([]ec2types.Subnet, error) {
	return cached(ctx, c, "network/subnets", func(ctx context.Context) ([]ec2types.Subnet, error) {
		var out []ec2types.Subnet
		p := ec2.NewDescribeSubnetsPaginator(c.EC2, &ec2.DescribeSubnetsInput{Filters: c.ownedFilters(KindSubnet)})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return nil, fmt.Errorf("describing subnets: %w", err)
			}
			out = append(out, page.Subnets...)
		}
		return out, nil
	})
}

// networkSubnetIndex maps the cluster's owned subnet ids to their
// addresses. Route table associations take their names from it.
func (c *Cloud) networkSubnetIndex(ctx context.Context) (map[string]engine.Address, error) {
	subnets, err := c.networkSubnets(ctx)
	if err != nil {
		return nil, err
	}
	idx := map[string]engine.Address{}
	for _, s := range subnets {
		if addr, ok := c.networkOwnedAddress(KindSubnet, s.Tags); ok {
			idx[aws.ToString(s.SubnetId)] = addr
		}
	}
	return idx, nil
}

// subnetsByAddress returns the cluster's owned subnets as actual resources.
func (c *Cloud) subnetsByAddress(ctx context.Context) (map[engine.Address]*Subnet, error) {
	subnets, err := c.networkSubnets(ctx)
	if err != nil {
		return nil, err
	}
	vpcs, err := c.networkVPCIndex(ctx)
	if err != nil {
		return nil, err
	}
	out := map[engine.Address]*Subnet{}
	for _, s := range subnets {
		if addr, ok := c.networkOwnedAddress(KindSubnet, s.Tags); ok {
			out[addr] = subnetFromEC2(addr.Name, s, vpcs)
		}
	}
	return out, nil
}

func subnetFromEC2(name string, s ec2types.Subnet, vpcs map[string]engine.Address) *Subnet {
	return &Subnet{
		Name:        name,
		ID:          aws.ToString(s.SubnetId),
		VPC:         networkRef(aws.ToString(s.VpcId), vpcs),
		CIDR:        aws.ToString(s.CidrBlock),
		Zone:        aws.ToString(s.AvailabilityZone),
		MapPublicIP: aws.ToBool(s.MapPublicIpOnLaunch),
		Tags:        fromEC2Tags(s.Tags),
	}
}

func (r *Subnet) find(ctx context.Context, c *Cloud, refs engine.Refs) (engine.Resource, error) {
	if r.Shared {
		return r.findShared(ctx, c)
	}
	subnets, err := c.subnetsByAddress(ctx)
	if err != nil {
		return nil, err
	}
	if a, ok := subnets[r.Address()]; ok {
		return a, nil
	}
	return nil, nil
}

// findShared reads the existing subnet the spec names by id: one call per
// shared subnet, since they carry none of the cluster's tags before the
// first run. It must exist.
func (r *Subnet) findShared(ctx context.Context, c *Cloud) (engine.Resource, error) {
	if r.ID == "" {
		return nil, fmt.Errorf("shared subnet %s has no id (spec.subnets[].id)", r.Name)
	}
	subnets, err := cached(ctx, c, "network/subnet/"+r.ID, func(ctx context.Context) ([]ec2types.Subnet, error) {
		out, err := c.EC2.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{SubnetIds: []string{r.ID}})
		if err != nil {
			if isNotFound(err) {
				return nil, nil
			}
			return nil, fmt.Errorf("describing subnet %s: %w", r.ID, err)
		}
		return out.Subnets, nil
	})
	if err != nil {
		return nil, err
	}
	if len(subnets) == 0 {
		return nil, fmt.Errorf("spec.subnets[%s].id: subnet %s not found in %s", r.Name, r.ID, c.Region)
	}
	vpcs, err := c.networkVPCIndex(ctx)
	if err != nil {
		return nil, err
	}
	a := subnetFromEC2(r.Name, subnets[0], vpcs)
	a.Shared = true
	return a, nil
}

func (r *Subnet) create(ctx context.Context, c *Cloud, refs engine.Refs) (engine.Resource, error) {
	if r.Shared {
		return nil, fmt.Errorf("spec.subnets[%s].id: subnet %s not found; kapstan does not create a shared subnet", r.Name, r.ID)
	}
	vpc := engine.ResolveID(refs, r.VPC)
	if vpc == "" {
		return nil, fmt.Errorf("creating subnet %s: VPC %s not created yet", r.Name, r.VPC)
	}
	out, err := c.EC2.CreateSubnet(ctx, &ec2.CreateSubnetInput{
		VpcId:             aws.String(vpc),
		CidrBlock:         aws.String(r.CIDR),
		AvailabilityZone:  aws.String(r.Zone),
		TagSpecifications: ec2TagSpec(ec2types.ResourceTypeSubnet, r.Tags),
	})
	if err != nil {
		err = fmt.Errorf("creating subnet %s: %w", r.Name, err)
		if isNotFound(err) { // the VPC was created a moment ago
			return nil, engine.Retryable(err)
		}
		return nil, err
	}
	a := subnetFromEC2(r.Name, *out.Subnet, nil)
	a.VPC = engine.Ref{ID: vpc, Addr: r.VPC.Addr}
	a.Tags = maps.Clone(r.Tags)
	// The subnet is tagged: should this fail, the next run finds it and
	// its diff sets the attribute.
	if err := a.setMapPublicIP(ctx, c, r.MapPublicIP); err != nil {
		return nil, err
	}
	return a, nil
}

func (a *Subnet) setMapPublicIP(ctx context.Context, c *Cloud, want bool) error {
	if a.MapPublicIP == want {
		return nil
	}
	err := networkRetryNotFound(ctx, func() error {
		_, err := c.EC2.ModifySubnetAttribute(ctx, &ec2.ModifySubnetAttributeInput{
			SubnetId:            aws.String(a.ID),
			MapPublicIpOnLaunch: &ec2types.AttributeBooleanValue{Value: aws.Bool(want)},
		})
		return err
	})
	if err != nil {
		return fmt.Errorf("setting mapPublicIp of subnet %s: %w", a.Name, err)
	}
	a.MapPublicIP = want
	return nil
}

func (r *Subnet) update(ctx context.Context, c *Cloud, actual engine.Resource, diffs []engine.FieldDiff, refs engine.Refs) (engine.Resource, error) {
	a := *actual.(*Subnet)
	if !r.Shared && networkHasDiff(diffs, "mapPublicIp") {
		if err := a.setMapPublicIP(ctx, c, r.MapPublicIP); err != nil {
			return nil, err
		}
	}
	tags, err := networkAddTags(ctx, c, a.ID, a.Tags, r.Tags, diffs)
	if err != nil {
		return nil, fmt.Errorf("tagging subnet %s: %w", r.Name, err)
	}
	a.Tags = tags
	return &a, nil
}

// delete deletes the subnet. AWS refuses while network interfaces (of
// instances, NAT gateways, load balancers) are in it, which is retried;
// moto does not refuse (see /work/shared/notes/moto.md), so only the
// unit test with a fake covers that.
func (r *Subnet) delete(ctx context.Context, c *Cloud) error {
	if r.Shared {
		return fmt.Errorf("subnet %s (%s) is shared: kapstan never deletes it", r.Name, r.ID)
	}
	// AWS refuses to delete a subnet that still holds network interfaces;
	// moto does not. Look first, so that kapstan waits for them (load
	// balancers' and instances' interfaces go away shortly after their
	// owners) and, at the timeout, names what blocks.
	blockers, err := c.subnetBlockers(ctx, r.ID)
	if err != nil {
		return err
	}
	if len(blockers) > 0 {
		return engine.Retryable(fmt.Errorf("subnet %s (%s) still holds %s", r.Name, r.ID, strings.Join(blockers, "; ")))
	}
	_, err = c.EC2.DeleteSubnet(ctx, &ec2.DeleteSubnetInput{SubnetId: aws.String(r.ID)})
	return networkDeleteErr(err, "subnet", r.Name)
}

// ownedSubnets lists the subnets this cluster made; shared ones are never
// listed.
func (c *Cloud) ownedSubnets(ctx context.Context) ([]engine.Resource, error) {
	subnets, err := c.subnetsByAddress(ctx)
	if err != nil {
		return nil, err
	}
	return networkSorted(subnets), nil
}
