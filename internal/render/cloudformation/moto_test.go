package cloudformation_test

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	r53types "github.com/aws/aws-sdk-go-v2/service/route53/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/kapstan/kapstan/internal/testing/awscheck"
	"github.com/kapstan/kapstan/internal/testing/clusters"
	"github.com/kapstan/kapstan/internal/testing/moto"
)

// TestDeployOnMoto deploys the template of each topology with CreateStack
// on moto and checks that the stack completes and that the cluster's VPC,
// subnets, security groups, launch templates and Auto Scaling groups
// exist with its tags; every other kind moto supports is counted against
// the template, through awscheck's plain SDK reads.
//
// moto's CloudFormation falls short of AWS in ways the test works around
// or leaves unchecked:
//   - an AWS::ElasticLoadBalancingV2::Listener with Protocol TCP fails the
//     whole stack ("Listener protocol 'TCP' must be one of 'HTTP, HTTPS'"),
//     although moto's CreateListener API accepts TCP: the test deploys a
//     copy of the template without the listener;
//   - an AWS::ElasticLoadBalancingV2::LoadBalancer of Type network is made
//     as an application load balancer (its ARN says /app/): its type is not
//     checked;
//   - Fn::GetAtt of a load balancer's CanonicalHostedZoneID is not
//     implemented (HTTP 500): the copy names the zone of us-east-1's
//     network load balancers instead;
//   - an AWS::EC2::SecurityGroupIngress of a protocol without ports (4,
//     IP-in-IP, for calico) and without FromPort/ToPort crashes moto
//     (HTTP 500, int(None)); AWS wants them left out: the copy sets -1;
//   - AWS::EC2::SubnetRouteTableAssociation is kept apart from the route
//     tables, so DescribeRouteTables never shows the associations: they
//     are not counted;
//   - AWS::EC2::KeyPair is not a type moto's CloudFormation supports: the
//     stack completes without making the key pair (and KeyName refers to a
//     key that does not exist), so the key pair is not counted;
//   - moto drops the Tags of AWS::EC2::InternetGateway, RouteTable, EIP,
//     NatGateway, Volume and AWS::ElasticLoadBalancingV2::LoadBalancer
//     and TargetGroup: those are counted in the test's own moto account
//     whatever their tags (see motoDropsTags).
//
// The template is sent with plain HTTP POSTs of the CloudFormation query
// API, as the SDK would: kapstan has no other use for the CloudFormation
// SDK module.
func TestDeployOnMoto(t *testing.T) {
	ctx := t.Context()
	cases := []struct {
		name  string
		setup func(t *testing.T, cfg aws.Config) (clusters.Topology, map[string]string)
	}{
		{"public", func(t *testing.T, cfg aws.Config) (clusters.Topology, map[string]string) {
			return clusters.Public(t), nil
		}},
		{"private", func(t *testing.T, cfg aws.Config) (clusters.Topology, map[string]string) {
			// The DNS zone is the user's; the bastion's owner/name image
			// is a parameter CloudFormation cannot resolve: give it the
			// AMI moto has for Amazon Linux.
			_, err := route53.NewFromConfig(cfg).CreateHostedZone(ctx, &route53.CreateHostedZoneInput{
				Name: aws.String("example.com"), CallerReference: aws.String(t.Name()),
			})
			if err != nil {
				t.Fatal(err)
			}
			p, err := ssm.NewFromConfig(cfg).GetParameter(ctx, &ssm.GetParameterInput{
				Name: aws.String("/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"),
			})
			if err != nil {
				t.Fatal(err)
			}
			return clusters.Private(t), map[string]string{
				"Image099720109477UbuntuImagesHvmSsdGp3UbuntuNoble2404Amd64Server": aws.ToString(p.Parameter.Value),
			}
		}},
		{"shared", func(t *testing.T, cfg aws.Config) (clusters.Topology, map[string]string) {
			return clusters.Shared(t, existingNetwork(t, cfg)), nil
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			account := moto.NewAccountID()
			cfg, err := motoSrv.Config(ctx, moto.WithAccount(account))
			if err != nil {
				t.Fatal(err)
			}
			tp, params := tc.setup(t, cfg)
			cluster := tp.Manifests.Cluster.Metadata.Name
			body := forMoto(t, renderTopology(t, tp))
			stack := "kapstan-" + tc.name
			status, reason := deploy(t, account, stack, body, params)
			if status != "CREATE_COMPLETE" {
				t.Fatalf("stack %s: %s: %s", stack, status, reason)
			}
			checkTagged(t, cfg, cluster, tp.Manifests.Cluster.Spec.NetworkID)
			checkCounts(t, cfg, cluster, body)
			if zone := tp.Manifests.Cluster.Spec.DNSZone; zone != "" {
				checkRecords(t, cfg, zone, 2)
			}
		})
	}
}

