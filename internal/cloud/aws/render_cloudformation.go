package aws

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/kapstan/kapstan/internal/engine"
	cfn "github.com/kapstan/kapstan/internal/render/cloudformation"
)

// Outputs the kinds set; per-resource outputs are named after the
// resource's logical id.
const (
	cfnOutVPC       = "VPCId"
	cfnOutEndpoint  = "APIEndpoint"
	cfnOutLBDNSName = "APILoadBalancerDNSName"
)

// RenderCloudFormation implements cloudformation.Renderable. A shared VPC
// is only its id: CloudFormation cannot tag what a stack does not own.
func (r *VPC) RenderCloudFormation(t *cfn.Template) error {
	if r.Shared {
		t.Output(cfnOutVPC, "the cluster's VPC (existing)", r.ID)
		return nil
	}
	t.Add(t.LogicalID(r.Address()), "AWS::EC2::VPC", map[string]any{
		"CidrBlock":          r.CIDR,
		"EnableDnsHostnames": r.EnableDNSHostnames,
		"EnableDnsSupport":   r.EnableDNSSupport,
		"Tags":               cfn.Tags(r.Tags),
	})
	t.Output(cfnOutVPC, "the cluster's VPC", t.Ref(self(r.Address())))
	return nil
}

// igwAttachment is the logical id of a gateway's VPC attachment.
func igwAttachment(t *cfn.Template, igw engine.Address) string {
	return t.LogicalID(igw) + "Attachment"
}

// RenderCloudFormation implements cloudformation.Renderable: the gateway
// and its attachment to the VPC.
func (r *InternetGateway) RenderCloudFormation(t *cfn.Template) error {
	id := t.LogicalID(r.Address())
	t.Add(id, "AWS::EC2::InternetGateway", map[string]any{"Tags": cfn.Tags(r.Tags)})
	t.Add(igwAttachment(t, r.Address()), "AWS::EC2::VPCGatewayAttachment", map[string]any{
		"VpcId":             t.Ref(r.VPC),
		"InternetGatewayId": t.RefID(id),
	})
	return nil
}

// RenderCloudFormation implements cloudformation.Renderable. A shared
// subnet is only its id.
func (r *Subnet) RenderCloudFormation(t *cfn.Template) error {
	out := t.LogicalID(r.Address()) + "Id"
	if r.Shared {
		t.Output(out, "subnet "+r.Name+" (existing)", r.ID)
		return nil
	}
	t.Add(t.LogicalID(r.Address()), "AWS::EC2::Subnet", map[string]any{
		"VpcId":               t.Ref(r.VPC),
		"CidrBlock":           r.CIDR,
		"AvailabilityZone":    r.Zone,
		"MapPublicIpOnLaunch": r.MapPublicIP,
		"Tags":                cfn.Tags(r.Tags),
	})
	t.Output(out, "subnet "+r.Name, t.Ref(self(r.Address())))
	return nil
}

// RenderCloudFormation implements cloudformation.Renderable.
func (r *RouteTable) RenderCloudFormation(t *cfn.Template) error {
	t.Add(t.LogicalID(r.Address()), "AWS::EC2::RouteTable", map[string]any{
		"VpcId": t.Ref(r.VPC),
		"Tags":  cfn.Tags(r.Tags),
	})
	return nil
}

// RenderCloudFormation implements cloudformation.Renderable. A route
// through the cluster's internet gateway waits for its attachment, which
// nothing in the route refers to.
func (r *Route) RenderCloudFormation(t *cfn.Template) error {
	props := map[string]any{"RouteTableId": t.Ref(r.RouteTable)}
	if v4, _ := routeCIDRs(r.Destination); v4 != nil {
		props["DestinationCidrBlock"] = r.Destination
	} else {
		props["DestinationIpv6CidrBlock"] = r.Destination
	}
	switch {
	case !r.NATGateway.IsZero():
		props["NatGatewayId"] = t.Ref(r.NATGateway)
	case !r.InternetGateway.IsZero():
		props["GatewayId"] = t.Ref(r.InternetGateway)
	default:
		return fmt.Errorf("route %s has no target", r.Name)
	}
	res := t.Add(t.LogicalID(r.Address()), "AWS::EC2::Route", props)
	if !r.InternetGateway.Addr.IsZero() {
		t.DependOn(res, igwAttachment(t, r.InternetGateway.Addr))
	}
	return nil
}

