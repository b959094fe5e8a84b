package aws

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/kapstan/kapstan/internal/engine"
	tf "github.com/kapstan/kapstan/internal/render/terraform"
)

// Terraform resource types of the kinds.
const (
	tfVPC             = "aws_vpc"
	tfInternetGateway = "aws_internet_gateway"
	tfSubnet          = "aws_subnet"
	tfRouteTable      = "aws_route_table"
	tfRoute           = "aws_route"
	tfAssociation     = "aws_route_table_association"
	tfEIP             = "aws_eip"
	tfNATGateway      = "aws_nat_gateway"
	tfSecurityGroup   = "aws_security_group"
	tfIngressRule     = "aws_vpc_security_group_ingress_rule"
	tfEgressRule      = "aws_vpc_security_group_egress_rule"
	tfIAMRole         = "aws_iam_role"
	tfIAMRolePolicy   = "aws_iam_role_policy"
	tfInstanceProfile = "aws_iam_instance_profile"
	tfKeyPair         = "aws_key_pair"
	tfLaunchTemplate  = "aws_launch_template"
	tfASG             = "aws_autoscaling_group"
	tfVolume          = "aws_ebs_volume"
	tfLB              = "aws_lb"
	tfTargetGroup     = "aws_lb_target_group"
	tfListener        = "aws_lb_listener"
	tfRecord          = "aws_route53_record"
	tfEC2Tag          = "aws_ec2_tag"
)

// Outputs the kinds set.
const (
	tfOutVPC       = "vpc_id"
	tfOutSubnets   = "subnet_ids"
	tfOutSGs       = "security_group_ids"
	tfOutASGs      = "autoscaling_group_names"
	tfOutEndpoint  = "api_endpoint"
	tfOutLBDNSName = "api_load_balancer_dns_name"
)

// self is a reference to the resource being rendered.
func self(a engine.Address) engine.Ref { return engine.Ref{Addr: a} }

// tfShared tags an existing resource with aws_ec2_tag, one resource per
// tag: terraform apply adds the cluster's shared tag, terraform destroy
// removes it, and the resource itself is never Terraform's.
func tfShared(t *tf.Target, a engine.Address, id string, tags Tags) {
	keys := slices.Sorted(maps.Keys(tags))
	for i, k := range keys {
		name := strings.ToLower(a.Kind) + "_" + t.Name(a)
		if len(keys) > 1 {
			name += fmt.Sprintf("_%d", i)
		}
		b := t.ResourceNamed(tfEC2Tag, name)
		b.String("resource_id", id)
		b.String("key", k)
		b.String("value", tags[k])
	}
}

// RenderTerraform implements terraform.Renderable. A shared VPC is only
// tagged.
func (r *VPC) RenderTerraform(t *tf.Target) error {
	if r.Shared {
		tfShared(t, r.Address(), r.ID, r.Tags)
		t.Output(tfOutVPC, tf.Literal(r.ID))
		return nil
	}
	b := t.Resource(tfVPC, r.Address())
	b.String("cidr_block", r.CIDR)
	b.Bool("enable_dns_hostnames", r.EnableDNSHostnames)
	b.Bool("enable_dns_support", r.EnableDNSSupport)
	b.Tags(r.Tags)
	t.Output(tfOutVPC, t.Ref(tfVPC, self(r.Address()), "id"))
	return nil
}

// RenderTerraform implements terraform.Renderable.
func (r *InternetGateway) RenderTerraform(t *tf.Target) error {
	b := t.Resource(tfInternetGateway, r.Address())
	b.Expr("vpc_id", t.Ref(tfVPC, r.VPC, "id"))
	b.Tags(r.Tags)
	return nil
}

// RenderTerraform implements terraform.Renderable. A shared subnet is only
// tagged.
func (r *Subnet) RenderTerraform(t *tf.Target) error {
	if r.Shared {
		tfShared(t, r.Address(), r.ID, r.Tags)
		t.OutputEntry(tfOutSubnets, r.Name, tf.Literal(r.ID))
		return nil
	}
	b := t.Resource(tfSubnet, r.Address())
	b.Expr("vpc_id", t.Ref(tfVPC, r.VPC, "id"))
	b.String("cidr_block", r.CIDR)
	b.String("availability_zone", r.Zone)
	b.Bool("map_public_ip_on_launch", r.MapPublicIP)
	b.Tags(r.Tags)
	t.OutputEntry(tfOutSubnets, r.Name, t.Ref(tfSubnet, self(r.Address()), "id"))
	return nil
}

