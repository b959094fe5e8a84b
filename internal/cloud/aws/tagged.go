package aws

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/kapstan/kapstan/internal/engine"
)

// Discovery of everything tagged for a cluster, whoever made it.
//
// EC2 says in two DescribeTags calls (one per cluster tag) which of its
// resources carry the cluster's tags, by id; only the kinds that have some
// kapstan did not make are then described, one call per kind, filtered by
// those ids. Describing is needed anyway for the facts a delete orders by
// (a subnet's VPC, an instance's group) and it also proves the resource is
// still there: DescribeTags lists the tags of resources deleted a moment
// ago (moto keeps them for good; see notes/moto.md). The other services
// cannot list by tag and are listed whole: Auto Scaling filters by tag,
// load balancers, IAM roles, queues and event rules are read with their
// tags.

// tagged is a resource found by the cluster's tags, with those tags and
// the facts ownership needs.
type tagged struct {
	res  awsResource
	tags Tags
	// groupName is a security group's name (k8s-elb-… groups are
	// Kubernetes').
	groupName string
	// after are the cloud ids of what must be deleted first: the instance
	// a volume is attached to, the VPCs a DHCP option set serves.
	after []string
	// children go with the resource and share its origin: the subnet
	// associations of a route table, the instance profiles of a role.
	children []awsResource
	// withInstance is the instance a volume or network interface is
	// attached to with DeleteOnTermination: it is that instance's own
	// disk or interface, and belongs to whoever the instance belongs to.
	withInstance string
}

// taggedForCluster reports whether tags name the cluster, in either of the
// two ways the family of tools tags.
func (c *Cloud) taggedForCluster(t Tags) bool {
	_, ok := t[TagClusterPrefix+c.Cluster]
	return ok || t[TagKubernetesCluster] == c.Cluster
}

// ec2Describer describes the EC2 resources of one kind with the given ids
// (an id filter: a missing id is no error).
type ec2Describer func(ctx context.Context, c *Cloud, ids []string) ([]tagged, error)

// ec2Describers maps an id prefix to the describe of its kind. Every kind
// of EC2 resource the family of tools tags is here.
var ec2Describers = map[string]ec2Describer{
	"vpc":      describeTaggedVPCs,
	"subnet":   describeTaggedSubnets,
	"rtb":      describeTaggedRouteTables,
	"igw":      describeTaggedInternetGateways,
	"dopt":     describeTaggedDHCPOptions,
	"vpce":     describeTaggedVPCEndpoints,
	"nat":      describeTaggedNATGateways,
	"eipalloc": describeTaggedElasticIPs,
	"sg":       describeTaggedSecurityGroups,
	"i":        describeTaggedInstances,
	"vol":      describeTaggedVolumes,
	"eni":      describeTaggedNetworkInterfaces,
	"lt":       describeTaggedLaunchTemplates,
	"key":      describeTaggedKeyPairs,
}

