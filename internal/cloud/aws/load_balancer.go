package aws

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/kapstan/kapstan/internal/engine"
)

// loadBalancerAPI is the Elastic Load Balancing v2 calls kapstan makes,
// for load balancers, target groups and listeners.
type loadBalancerAPI interface {
	DescribeLoadBalancers(ctx context.Context, params *elb.DescribeLoadBalancersInput, optFns ...func(*elb.Options)) (*elb.DescribeLoadBalancersOutput, error)
	DescribeTags(ctx context.Context, params *elb.DescribeTagsInput, optFns ...func(*elb.Options)) (*elb.DescribeTagsOutput, error)
	CreateLoadBalancer(ctx context.Context, params *elb.CreateLoadBalancerInput, optFns ...func(*elb.Options)) (*elb.CreateLoadBalancerOutput, error)
	SetSubnets(ctx context.Context, params *elb.SetSubnetsInput, optFns ...func(*elb.Options)) (*elb.SetSubnetsOutput, error)
	SetSecurityGroups(ctx context.Context, params *elb.SetSecurityGroupsInput, optFns ...func(*elb.Options)) (*elb.SetSecurityGroupsOutput, error)
	AddTags(ctx context.Context, params *elb.AddTagsInput, optFns ...func(*elb.Options)) (*elb.AddTagsOutput, error)
	DeleteLoadBalancer(ctx context.Context, params *elb.DeleteLoadBalancerInput, optFns ...func(*elb.Options)) (*elb.DeleteLoadBalancerOutput, error)

	DescribeTargetGroups(ctx context.Context, params *elb.DescribeTargetGroupsInput, optFns ...func(*elb.Options)) (*elb.DescribeTargetGroupsOutput, error)
	CreateTargetGroup(ctx context.Context, params *elb.CreateTargetGroupInput, optFns ...func(*elb.Options)) (*elb.CreateTargetGroupOutput, error)
	ModifyTargetGroup(ctx context.Context, params *elb.ModifyTargetGroupInput, optFns ...func(*elb.Options)) (*elb.ModifyTargetGroupOutput, error)
	DeleteTargetGroup(ctx context.Context, params *elb.DeleteTargetGroupInput, optFns ...func(*elb.Options)) (*elb.DeleteTargetGroupOutput, error)

	DescribeListeners(ctx context.Context, params *elb.DescribeListenersInput, optFns ...func(*elb.Options)) (*elb.DescribeListenersOutput, error)
	CreateListener(ctx context.Context, params *elb.CreateListenerInput, optFns ...func(*elb.Options)) (*elb.CreateListenerOutput, error)
	ModifyListener(ctx context.Context, params *elb.ModifyListenerInput, optFns ...func(*elb.Options)) (*elb.ModifyListenerOutput, error)
	DeleteListener(ctx context.Context, params *elb.DeleteListenerInput, optFns ...func(*elb.Options)) (*elb.DeleteListenerOutput, error)
}

// LoadBalancer is the network load balancer in front of the API servers.
type LoadBalancer struct {
	Name   string
	LBName string
	ARN    string
	// Scheme is "internet-facing" or "internal".
	Scheme         string
	Subnets        []engine.Ref
	SecurityGroups []engine.Ref
	// DNSName and HostedZoneID are read from AWS, for DNS aliases.
	DNSName      string
	HostedZoneID string
	Tags         Tags

	// lbType is read from AWS's Type field; kapstan makes only "network".
	lbType string
}

// lbType is the only type kapstan makes: a TCP pass-through, so that the
// API servers terminate TLS themselves.
const lbTypeNetwork = "network"

// Address implements engine.Resource.
func (r *LoadBalancer) Address() engine.Address {
	return engine.Address{Kind: KindLoadBalancer, Name: r.Name}
}

// Dependencies implements engine.Resource.
func (r *LoadBalancer) Dependencies() []engine.Address {
	return deps(append(append([]engine.Ref{}, r.Subnets...), r.SecurityGroups...)...)
}

// CloudID implements engine.Identified.
func (r *LoadBalancer) CloudID() string { return r.ARN }