// nlbZoneUSEast1 is the hosted zone of network load balancers in
// us-east-1, which AWS's CanonicalHostedZoneID returns.
const nlbZoneUSEast1 = "Z26RNL4JYFTOTI"

// forMoto makes the copy of a template moto can deploy: without its
// listeners, and with the load balancer's hosted zone written out (see
// TestDeployOnMoto).
func forMoto(t *testing.T, data []byte) []byte {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	res := doc["Resources"].(map[string]any)
	for id, r := range res {
		r := r.(map[string]any)
		switch r["Type"] {
		case "AWS::ElasticLoadBalancingV2::Listener":
			delete(res, id)
		case "AWS::Route53::RecordSet":
			r["Properties"].(map[string]any)["AliasTarget"].(map[string]any)["HostedZoneId"] = nlbZoneUSEast1
		case "AWS::EC2::SecurityGroupIngress":
			p := r["Properties"].(map[string]any)
			if _, ok := p["FromPort"]; !ok && p["IpProtocol"] != "-1" {
				p["FromPort"], p["ToPort"] = -1, -1
			}
		}
	}
	out, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// existingNetwork makes what the shared topology uses: a VPC, private and
// utility subnets in two zones, and a NAT gateway per zone.
func existingNetwork(t *testing.T, cfg aws.Config) clusters.Existing {
	t.Helper()
	ctx := t.Context()
	c := ec2.NewFromConfig(cfg)
	vpc, err := c.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.1.0.0/16")})
	if err != nil {
		t.Fatal(err)
	}
	ids := clusters.Existing{VPC: aws.ToString(vpc.Vpc.VpcId)}
	subnet := func(cidr, zone string) string {
		out, err := c.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: vpc.Vpc.VpcId, CidrBlock: aws.String(cidr), AvailabilityZone: aws.String(zone)})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(out.Subnet.SubnetId)
	}
	for i, zone := range []string{"us-east-1a", "us-east-1b"} {
		ids.Subnets = append(ids.Subnets, subnet(fmt.Sprintf("10.1.%d.0/20", 16*i), zone))
		utility := subnet(fmt.Sprintf("10.1.%d.0/22", 32+4*i), zone)
		ids.UtilitySubnets = append(ids.UtilitySubnets, utility)
		eip, err := c.AllocateAddress(ctx, &ec2.AllocateAddressInput{Domain: ec2types.DomainTypeVpc})
		if err != nil {
			t.Fatal(err)
		}
		nat, err := c.CreateNatGateway(ctx, &ec2.CreateNatGatewayInput{SubnetId: aws.String(utility), AllocationId: eip.AllocationId})
		if err != nil {
			t.Fatal(err)
		}
		ids.NATGateways = append(ids.NATGateways, aws.ToString(nat.NatGateway.NatGatewayId))
	}
	return ids
}

