package reconcile

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancing"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancing/types"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	"github.com/google/go-cmp/cmp"

	awscloud "github.com/kapstan/kapstan/internal/cloud/aws"
	"github.com/kapstan/kapstan/internal/engine"
	"github.com/kapstan/kapstan/internal/newcluster"
	"github.com/kapstan/kapstan/internal/testing/awscheck"
)

// kubernetesMade adds what Kubernetes makes for a cluster: a classic load
// balancer and its security group for a Service, and an EBS volume for a
// persistent volume, tagged as its AWS cloud provider tags them.
func kubernetesMade(t *testing.T, e *env, cluster string) {
	t.Helper()
	ctx := context.Background()
	c := ec2.NewFromConfig(e.cfg)
	tags := []ec2types.Tag{{Key: aws.String("kubernetes.io/cluster/" + cluster), Value: aws.String("owned")}}
	subnets, err := c.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{Filters: []ec2types.Filter{
		{Name: aws.String("tag:kubernetes.io/cluster/" + cluster), Values: []string{"owned", "shared"}}}})
	if err != nil || len(subnets.Subnets) == 0 {
		t.Fatalf("no subnets to put a Service in: %v", err)
	}
	vpc := aws.ToString(subnets.Subnets[0].VpcId)
	sg, err := c.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String("k8s-elb-a1b2c3"), Description: aws.String("Security group for Kubernetes ELB a1b2c3 (default/web)"),
		VpcId: &vpc, TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeSecurityGroup, Tags: tags}}})
	if err != nil {
		t.Fatal(err)
	}
	lbc := elb.NewFromConfig(e.cfg)
	if _, err := lbc.CreateLoadBalancer(ctx, &elb.CreateLoadBalancerInput{LoadBalancerName: aws.String("a1b2c3"),
		Listeners:      []elbtypes.Listener{{Protocol: aws.String("TCP"), LoadBalancerPort: 80, InstancePort: aws.Int32(30080)}},
		Subnets:        []string{aws.ToString(subnets.Subnets[0].SubnetId)},
		SecurityGroups: []string{aws.ToString(sg.GroupId)},
		Tags:           []elbtypes.Tag{{Key: aws.String("kubernetes.io/cluster/" + cluster), Value: aws.String("owned")}, {Key: aws.String("kubernetes.io/service-name"), Value: aws.String("default/web")}},
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateVolume(ctx, &ec2.CreateVolumeInput{AvailabilityZone: subnets.Subnets[0].AvailabilityZone, Size: aws.Int32(8),
		TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeVolume, Tags: append(tags,
			ec2types.Tag{Key: aws.String("kubernetes.io/created-for/pvc/name"), Value: aws.String("data")})}}}); err != nil {
		t.Fatal(err)
	}
}