// Diff implements engine.Resource. The name, type and scheme are fixed at
// creation. A network load balancer made without security groups can
// never get any (SetSecurityGroups refuses it), so adding the first one
// forces replacement; moto accepts it, which TestLoadBalancerDiff covers.
func (r *LoadBalancer) Diff(actual engine.Resource, refs engine.Refs) []engine.FieldDiff {
	a := actual.(*LoadBalancer)
	var d engine.Differ
	d.Immutable("name", a.LBName, r.LBName)
	d.Immutable("type", a.lbType, lbTypeNetwork)
	d.Immutable("scheme", a.Scheme, r.Scheme)
	d.Set("subnets", computeIDs(a.Subnets), computeWantIDs(r.Subnets, refs))
	have, want := computeIDs(a.SecurityGroups), computeWantIDs(r.SecurityGroups, refs)
	if len(have) == 0 && len(want) > 0 {
		d.Immutable("securityGroups", "", strings.Join(slices.Sorted(slices.Values(want)), ","))
	} else {
		d.Set("securityGroups", have, want)
	}
	d.Tags(a.Tags, r.Tags)
	return d.Diffs()
}

// lbActuals are the cluster's load balancers.
type lbActuals struct {
	byAddr    map[engine.Address]*LoadBalancer
	addrByARN map[string]engine.Address
}

// elbv2Listing is the region's load balancers and target groups with the
// tags of all of them.
type elbv2Listing struct {
	lbs  []elbtypes.LoadBalancer
	tgs  []elbtypes.TargetGroup
	tags map[string]Tags
}

// elbv2Inventory reads the region's load balancers and target groups (one
// paginated call each) and the tags of both in the same DescribeTags calls
// (20 ARNs a call): a cluster's load balancer and target group share one.
func elbv2Inventory(ctx context.Context, c *Cloud) (*elbv2Listing, error) {
	return cached(ctx, c, "compute:elbv2", func(ctx context.Context) (*elbv2Listing, error) {
		out := &elbv2Listing{}
		for p := elb.NewDescribeLoadBalancersPaginator(c.ELBv2, &elb.DescribeLoadBalancersInput{}); p.HasMorePages(); {
			page, err := p.NextPage(ctx)
			if err != nil {
				return nil, fmt.Errorf("listing load balancers: %w", err)
			}
			out.lbs = append(out.lbs, page.LoadBalancers...)
		}
		for p := elb.NewDescribeTargetGroupsPaginator(c.ELBv2, &elb.DescribeTargetGroupsInput{}); p.HasMorePages(); {
			page, err := p.NextPage(ctx)
			if err != nil {
				return nil, fmt.Errorf("listing target groups: %w", err)
			}
			out.tgs = append(out.tgs, page.TargetGroups...)
		}
		var arns []string
		for _, lb := range out.lbs {
			arns = append(arns, aws.ToString(lb.LoadBalancerArn))
		}
		for _, tg := range out.tgs {
			arns = append(arns, aws.ToString(tg.TargetGroupArn))
		}
		var err error
		out.tags, err = computeELBTags(ctx, c, arns)
		return out, err
	})
}

// computeELBTags reads the tags of ELBv2 resources, 20 ARNs a call (the
// API's limit). DescribeLoadBalancers and DescribeTargetGroups cannot
// filter by tag, so this is how the cluster's own are told apart.
func computeELBTags(ctx context.Context, c *Cloud, arns []string) (map[string]Tags, error) {
	out := map[string]Tags{}
	for chunk := range slices.Chunk(arns, 20) {
		res, err := c.ELBv2.DescribeTags(ctx, &elb.DescribeTagsInput{ResourceArns: chunk})
		if err != nil {
			return nil, fmt.Errorf("reading load balancing tags: %w", err)
		}
		for _, td := range res.TagDescriptions {
			t := Tags{}
			for _, tag := range td.Tags {
				t[aws.ToString(tag.Key)] = aws.ToString(tag.Value)
			}
			out[aws.ToString(td.ResourceArn)] = t
		}
	}
	return out, nil
}