// taggedEC2 lists the EC2 resources tagged for the cluster that are not
// among known (cloud ids of what the owned listers found), and the ids of
// those that are shared with it. An id whose kind kapstan does not know
// (a resource type no tool of the family makes) is returned in unknown, so
// the preview can name it rather than hide it.
func (c *Cloud) taggedEC2(ctx context.Context, known map[string]bool) (found []tagged, shared, unknown []string, err error) {
	filters := [][]ec2types.Filter{
		{{Name: aws.String("key"), Values: []string{TagClusterPrefix + c.Cluster}}},
		{{Name: aws.String("key"), Values: []string{TagKubernetesCluster}}, {Name: aws.String("value"), Values: []string{c.Cluster}}},
	}
	byPrefix := map[string][]string{}
	seen := map[string]bool{}
	for _, f := range filters {
		for p := ec2.NewDescribeTagsPaginator(c.EC2, &ec2.DescribeTagsInput{Filters: f}); p.HasMorePages(); {
			page, err := p.NextPage(ctx)
			if err != nil {
				return nil, nil, nil, fmt.Errorf("listing the resources tagged for the cluster: %w", err)
			}
			for _, t := range page.Tags {
				id := aws.ToString(t.ResourceId)
				if aws.ToString(t.Key) == TagClusterPrefix+c.Cluster && aws.ToString(t.Value) == "shared" {
					shared = append(shared, id)
				}
				if seen[id] || known[id] {
					continue
				}
				seen[id] = true
				prefix, _, _ := strings.Cut(id, "-")
				byPrefix[prefix] = append(byPrefix[prefix], id)
			}
		}
	}
	var (
		mu   sync.Mutex
		wg   sync.WaitGroup
		errs []error
	)
	for _, prefix := range slices.Sorted(maps.Keys(byPrefix)) {
		describe, ok := ec2Describers[prefix]
		if !ok {
			unknown = append(unknown, byPrefix[prefix]...)
			continue
		}
		wg.Go(func() {
			rs, err := describe(ctx, c, byPrefix[prefix])
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			for _, r := range rs {
				if id := r.res.(engine.Identified).CloudID(); !known[id] {
					found = append(found, r)
				}
			}
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		return nil, nil, nil, errs[0]
	}
	slices.SortFunc(found, func(a, b tagged) int { return strings.Compare(a.res.Address().String(), b.res.Address().String()) })
	slices.Sort(shared)
	shared = slices.Compact(shared)
	return found, shared, unknown, nil
}

// idFilter selects resources by id in a describe call.
func idFilter(name string, ids []string) []ec2types.Filter {
	return []ec2types.Filter{{Name: aws.String(name), Values: ids}}
}

func describeTaggedVPCs(ctx context.Context, c *Cloud, ids []string) ([]tagged, error) {
	var out []tagged
	for p := ec2.NewDescribeVpcsPaginator(c.EC2, &ec2.DescribeVpcsInput{Filters: idFilter("vpc-id", ids)}); p.HasMorePages(); {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("describing VPCs tagged for the cluster: %w", err)
		}
		for _, v := range page.Vpcs {
			id := aws.ToString(v.VpcId)
			out = append(out, tagged{res: vpcFromEC2(id, v), tags: fromEC2Tags(v.Tags)})
		}
	}
	return out, nil
}

func describeTaggedSubnets(ctx context.Context, c *Cloud, ids []string) ([]tagged, error) {
	var out []tagged
	for p := ec2.NewDescribeSubnetsPaginator(c.EC2, &ec2.DescribeSubnetsInput{Filters: idFilter("subnet-id", ids)}); p.HasMorePages(); {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("describing subnets tagged for the cluster: %w", err)
		}
		for _, s := range page.Subnets {
			out = append(out, tagged{res: subnetFromEC2(aws.ToString(s.SubnetId), s, nil), tags: fromEC2Tags(s.Tags)})
		}
	}
	return out, nil
}

// describeTaggedRouteTables also returns each table's subnet associations,
// which AWS requires gone before the table.
func describeTaggedRouteTables(ctx context.Context, c *Cloud, ids []string) ([]tagged, error) {
	var out []tagged
	for p := ec2.NewDescribeRouteTablesPaginator(c.EC2, &ec2.DescribeRouteTablesInput{Filters: idFilter("route-table-id", ids)}); p.HasMorePages(); {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("describing route tables tagged for the cluster: %w", err)
		}
		for _, rt := range page.RouteTables {
			id := aws.ToString(rt.RouteTableId)
			t := tagged{res: &RouteTable{Name: id, ID: id, VPC: engine.RefID(aws.ToString(rt.VpcId)), Tags: fromEC2Tags(rt.Tags)}, tags: fromEC2Tags(rt.Tags)}
			for _, a := range rt.Associations {
				if aws.ToBool(a.Main) || a.SubnetId == nil {
					continue
				}
				assoc := aws.ToString(a.RouteTableAssociationId)
				t.children = append(t.children, &RouteTableAssociation{Name: assoc, ID: assoc,
					RouteTable: engine.RefID(id), Subnet: engine.RefID(aws.ToString(a.SubnetId))})
			}
			out = append(out, t)
		}
	}
	return out, nil
}

func describeTaggedInternetGateways(ctx context.Context, c *Cloud, ids []string) ([]tagged, error) {
	var out []tagged
	for p := ec2.NewDescribeInternetGatewaysPaginator(c.EC2, &ec2.DescribeInternetGatewaysInput{Filters: idFilter("internet-gateway-id", ids)}); p.HasMorePages(); {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("describing internet gateways tagged for the cluster: %w", err)
		}
		for _, g := range page.InternetGateways {
			id := aws.ToString(g.InternetGatewayId)
			r := &InternetGateway{Name: id, ID: id, Tags: fromEC2Tags(g.Tags)}
			for _, a := range g.Attachments {
				r.VPC = engine.RefID(aws.ToString(a.VpcId))
			}
			out = append(out, tagged{res: r, tags: r.Tags})
		}
	}
	return out, nil
}

