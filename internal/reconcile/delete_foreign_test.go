package reconcile

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	awscloud "github.com/kapstan/kapstan/internal/cloud/aws"
	"github.com/kapstan/kapstan/internal/engine"
	"github.com/kapstan/kapstan/internal/newcluster"
	"github.com/kapstan/kapstan/internal/testing/awscheck"
)

// foreign is what another tool of the family (kops) made for a cluster of
// the same name, with the SDK, tagged as kops tags: the cluster's tags and
// Name, no kapstan address.
type foreign struct {
	vpc, subnet, routeTable, dhcp, igw string
	masters, nodes                     string // security groups
	group, template                    string // an Auto Scaling group and its launch template
	etcd                               string // a volume
	queue, rule, role                  string
	// looseGroup launched an instance tagged for the cluster but carries
	// no tag itself: it is not the cluster's, and it would replace the
	// instance.
	looseGroup, looseTemplate string
}

func makeForeign(t *testing.T, e *env, cluster string) *foreign {
	t.Helper()
	ctx := context.Background()
	c := ec2.NewFromConfig(e.cfg)
	f := &foreign{}
	tags := func(name string, extra ...string) []ec2types.Tag {
		out := []ec2types.Tag{
			{Key: aws.String("KubernetesCluster"), Value: aws.String(cluster)},
			{Key: aws.String("kubernetes.io/cluster/" + cluster), Value: aws.String("owned")},
			{Key: aws.String("Name"), Value: aws.String(name)},
		}
		for i := 0; i+1 < len(extra); i += 2 {
			out = append(out, ec2types.Tag{Key: aws.String(extra[i]), Value: aws.String(extra[i+1])})
		}
		return out
	}
	spec := func(rt ec2types.ResourceType, name string, extra ...string) []ec2types.TagSpecification {
		return []ec2types.TagSpecification{{ResourceType: rt, Tags: tags(name, extra...)}}
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	vpc, err := c.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("172.20.0.0/16"), TagSpecifications: spec(ec2types.ResourceTypeVpc, cluster)})
	must(err)
	f.vpc = aws.ToString(vpc.Vpc.VpcId)
	sub, err := c.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: &f.vpc, CidrBlock: aws.String("172.20.32.0/19"), AvailabilityZone: aws.String("us-east-1a"),
		TagSpecifications: spec(ec2types.ResourceTypeSubnet, "us-east-1a."+cluster, "SubnetType", "Public")})
	must(err)
	f.subnet = aws.ToString(sub.Subnet.SubnetId)
	rt, err := c.CreateRouteTable(ctx, &ec2.CreateRouteTableInput{VpcId: &f.vpc, TagSpecifications: spec(ec2types.ResourceTypeRouteTable, cluster, "kubernetes.io/kops/role", "public")})
	must(err)
	f.routeTable = aws.ToString(rt.RouteTable.RouteTableId)
	_, err = c.AssociateRouteTable(ctx, &ec2.AssociateRouteTableInput{RouteTableId: &f.routeTable, SubnetId: &f.subnet})
	must(err)
	igw, err := c.CreateInternetGateway(ctx, &ec2.CreateInternetGatewayInput{TagSpecifications: spec(ec2types.ResourceTypeInternetGateway, cluster)})
	must(err)
	f.igw = aws.ToString(igw.InternetGateway.InternetGatewayId)
	_, err = c.AttachInternetGateway(ctx, &ec2.AttachInternetGatewayInput{InternetGatewayId: &f.igw, VpcId: &f.vpc})
	must(err)
	// moto ignores TagSpecifications on CreateDhcpOptions; tag it after.
	dhcp, err := c.CreateDhcpOptions(ctx, &ec2.CreateDhcpOptionsInput{DhcpConfigurations: []ec2types.NewDhcpConfiguration{
		{Key: aws.String("domain-name"), Values: []string{"ec2.internal"}}}})
	must(err)
	f.dhcp = aws.ToString(dhcp.DhcpOptions.DhcpOptionsId)
	_, err = c.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{f.dhcp}, Tags: tags(cluster)})
	must(err)
	_, err = c.AssociateDhcpOptions(ctx, &ec2.AssociateDhcpOptionsInput{DhcpOptionsId: &f.dhcp, VpcId: &f.vpc})
	must(err)

	for _, g := range []struct {
		name string
		id   *string
	}{{"masters." + cluster, &f.masters}, {"nodes." + cluster, &f.nodes}} {
		out, err := c.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String(g.name), Description: aws.String("Security group for " + g.name),
			VpcId: &f.vpc, TagSpecifications: spec(ec2types.ResourceTypeSecurityGroup, g.name)})
		must(err)
		*g.id = aws.ToString(out.GroupId)
	}
	// The two groups name each other, as kops' do.
	for _, p := range [][2]string{{f.masters, f.nodes}, {f.nodes, f.masters}} {
		_, err := c.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: aws.String(p[0]),
			IpPermissions: []ec2types.IpPermission{{IpProtocol: aws.String("-1"), UserIdGroupPairs: []ec2types.UserIdGroupPair{{GroupId: aws.String(p[1])}}}}})
		must(err)
	}

	lt, err := c.CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{LaunchTemplateName: aws.String("master-us-east-1a.masters." + cluster),
		LaunchTemplateData: &ec2types.RequestLaunchTemplateData{ImageId: aws.String("ami-12c6146b"), InstanceType: ec2types.InstanceTypeT3Medium,
			SecurityGroupIds: []string{f.masters}},
		TagSpecifications: spec(ec2types.ResourceTypeLaunchTemplate, "master-us-east-1a.masters."+cluster, "k8s.io/role/master", "1")})
	must(err)
	f.template = aws.ToString(lt.LaunchTemplate.LaunchTemplateId)
	a := autoscaling.NewFromConfig(e.cfg)
	f.group = "master-us-east-1a.masters." + cluster
	asgTag := func(k, v string) astypes.Tag {
		return astypes.Tag{Key: aws.String(k), Value: aws.String(v), PropagateAtLaunch: aws.Bool(true)}
	}
	_, err = a.CreateAutoScalingGroup(ctx, &autoscaling.CreateAutoScalingGroupInput{AutoScalingGroupName: &f.group, MinSize: aws.Int32(1), MaxSize: aws.Int32(1), DesiredCapacity: aws.Int32(1),
		LaunchTemplate: &astypes.LaunchTemplateSpecification{LaunchTemplateId: &f.template}, VPCZoneIdentifier: &f.subnet,
		Tags: []astypes.Tag{asgTag("KubernetesCluster", cluster), asgTag("kubernetes.io/cluster/"+cluster, "owned"), asgTag("Name", f.group),
			asgTag("kops.k8s.io/instancegroup", "master-us-east-1a")}})
	must(err)

	// A group that carries no tag, launching instances tagged for the
	// cluster through its template's instance tags.
	lt2, err := c.CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{LaunchTemplateName: aws.String("loose"),
		LaunchTemplateData: &ec2types.RequestLaunchTemplateData{ImageId: aws.String("ami-12c6146b"), InstanceType: ec2types.InstanceTypeT3Medium,
			TagSpecifications: []ec2types.LaunchTemplateTagSpecificationRequest{{ResourceType: ec2types.ResourceTypeInstance, Tags: tags("loose")}}}})
	must(err)
	f.looseTemplate = aws.ToString(lt2.LaunchTemplate.LaunchTemplateId)
	f.looseGroup = "loose"
	_, err = a.CreateAutoScalingGroup(ctx, &autoscaling.CreateAutoScalingGroupInput{AutoScalingGroupName: &f.looseGroup, MinSize: aws.Int32(1), MaxSize: aws.Int32(1),
		DesiredCapacity: aws.Int32(1), LaunchTemplate: &astypes.LaunchTemplateSpecification{LaunchTemplateId: &f.looseTemplate}, VPCZoneIdentifier: &f.subnet})
	must(err)

	vol, err := c.CreateVolume(ctx, &ec2.CreateVolumeInput{AvailabilityZone: aws.String("us-east-1a"), Size: aws.Int32(20),
		TagSpecifications: spec(ec2types.ResourceTypeVolume, "a.etcd-main."+cluster, "k8s.io/etcd/main", "a/a", "k8s.io/role/master", "1")})
	must(err)
	f.etcd = aws.ToString(vol.VolumeId)

	q, err := sqs.NewFromConfig(e.cfg).CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(strings.ReplaceAll(cluster, ".", "-") + "-nth"),
		Tags: map[string]string{"KubernetesCluster": cluster, "kubernetes.io/cluster/" + cluster: "owned"}})
	must(err)
	f.queue = aws.ToString(q.QueueUrl)
	eb := eventbridge.NewFromConfig(e.cfg)
	f.rule = strings.ReplaceAll(cluster, ".", "-") + "-ASGLifecycle"
	_, err = eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: &f.rule, EventPattern: aws.String(`{"source":["aws.autoscaling"]}`),
		Tags: []ebtypes.Tag{{Key: aws.String("KubernetesCluster"), Value: aws.String(cluster)}, {Key: aws.String("kubernetes.io/cluster/" + cluster), Value: aws.String("owned")}}})
	must(err)
	_, err = eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: &f.rule, Targets: []ebtypes.Target{{Id: aws.String("1"),
		Arn: aws.String("arn:aws:sqs:us-east-1:123456789012:" + strings.ReplaceAll(cluster, ".", "-") + "-nth")}}})
	must(err)

	ic := iam.NewFromConfig(e.cfg)
	f.role = "masters." + cluster
	_, err = ic.CreateRole(ctx, &iam.CreateRoleInput{RoleName: &f.role, AssumeRolePolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}`),
		Tags: []iamtypes.Tag{{Key: aws.String("KubernetesCluster"), Value: aws.String(cluster)}, {Key: aws.String("kubernetes.io/cluster/" + cluster), Value: aws.String("owned")}}})
	must(err)
	_, err = ic.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: &f.role, PolicyName: &f.role, PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ec2:Describe*","Resource":"*"}]}`)})
	must(err)
	_, err = ic.CreateInstanceProfile(ctx, &iam.CreateInstanceProfileInput{InstanceProfileName: &f.role})
	must(err)
	_, err = ic.AddRoleToInstanceProfile(ctx, &iam.AddRoleToInstanceProfileInput{InstanceProfileName: &f.role, RoleName: &f.role})
	must(err)
	return f
}