func elbTags(t Tags) []elbtypes.Tag {
	out := make([]elbtypes.Tag, 0, len(t))
	for _, k := range sortedKeys(t) {
		out = append(out, elbtypes.Tag{Key: aws.String(k), Value: aws.String(t[k])})
	}
	return out
}

// loadBalancers reads every load balancer of the region (one paginated
// call) and their tags (one call per 20), keeping those with this
// cluster's tag and a LoadBalancer address: load balancers Kubernetes
// makes for Services carry the cluster tag but no address, and are never
// the cluster's to delete.
func loadBalancers(ctx context.Context, c *Cloud) (*lbActuals, error) {
	return cached(ctx, c, "compute:loadBalancers", func(ctx context.Context) (*lbActuals, error) {
		out := &lbActuals{byAddr: map[engine.Address]*LoadBalancer{}, addrByARN: map[string]engine.Address{}}
		inv, err := elbv2Inventory(ctx, c)
		if err != nil {
			return nil, err
		}
		all, tags := inv.lbs, inv.tags
		for _, lb := range all {
			t := tags[aws.ToString(lb.LoadBalancerArn)]
			a := lbFromAWS(lb, t)
			addr, ok, err := addOwned(c, KindLoadBalancer, "load balancers", out.byAddr, t, a, func(l *LoadBalancer) string { return l.ARN })
			if err != nil {
				return nil, err
			}
			if !ok {
				continue
			}
			a.Name = addr.Name
			out.addrByARN[a.ARN] = addr
		}
		return out, nil
	})
}

// lbFromAWS reads a load balancer. Its type comes from the Type field,
// never from the ARN: moto makes a network load balancer whose ARN says
// /app/ where AWS's says /net/.
func lbFromAWS(lb elbtypes.LoadBalancer, tags Tags) *LoadBalancer {
	a := &LoadBalancer{
		LBName:       aws.ToString(lb.LoadBalancerName),
		ARN:          aws.ToString(lb.LoadBalancerArn),
		Scheme:       string(lb.Scheme),
		DNSName:      aws.ToString(lb.DNSName),
		HostedZoneID: aws.ToString(lb.CanonicalHostedZoneId),
		Tags:         tags,
		lbType:       string(lb.Type),
	}
	for _, az := range lb.AvailabilityZones {
		if id := aws.ToString(az.SubnetId); id != "" {
			a.Subnets = append(a.Subnets, engine.RefID(id))
		}
	}
	for _, sg := range lb.SecurityGroups {
		a.SecurityGroups = append(a.SecurityGroups, engine.RefID(sg))
	}
	return a
}

func (r *LoadBalancer) find(ctx context.Context, c *Cloud, refs engine.Refs) (engine.Resource, error) {
	all, err := loadBalancers(ctx, c)
	if err != nil {
		return nil, err
	}
	found, ok := all.byAddr[r.Address()]
	if !ok {
		return nil, nil
	}
	a := *found
	a.Tags = maps.Clone(found.Tags)
	a.Subnets = computeActualRefs(computeIDs(found.Subnets), r.Subnets, refs, nil)
	a.SecurityGroups = computeActualRefs(computeIDs(found.SecurityGroups), r.SecurityGroups, refs, nil)
	return &a, nil
}

