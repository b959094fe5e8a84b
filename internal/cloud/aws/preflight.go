package aws

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	api "github.com/kapstan/kapstan/pkg/apis/kapstan/v1alpha1"
)

// preflightEC2API is the EC2 calls the preflight checks make.
type preflightEC2API interface {
	DescribeImages(ctx context.Context, params *ec2.DescribeImagesInput, optFns ...func(*ec2.Options)) (*ec2.DescribeImagesOutput, error)
	DescribeInstanceTypeOfferings(ctx context.Context, params *ec2.DescribeInstanceTypeOfferingsInput, optFns ...func(*ec2.Options)) (*ec2.DescribeInstanceTypeOfferingsOutput, error)
	DescribeVpcs(ctx context.Context, params *ec2.DescribeVpcsInput, optFns ...func(*ec2.Options)) (*ec2.DescribeVpcsOutput, error)
	DescribeSubnets(ctx context.Context, params *ec2.DescribeSubnetsInput, optFns ...func(*ec2.Options)) (*ec2.DescribeSubnetsOutput, error)
	DescribeNatGateways(ctx context.Context, params *ec2.DescribeNatGatewaysInput, optFns ...func(*ec2.Options)) (*ec2.DescribeNatGatewaysOutput, error)
}

// ssmAPI is the SSM call that resolves "ssm:" images.
type ssmAPI interface {
	GetParameters(ctx context.Context, params *ssm.GetParametersInput, optFns ...func(*ssm.Options)) (*ssm.GetParametersOutput, error)
}

// preflightRoute53API is the Route 53 call that checks the DNS zone.
type preflightRoute53API interface {
	ListHostedZonesByName(ctx context.Context, params *route53.ListHostedZonesByNameInput, optFns ...func(*route53.Options)) (*route53.ListHostedZonesByNameOutput, error)
}

// Facts are what the model needs to know about the cloud that the spec
// does not say. Preflight gathers them; targets that render files without
// a cloud leave them empty and let Terraform or CloudFormation look them up.
type Facts struct {
	// Images maps each instance group's image, as written in the spec, to
	// an AMI id.
	Images map[string]string
}

// PreflightError lists every problem preflight found, each naming the
// instance group or subnet it concerns.
type PreflightError struct {
	Problems []string
}

func (e *PreflightError) Error() string {
	return "preflight checks failed, nothing was changed:\n  * " + strings.Join(e.Problems, "\n  * ")
}

// Preflight checks that the cloud can hold the cluster before anything is
// changed: every image exists, every instance type is offered in the zones
// of its groups, the existing VPC, subnets and NAT gateways the spec names
// exist where it says, and the DNS zone exists. It makes a handful of
// batched reads and returns the facts the model needs.
func (c *Cloud) Preflight(ctx context.Context, m *api.Manifests) (Facts, error) {
	var problems []string
	images, p, err := c.resolveImages(ctx, m.InstanceGroups)
	if err != nil {
		return Facts{}, err
	}
	problems = append(problems, p...)
	p, err = c.checkInstanceTypes(ctx, m)
	if err != nil {
		return Facts{}, err
	}
	problems = append(problems, p...)
	p, err = c.checkExistingNetwork(ctx, m.Cluster)
	if err != nil {
		return Facts{}, err
	}
	problems = append(problems, p...)
	p, err = c.checkDNSZone(ctx, m.Cluster)
	if err != nil {
		return Facts{}, err
	}
	problems = append(problems, p...)
	if len(problems) > 0 {
		return Facts{}, &PreflightError{Problems: problems}
	}
	return Facts{Images: images}, nil
}

// imageUsers maps each image to the instance groups that use it.
func imageUsers(igs []*api.InstanceGroup) map[string][]string {
	out := map[string][]string{}
	for _, ig := range igs {
		out[ig.Spec.Image] = append(out[ig.Spec.Image], ig.Metadata.Name)
	}
	return out
}

