package aws

import (
	"context"
	"fmt"
	"maps"

	"github.com/aws/aws-sdk-go-v2/aws"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/kapstan/kapstan/internal/engine"
)

// TargetGroup is the set of API servers behind the load balancer; the
// control-plane Auto Scaling groups register their instances in it.
type TargetGroup struct {
	Name     string
	TGName   string
	ARN      string
	VPC      engine.Ref
	Port     int32
	Protocol string
	Tags     Tags

	// healthCheckProtocol is read from AWS; kapstan always checks TCP: the
	// API server's HTTPS needs client trust an NLB health check lacks.
	healthCheckProtocol string
}

// tgDefaultProtocol is the protocol of a target group that names none.
const tgDefaultProtocol = "TCP"

// Address implements engine.Resource.
func (r *TargetGroup) Address() engine.Address {
	return engine.Address{Kind: KindTargetGroup, Name: r.Name}
}

// Dependencies implements engine.Resource.
func (r *TargetGroup) Dependencies() []engine.Address { return deps(r.VPC) }

// CloudID implements engine.Identified.
func (r *TargetGroup) CloudID() string { return r.ARN }

func (r *TargetGroup) protocol() string {
	if r.Protocol == "" {
		return tgDefaultProtocol
	}
	return r.Protocol
}

// Diff implements engine.Resource. Name, protocol, port and VPC are fixed
// at creation; the health check protocol and tags change in place.
func (r *TargetGroup) Diff(actual engine.Resource, refs engine.Refs) []engine.FieldDiff {
	a := actual.(*TargetGroup)
	var d engine.Differ
	d.Immutable("name", a.TGName, r.TGName)
	d.Immutable("protocol", a.Protocol, r.protocol())
	d.Immutable("port", fmt.Sprint(a.Port), fmt.Sprint(r.Port))
	d.Ref("vpc", a.VPC.ID, r.VPC, refs, true)
	d.String("healthCheck.protocol", a.healthCheckProtocol, tgDefaultProtocol)
	d.Tags(a.Tags, r.Tags)
	return d.Diffs()
}

// tgActuals are the cluster's target groups.
type tgActuals struct {
	byAddr    map[engine.Address]*TargetGroup
	addrByARN map[string]engine.Address
}

// targetGroups reads every target group of the region (one paginated
// call) and their tags (one call per 20), keeping the cluster's own.
func targetGroups(ctx context.Context, c *Cloud) (*tgActuals, error) {
	return cached(ctx, c, "compute:targetGroups", func(ctx context.Context) (*tgActuals, error) {
		out := &tgActuals{byAddr: map[engine.Address]*TargetGroup{}, addrByARN: map[string]engine.Address{}}
		inv, err := elbv2Inventory(ctx, c)
		if err != nil {
			return nil, err
		}
		all, tags := inv.tgs, inv.tags
		for _, tg := range all {
			t := tags[aws.ToString(tg.TargetGroupArn)]
			a := tgFromAWS(tg, t)
			addr, ok, err := addOwned(c, KindTargetGroup, "target groups", out.byAddr, t, a, func(g *TargetGroup) string { return g.ARN })
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

func tgFromAWS(tg elbtypes.TargetGroup, tags Tags) *TargetGroup {
	return &TargetGroup{
		TGName:              aws.ToString(tg.TargetGroupName),
		ARN:                 aws.ToString(tg.TargetGroupArn),
		VPC:                 engine.RefID(aws.ToString(tg.VpcId)),
		Port:                aws.ToInt32(tg.Port),
		Protocol:            string(tg.Protocol),
		Tags:                tags,
		healthCheckProtocol: string(tg.HealthCheckProtocol),
	}
}

func (r *TargetGroup) find(ctx context.Context, c *Cloud, refs engine.Refs) (engine.Resource, error) {
	all, err := targetGroups(ctx, c)
	if err != nil {
		return nil, err
	}
	found, ok := all.byAddr[r.Address()]
	if !ok {
		return nil, nil
	}
	a := *found
	a.Tags = maps.Clone(found.Tags)
	a.VPC = computeActualRef(found.VPC.ID, r.VPC, refs)
	return &a, nil
}

func (r *TargetGroup) create(ctx context.Context, c *Cloud, refs engine.Refs) (engine.Resource, error) {
	vpc := engine.ResolveID(refs, r.VPC)
	if vpc == "" {
		return nil, fmt.Errorf("creating target group %s: VPC %s not created yet", r.Name, r.VPC)
	}
	out, err := c.ELBv2.CreateTargetGroup(ctx, &elb.CreateTargetGroupInput{
		Name:                aws.String(r.TGName),
		Protocol:            elbtypes.ProtocolEnum(r.protocol()),
		Port:                aws.Int32(r.Port),
		VpcId:               aws.String(vpc),
		TargetType:          elbtypes.TargetTypeEnumInstance,
		HealthCheckProtocol: tgDefaultProtocol,
		Tags:                elbTags(r.Tags),
	})
	if err != nil {
		return nil, fmt.Errorf("creating target group %s: %w", r.Name, err)
	}
	if len(out.TargetGroups) != 1 {
		return nil, fmt.Errorf("creating target group %s: AWS returned %d target groups", r.Name, len(out.TargetGroups))
	}
	a := tgFromAWS(out.TargetGroups[0], maps.Clone(r.Tags))
	a.Name = r.Name
	a.VPC = computeActualRef(a.VPC.ID, r.VPC, refs)
	return a, nil
}

func (r *TargetGroup) update(ctx context.Context, c *Cloud, actual engine.Resource, diffs []engine.FieldDiff, refs engine.Refs) (engine.Resource, error) {
	a := *actual.(*TargetGroup)
	for _, f := range diffs {
		if f.Path != "healthCheck.protocol" {
			continue
		}
		if _, err := c.ELBv2.ModifyTargetGroup(ctx, &elb.ModifyTargetGroupInput{
			TargetGroupArn:      aws.String(a.ARN),
			HealthCheckProtocol: tgDefaultProtocol,
		}); err != nil {
			return nil, fmt.Errorf("updating target group %s: %w", r.Name, err)
		}
		a.healthCheckProtocol = tgDefaultProtocol
	}
	if add := tagsToAdd(a.Tags, r.Tags); len(add) > 0 {
		if _, err := c.ELBv2.AddTags(ctx, &elb.AddTagsInput{ResourceArns: []string{a.ARN}, Tags: elbTags(add)}); err != nil {
			return nil, fmt.Errorf("tagging target group %s: %w", r.Name, err)
		}
		a.Tags = maps.Clone(a.Tags)
		maps.Copy(a.Tags, add)
	}
	return &a, nil
}

// delete removes the target group. While a listener still forwards to it
// AWS (and moto) answer ResourceInUse: the listener's delete, ordered
// first, may still be in flight, so that is retried.
func (r *TargetGroup) delete(ctx context.Context, c *Cloud) error {
	_, err := c.ELBv2.DeleteTargetGroup(ctx, &elb.DeleteTargetGroupInput{TargetGroupArn: aws.String(r.ARN)})
	return deleteResult(err, "target group "+r.Name)
}

func (c *Cloud) ownedTargetGroups(ctx context.Context) ([]engine.Resource, error) {
	all, err := targetGroups(ctx, c)
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
		a.VPC = engine.Ref{Addr: ec2Addrs[a.VPC.ID], ID: a.VPC.ID}
		out = append(out, &a)
	}
	return out, nil
}