func (r *LoadBalancer) create(ctx context.Context, c *Cloud, refs engine.Refs) (engine.Resource, error) {
	subnets, err := resolveAll(refs, r.Subnets, "subnet")
	if err != nil {
		return nil, fmt.Errorf("creating load balancer %s: %w", r.Name, err)
	}
	sgs, err := resolveAll(refs, r.SecurityGroups, "security group")
	if err != nil {
		return nil, fmt.Errorf("creating load balancer %s: %w", r.Name, err)
	}
	out, err := c.ELBv2.CreateLoadBalancer(ctx, &elb.CreateLoadBalancerInput{
		Name:           aws.String(r.LBName),
		Type:           lbTypeNetwork,
		Scheme:         elbtypes.LoadBalancerSchemeEnum(r.Scheme),
		Subnets:        subnets,
		SecurityGroups: sgs,
		Tags:           elbTags(r.Tags),
	})
	if err != nil {
		return nil, fmt.Errorf("creating load balancer %s: %w", r.Name, err)
	}
	if len(out.LoadBalancers) != 1 {
		return nil, fmt.Errorf("creating load balancer %s: AWS returned %d load balancers", r.Name, len(out.LoadBalancers))
	}
	a := lbFromAWS(out.LoadBalancers[0], maps.Clone(r.Tags))
	a.Name = r.Name
	a.Subnets = computeActualRefs(computeIDs(a.Subnets), r.Subnets, refs, nil)
	a.SecurityGroups = computeActualRefs(computeIDs(a.SecurityGroups), r.SecurityGroups, refs, nil)
	return a, nil
}

// update changes subnets (SetSubnets: AWS adds zones to a network load
// balancer freely, removing one needs the zone to be unused by others),
// security groups and tags; the rest is immutable.
func (r *LoadBalancer) update(ctx context.Context, c *Cloud, actual engine.Resource, diffs []engine.FieldDiff, refs engine.Refs) (engine.Resource, error) {
	a := *actual.(*LoadBalancer)
	wrap := func(err error) error { return fmt.Errorf("updating load balancer %s: %w", r.Name, err) }
	for _, f := range diffs {
		switch f.Path {
		case "subnets":
			subnets, err := resolveAll(refs, r.Subnets, "subnet")
			if err != nil {
				return nil, wrap(err)
			}
			if _, err := c.ELBv2.SetSubnets(ctx, &elb.SetSubnetsInput{LoadBalancerArn: aws.String(a.ARN), Subnets: subnets}); err != nil {
				return nil, wrap(err)
			}
			a.Subnets = computeActualRefs(subnets, r.Subnets, refs, nil)
		case "securityGroups":
			sgs, err := resolveAll(refs, r.SecurityGroups, "security group")
			if err != nil {
				return nil, wrap(err)
			}
			if _, err := c.ELBv2.SetSecurityGroups(ctx, &elb.SetSecurityGroupsInput{LoadBalancerArn: aws.String(a.ARN), SecurityGroups: sgs}); err != nil {
				return nil, wrap(err)
			}
			a.SecurityGroups = computeActualRefs(sgs, r.SecurityGroups, refs, nil)
		}
	}
	if add := tagsToAdd(a.Tags, r.Tags); len(add) > 0 {
		if _, err := c.ELBv2.AddTags(ctx, &elb.AddTagsInput{ResourceArns: []string{a.ARN}, Tags: elbTags(add)}); err != nil {
			return nil, wrap(err)
		}
		a.Tags = maps.Clone(a.Tags)
		maps.Copy(a.Tags, add)
	}
	return &a, nil
}

// delete removes the load balancer and, with it, its listeners. AWS
// answers success for one already gone.
func (r *LoadBalancer) delete(ctx context.Context, c *Cloud) error {
	_, err := c.ELBv2.DeleteLoadBalancer(ctx, &elb.DeleteLoadBalancerInput{LoadBalancerArn: aws.String(r.ARN)})
	return deleteResult(err, "load balancer "+r.Name)
}

func (c *Cloud) ownedLoadBalancers(ctx context.Context) ([]engine.Resource, error) {
	all, err := loadBalancers(ctx, c)
	if err != nil || len(all.byAddr) == 0 {
		return nil, err
	}
	ec2Addrs, err := computeEC2Addresses(ctx, c)
	if err != nil {
		return nil, err
	}
	var out []engine.Resource
	for _, addr := range computeSortedAddrs(all.byAddr) {
		a := *all.byAddr[addr]
		a.Subnets = computeActualRefs(computeIDs(a.Subnets), nil, nil, ec2Addrs)
		a.SecurityGroups = computeActualRefs(computeIDs(a.SecurityGroups), nil, nil, ec2Addrs)
		out = append(out, &a)
	}
	return out, nil
}