// RenderTerraform implements terraform.Renderable.
func (r *RouteTable) RenderTerraform(t *tf.Target) error {
	b := t.Resource(tfRouteTable, r.Address())
	b.Expr("vpc_id", t.Ref(tfVPC, r.VPC, "id"))
	b.Tags(r.Tags)
	return nil
}

// RenderTerraform implements terraform.Renderable.
func (r *Route) RenderTerraform(t *tf.Target) error {
	b := t.Resource(tfRoute, r.Address())
	b.Expr("route_table_id", t.Ref(tfRouteTable, r.RouteTable, "id"))
	if v4, _ := routeCIDRs(r.Destination); v4 != nil {
		b.String("destination_cidr_block", r.Destination)
	} else {
		b.String("destination_ipv6_cidr_block", r.Destination)
	}
	switch {
	case !r.NATGateway.IsZero():
		b.Expr("nat_gateway_id", t.Ref(tfNATGateway, r.NATGateway, "id"))
	case !r.InternetGateway.IsZero():
		b.Expr("gateway_id", t.Ref(tfInternetGateway, r.InternetGateway, "id"))
	default:
		return fmt.Errorf("route %s has no target", r.Name)
	}
	return nil
}

// RenderTerraform implements terraform.Renderable.
func (r *RouteTableAssociation) RenderTerraform(t *tf.Target) error {
	b := t.Resource(tfAssociation, r.Address())
	b.Expr("subnet_id", t.Ref(tfSubnet, r.Subnet, "id"))
	b.Expr("route_table_id", t.Ref(tfRouteTable, r.RouteTable, "id"))
	return nil
}

// RenderTerraform implements terraform.Renderable.
func (r *ElasticIP) RenderTerraform(t *tf.Target) error {
	b := t.Resource(tfEIP, r.Address())
	b.String("domain", "vpc")
	b.Tags(r.Tags)
	return nil
}

// RenderTerraform implements terraform.Renderable. A shared NAT gateway is
// only tagged.
func (r *NATGateway) RenderTerraform(t *tf.Target) error {
	if r.Shared {
		tfShared(t, r.Address(), r.ID, r.Tags)
		return nil
	}
	b := t.Resource(tfNATGateway, r.Address())
	b.Expr("allocation_id", t.Ref(tfEIP, r.ElasticIP, "id"))
	b.Expr("subnet_id", t.Ref(tfSubnet, r.Subnet, "id"))
	b.Tags(r.Tags)
	return nil
}

// RenderTerraform implements terraform.Renderable. Terraform removes the
// allow-all egress rule AWS gives a new group, which kapstan keeps: it is
// written back as a rule of its own.
func (r *SecurityGroup) RenderTerraform(t *tf.Target) error {
	b := t.Resource(tfSecurityGroup, r.Address())
	b.String("name", r.GroupName)
	b.String("description", r.Description)
	b.Expr("vpc_id", t.Ref(tfVPC, r.VPC, "id"))
	b.Tags(r.Tags)
	id := t.Ref(tfSecurityGroup, self(r.Address()), "id")
	egress := t.ResourceNamed(tfEgressRule, t.Name(r.Address()))
	egress.Expr("security_group_id", id)
	egress.String("ip_protocol", "-1")
	egress.String("cidr_ipv4", "0.0.0.0/0")
	egress.String("description", "all traffic out")
	t.OutputEntry(tfOutSGs, r.Name, id)
	return nil
}

// rulePorts reports whether a protocol has ports: all traffic ("-1") and
// protocols other than TCP, UDP and ICMP do not.
func rulePorts(protocol string) bool {
	switch strings.ToLower(protocol) {
	case "tcp", "udp", "icmp", "6", "17", "1":
		return true
	}
	return false
}