// RenderCloudFormation implements cloudformation.Renderable.
func (r *RouteTableAssociation) RenderCloudFormation(t *cfn.Template) error {
	t.Add(t.LogicalID(r.Address()), "AWS::EC2::SubnetRouteTableAssociation", map[string]any{
		"SubnetId":     t.Ref(r.Subnet),
		"RouteTableId": t.Ref(r.RouteTable),
	})
	return nil
}

// RenderCloudFormation implements cloudformation.Renderable.
func (r *ElasticIP) RenderCloudFormation(t *cfn.Template) error {
	t.Add(t.LogicalID(r.Address()), "AWS::EC2::EIP", map[string]any{"Domain": "vpc", "Tags": cfn.Tags(r.Tags)})
	return nil
}

// RenderCloudFormation implements cloudformation.Renderable. A shared NAT
// gateway is only its id.
func (r *NATGateway) RenderCloudFormation(t *cfn.Template) error {
	if r.Shared {
		return nil
	}
	t.Add(t.LogicalID(r.Address()), "AWS::EC2::NatGateway", map[string]any{
		"AllocationId": t.GetAtt(r.ElasticIP, "AllocationId"),
		"SubnetId":     t.Ref(r.Subnet),
		"Tags":         cfn.Tags(r.Tags),
	})
	return nil
}

// RenderCloudFormation implements cloudformation.Renderable. CloudFormation
// keeps the allow-all egress rule AWS gives a new group, as kapstan does.
func (r *SecurityGroup) RenderCloudFormation(t *cfn.Template) error {
	id := t.LogicalID(r.Address())
	t.Add(id, "AWS::EC2::SecurityGroup", map[string]any{
		"GroupName":        r.GroupName,
		"GroupDescription": r.Description,
		"VpcId":            t.Ref(r.VPC),
		"Tags":             cfn.Tags(r.Tags),
	})
	t.Output(id+"Id", "security group "+r.Name, t.GetAttID(id, "GroupId"))
	return nil
}

// RenderCloudFormation implements cloudformation.Renderable.
func (r *SecurityGroupRule) RenderCloudFormation(t *cfn.Template) error {
	props := map[string]any{
		"GroupId":    t.GetAtt(r.Group, "GroupId"),
		"IpProtocol": r.Protocol,
	}
	if rulePorts(r.Protocol) {
		props["FromPort"], props["ToPort"] = r.FromPort, r.ToPort
	}
	switch {
	case strings.Contains(r.CIDR, ":"):
		props["CidrIpv6"] = r.CIDR
	case r.CIDR != "":
		props["CidrIp"] = r.CIDR
	case !r.SourceGroup.IsZero():
		props["SourceSecurityGroupId"] = t.GetAtt(r.SourceGroup, "GroupId")
	default:
		return fmt.Errorf("rule %s has no source", r.Name)
	}
	if r.Description != "" {
		props["Description"] = r.Description
	}
	t.Add(t.LogicalID(r.Address()), "AWS::EC2::SecurityGroupIngress", props)
	return nil
}

// cfnDocument turns a JSON policy into the object CloudFormation embeds.
func cfnDocument(doc string) (any, error) {
	var v any
	if err := json.Unmarshal([]byte(doc), &v); err != nil {
		return nil, fmt.Errorf("policy document is not JSON: %w", err)
	}
	return v, nil
}