// describeTaggedDHCPOptions also finds the VPCs that use each set: it can
// only go after them.
func describeTaggedDHCPOptions(ctx context.Context, c *Cloud, ids []string) ([]tagged, error) {
	var out []tagged
	for p := ec2.NewDescribeDhcpOptionsPaginator(c.EC2, &ec2.DescribeDhcpOptionsInput{Filters: idFilter("dhcp-options-id", ids)}); p.HasMorePages(); {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("describing DHCP options tagged for the cluster: %w", err)
		}
		for _, d := range page.DhcpOptions {
			id := aws.ToString(d.DhcpOptionsId)
			out = append(out, tagged{res: &DHCPOptions{ID: id, Tags: fromEC2Tags(d.Tags)}, tags: fromEC2Tags(d.Tags)})
		}
	}
	if len(out) == 0 {
		return nil, nil
	}
	users, err := c.EC2.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{Filters: idFilter("dhcp-options-id", ids)})
	if err != nil {
		return nil, fmt.Errorf("finding the VPCs that use DHCP options %s: %w", strings.Join(ids, ", "), err)
	}
	for i := range out {
		d := out[i].res.(*DHCPOptions)
		for _, v := range users.Vpcs {
			if aws.ToString(v.DhcpOptionsId) == d.ID {
				d.VPCs = append(d.VPCs, aws.ToString(v.VpcId))
			}
		}
		out[i].after = d.VPCs
	}
	return out, nil
}

func describeTaggedVPCEndpoints(ctx context.Context, c *Cloud, ids []string) ([]tagged, error) {
	var out []tagged
	for p := ec2.NewDescribeVpcEndpointsPaginator(c.EC2, &ec2.DescribeVpcEndpointsInput{Filters: idFilter("vpc-endpoint-id", ids)}); p.HasMorePages(); {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("describing VPC endpoints tagged for the cluster: %w", err)
		}
		for _, e := range page.VpcEndpoints {
			if s := strings.ToLower(string(e.State)); s == "deleted" || s == "deleting" {
				continue
			}
			tags := fromEC2Tags(e.Tags)
			out = append(out, tagged{res: &VPCEndpoint{ID: aws.ToString(e.VpcEndpointId), VPC: engine.RefID(aws.ToString(e.VpcId)), Tags: tags}, tags: tags})
		}
	}
	return out, nil
}

// describeTaggedNATGateways filters by id on the client too: moto ignores
// DescribeNatGateways' filters.
func describeTaggedNATGateways(ctx context.Context, c *Cloud, ids []string) ([]tagged, error) {
	var out []tagged
	for p := ec2.NewDescribeNatGatewaysPaginator(c.EC2, &ec2.DescribeNatGatewaysInput{Filter: idFilter("nat-gateway-id", ids)}); p.HasMorePages(); {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("describing NAT gateways tagged for the cluster: %w", err)
		}
		for _, n := range page.NatGateways {
			id := aws.ToString(n.NatGatewayId)
			if !slices.Contains(ids, id) || n.State == ec2types.NatGatewayStateDeleted || n.State == ec2types.NatGatewayStateDeleting {
				continue
			}
			out = append(out, tagged{res: natFromEC2(id, n, nil, nil), tags: fromEC2Tags(n.Tags)})
		}
	}
	return out, nil
}

func describeTaggedElasticIPs(ctx context.Context, c *Cloud, ids []string) ([]tagged, error) {
	out, err := c.EC2.DescribeAddresses(ctx, &ec2.DescribeAddressesInput{Filters: idFilter("allocation-id", ids)})
	if err != nil {
		return nil, fmt.Errorf("describing elastic IPs tagged for the cluster: %w", err)
	}
	var found []tagged
	for _, a := range out.Addresses {
		id := aws.ToString(a.AllocationId)
		t := tagged{res: &ElasticIP{Name: id, ID: id, PublicIP: aws.ToString(a.PublicIp), Tags: fromEC2Tags(a.Tags)}, tags: fromEC2Tags(a.Tags)}
		if in := aws.ToString(a.InstanceId); in != "" {
			t.after = []string{in}
		}
		found = append(found, t)
	}
	return found, nil
}

// describeTaggedSecurityGroups also notes, for each group, the rules that
// name other groups: AWS refuses to delete a group another group's rule
// names, and two groups that name each other could never go.
func describeTaggedSecurityGroups(ctx context.Context, c *Cloud, ids []string) ([]tagged, error) {
	var out []tagged
	for p := ec2.NewDescribeSecurityGroupsPaginator(c.EC2, &ec2.DescribeSecurityGroupsInput{Filters: idFilter("group-id", ids)}); p.HasMorePages(); {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("describing security groups tagged for the cluster: %w", err)
		}
		for _, g := range page.SecurityGroups {
			id := aws.ToString(g.GroupId)
			r := &SecurityGroup{Name: id, ID: id, GroupName: aws.ToString(g.GroupName), VPC: engine.RefID(aws.ToString(g.VpcId)),
				Description: aws.ToString(g.Description), Tags: fromEC2Tags(g.Tags)}
			r.revokeFirst = groupReferences(g.IpPermissions)
			r.revokeEgressFirst = groupReferences(g.IpPermissionsEgress)
			out = append(out, tagged{res: r, tags: r.Tags, groupName: r.GroupName})
		}
	}
	return out, nil
}