func (e *env) deleteCluster(t *testing.T, cluster string, timeout time.Duration) error {
	t.Helper()
	td, err := Discover(context.Background(), cluster, "us-east-1", e.opts(), awscloud.DiscoverOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return Delete(ctx, td, engine.ApplyOptions{
		Backoff:     &engine.Backoff{Initial: 50 * time.Millisecond, Max: 500 * time.Millisecond, MaxElapsed: timeout},
		GracePeriod: time.Second,
	})
}

func TestDeleteLeavesNothing(t *testing.T) {
	cases := []struct {
		name string
		opts newcluster.Options
		zone bool
	}{
		{"public", newcluster.Options{Name: "demo.k8s.local", Zones: zones, ControlPlaneCount: 3, NodeCount: 3}, false},
		{"private with bastion and DNS", newcluster.Options{Name: "private.example.com", Zones: zones, ControlPlaneCount: 3, Topology: "private", Bastion: true}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			if tc.zone {
				if _, err := route53.NewFromConfig(e.cfg).CreateHostedZone(context.Background(), &route53.CreateHostedZoneInput{
					Name: aws.String("example.com"), CallerReference: aws.String("t")}); err != nil {
					t.Fatal(err)
				}
			}
			snap := e.create(t, tc.opts)
			e.converge(t, snap)
			kubernetesMade(t, e, tc.opts.Name)

			td, err := Discover(context.Background(), tc.opts.Name, "us-east-1", e.opts(), awscloud.DiscoverOptions{})
			if err != nil {
				t.Fatal(err)
			}
			kinds := map[string]int{}
			for _, r := range td.Discovery.Delete {
				kinds[r.Address().Kind]++
			}
			if kinds[awscloud.KindClassicLoadBalancer] != 1 || kinds[awscloud.KindInstance] == 0 || kinds[awscloud.KindVolume] < 7 {
				t.Fatalf("discovery missed what Kubernetes made: %v", kinds)
			}
			e.counter.Reset()
			if err := e.deleteCluster(t, tc.opts.Name, time.Minute); err != nil {
				t.Fatalf("delete: %v", err)
			}
			if left := e.owned(t, tc.opts.Name); len(left) > 0 {
				t.Fatalf("left behind: %v", left)
			}
			// A second delete finds nothing.
			again, err := Discover(context.Background(), tc.opts.Name, "us-east-1", e.opts(), awscloud.DiscoverOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if !again.Empty() {
				t.Fatalf("second discovery found %d resources, %v shared", len(again.Discovery.Delete), again.Discovery.Untag)
			}
		})
	}
}

func TestDeleteExistingVPCKeepsIt(t *testing.T) {
	e := newEnv(t)
	vpc, private, utility, nats := existingNetwork(t, e.cfg)
	snap := e.create(t, newcluster.Options{Name: "shared.k8s.local", Zones: zones[:2], Topology: "private",
		VPC: vpc, Subnets: private, UtilitySubnets: utility, NATGateways: nats})
	e.converge(t, snap)
	if err := e.deleteCluster(t, "shared.k8s.local", time.Minute); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if left := e.owned(t, "shared.k8s.local"); len(left) > 0 {
		t.Fatalf("left behind: %v", left)
	}
	shared, err := awscheck.Shared(context.Background(), e.cfg, "shared.k8s.local")
	if err != nil {
		t.Fatal(err)
	}
	if len(shared) > 0 {
		t.Fatalf("shared resources keep the cluster tag: %v", shared)
	}
	c := ec2.NewFromConfig(e.cfg)
	vpcs, err := c.DescribeVpcs(context.Background(), &ec2.DescribeVpcsInput{VpcIds: []string{vpc}})
	if err != nil || len(vpcs.Vpcs) != 1 {
		t.Fatalf("the existing VPC is gone: %v", err)
	}
	subnets, err := c.DescribeSubnets(context.Background(), &ec2.DescribeSubnetsInput{SubnetIds: append(append([]string{}, private...), utility...)})
	if err != nil || len(subnets.Subnets) != 4 {
		t.Fatalf("existing subnets are gone: %v", err)
	}
	gws, err := c.DescribeNatGateways(context.Background(), &ec2.DescribeNatGatewaysInput{NatGatewayIds: nats})
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range gws.NatGateways {
		if g.State != ec2types.NatGatewayStateAvailable {
			t.Fatalf("existing NAT gateway %s is %s", aws.ToString(g.NatGatewayId), g.State)
		}
	}
}

func TestDeleteNamesWhatBlocks(t *testing.T) {
	e := newEnv(t)
	snap := e.create(t, newcluster.Options{Name: "demo.k8s.local", Zones: zones[:1]})
	e.converge(t, snap)
	c := ec2.NewFromConfig(e.cfg)
	subnets, err := c.DescribeSubnets(context.Background(), &ec2.DescribeSubnetsInput{Filters: []ec2types.Filter{
		{Name: aws.String("tag:kubernetes.io/cluster/demo.k8s.local"), Values: []string{"owned"}}}})
	if err != nil || len(subnets.Subnets) != 1 {
		t.Fatalf("subnets: %v", err)
	}
	eni, err := c.CreateNetworkInterface(context.Background(), &ec2.CreateNetworkInterfaceInput{SubnetId: subnets.Subnets[0].SubnetId, Description: aws.String("someone else's")})
	if err != nil {
		t.Fatal(err)
	}
	id := aws.ToString(eni.NetworkInterface.NetworkInterfaceId)
	err = e.deleteCluster(t, "demo.k8s.local", 3*time.Second)
	if err == nil || !strings.Contains(err.Error(), id) || !strings.Contains(err.Error(), "not the cluster's") {
		t.Fatalf("delete blocked by %s returned: %v", id, err)
	}
	// The foreign interface is untouched, and what it blocks is still there.
	if _, err := c.DescribeNetworkInterfaces(context.Background(), &ec2.DescribeNetworkInterfacesInput{NetworkInterfaceIds: []string{id}}); err != nil {
		t.Fatalf("the foreign interface was touched: %v", err)
	}
	left := e.owned(t, "demo.k8s.local")
	if diff := cmp.Diff(awscheck.Counts{"ec2:vpc": 1, "ec2:subnet": 1}, left); diff != "" {
		t.Fatalf("what is left (-want +got):\n%s", diff)
	}
	// Once it is gone, the delete finishes.
	if _, err := c.DeleteNetworkInterface(context.Background(), &ec2.DeleteNetworkInterfaceInput{NetworkInterfaceId: &id}); err != nil {
		t.Fatal(err)
	}
	if err := e.deleteCluster(t, "demo.k8s.local", time.Minute); err != nil {
		t.Fatalf("second delete: %v", err)
	}
	if left := e.owned(t, "demo.k8s.local"); len(left) > 0 {
		t.Fatalf("left behind: %v", left)
	}
}

func TestDeleteHalfMadeCluster(t *testing.T) {
	e := newEnv(t)
	snap := e.create(t, newcluster.Options{Name: "demo.k8s.local", Zones: zones, ControlPlaneCount: 3, NodeCount: 3})
	ctx, cancel := context.WithCancel(context.Background())
	opts := e.opts()
	opts.AWS = e.cfg.Copy()
	opts.AWS.APIOptions = append(opts.AWS.APIOptions, cancelAfter(20, true, cancel))
	p, err := Plan(ctx, snap, opts)
	if err != nil {
		t.Fatal(err)
	}
	_ = Apply(ctx, p, engine.ApplyOptions{})
	if len(e.owned(t, "demo.k8s.local")) == 0 {
		t.Fatal("the interrupted apply made nothing")
	}
	if err := e.deleteCluster(t, "demo.k8s.local", time.Minute); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if left := e.owned(t, "demo.k8s.local"); len(left) > 0 {
		t.Fatalf("left behind: %v", left)
	}
}