// RenderCloudFormation implements cloudformation.Renderable.
func (r *IAMRole) RenderCloudFormation(t *cfn.Template) error {
	doc, err := cfnDocument(r.AssumeRolePolicy)
	if err != nil {
		return err
	}
	t.Add(t.LogicalID(r.Address()), "AWS::IAM::Role", map[string]any{
		"RoleName":                 r.RoleName,
		"Path":                     IAMPath(t.Cluster()),
		"AssumeRolePolicyDocument": doc,
		"Tags":                     cfn.Tags(r.Tags),
	})
	return nil
}

// RenderCloudFormation implements cloudformation.Renderable, as an
// AWS::IAM::Policy: the inline policy of the roles it names (the newer
// AWS::IAM::RolePolicy is the same thing, but moto does not know it).
func (r *IAMRolePolicy) RenderCloudFormation(t *cfn.Template) error {
	doc, err := cfnDocument(r.Document)
	if err != nil {
		return err
	}
	t.Add(t.LogicalID(r.Address()), "AWS::IAM::Policy", map[string]any{
		"PolicyName":     r.PolicyName,
		"PolicyDocument": doc,
		"Roles":          []any{t.Ref(r.Role)},
	})
	return nil
}

// RenderCloudFormation implements cloudformation.Renderable.
func (r *InstanceProfile) RenderCloudFormation(t *cfn.Template) error {
	t.Add(t.LogicalID(r.Address()), "AWS::IAM::InstanceProfile", map[string]any{
		"InstanceProfileName": r.ProfileName,
		"Path":                IAMPath(t.Cluster()),
		"Roles":               []any{t.Ref(r.Role)},
	})
	return nil
}

// RenderCloudFormation implements cloudformation.Renderable.
func (r *KeyPair) RenderCloudFormation(t *cfn.Template) error {
	t.Add(t.LogicalID(r.Address()), "AWS::EC2::KeyPair", map[string]any{
		"KeyName":           r.KeyName,
		"PublicKeyMaterial": r.PublicKey,
		"Tags":              cfn.Tags(r.Tags),
	})
	return nil
}

// RenderCloudFormation implements cloudformation.Renderable. The user data
// is embedded as text, encoded by Fn::Base64 as EC2 wants it.
func (r *LaunchTemplate) RenderCloudFormation(t *cfn.Template) error {
	image, err := cfnImage(t, r.ImageID)
	if err != nil {
		return err
	}
	ebs := map[string]any{"VolumeType": r.volumeType(), "Encrypted": r.RootVolumeEncrypted, "DeleteOnTermination": true}
	if r.RootVolumeSize > 0 {
		ebs["VolumeSize"] = r.RootVolumeSize
	}
	data := map[string]any{
		"ImageId":             image,
		"InstanceType":        r.InstanceType,
		"SecurityGroupIds":    cfnGroupIDs(t, r.SecurityGroups),
		"BlockDeviceMappings": []any{map[string]any{"DeviceName": r.rootDevice(), "Ebs": ebs}},
		"MetadataOptions": map[string]any{
			"HttpEndpoint": ltHTTPEndpoint, "HttpTokens": ltHTTPTokens, "HttpPutResponseHopLimit": ltHopLimit,
		},
	}
	if !r.InstanceProfile.IsZero() {
		data["IamInstanceProfile"] = map[string]any{"Arn": t.GetAtt(r.InstanceProfile, "Arn")}
	}
	if !r.KeyPair.IsZero() {
		data["KeyName"] = t.Ref(r.KeyPair)
	}
	if r.UserData != "" {
		data["UserData"] = map[string]any{"Fn::Base64": r.UserData}
	}
	if r.SpotMaxPrice != "" {
		data["InstanceMarketOptions"] = map[string]any{"MarketType": "spot", "SpotOptions": map[string]any{"MaxPrice": r.SpotMaxPrice}}
	}
	if len(r.InstanceTags) > 0 {
		data["TagSpecifications"] = []any{
			map[string]any{"ResourceType": "instance", "Tags": cfn.Tags(r.InstanceTags)},
			map[string]any{"ResourceType": "volume", "Tags": cfn.Tags(r.InstanceTags)},
		}
	}
	t.Add(t.LogicalID(r.Address()), "AWS::EC2::LaunchTemplate", map[string]any{
		"LaunchTemplateName": r.TemplateName,
		"LaunchTemplateData": data,
		"TagSpecifications":  []any{map[string]any{"ResourceType": "launch-template", "Tags": cfn.Tags(r.Tags)}},
	})
	return nil
}