// resolveImages turns each image into an AMI id: "ami-…" is checked with
// one DescribeImages, "ssm:/path" read with one GetParameters, and
// "owner/name-pattern" is the newest image of that owner matching the name.
func (c *Cloud) resolveImages(ctx context.Context, igs []*api.InstanceGroup) (map[string]string, []string, error) {
	users := imageUsers(igs)
	images := map[string]string{}
	var problems []string
	var amis, params []string
	for _, img := range sortedKeysOf(users) {
		switch {
		case strings.HasPrefix(img, "ami-"):
			amis = append(amis, img)
		case strings.HasPrefix(img, "ssm:"):
			params = append(params, strings.TrimPrefix(img, "ssm:"))
		case strings.Contains(img, "/"):
			owner, name, _ := strings.Cut(img, "/")
			out, err := c.EC2.DescribeImages(ctx, &ec2.DescribeImagesInput{
				Owners:  []string{owner},
				Filters: []ec2types.Filter{{Name: aws.String("name"), Values: []string{name}}},
			})
			if err != nil {
				return nil, nil, fmt.Errorf("looking up image %s: %w", img, err)
			}
			if len(out.Images) == 0 {
				problems = append(problems, fmt.Sprintf("instance group %s: image %q: no image of owner %s is named %s in %s", strings.Join(users[img], ", "), img, owner, name, c.Region))
				continue
			}
			newest := slices.MaxFunc(out.Images, func(a, b ec2types.Image) int {
				return strings.Compare(aws.ToString(a.CreationDate), aws.ToString(b.CreationDate))
			})
			images[img] = aws.ToString(newest.ImageId)
		default:
			problems = append(problems, fmt.Sprintf("instance group %s: image %q: want an AMI id (ami-…), ssm:/parameter or owner/name", strings.Join(users[img], ", "), img))
		}
	}
	if len(amis) > 0 {
		out, err := c.EC2.DescribeImages(ctx, &ec2.DescribeImagesInput{ImageIds: amis})
		if err != nil && !isNotFound(err) && !hasCode(err, "InvalidAMIID.Malformed") {
			return nil, nil, fmt.Errorf("looking up images %s: %w", strings.Join(amis, ", "), err)
		}
		found := map[string]bool{}
		if out != nil {
			for _, im := range out.Images {
				found[aws.ToString(im.ImageId)] = true
			}
		}
		for _, a := range amis {
			if found[a] {
				images[a] = a
			} else {
				problems = append(problems, fmt.Sprintf("instance group %s: image %s does not exist in %s", strings.Join(users[a], ", "), a, c.Region))
			}
		}
	}
	for chunk := range slices.Chunk(params, 10) { // GetParameters takes at most 10 names
		out, err := c.SSM.GetParameters(ctx, &ssm.GetParametersInput{Names: chunk})
		if err != nil {
			return nil, nil, fmt.Errorf("reading image parameters %s: %w", strings.Join(chunk, ", "), err)
		}
		for _, prm := range out.Parameters {
			images["ssm:"+aws.ToString(prm.Name)] = aws.ToString(prm.Value)
		}
		for _, bad := range out.InvalidParameters {
			problems = append(problems, fmt.Sprintf("instance group %s: image parameter %s does not exist in %s", strings.Join(users["ssm:"+bad], ", "), bad, c.Region))
		}
	}
	return images, problems, nil
}

// checkInstanceTypes makes one DescribeInstanceTypeOfferings for every
// type and zone the spec uses and reports each group whose type is not
// offered in one of its zones.
func (c *Cloud) checkInstanceTypes(ctx context.Context, m *api.Manifests) ([]string, error) {
	zoneOf := map[string]string{}
	for _, sn := range m.Cluster.Spec.Subnets {
		zoneOf[sn.Name] = sn.Zone
	}
	need := map[string]map[string][]string{} // type → zone → groups
	for _, ig := range m.InstanceGroups {
		types := []string{ig.Spec.MachineType}
		if mip := ig.Spec.MixedInstancesPolicy; mip != nil {
			types = append(types, mip.Instances...)
		}
		for _, t := range types {
			for _, sn := range ig.Spec.Subnets {
				if need[t] == nil {
					need[t] = map[string][]string{}
				}
				z := zoneOf[sn]
				if !slices.Contains(need[t][z], ig.Metadata.Name) {
					need[t][z] = append(need[t][z], ig.Metadata.Name)
				}
			}
		}
	}
	if len(need) == 0 {
		return nil, nil
	}
	offered := map[string]bool{}
	in := &ec2.DescribeInstanceTypeOfferingsInput{
		LocationType: ec2types.LocationTypeAvailabilityZone,
		Filters: []ec2types.Filter{
			{Name: aws.String("instance-type"), Values: sortedKeysOf(need)},
			{Name: aws.String("location"), Values: m.Cluster.Spec.Zones},
		},
	}
	for p := ec2.NewDescribeInstanceTypeOfferingsPaginator(c.EC2, in); p.HasMorePages(); {
		out, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("checking instance types: %w", err)
		}
		for _, o := range out.InstanceTypeOfferings {
			offered[string(o.InstanceType)+"@"+aws.ToString(o.Location)] = true
		}
	}
	var problems []string
	for _, t := range sortedKeysOf(need) {
		for _, z := range sortedKeysOf(need[t]) {
			if !offered[t+"@"+z] {
				problems = append(problems, fmt.Sprintf("instance group %s: instance type %s is not offered in %s", strings.Join(need[t][z], ", "), t, z))
			}
		}
	}
	return problems, nil
}

