package aws

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/kapstan/kapstan/internal/engine"
)

// discoverEC2API is the EC2 calls only discovery makes.
type discoverEC2API interface {
	DescribeTags(ctx context.Context, params *ec2.DescribeTagsInput, optFns ...func(*ec2.Options)) (*ec2.DescribeTagsOutput, error)
	DeleteTags(ctx context.Context, params *ec2.DeleteTagsInput, optFns ...func(*ec2.Options)) (*ec2.DeleteTagsOutput, error)
}

// discoverIAMAPI is the IAM call only discovery makes.
type discoverIAMAPI interface {
	ListInstanceProfiles(ctx context.Context, params *iam.ListInstanceProfilesInput, optFns ...func(*iam.Options)) (*iam.ListInstanceProfilesOutput, error)
}

// Discovery is everything tagged for a cluster, sorted by what a delete
// does with it.
type Discovery struct {
	// Delete are the resources to delete, each knowing what it depends on:
	// the cluster's own (kapstan's and Kubernetes'), and the foreign ones
	// when the delete includes them.
	Delete []engine.Resource
	// Foreign are the resources tagged for the cluster that another tool
	// made and that this delete leaves alone.
	Foreign []engine.Resource
	// Kept are resources a delete must not touch alone, with why: an
	// instance whose Auto Scaling group lives on (the group would replace
	// it) and is not being deleted.
	Kept map[engine.Address]string
	// Untag are the ids of shared resources that only lose the cluster's
	// tags.
	Untag []string
	// UntagKinds names the kind of each id in Untag, for display.
	UntagKinds map[string]string
	// Unknown are ids of EC2 resources tagged for the cluster whose kind
	// kapstan does not know how to delete; they are named, never touched.
	Unknown []string
}

// Origin says who made a resource of the discovery.
func (d *Discovery) Origin(r engine.Resource) Origin {
	if f, ok := r.(*found); ok {
		return f.origin
	}
	return OriginKapstan
}

// Why is the evidence for a resource's origin: the tag or fact that tells
// who made it.
func (d *Discovery) Why(r engine.Resource) string {
	if f, ok := r.(*found); ok {
		return f.why
	}
	return ""
}

// DiscoverOptions tune a discovery.
type DiscoverOptions struct {
	// IncludeForeign puts the foreign resources in Delete: the user asked,
	// by name, to remove what another tool made for the cluster.
	IncludeForeign bool
}

// Discover finds, by tags alone, every resource tagged for the cluster and
// decides for each who made it (see ownership): kapstan
// (kapstan.io/address), Kubernetes or the cluster's Auto Scaling groups
// (the marks those set), the user (kubernetes.io/cluster/NAME=shared), or
// another tool (foreign). It needs no spec, so it works for a cluster
// whose spec is gone or whose apply was interrupted. Each resource's
// dependencies are resolved against the others found, so that a delete
// plan orders them.
func (c *Cloud) Discover(ctx context.Context, opts DiscoverOptions) (*Discovery, error) {
	var own []engine.Resource
	for _, list := range c.ownedListers() {
		rs, err := list(ctx)
		if err != nil {
			return nil, err
		}
		own = append(own, rs...)
	}
	known := map[string]bool{}
	ownGroups := map[string]bool{}
	for _, r := range own {
		if id, ok := r.(engine.Identified); ok && id.CloudID() != "" {
			known[id.CloudID()] = true
		}
		if g, ok := r.(*AutoScalingGroup); ok {
			ownGroups[g.GroupName] = true
		}
	}
	others, shared, unknown, err := c.taggedEC2(ctx, known)
	if err != nil {
		return nil, err
	}
	for _, list := range []func(context.Context) ([]tagged, error){
		func(ctx context.Context) ([]tagged, error) { return c.taggedAutoScalingGroups(ctx, ownGroups) },
		c.taggedLoadBalancers, c.taggedClassicLoadBalancers, c.taggedRoles, c.taggedQueues, c.taggedEventRules,
	} {
		rs, err := list(ctx)
		if err != nil {
			return nil, err
		}
		others = append(others, rs...)
	}
	leftovers, err := c.leftoverInstanceProfiles(ctx)
	if err != nil {
		return nil, err
	}
	for _, r := range leftovers {
		if !known[r.(engine.Identified).CloudID()] {
			own = append(own, r)
		}
	}
	live, err := c.liveGroups(ctx, groupsOutside(others, ownGroups))
	if err != nil {
		return nil, err
	}

	s := sorting{cluster: c.Cluster, ownGroups: ownGroups, liveGroups: live, includeForeign: opts.IncludeForeign}
	d := s.sort(own, others)
	d.Unknown = unknown
	d.UntagKinds = map[string]string{}
	for _, id := range shared {
		if !slices.Contains(d.Untag, id) {
			d.Untag = append(d.Untag, id)
		}
		d.UntagKinds[id] = sharedKind(id)
	}
	slices.Sort(d.Untag)
	return d, nil
}