func cfnGroupIDs(t *cfn.Template, sgs []engine.Ref) []any {
	out := make([]any, 0, len(sgs))
	for _, sg := range sgs {
		out = append(out, t.GetAtt(sg, "GroupId"))
	}
	return out
}

// cfnImage is the image of a launch template: an AMI id as it is,
// "ssm:/path" through a parameter CloudFormation resolves from SSM, and
// "owner/name" through a parameter the user must give at deploy time:
// CloudFormation cannot search images by name.
func cfnImage(t *cfn.Template, image string) (any, error) {
	switch {
	case strings.HasPrefix(image, "ami-"):
		return image, nil
	case strings.HasPrefix(image, "ssm:"):
		path := strings.TrimPrefix(image, "ssm:")
		return t.Parameter("Image"+cfn.Camel(path), cfn.Parameter{
			Type:        "AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>",
			Default:     path,
			Description: "the image of the instance groups whose spec says " + image,
		}), nil
	case strings.Contains(image, "/"):
		return t.Parameter("Image"+cfn.Camel(image), cfn.Parameter{
			Type:        "AWS::EC2::Image::Id",
			Description: "the AMI id of the newest image matching " + image + " (owner/name): CloudFormation cannot look images up by name",
		}), nil
	}
	return nil, fmt.Errorf("image %q: want an AMI id (ami-…), ssm:/parameter or owner/name", image)
}

// RenderCloudFormation implements cloudformation.Renderable.
func (r *AutoScalingGroup) RenderCloudFormation(t *cfn.Template) error {
	id := t.LogicalID(r.Address())
	props := map[string]any{
		"AutoScalingGroupName": r.GroupName,
		"MinSize":              strconv.Itoa(int(r.MinSize)),
		"MaxSize":              strconv.Itoa(int(r.MaxSize)),
		"VPCZoneIdentifier":    t.Refs(r.Subnets),
		"Tags":                 cfnASGTags(r.Tags),
	}
	if len(r.TargetGroups) > 0 {
		props["TargetGroupARNs"] = t.Refs(r.TargetGroups)
	}
	if m := r.MixedInstances; m != nil {
		var overrides []any
		for _, it := range m.InstanceTypes {
			overrides = append(overrides, map[string]any{"InstanceType": it})
		}
		props["MixedInstancesPolicy"] = map[string]any{
			"InstancesDistribution": map[string]any{
				"OnDemandBaseCapacity":                m.OnDemandBase,
				"OnDemandPercentageAboveBaseCapacity": m.OnDemandAboveBase,
				"SpotAllocationStrategy":              m.strategy(),
			},
			"LaunchTemplate": map[string]any{"LaunchTemplateSpecification": r.cfnTemplate(t), "Overrides": overrides},
		}
	} else {
		props["LaunchTemplate"] = r.cfnTemplate(t)
	}
	t.Add(id, "AWS::AutoScaling::AutoScalingGroup", props)
	t.Output(id+"Name", "Auto Scaling group of instance group "+r.Name, t.RefID(id))
	return nil
}

// cfnTemplate names the launch template and its version: the one the
// group states, else the template's newest.
func (r *AutoScalingGroup) cfnTemplate(t *cfn.Template) map[string]any {
	spec := map[string]any{"LaunchTemplateId": t.Ref(r.LaunchTemplate)}
	switch {
	case r.LaunchTemplateVersion != "":
		spec["Version"] = r.LaunchTemplateVersion
	case r.LaunchTemplate.Addr.IsZero():
		spec["Version"] = "$Default"
	default:
		spec["Version"] = t.GetAtt(r.LaunchTemplate, "LatestVersionNumber")
	}
	return spec
}