// cfnCall makes one CloudFormation query API call on moto and decodes its
// XML answer into out.
func cfnCall(t *testing.T, account string, form url.Values, out any) error {
	t.Helper()
	form.Set("Version", "2010-05-15")
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, motoSrv.URL+"/", strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set(moto.AccountHeader, account)
	// moto picks the service and region from the credential scope.
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+moto.AccessKeyID+"/20260101/"+moto.Region+"/cloudformation/aws4_request, SignedHeaders=host, Signature=0")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s: %s", form.Get("Action"), resp.Status, data)
	}
	return xml.Unmarshal(data, out)
}

// deploy creates the stack and waits for it to settle; it returns the
// stack's status and reason.
func deploy(t *testing.T, account, stack string, body []byte, params map[string]string) (string, string) {
	t.Helper()
	form := url.Values{"Action": {"CreateStack"}, "StackName": {stack}, "TemplateBody": {string(body)},
		"Capabilities.member.1": {"CAPABILITY_NAMED_IAM"}}
	for i, k := range slices.Sorted(maps.Keys(params)) {
		form.Set(fmt.Sprintf("Parameters.member.%d.ParameterKey", i+1), k)
		form.Set(fmt.Sprintf("Parameters.member.%d.ParameterValue", i+1), params[k])
	}
	var created struct{}
	if err := cfnCall(t, account, form, &created); err != nil {
		t.Fatal(err)
	}
	var described struct {
		Stacks []struct {
			Status string `xml:"StackStatus"`
			Reason string `xml:"StackStatusReason"`
		} `xml:"DescribeStacksResult>Stacks>member"`
	}
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(200 * time.Millisecond) {
		if err := cfnCall(t, account, url.Values{"Action": {"DescribeStacks"}, "StackName": {stack}}, &described); err != nil {
			t.Fatal(err)
		}
		if len(described.Stacks) != 1 {
			t.Fatalf("DescribeStacks %s: %d stacks", stack, len(described.Stacks))
		}
		s := described.Stacks[0]
		if !strings.HasSuffix(s.Status, "_IN_PROGRESS") || time.Now().After(deadline) {
			return s.Status, s.Reason
		}
	}
}