// ownedListers are the listers of every kind kapstan makes, in the order
// their resources are usually deleted.
func (c *Cloud) ownedListers() []func(context.Context) ([]engine.Resource, error) {
	return []func(context.Context) ([]engine.Resource, error){
		c.ownedAutoScalingGroups, c.ownedLaunchTemplates, c.ownedListeners, c.ownedTargetGroups,
		c.ownedLoadBalancers, c.ownedDNSRecords, c.ownedVolumes, c.ownedKeyPairs, c.ownedInstanceProfiles,
		c.ownedRolePolicies, c.ownedRoles, c.ownedSecurityGroupRules, c.ownedSecurityGroups,
		c.ownedRouteTableAssociations, c.ownedRoutes, c.ownedNATGateways, c.ownedElasticIPs,
		c.ownedRouteTables, c.ownedSubnets, c.ownedInternetGateways, c.ownedVPCs,
	}
}

// found is a discovered resource with its dependencies resolved among the
// other discovered resources.
type found struct {
	awsResource
	origin Origin
	why    string
	deps   []engine.Address
	after  []engine.Address
}

// DeleteReason implements the engine's reason for a delete: who made the
// resource.
func (f *found) DeleteReason() string {
	switch f.origin {
	case OriginKapstan:
		return "made by kapstan for the cluster"
	case OriginForeign:
		return "tagged for the cluster, " + f.why
	}
	return "made for the cluster (" + f.why + ")"
}

func (f *found) Dependencies() []engine.Address { return f.deps }

// DeleteAfter implements engine.DeletesAfter.
func (f *found) DeleteAfter() []engine.Address { return f.after }

// CloudID is the resource's id.
func (f *found) CloudID() string {
	if id, ok := f.awsResource.(engine.Identified); ok {
		return id.CloudID()
	}
	return ""
}

// Unwrap returns the discovered resource.
func (f *found) Unwrap() engine.Resource { return f.awsResource }

// refsOf lists the references a resource holds, so that references known
// only by id can be tied to the other resources discovered.
func refsOf(r engine.Resource) []engine.Ref {
	switch v := r.(type) {
	case *InternetGateway:
		return []engine.Ref{v.VPC}
	case *Subnet:
		return []engine.Ref{v.VPC}
	case *RouteTable:
		return []engine.Ref{v.VPC}
	case *Route:
		return []engine.Ref{v.RouteTable, v.InternetGateway, v.NATGateway}
	case *RouteTableAssociation:
		return []engine.Ref{v.RouteTable, v.Subnet}
	case *NATGateway:
		return []engine.Ref{v.Subnet, v.ElasticIP}
	case *SecurityGroup:
		return []engine.Ref{v.VPC}
	case *SecurityGroupRule:
		return []engine.Ref{v.Group, v.SourceGroup}
	case *IAMRolePolicy:
		return []engine.Ref{v.Role}
	case *InstanceProfile:
		return []engine.Ref{v.Role}
	case *LaunchTemplate:
		return append(slices.Clone(v.SecurityGroups), v.InstanceProfile, v.KeyPair)
	case *AutoScalingGroup:
		return append(append([]engine.Ref{v.LaunchTemplate}, v.Subnets...), v.TargetGroups...)
	case *LoadBalancer:
		return append(slices.Clone(v.Subnets), v.SecurityGroups...)
	case *TargetGroup:
		return []engine.Ref{v.VPC}
	case *Listener:
		return []engine.Ref{v.LoadBalancer, v.TargetGroup}
	case *DNSRecord:
		return []engine.Ref{v.LoadBalancer}
	case *Instance:
		return append([]engine.Ref{v.Subnet}, v.SecurityGroups...)
	case *NetworkInterface:
		return append([]engine.Ref{v.Subnet}, v.SecurityGroups...)
	case *ClassicLoadBalancer:
		return append(slices.Clone(v.Subnets), v.SecurityGroups...)
	}
	return nil
}