// checkExistingNetwork checks the VPC, subnets and NAT gateways the spec
// names by id: they exist, in that VPC, zone and range.
func (c *Cloud) checkExistingNetwork(ctx context.Context, cl *api.Cluster) ([]string, error) {
	s := cl.Spec
	if s.NetworkID == "" {
		return nil, nil
	}
	var problems []string
	vpcs, err := c.EC2.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{VpcIds: []string{s.NetworkID}})
	if err != nil && !isNotFound(err) {
		return nil, fmt.Errorf("looking up VPC %s: %w", s.NetworkID, err)
	}
	if vpcs == nil || len(vpcs.Vpcs) == 0 {
		return []string{fmt.Sprintf("spec.networkID: VPC %s does not exist in %s", s.NetworkID, c.Region)}, nil
	}
	if got := aws.ToString(vpcs.Vpcs[0].CidrBlock); s.NetworkCIDR != "" && got != s.NetworkCIDR {
		problems = append(problems, fmt.Sprintf("spec.networkCIDR: %s, but VPC %s has %s", s.NetworkCIDR, s.NetworkID, got))
	}

	var ids, nats []string
	for _, sn := range s.Subnets {
		if sn.ID != "" {
			ids = append(ids, sn.ID)
		}
		if sn.Egress != "" && !slices.Contains(nats, sn.Egress) {
			nats = append(nats, sn.Egress)
		}
	}
	found := map[string]ec2types.Subnet{}
	if len(ids) > 0 {
		// Ask by filter, not by id: DescribeSubnets with SubnetIds fails as
		// a whole when one id is missing, and we want to name each one.
		out, err := c.EC2.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{Filters: []ec2types.Filter{{Name: aws.String("subnet-id"), Values: ids}}})
		if err != nil {
			return nil, fmt.Errorf("looking up subnets: %w", err)
		}
		for _, sub := range out.Subnets {
			found[aws.ToString(sub.SubnetId)] = sub
		}
	}
	for i, sn := range s.Subnets {
		if sn.ID == "" {
			continue
		}
		sub, ok := found[sn.ID]
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("spec.subnets[%d] (%s): subnet %s does not exist", i, sn.Name, sn.ID))
		case aws.ToString(sub.VpcId) != s.NetworkID:
			problems = append(problems, fmt.Sprintf("spec.subnets[%d] (%s): subnet %s is in %s, not in spec.networkID %s", i, sn.Name, sn.ID, aws.ToString(sub.VpcId), s.NetworkID))
		case aws.ToString(sub.AvailabilityZone) != sn.Zone:
			problems = append(problems, fmt.Sprintf("spec.subnets[%d] (%s): subnet %s is in zone %s, not %s", i, sn.Name, sn.ID, aws.ToString(sub.AvailabilityZone), sn.Zone))
		case sn.CIDR != "" && aws.ToString(sub.CidrBlock) != sn.CIDR:
			problems = append(problems, fmt.Sprintf("spec.subnets[%d] (%s): subnet %s has range %s, not %s", i, sn.Name, sn.ID, aws.ToString(sub.CidrBlock), sn.CIDR))
		}
	}
	if len(nats) > 0 {
		out, err := c.EC2.DescribeNatGateways(ctx, &ec2.DescribeNatGatewaysInput{Filter: []ec2types.Filter{{Name: aws.String("nat-gateway-id"), Values: nats}}})
		if err != nil {
			return nil, fmt.Errorf("looking up NAT gateways: %w", err)
		}
		have := map[string]ec2types.NatGateway{}
		for _, n := range out.NatGateways {
			have[aws.ToString(n.NatGatewayId)] = n
		}
		for i, sn := range s.Subnets {
			if sn.Egress == "" {
				continue
			}
			n, ok := have[sn.Egress]
			switch {
			case !ok || n.State == ec2types.NatGatewayStateDeleted || n.State == ec2types.NatGatewayStateDeleting:
				problems = append(problems, fmt.Sprintf("spec.subnets[%d].egress (%s): NAT gateway %s does not exist", i, sn.Name, sn.Egress))
			case aws.ToString(n.VpcId) != s.NetworkID:
				problems = append(problems, fmt.Sprintf("spec.subnets[%d].egress (%s): NAT gateway %s is in %s, not in spec.networkID %s", i, sn.Name, sn.Egress, aws.ToString(n.VpcId), s.NetworkID))
			}
		}
	}
	return problems, nil
}

// checkDNSZone checks that a cluster with a DNS zone has it in Route 53.
func (c *Cloud) checkDNSZone(ctx context.Context, cl *api.Cluster) ([]string, error) {
	zone := cl.Spec.DNSZone
	if zone == "" {
		return nil, nil
	}
	r53, ok := c.Route53.(preflightRoute53API)
	if !ok {
		return nil, errors.New("checking the DNS zone: the Route 53 client cannot list zones")
	}
	out, err := r53.ListHostedZonesByName(ctx, &route53.ListHostedZonesByNameInput{DNSName: aws.String(zone), MaxItems: aws.Int32(1)})
	if err != nil {
		return nil, fmt.Errorf("looking up DNS zone %s: %w", zone, err)
	}
	if len(out.HostedZones) == 0 || strings.TrimSuffix(aws.ToString(out.HostedZones[0].Name), ".") != strings.TrimSuffix(zone, ".") {
		return []string{fmt.Sprintf("spec.dnsZone: no Route 53 hosted zone is named %s", zone)}, nil
	}
	return nil, nil
}

func sortedKeysOf[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