// checkTagged checks the kinds the stack must have made, with the
// cluster's tags: its VPC (unless it uses an existing one), subnets,
// security groups, launch templates and Auto Scaling groups.
func checkTagged(t *testing.T, cfg aws.Config, cluster, existingVPC string) {
	t.Helper()
	ctx := t.Context()
	c := ec2.NewFromConfig(cfg)
	owned := []ec2types.Filter{
		{Name: aws.String("tag:kubernetes.io/cluster/" + cluster), Values: []string{"owned"}},
		{Name: aws.String("tag:KubernetesCluster"), Values: []string{cluster}},
	}
	vpcs, err := c.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{Filters: owned})
	if err != nil {
		t.Fatal(err)
	}
	wantVPCs := 1
	if existingVPC != "" {
		wantVPCs = 0
	}
	if len(vpcs.Vpcs) != wantVPCs {
		t.Errorf("%d VPCs with the cluster's tags, want %d", len(vpcs.Vpcs), wantVPCs)
	}
	sgs, err := c.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{Filters: owned})
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range sgs.SecurityGroups {
		if existingVPC != "" && aws.ToString(g.VpcId) != existingVPC {
			t.Errorf("security group %s is in %s, not in the existing VPC %s", aws.ToString(g.GroupName), aws.ToString(g.VpcId), existingVPC)
		}
	}
	if len(sgs.SecurityGroups) < 3 {
		t.Errorf("%d security groups with the cluster's tags, want at least 3", len(sgs.SecurityGroups))
	}
	lts, err := c.DescribeLaunchTemplates(ctx, &ec2.DescribeLaunchTemplatesInput{Filters: owned})
	if err != nil {
		t.Fatal(err)
	}
	if len(lts.LaunchTemplates) < 2 {
		t.Errorf("%d launch templates with the cluster's tags, want at least 2", len(lts.LaunchTemplates))
	}
	asgs, err := autoscaling.NewFromConfig(cfg).DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{
		Filters: []astypes.Filter{{Name: aws.String("tag:kubernetes.io/cluster/" + cluster), Values: []string{"owned"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(asgs.AutoScalingGroups) < 2 {
		t.Errorf("%d Auto Scaling groups with the cluster's tags, want at least 2", len(asgs.AutoScalingGroups))
	}
	for _, g := range asgs.AutoScalingGroups {
		// moto launches only the on-demand part of a mixed instances
		// policy, never spot instances.
		if g.MixedInstancesPolicy == nil && len(g.Instances) != int(aws.ToInt32(g.MinSize)) || len(g.Instances) == 0 {
			t.Errorf("Auto Scaling group %s runs %d instances, want %d", aws.ToString(g.AutoScalingGroupName), len(g.Instances), aws.ToInt32(g.MinSize))
		}
	}
}

// awscheckKinds maps template types to what awscheck counts. Listeners
// are not counted (none was deployed), nor AWS::EC2::KeyPair (moto makes
// none), nor what awscheck has no count for (VPC attachments, IAM
// policies, Route 53 records).
var awscheckKinds = map[string]string{
	"AWS::EC2::VPC": "ec2:vpc", "AWS::EC2::Subnet": "ec2:subnet", "AWS::EC2::InternetGateway": "ec2:internet-gateway",
	"AWS::EC2::RouteTable": "ec2:route-table", "AWS::EC2::Route": "ec2:route", "AWS::EC2::SubnetRouteTableAssociation": "ec2:route-table-association",
	"AWS::EC2::EIP": "ec2:elastic-ip", "AWS::EC2::NatGateway": "ec2:nat-gateway", "AWS::EC2::SecurityGroup": "ec2:security-group",
	"AWS::EC2::SecurityGroupIngress": "ec2:security-group-rule", "AWS::EC2::Volume": "ec2:volume", "AWS::EC2::LaunchTemplate": "ec2:launch-template",
	"AWS::AutoScaling::AutoScalingGroup": "autoscaling:group", "AWS::ElasticLoadBalancingV2::LoadBalancer": "elbv2:load-balancer",
	"AWS::ElasticLoadBalancingV2::TargetGroup": "elbv2:target-group", "AWS::IAM::Role": "iam:role", "AWS::IAM::InstanceProfile": "iam:instance-profile",
}

// checkCounts compares what the template holds, type by type, with what
// AWS holds with the cluster's owned tags (or, for IAM, under its path).
func checkCounts(t *testing.T, cfg aws.Config, cluster string, body []byte) {
	t.Helper()
	want := awscheck.Counts{}
	for _, r := range parse(t, body).Resources {
		if k, ok := awscheckKinds[r.Type]; ok {
			want[k]++
		}
	}
	got, err := awscheck.Owned(t.Context(), cfg, cluster)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"ec2:instance", "ec2:network-interface"} {
		delete(got, k) // made by the Auto Scaling groups and the load balancer, not by the template
	}
	untagged := accountCounts(t, cfg)
	for k := range motoDropsTags {
		if want[k] > 0 {
			got[k] = untagged[k]
		}
	}
	// moto never shows CloudFormation's subnet associations (see
	// TestDeployOnMoto).
	delete(want, "ec2:route-table-association")
	delete(got, "ec2:route-table-association")
	for _, k := range slices.Sorted(maps.Keys(want)) {
		if got[k] != want[k] {
			t.Errorf("%s: %d in AWS with the cluster's tags, %d in the template", k, got[k], want[k])
		}
	}
	for _, k := range slices.Sorted(maps.Keys(got)) {
		if _, ok := want[k]; !ok {
			t.Errorf("%s: %d in AWS with the cluster's tags, none in the template", k, got[k])
		}
	}
}

// motoDropsTags are the kinds whose tags moto's CloudFormation ignores:
// they are counted in the whole (per-test) account instead.
var motoDropsTags = map[string]bool{
	"ec2:internet-gateway": true, "ec2:route-table": true, "ec2:route": true, "ec2:route-table-association": true,
	"ec2:elastic-ip": true, "ec2:nat-gateway": true, "ec2:volume": true,
	"elbv2:load-balancer": true, "elbv2:target-group": true,
}

// accountCounts counts, whatever their tags, the kinds of motoDropsTags
// in the account: route tables other than the VPCs' main ones with their
// routes (but the local one) and subnet associations; volumes not
// attached (the instances' root volumes are).
func accountCounts(t *testing.T, cfg aws.Config) awscheck.Counts {
	t.Helper()
	ctx := t.Context()
	c := ec2.NewFromConfig(cfg)
	n := awscheck.Counts{}
	igws, err := c.DescribeInternetGateways(ctx, &ec2.DescribeInternetGatewaysInput{})
	if err != nil {
		t.Fatal(err)
	}
	n["ec2:internet-gateway"] = len(igws.InternetGateways)
	rts, err := c.DescribeRouteTables(ctx, &ec2.DescribeRouteTablesInput{})
	if err != nil {
		t.Fatal(err)
	}
	for _, rt := range rts.RouteTables {
		main := false
		for _, a := range rt.Associations {
			if aws.ToBool(a.Main) {
				main = true
			} else {
				n["ec2:route-table-association"]++
			}
		}
		if main {
			continue
		}
		n["ec2:route-table"]++
		for _, r := range rt.Routes {
			if aws.ToString(r.GatewayId) != "local" {
				n["ec2:route"]++
			}
		}
	}
	eips, err := c.DescribeAddresses(ctx, &ec2.DescribeAddressesInput{})
	if err != nil {
		t.Fatal(err)
	}
	n["ec2:elastic-ip"] = len(eips.Addresses)
	nats, err := c.DescribeNatGateways(ctx, &ec2.DescribeNatGatewaysInput{})
	if err != nil {
		t.Fatal(err)
	}
	n["ec2:nat-gateway"] = len(nats.NatGateways)
	vols, err := c.DescribeVolumes(ctx, &ec2.DescribeVolumesInput{Filters: []ec2types.Filter{{Name: aws.String("status"), Values: []string{"available"}}}})
	if err != nil {
		t.Fatal(err)
	}
	n["ec2:volume"] = len(vols.Volumes)
	lb := elasticloadbalancingv2.NewFromConfig(cfg)
	lbs, err := lb.DescribeLoadBalancers(ctx, &elasticloadbalancingv2.DescribeLoadBalancersInput{})
	if err != nil {
		t.Fatal(err)
	}
	n["elbv2:load-balancer"] = len(lbs.LoadBalancers)
	tgs, err := lb.DescribeTargetGroups(ctx, &elasticloadbalancingv2.DescribeTargetGroupsInput{})
	if err != nil {
		t.Fatal(err)
	}
	n["elbv2:target-group"] = len(tgs.TargetGroups)
	return n
}

// checkRecords checks that the zone holds want A records aliasing a load
// balancer.
func checkRecords(t *testing.T, cfg aws.Config, zone string, want int) {
	t.Helper()
	ctx := t.Context()
	r53 := route53.NewFromConfig(cfg)
	zones, err := r53.ListHostedZonesByName(ctx, &route53.ListHostedZonesByNameInput{DNSName: aws.String(zone)})
	if err != nil || len(zones.HostedZones) == 0 {
		t.Fatalf("hosted zone %s: %v", zone, err)
	}
	rs, err := r53.ListResourceRecordSets(ctx, &route53.ListResourceRecordSetsInput{HostedZoneId: zones.HostedZones[0].Id})
	if err != nil {
		t.Fatal(err)
	}
	got := 0
	for _, r := range rs.ResourceRecordSets {
		if r.Type == r53types.RRTypeA && r.AliasTarget != nil {
			got++
		}
	}
	if got != want {
		t.Errorf("zone %s holds %d alias A records, want %d", zone, got, want)
	}
}