// byKind counts resources by kind.
func byKind(rs []engine.Resource) map[string]int {
	out := map[string]int{}
	for _, r := range rs {
		out[r.Address().Kind]++
	}
	return out
}

func TestDeleteLeavesForeignResources(t *testing.T) {
	const cluster = "shop.k8s.local"
	e := newEnv(t)
	snap := e.create(t, newcluster.Options{Name: cluster, Zones: zones[:2], ControlPlaneCount: 1, NodeCount: 1})
	e.converge(t, snap)
	kubernetesMade(t, e, cluster)
	f := makeForeign(t, e, cluster)
	ctx := context.Background()

	td, err := Discover(ctx, cluster, "us-east-1", e.opts(), awscloud.DiscoverOptions{})
	if err != nil {
		t.Fatal(err)
	}
	d := td.Discovery
	wantForeign := map[string]int{
		awscloud.KindVPC: 1, awscloud.KindSubnet: 1, awscloud.KindRouteTable: 1, awscloud.KindRouteTableAssociation: 1,
		awscloud.KindInternetGateway: 1, awscloud.KindDHCPOptions: 1, awscloud.KindSecurityGroup: 2,
		awscloud.KindLaunchTemplate: 1, awscloud.KindAutoScalingGroup: 1, awscloud.KindInstance: 2, awscloud.KindVolume: 1,
		awscloud.KindSQSQueue: 1, awscloud.KindEventRule: 1, awscloud.KindIAMRole: 1, awscloud.KindInstanceProfile: 1,
	}
	if got := byKind(d.Foreign); fmt.Sprint(got) != fmt.Sprint(wantForeign) {
		t.Errorf("foreign by kind:\n got %v\nwant %v", got, wantForeign)
	}
	for _, r := range d.Foreign {
		if d.Origin(r) != awscloud.OriginForeign {
			t.Errorf("%s: origin %q, want foreign", r.Address(), d.Origin(r))
		}
	}
	// What Kubernetes made for the cluster is the cluster's: deleted
	// without being asked.
	kube := map[string]int{}
	for _, r := range d.Delete {
		if d.Origin(r) == awscloud.OriginKubernetes {
			kube[r.Address().Kind]++
		}
		for _, id := range []string{f.vpc, f.etcd, f.masters, f.group, f.template} {
			if c, ok := r.(engine.Identified); ok && c.CloudID() == id {
				t.Errorf("foreign %s (%s) is to be deleted", r.Address(), id)
			}
		}
	}
	if kube[awscloud.KindClassicLoadBalancer] != 1 || kube[awscloud.KindSecurityGroup] != 1 || kube[awscloud.KindVolume] != 1 || kube[awscloud.KindInstance] == 0 {
		t.Errorf("what Kubernetes and the cluster's groups made, by kind: %v", kube)
	}

	// --yes without --include-foreign deletes the kapstan cluster
	// completely, leaves every foreign resource, and fails naming them.
	err = e.deleteTeardown(t, td, time.Minute)
	var left *LeftError
	if !errors.As(err, &left) || !left.OnlyForeign() {
		t.Fatalf("delete next to foreign resources: want a LeftError with only foreign resources, got %v", err)
	}
	for _, id := range []string{f.vpc, f.etcd, f.masters, f.nodes, f.group, f.dhcp, f.routeTable, f.role, f.rule} {
		if !strings.Contains(err.Error(), id) {
			t.Errorf("the error does not name foreign %s:\n%v", id, err)
		}
	}
	again, err := Discover(ctx, cluster, "us-east-1", e.opts(), awscloud.DiscoverOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(again.Discovery.Delete) != 0 {
		t.Errorf("the cluster's own resources are left: %v", byKind(again.Discovery.Delete))
	}
	if got := byKind(again.Discovery.Foreign); fmt.Sprint(got) != fmt.Sprint(wantForeign) {
		t.Errorf("foreign resources after the delete:\n got %v\nwant %v", got, wantForeign)
	}

	// --include-foreign deletes them too, but never an instance whose
	// (untagged) group lives on: it is kept and named.
	all, err := Discover(ctx, cluster, "us-east-1", e.opts(), awscloud.DiscoverOptions{IncludeForeign: true})
	if err != nil {
		t.Fatal(err)
	}
	// The instance is kept, and so are the subnet it sits in, the VPC
	// around it and the DHCP options that VPC uses: deleting them would
	// only wait for it.
	kept := map[string]int{}
	for a := range all.Discovery.Kept {
		kept[a.Kind]++
	}
	if want := map[string]int{awscloud.KindDHCPOptions: 1, awscloud.KindInstance: 1, awscloud.KindSubnet: 1, awscloud.KindVPC: 1}; fmt.Sprint(kept) != fmt.Sprint(want) {
		t.Fatalf("kept: %v, want %v", all.Discovery.Kept, want)
	}
	err = e.deleteTeardown(t, all, time.Minute)
	if !errors.As(err, &left) || len(left.Kept) != 4 || !strings.Contains(err.Error(), "Auto Scaling group "+f.looseGroup) || left.OnlyForeign() {
		t.Fatalf("delete with an instance of a surviving group: want it kept and named, got %v", err)
	}
	// The user removes that group; then nothing tagged for the cluster is
	// left in any service.
	if _, err := autoscaling.NewFromConfig(e.cfg).DeleteAutoScalingGroup(ctx, &autoscaling.DeleteAutoScalingGroupInput{AutoScalingGroupName: &f.looseGroup, ForceDelete: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	last, err := Discover(ctx, cluster, "us-east-1", e.opts(), awscloud.DiscoverOptions{IncludeForeign: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.deleteTeardown(t, last, time.Minute); err != nil {
		t.Fatalf("delete --include-foreign: %v", err)
	}
	n, err := awscheck.Tagged(ctx, e.cfg, cluster)
	if err != nil {
		t.Fatal(err)
	}
	// The loose group's launch template carries no tag; everything else
	// is gone.
	if len(n) != 0 {
		t.Fatalf("tagged for the cluster after delete --include-foreign: %v", n)
	}
}

func (e *env) deleteTeardown(t *testing.T, td *Teardown, timeout time.Duration) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return Delete(ctx, td, engine.ApplyOptions{
		Backoff:     &engine.Backoff{Initial: 50 * time.Millisecond, Max: 500 * time.Millisecond, MaxElapsed: timeout},
		GracePeriod: time.Second,
	})
}
