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

// Origin says who made a resource found for a cluster's delete.
type Origin string

// Origins.
const (
	// OriginKapstan resources carry the cluster's kapstan.io/address tag.
	OriginKapstan Origin = "owned"
	// OriginKubernetes resources carry the cluster tag but no address:
	// Kubernetes, or Auto Scaling, made them for the cluster (load
	// balancers and security groups of Services, volumes of persistent
	// volumes, instances).
	OriginKubernetes Origin = "owned (kubernetes)"
	// OriginShared resources are the user's and only lose the tag.
	OriginShared Origin = "shared"
)

// Discovery is everything a cluster's delete removes or untags.
type Discovery struct {
	// Delete are the resources to delete, each knowing what it depends on.
	Delete []engine.Resource
	// Untag are the ids of shared resources that only lose the cluster's
	// tags.
	Untag []string
	// UntagKinds names the kind of each id in Untag, for display.
	UntagKinds map[string]string
}

// Origin says who made a resource of the discovery.
func (d *Discovery) Origin(r engine.Resource) Origin {
	if f, ok := r.(*found); ok {
		return f.origin
	}
	return OriginKapstan
}

// Discover finds, by tags alone, every resource of the cluster: what
// kapstan made (kapstan.io/address), what Kubernetes and Auto Scaling made
// for it (kubernetes.io/cluster/NAME or KubernetesCluster=NAME, no
// address) and what is shared with it (kubernetes.io/cluster/NAME=shared).
// It needs no spec, so it works for a cluster whose spec is gone or whose
// apply was interrupted. Each resource's dependencies are resolved against
// the others found, so that a delete plan orders them.
func (c *Cloud) Discover(ctx context.Context) (*Discovery, error) {
	var all []engine.Resource
	for _, list := range c.ownedListers() {
		rs, err := list(ctx)
		if err != nil {
			return nil, err
		}
		all = append(all, rs...)
	}
	kapstanIDs := map[string]bool{}
	for _, r := range all {
		if id, ok := r.(engine.Identified); ok {
			kapstanIDs[id.CloudID()] = true
		}
	}
	var extra []engine.Resource
	for _, list := range []func(context.Context) ([]engine.Resource, error){
		c.clusterInstances, c.clusterNetworkInterfaces, c.clusterClassicLoadBalancers,
		c.kubernetesSecurityGroups, c.kubernetesLoadBalancers, c.leftoverInstanceProfiles,
	} {
		rs, err := list(ctx)
		if err != nil {
			return nil, err
		}
		for _, r := range rs {
			if id, ok := r.(engine.Identified); ok && kapstanIDs[id.CloudID()] {
				continue
			}
			extra = append(extra, r)
		}
	}
	volumes, attached, err := c.clusterVolumes(ctx)
	if err != nil {
		return nil, err
	}
	for _, v := range volumes {
		if !kapstanIDs[v.ID] {
			extra = append(extra, v)
		}
	}

	d := &Discovery{UntagKinds: map[string]string{}}
	index := map[string]engine.Address{}
	groups := map[string]engine.Address{}
	for _, r := range append(slices.Clone(all), extra...) {
		if id, ok := r.(engine.Identified); ok && id.CloudID() != "" {
			index[id.CloudID()] = r.Address()
		}
		if g, ok := r.(*AutoScalingGroup); ok {
			groups[g.GroupName] = g.Address()
		}
	}
	present := map[engine.Address]bool{}
	for _, r := range append(slices.Clone(all), extra...) {
		present[r.Address()] = true
	}
	wrap := func(r engine.Resource, origin Origin) engine.Resource {
		f := &found{awsResource: r.(awsResource), origin: origin}
		for _, a := range r.Dependencies() {
			if present[a] {
				f.deps = append(f.deps, a)
			}
		}
		for _, ref := range refsOf(r) {
			if a, ok := index[ref.ID]; ok && ref.ID != "" && !slices.Contains(f.deps, a) && a != r.Address() {
				f.deps = append(f.deps, a)
			}
		}
		switch v := r.(type) {
		case *Instance:
			if a, ok := groups[v.GroupName]; ok {
				f.after = append(f.after, a)
			}
		case *Volume:
			for _, in := range attached[v.ID] {
				f.after = append(f.after, engine.Address{Kind: KindInstance, Name: in})
			}
		case *NetworkInterface:
			f.after = v.DeleteAfter()
		}
		return f
	}
	for _, r := range all {
		d.Delete = append(d.Delete, wrap(r, OriginKapstan))
	}
	for _, r := range extra {
		d.Delete = append(d.Delete, wrap(r, OriginKubernetes))
	}
	if d.Untag, err = c.sharedResources(ctx, d.UntagKinds); err != nil {
		return nil, err
	}
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
	deps   []engine.Address
	after  []engine.Address
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

// kubernetesSecurityGroups lists the security groups that carry the
// cluster tag but no kapstan address: those Kubernetes made for Services'
// load balancers.
func (c *Cloud) kubernetesSecurityGroups(ctx context.Context) ([]engine.Resource, error) {
	var out []engine.Resource
	seen := map[string]bool{}
	for _, f := range c.clusterTagFilters() {
		for p := ec2.NewDescribeSecurityGroupsPaginator(c.EC2, &ec2.DescribeSecurityGroupsInput{Filters: f}); p.HasMorePages(); {
			page, err := p.NextPage(ctx)
			if err != nil {
				return nil, fmt.Errorf("listing the cluster's security groups: %w", err)
			}
			for _, g := range page.SecurityGroups {
				id := aws.ToString(g.GroupId)
				tags := fromEC2Tags(g.Tags)
				if seen[id] || tags[TagAddress] != "" || tags[TagClusterPrefix+c.Cluster] == "shared" {
					continue
				}
				seen[id] = true
				out = append(out, &SecurityGroup{Name: id, ID: id, GroupName: aws.ToString(g.GroupName),
					VPC: engine.RefID(aws.ToString(g.VpcId)), Tags: tags})
			}
		}
	}
	return out, nil
}

// kubernetesLoadBalancers lists the network and application load
// balancers and target groups that carry the cluster tag but no kapstan
// address: those the AWS cloud controller or load balancer controller made.
func (c *Cloud) kubernetesLoadBalancers(ctx context.Context) ([]engine.Resource, error) {
	inv, err := elbv2Inventory(ctx, c)
	if err != nil {
		return nil, err
	}
	ours := func(t Tags) bool {
		return t[TagAddress] == "" && (t[TagClusterPrefix+c.Cluster] == "owned" || t[TagKubernetesCluster] == c.Cluster)
	}
	var out []engine.Resource
	for _, lb := range inv.lbs {
		arn := aws.ToString(lb.LoadBalancerArn)
		if t := inv.tags[arn]; ours(t) {
			r := &LoadBalancer{Name: aws.ToString(lb.LoadBalancerName), LBName: aws.ToString(lb.LoadBalancerName), ARN: arn, Tags: t}
			for _, az := range lb.AvailabilityZones {
				r.Subnets = append(r.Subnets, engine.RefID(aws.ToString(az.SubnetId)))
			}
			for _, g := range lb.SecurityGroups {
				r.SecurityGroups = append(r.SecurityGroups, engine.RefID(g))
			}
			out = append(out, r)
		}
	}
	for _, tg := range inv.tgs {
		arn := aws.ToString(tg.TargetGroupArn)
		if t := inv.tags[arn]; ours(t) {
			out = append(out, &TargetGroup{Name: aws.ToString(tg.TargetGroupName), TGName: aws.ToString(tg.TargetGroupName),
				ARN: arn, VPC: engine.RefID(aws.ToString(tg.VpcId)), Tags: t})
		}
	}
	return out, nil
}

// clusterVolumes lists the volumes tagged with the cluster (persistent
// volumes Kubernetes made, and kapstan's etcd volumes) and the instances
// each is attached to.
func (c *Cloud) clusterVolumes(ctx context.Context) ([]*Volume, map[string][]string, error) {
	var out []*Volume
	attached := map[string][]string{}
	seen := map[string]bool{}
	for _, f := range c.clusterTagFilters() {
		for p := ec2.NewDescribeVolumesPaginator(c.EC2, &ec2.DescribeVolumesInput{Filters: f}); p.HasMorePages(); {
			page, err := p.NextPage(ctx)
			if err != nil {
				return nil, nil, fmt.Errorf("listing the cluster's volumes: %w", err)
			}
			for _, v := range page.Volumes {
				id := aws.ToString(v.VolumeId)
				if seen[id] || v.State == ec2types.VolumeStateDeleting || v.State == ec2types.VolumeStateDeleted {
					continue
				}
				seen[id] = true
				for _, a := range v.Attachments {
					attached[id] = append(attached[id], aws.ToString(a.InstanceId))
				}
				out = append(out, &Volume{Name: id, ID: id, Zone: aws.ToString(v.AvailabilityZone), Tags: fromEC2Tags(v.Tags)})
			}
		}
	}
	return out, attached, nil
}

// sharedResources lists, with one DescribeTags call, every EC2 resource
// tagged kubernetes.io/cluster/NAME=shared.
func (c *Cloud) sharedResources(ctx context.Context, kinds map[string]string) ([]string, error) {
	var ids []string
	in := &ec2.DescribeTagsInput{Filters: []ec2types.Filter{
		{Name: aws.String("key"), Values: []string{TagClusterPrefix + c.Cluster}},
		{Name: aws.String("value"), Values: []string{"shared"}},
	}}
	for p := ec2.NewDescribeTagsPaginator(c.EC2, in); p.HasMorePages(); {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("listing resources shared with the cluster: %w", err)
		}
		for _, t := range page.Tags {
			id := aws.ToString(t.ResourceId)
			if !slices.Contains(ids, id) {
				ids = append(ids, id)
				kinds[id] = sharedKind(id)
			}
		}
	}
	slices.Sort(ids)
	return ids, nil
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