// groupReferences keeps the permissions' parts that name other security
// groups.
func groupReferences(perms []ec2types.IpPermission) []ec2types.IpPermission {
	var out []ec2types.IpPermission
	for _, p := range perms {
		if len(p.UserIdGroupPairs) == 0 {
			continue
		}
		out = append(out, ec2types.IpPermission{IpProtocol: p.IpProtocol, FromPort: p.FromPort, ToPort: p.ToPort, UserIdGroupPairs: p.UserIdGroupPairs})
	}
	return out
}

func describeTaggedInstances(ctx context.Context, c *Cloud, ids []string) ([]tagged, error) {
	var out []tagged
	in := &ec2.DescribeInstancesInput{Filters: append(idFilter("instance-id", ids), ec2types.Filter{
		Name: aws.String("instance-state-name"), Values: []string{"pending", "running", "stopping", "stopped", "shutting-down"}})}
	for p := ec2.NewDescribeInstancesPaginator(c.EC2, in); p.HasMorePages(); {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("describing instances tagged for the cluster: %w", err)
		}
		for _, res := range page.Reservations {
			for _, in := range res.Instances {
				tags := fromEC2Tags(in.Tags)
				r := &Instance{ID: aws.ToString(in.InstanceId), Subnet: engine.RefID(aws.ToString(in.SubnetId)), GroupName: tags[tagASGName]}
				for _, g := range in.SecurityGroups {
					r.SecurityGroups = append(r.SecurityGroups, engine.RefID(aws.ToString(g.GroupId)))
				}
				out = append(out, tagged{res: r, tags: tags})
			}
		}
	}
	return out, nil
}

// describeTaggedVolumes notes the instances each volume is attached to: it
// goes after them.
func describeTaggedVolumes(ctx context.Context, c *Cloud, ids []string) ([]tagged, error) {
	var out []tagged
	for p := ec2.NewDescribeVolumesPaginator(c.EC2, &ec2.DescribeVolumesInput{Filters: idFilter("volume-id", ids)}); p.HasMorePages(); {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("describing volumes tagged for the cluster: %w", err)
		}
		for _, v := range page.Volumes {
			if v.State == ec2types.VolumeStateDeleting || v.State == ec2types.VolumeStateDeleted {
				continue
			}
			id := aws.ToString(v.VolumeId)
			t := tagged{res: &Volume{Name: id, ID: id, Zone: aws.ToString(v.AvailabilityZone), Size: aws.ToInt32(v.Size),
				Type: string(v.VolumeType), Encrypted: aws.ToBool(v.Encrypted), Tags: fromEC2Tags(v.Tags)}, tags: fromEC2Tags(v.Tags)}
			for _, a := range v.Attachments {
				t.after = append(t.after, aws.ToString(a.InstanceId))
				if aws.ToBool(a.DeleteOnTermination) {
					t.withInstance = aws.ToString(a.InstanceId)
				}
			}
			out = append(out, t)
		}
	}
	return out, nil
}

func describeTaggedNetworkInterfaces(ctx context.Context, c *Cloud, ids []string) ([]tagged, error) {
	var out []tagged
	for p := ec2.NewDescribeNetworkInterfacesPaginator(c.EC2, &ec2.DescribeNetworkInterfacesInput{Filters: idFilter("network-interface-id", ids)}); p.HasMorePages(); {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("describing network interfaces tagged for the cluster: %w", err)
		}
		for _, ni := range page.NetworkInterfaces {
			t := tagged{res: networkInterfaceFrom(ni), tags: fromEC2Tags(ni.TagSet)}
			if a := ni.Attachment; a != nil && aws.ToBool(a.DeleteOnTermination) {
				t.withInstance = aws.ToString(a.InstanceId)
			}
			out = append(out, t)
		}
	}
	return out, nil
}