// RenderTerraform implements terraform.Renderable.
func (r *SecurityGroupRule) RenderTerraform(t *tf.Target) error {
	b := t.Resource(tfIngressRule, r.Address())
	b.Expr("security_group_id", t.Ref(tfSecurityGroup, r.Group, "id"))
	b.String("ip_protocol", r.Protocol)
	if rulePorts(r.Protocol) {
		b.Int("from_port", int64(r.FromPort))
		b.Int("to_port", int64(r.ToPort))
	}
	switch {
	case strings.Contains(r.CIDR, ":"):
		b.String("cidr_ipv6", r.CIDR)
	case r.CIDR != "":
		b.String("cidr_ipv4", r.CIDR)
	case !r.SourceGroup.IsZero():
		b.Expr("referenced_security_group_id", t.Ref(tfSecurityGroup, r.SourceGroup, "id"))
	default:
		return fmt.Errorf("rule %s has no source", r.Name)
	}
	b.OptString("description", r.Description)
	return nil
}

// RenderTerraform implements terraform.Renderable. The trust policy goes
// to data/.
func (r *IAMRole) RenderTerraform(t *tf.Target) error {
	b := t.Resource(tfIAMRole, r.Address())
	b.String("name", r.RoleName)
	b.String("path", IAMPath(t.Cluster()))
	b.Expr("assume_role_policy", t.File("aws_iam_role_"+t.Name(r.Address())+"_policy", []byte(r.AssumeRolePolicy)))
	b.Tags(r.Tags)
	return nil
}

// RenderTerraform implements terraform.Renderable. The policy goes to
// data/.
func (r *IAMRolePolicy) RenderTerraform(t *tf.Target) error {
	b := t.Resource(tfIAMRolePolicy, r.Address())
	b.String("name", r.PolicyName)
	b.Expr("role", t.Ref(tfIAMRole, r.Role, "name"))
	b.Expr("policy", t.File("aws_iam_role_policy_"+t.Name(r.Address())+"_policy", []byte(r.Document)))
	return nil
}

// RenderTerraform implements terraform.Renderable.
func (r *InstanceProfile) RenderTerraform(t *tf.Target) error {
	b := t.Resource(tfInstanceProfile, r.Address())
	b.String("name", r.ProfileName)
	b.String("path", IAMPath(t.Cluster()))
	b.Expr("role", t.Ref(tfIAMRole, r.Role, "name"))
	return nil
}

// RenderTerraform implements terraform.Renderable. The public key goes to
// data/.
func (r *KeyPair) RenderTerraform(t *tf.Target) error {
	b := t.Resource(tfKeyPair, r.Address())
	b.String("key_name", r.KeyName)
	b.Expr("public_key", t.File("aws_key_pair_"+t.Name(r.Address())+"_public_key", []byte(r.PublicKey)))
	b.Tags(r.Tags)
	return nil
}

// RenderTerraform implements terraform.Renderable. The user data goes to
// data/; the image is looked up by Terraform unless it is an AMI id.
func (r *LaunchTemplate) RenderTerraform(t *tf.Target) error {
	image, err := tfImage(t, r.ImageID)
	if err != nil {
		return err
	}
	b := t.Resource(tfLaunchTemplate, r.Address())
	b.String("name", r.TemplateName)
	b.Expr("image_id", image)
	b.String("instance_type", r.InstanceType)
	b.List("vpc_security_group_ids", t.Refs(tfSecurityGroup, r.SecurityGroups, "id"))
	if !r.KeyPair.IsZero() {
		b.Expr("key_name", t.Ref(tfKeyPair, r.KeyPair, "key_name"))
	}
	if r.UserData != "" {
		b.Expr("user_data", t.FileBase64("aws_launch_template_"+t.Name(r.Address())+"_user_data", []byte(r.UserData)))
	}
	// As kapstan does directly: each change makes the new version the
	// default.
	b.Bool("update_default_version", true)
	b.Tags(r.Tags)
	if !r.InstanceProfile.IsZero() {
		b.Block("iam_instance_profile").Expr("name", t.Ref(tfInstanceProfile, r.InstanceProfile, "name"))
	}
	r.tfBlockDevice(b.Block("block_device_mappings"))
	md := b.Block("metadata_options")
	md.String("http_endpoint", ltHTTPEndpoint)
	md.String("http_tokens", ltHTTPTokens)
	md.Int("http_put_response_hop_limit", ltHopLimit)
	if r.SpotMaxPrice != "" {
		mo := b.Block("instance_market_options")
		mo.String("market_type", "spot")
		mo.Block("spot_options").String("max_price", r.SpotMaxPrice)
	}
	if len(r.InstanceTags) > 0 {
		for _, rt := range []string{"instance", "volume"} {
			ts := b.Block("tag_specifications")
			ts.String("resource_type", rt)
			ts.Tags(r.InstanceTags)
		}
	}
	return nil
}