func cfnASGTags(tags Tags) []any {
	out := make([]any, 0, len(tags))
	for _, k := range slices.Sorted(maps.Keys(tags)) {
		out = append(out, map[string]any{"Key": k, "Value": tags[k], "PropagateAtLaunch": propagates(k)})
	}
	return out
}

// RenderCloudFormation implements cloudformation.Renderable.
func (r *Volume) RenderCloudFormation(t *cfn.Template) error {
	props := map[string]any{
		"AvailabilityZone": r.Zone,
		"Size":             r.Size,
		"Encrypted":        r.Encrypted,
		"Tags":             cfn.Tags(r.Tags),
	}
	if r.Type != "" {
		props["VolumeType"] = r.Type
	}
	t.Add(t.LogicalID(r.Address()), "AWS::EC2::Volume", props)
	return nil
}

// RenderCloudFormation implements cloudformation.Renderable. Its DNS name
// is the API endpoint unless a DNS record names the API.
func (r *LoadBalancer) RenderCloudFormation(t *cfn.Template) error {
	id := t.LogicalID(r.Address())
	props := map[string]any{
		"Name":    r.LBName,
		"Type":    lbTypeNetwork,
		"Scheme":  r.Scheme,
		"Subnets": t.Refs(r.Subnets),
		"Tags":    cfn.Tags(r.Tags),
	}
	if len(r.SecurityGroups) > 0 {
		props["SecurityGroups"] = cfnGroupIDs(t, r.SecurityGroups)
	}
	t.Add(id, "AWS::ElasticLoadBalancingV2::LoadBalancer", props)
	t.Output(cfnOutLBDNSName, "the API load balancer's DNS name", t.GetAttID(id, "DNSName"))
	t.OutputDefault(cfnOutEndpoint, "the Kubernetes API's host name", t.GetAttID(id, "DNSName"))
	return nil
}

// RenderCloudFormation implements cloudformation.Renderable.
func (r *TargetGroup) RenderCloudFormation(t *cfn.Template) error {
	t.Add(t.LogicalID(r.Address()), "AWS::ElasticLoadBalancingV2::TargetGroup", map[string]any{
		"Name":                r.TGName,
		"Port":                r.Port,
		"Protocol":            r.protocol(),
		"VpcId":               t.Ref(r.VPC),
		"TargetType":          "instance",
		"HealthCheckProtocol": tgDefaultProtocol,
		"Tags":                cfn.Tags(r.Tags),
	})
	return nil
}

// RenderCloudFormation implements cloudformation.Renderable.
func (r *Listener) RenderCloudFormation(t *cfn.Template) error {
	t.Add(t.LogicalID(r.Address()), "AWS::ElasticLoadBalancingV2::Listener", map[string]any{
		"LoadBalancerArn": t.Ref(r.LoadBalancer),
		"Port":            r.Port,
		"Protocol":        r.protocol(),
		"DefaultActions":  []any{map[string]any{"Type": "forward", "TargetGroupArn": t.Ref(r.TargetGroup)}},
	})
	return nil
}

// RenderCloudFormation implements cloudformation.Renderable. The zone is
// the user's, named: CloudFormation finds it by name. The API's own record
// (not api.internal.…) is the API endpoint.
func (r *DNSRecord) RenderCloudFormation(t *cfn.Template) error {
	t.Add(t.LogicalID(r.Address()), "AWS::Route53::RecordSet", map[string]any{
		"HostedZoneName": dnsName(r.ZoneName) + ".",
		"Name":           dnsName(r.RecordName) + ".",
		"Type":           "A",
		"AliasTarget": map[string]any{
			"DNSName":              t.GetAtt(r.LoadBalancer, "DNSName"),
			"HostedZoneId":         t.GetAtt(r.LoadBalancer, "CanonicalHostedZoneID"),
			"EvaluateTargetHealth": false,
		},
	})
	if !strings.HasPrefix(dnsName(r.RecordName), "api.internal.") {
		t.Output(cfnOutEndpoint, "the Kubernetes API's host name", dnsName(r.RecordName))
	}
	return nil
}