// clusterTagFilters are the two ways a resource says it belongs to the
// cluster: the kubernetes.io/cluster/NAME tag (owned or shared) and the
// older KubernetesCluster=NAME. EC2 filters are ANDed, so each is a call.
func (c *Cloud) clusterTagFilters() [][]ec2types.Filter {
	return [][]ec2types.Filter{
		{{Name: aws.String("tag-key"), Values: []string{TagClusterPrefix + c.Cluster}}},
		{{Name: aws.String("tag:" + TagKubernetesCluster), Values: []string{c.Cluster}}},
	}
}

// describeTaggedLaunchTemplates filters by tag: DescribeLaunchTemplates has
// no id filter, and its id parameter fails the call for an id that is gone.
func describeTaggedLaunchTemplates(ctx context.Context, c *Cloud, ids []string) ([]tagged, error) {
	var out []tagged
	seen := map[string]bool{}
	for _, f := range c.clusterTagFilters() {
		for p := ec2.NewDescribeLaunchTemplatesPaginator(c.EC2, &ec2.DescribeLaunchTemplatesInput{Filters: f}); p.HasMorePages(); {
			page, err := p.NextPage(ctx)
			if err != nil {
				return nil, fmt.Errorf("describing launch templates tagged for the cluster: %w", err)
			}
			for _, lt := range page.LaunchTemplates {
				id := aws.ToString(lt.LaunchTemplateId)
				if seen[id] || !slices.Contains(ids, id) {
					continue
				}
				seen[id] = true
				tags := fromEC2Tags(lt.Tags)
				out = append(out, tagged{res: &LaunchTemplate{Name: id, TemplateName: aws.ToString(lt.LaunchTemplateName), ID: id, Tags: tags}, tags: tags})
			}
		}
	}
	return out, nil
}

// describeTaggedKeyPairs names a key pair by its id in addresses, and by
// its name in calls (its CloudID), as kapstan's own key pairs.
func describeTaggedKeyPairs(ctx context.Context, c *Cloud, ids []string) ([]tagged, error) {
	out, err := c.EC2.DescribeKeyPairs(ctx, &ec2.DescribeKeyPairsInput{Filters: idFilter("key-pair-id", ids)})
	if err != nil {
		return nil, fmt.Errorf("describing key pairs tagged for the cluster: %w", err)
	}
	var found []tagged
	for _, k := range out.KeyPairs {
		tags := fromEC2Tags(k.Tags)
		found = append(found, tagged{res: &KeyPair{Name: aws.ToString(k.KeyPairId), KeyName: aws.ToString(k.KeyName), ID: aws.ToString(k.KeyPairId), Tags: tags}, tags: tags})
	}
	return found, nil
}

// taggedAutoScalingGroups lists the Auto Scaling groups tagged for the
// cluster that kapstan did not make (known are the groups it did): one
// call per cluster tag, filtered by Auto Scaling.
func (c *Cloud) taggedAutoScalingGroups(ctx context.Context, known map[string]bool) ([]tagged, error) {
	filters := [][]astypes.Filter{
		{{Name: aws.String("tag-key"), Values: []string{TagClusterPrefix + c.Cluster}}},
		{{Name: aws.String("tag:" + TagKubernetesCluster), Values: []string{c.Cluster}}},
	}
	var out []tagged
	seen := map[string]bool{}
	for _, f := range filters {
		for p := autoscaling.NewDescribeAutoScalingGroupsPaginator(c.AutoScaling, &autoscaling.DescribeAutoScalingGroupsInput{Filters: f}); p.HasMorePages(); {
			page, err := p.NextPage(ctx)
			if err != nil {
				return nil, fmt.Errorf("listing the Auto Scaling groups tagged for the cluster: %w", err)
			}
			for _, g := range page.AutoScalingGroups {
				name := aws.ToString(g.AutoScalingGroupName)
				if seen[name] || known[name] {
					continue
				}
				seen[name] = true
				a := asgFromAWS(g)
				a.Name = name
				out = append(out, tagged{res: a, tags: a.Tags})
			}
		}
	}
	return out, nil
}

// liveGroups tells which of the named Auto Scaling groups exist: an
// instance whose group lives on cannot be deleted alone, as the group
// would replace it.
func (c *Cloud) liveGroups(ctx context.Context, names []string) (map[string]bool, error) {
	live := map[string]bool{}
	for chunk := range slices.Chunk(names, 50) {
		out, err := c.AutoScaling.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: chunk})
		if err != nil {
			return nil, fmt.Errorf("looking up Auto Scaling groups %s: %w", strings.Join(chunk, ", "), err)
		}
		for _, g := range out.AutoScalingGroups {
			live[aws.ToString(g.AutoScalingGroupName)] = true
		}
	}
	return live, nil
}