func (r *LaunchTemplate) tfBlockDevice(b *tf.Block) {
	b.String("device_name", r.rootDevice())
	ebs := b.Block("ebs")
	if r.RootVolumeSize > 0 {
		ebs.Int("volume_size", int64(r.RootVolumeSize))
	}
	ebs.String("volume_type", r.volumeType())
	ebs.Bool("encrypted", r.RootVolumeEncrypted)
	ebs.Bool("delete_on_termination", true)
}

// tfImage is the image of a launch template: an AMI id as it is,
// "ssm:/path" read from the SSM parameter, "owner/name" the newest image
// of that owner with that name.
func tfImage(t *tf.Target, image string) (tf.Expr, error) {
	switch {
	case strings.HasPrefix(image, "ami-"):
		return tf.Literal(image), nil
	case strings.HasPrefix(image, "ssm:"):
		path := strings.TrimPrefix(image, "ssm:")
		name := "image" + tfDataName(path)
		if d := t.Data("aws_ssm_parameter", name); d != nil {
			d.String("name", path)
		}
		return t.DataRef("aws_ssm_parameter", name, "insecure_value"), nil
	case strings.Contains(image, "/"):
		owner, pattern, _ := strings.Cut(image, "/")
		name := "image_" + tfDataName(image)
		if d := t.Data("aws_ami", name); d != nil {
			d.Bool("most_recent", true)
			d.Strings("owners", []string{owner})
			f := d.Block("filter")
			f.String("name", "name")
			f.Strings("values", []string{pattern})
		}
		return t.DataRef("aws_ami", name, "id"), nil
	}
	return nil, fmt.Errorf("image %q: want an AMI id (ami-…), ssm:/parameter or owner/name", image)
}

// tfDataName makes a data source name from free text.
func tfDataName(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' {
			return r
		}
		return '_'
	}, s)
}

// RenderTerraform implements terraform.Renderable. Tags propagate to the
// instances, as kapstan's direct apply sets them.
func (r *AutoScalingGroup) RenderTerraform(t *tf.Target) error {
	b := t.Resource(tfASG, r.Address())
	b.String("name", r.GroupName)
	b.Int("min_size", int64(r.MinSize))
	b.Int("max_size", int64(r.MaxSize))
	b.List("vpc_zone_identifier", t.Refs(tfSubnet, r.Subnets, "id"))
	if len(r.TargetGroups) > 0 {
		b.List("target_group_arns", t.Refs(tfTargetGroup, r.TargetGroups, "arn"))
	}
	if m := r.MixedInstances; m != nil {
		r.tfMixed(t, b.Block("mixed_instances_policy"), m)
	} else {
		r.tfTemplate(t, b.Block("launch_template"), "id")
	}
	for _, k := range slices.Sorted(maps.Keys(r.Tags)) {
		tag := b.Block("tag")
		tag.String("key", k)
		tag.String("value", r.Tags[k])
		tag.Bool("propagate_at_launch", propagates(k))
	}
	t.OutputEntry(tfOutASGs, r.Name, t.Ref(tfASG, self(r.Address()), "name"))
	return nil
}

// tfTemplate names the launch template and its version: the one the group
// states, else the template's newest.
func (r *AutoScalingGroup) tfTemplate(t *tf.Target, b *tf.Block, idAttr string) {
	b.Expr(idAttr, t.Ref(tfLaunchTemplate, r.LaunchTemplate, "id"))
	switch {
	case r.LaunchTemplateVersion != "":
		b.String("version", r.LaunchTemplateVersion)
	case r.LaunchTemplate.Addr.IsZero():
		b.String("version", "$Default")
	default:
		b.Expr("version", t.Ref(tfLaunchTemplate, r.LaunchTemplate, "latest_version"))
	}
}