// taggedLoadBalancers lists the network and application load balancers
// and target groups tagged for the cluster that kapstan did not make, from
// the one read of them a plan makes too.
func (c *Cloud) taggedLoadBalancers(ctx context.Context) ([]tagged, error) {
	inv, err := elbv2Inventory(ctx, c)
	if err != nil {
		return nil, err
	}
	other := func(t Tags) bool { return t[TagAddress] == "" && c.taggedForCluster(t) }
	var out []tagged
	for _, lb := range inv.lbs {
		arn := aws.ToString(lb.LoadBalancerArn)
		if t := inv.tags[arn]; other(t) {
			r := lbFromAWS(lb, t)
			r.Name = r.LBName
			out = append(out, tagged{res: r, tags: t})
		}
	}
	for _, tg := range inv.tgs {
		arn := aws.ToString(tg.TargetGroupArn)
		if t := inv.tags[arn]; other(t) {
			out = append(out, tagged{res: &TargetGroup{Name: aws.ToString(tg.TargetGroupName), TGName: aws.ToString(tg.TargetGroupName),
				ARN: arn, VPC: engine.RefID(aws.ToString(tg.VpcId)), Tags: t}, tags: t})
		}
	}
	return out, nil
}

// sharedKind names a resource's kind from its id prefix, for display.
// (moto names DescribeTags resource types differently from AWS, so the
// prefix is the reliable source.)
func sharedKind(id string) string {
	prefix, _, _ := strings.Cut(id, "-")
	switch prefix {
	case "vpc":
		return KindVPC
	case "subnet":
		return KindSubnet
	case "nat":
		return KindNATGateway
	case "rtb":
		return KindRouteTable
	case "igw":
		return KindInternetGateway
	case "sg":
		return KindSecurityGroup
	}
	return prefix
}

// Untag removes the cluster's tags from shared resources, in one call.
func (c *Cloud) Untag(ctx context.Context, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	_, err := c.EC2.DeleteTags(ctx, &ec2.DeleteTagsInput{Resources: ids, Tags: []ec2types.Tag{
		{Key: aws.String(TagClusterPrefix + c.Cluster)},
		{Key: aws.String(TagKubernetesCluster), Value: aws.String(c.Cluster)},
	}})
	if err != nil {
		return fmt.Errorf("removing the cluster's tags from shared %s: %w", strings.Join(ids, ", "), err)
	}
	return nil
}

// leftoverInstanceProfiles lists the instance profiles under the cluster's
// IAM path that hold none of its roles, which the plan's read of roles
// does not show: a profile whose role is gone, or one an interrupted apply
// made before giving it its role.
func (c *Cloud) leftoverInstanceProfiles(ctx context.Context) ([]engine.Resource, error) {
	var out []engine.Resource
	in := &iam.ListInstanceProfilesInput{PathPrefix: aws.String(IAMPath(c.Cluster))}
	for p := iam.NewListInstanceProfilesPaginator(c.IAM, in); p.HasMorePages(); {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("listing the cluster's instance profiles: %w", err)
		}
		for _, ip := range page.InstanceProfiles {
			if aws.ToString(ip.Path) == IAMPath(c.Cluster) && len(ip.Roles) == 0 {
				name := aws.ToString(ip.InstanceProfileName)
				out = append(out, &InstanceProfile{Name: name, ProfileName: name, ARN: aws.ToString(ip.Arn)})
			}
		}
	}
	return out, nil
}

// OwnedAt returns the resources the cluster owns at the given addresses,
// reading only their kinds. Removing an instance group from the spec uses
// it to delete the group's Auto Scaling group and launch template.
func (c *Cloud) OwnedAt(ctx context.Context, addrs ...engine.Address) ([]engine.Resource, error) {
	listers := map[string]func(context.Context) ([]engine.Resource, error){
		KindAutoScalingGroup: c.ownedAutoScalingGroups,
		KindLaunchTemplate:   c.ownedLaunchTemplates,
	}
	want := map[engine.Address]bool{}
	kinds := map[string]bool{}
	for _, a := range addrs {
		if listers[a.Kind] == nil {
			return nil, fmt.Errorf("OwnedAt: kind %s is not supported", a.Kind)
		}
		want[a] = true
		kinds[a.Kind] = true
	}
	var out []engine.Resource
	for _, kind := range slices.Sorted(maps.Keys(kinds)) {
		rs, err := listers[kind](ctx)
		if err != nil {
			return nil, err
		}
		for _, r := range rs {
			if want[r.Address()] {
				out = append(out, r)
			}
		}
	}
	return out, nil
}

// Prefetch makes the plan's batched reads all at once, in parallel, so
// that planning waits for one round trip rather than one per kind. Find
// then answers from the cache. Errors are left for Find to report.
func (c *Cloud) Prefetch(ctx context.Context) {
	var wg sync.WaitGroup
	for _, list := range c.ownedListers() {
		wg.Go(func() { _, _ = list(ctx) })
	}
	wg.Wait()
}