func (r *AutoScalingGroup) tfMixed(t *tf.Target, b *tf.Block, m *MixedInstances) {
	d := b.Block("instances_distribution")
	d.Int("on_demand_base_capacity", int64(m.OnDemandBase))
	d.Int("on_demand_percentage_above_base_capacity", int64(m.OnDemandAboveBase))
	d.String("spot_allocation_strategy", m.strategy())
	lt := b.Block("launch_template")
	r.tfTemplate(t, lt.Block("launch_template_specification"), "launch_template_id")
	for _, it := range m.InstanceTypes {
		lt.Block("override").String("instance_type", it)
	}
}

// RenderTerraform implements terraform.Renderable.
func (r *Volume) RenderTerraform(t *tf.Target) error {
	b := t.Resource(tfVolume, r.Address())
	b.String("availability_zone", r.Zone)
	b.Int("size", int64(r.Size))
	b.OptString("type", r.Type)
	b.Bool("encrypted", r.Encrypted)
	b.Tags(r.Tags)
	return nil
}

// RenderTerraform implements terraform.Renderable. Its DNS name is the API
// endpoint unless a DNS record names the API.
func (r *LoadBalancer) RenderTerraform(t *tf.Target) error {
	b := t.Resource(tfLB, r.Address())
	b.String("name", r.LBName)
	b.String("load_balancer_type", lbTypeNetwork)
	b.Bool("internal", r.Scheme == "internal")
	b.List("subnets", t.Refs(tfSubnet, r.Subnets, "id"))
	if len(r.SecurityGroups) > 0 {
		b.List("security_groups", t.Refs(tfSecurityGroup, r.SecurityGroups, "id"))
	}
	b.Tags(r.Tags)
	dns := t.Ref(tfLB, self(r.Address()), "dns_name")
	t.Output(tfOutLBDNSName, dns)
	t.OutputDefault(tfOutEndpoint, dns)
	return nil
}

// RenderTerraform implements terraform.Renderable.
func (r *TargetGroup) RenderTerraform(t *tf.Target) error {
	b := t.Resource(tfTargetGroup, r.Address())
	b.String("name", r.TGName)
	b.Int("port", int64(r.Port))
	b.String("protocol", r.protocol())
	b.Expr("vpc_id", t.Ref(tfVPC, r.VPC, "id"))
	b.String("target_type", "instance")
	b.Block("health_check").String("protocol", tgDefaultProtocol)
	b.Tags(r.Tags)
	return nil
}

// RenderTerraform implements terraform.Renderable.
func (r *Listener) RenderTerraform(t *tf.Target) error {
	b := t.Resource(tfListener, r.Address())
	b.Expr("load_balancer_arn", t.Ref(tfLB, r.LoadBalancer, "arn"))
	b.Int("port", int64(r.Port))
	b.String("protocol", r.protocol())
	act := b.Block("default_action")
	act.String("type", "forward")
	act.Expr("target_group_arn", t.Ref(tfTargetGroup, r.TargetGroup, "arn"))
	return nil
}

// RenderTerraform implements terraform.Renderable. The zone is the user's:
// Terraform looks it up by name. The API's own record (not
// api.internal.…) is the API endpoint.
func (r *DNSRecord) RenderTerraform(t *tf.Target) error {
	zone := "zone_" + tfDataName(dnsName(r.ZoneName))
	if d := t.Data("aws_route53_zone", zone); d != nil {
		d.String("name", dnsName(r.ZoneName))
	}
	b := t.Resource(tfRecord, r.Address())
	b.Expr("zone_id", t.DataRef("aws_route53_zone", zone, "zone_id"))
	b.String("name", dnsName(r.RecordName))
	b.String("type", "A")
	alias := b.Block("alias")
	alias.Expr("name", t.Ref(tfLB, r.LoadBalancer, "dns_name"))
	alias.Expr("zone_id", t.Ref(tfLB, r.LoadBalancer, "zone_id"))
	alias.Bool("evaluate_target_health", false)
	if !strings.HasPrefix(dnsName(r.RecordName), "api.internal.") {
		t.Output(tfOutEndpoint, t.Ref(tfRecord, self(r.Address()), "fqdn"))
	}
	return nil
}
