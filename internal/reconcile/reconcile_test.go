package reconcile

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	"github.com/aws/smithy-go/middleware"
	"github.com/google/go-cmp/cmp"

	awscloud "github.com/kapstan/kapstan/internal/cloud/aws"
	"github.com/kapstan/kapstan/internal/engine"
	"github.com/kapstan/kapstan/internal/newcluster"
	"github.com/kapstan/kapstan/internal/registry"
	"github.com/kapstan/kapstan/internal/store"
	"github.com/kapstan/kapstan/internal/testing/awscheck"
	"github.com/kapstan/kapstan/internal/testing/clusters"
	"github.com/kapstan/kapstan/internal/testing/moto"
)

var motoSrv *moto.Server

func TestMain(m *testing.M) { os.Exit(moto.RunMain(m, &motoSrv)) }

var zones = []string{"us-east-1a", "us-east-1b", "us-east-1c"}

// env is one test's AWS account and state store.
type env struct {
	cfg     aws.Config
	counter *awscloud.CallCounter
	reg     *registry.Registry
}

func newEnv(t *testing.T) *env {
	t.Helper()
	counter := awscloud.NewCallCounter()
	cfg, err := motoSrv.Config(context.Background(), moto.WithAccount(moto.NewAccountID()))
	if err != nil {
		t.Fatal(err)
	}
	cfg.APIOptions = append(cfg.APIOptions, counter.Middleware)
	return &env{cfg: cfg, counter: counter, reg: registry.New(store.NewMemory("t"))}
}

func (e *env) opts() Options {
	return Options{AWS: e.cfg, StateStore: "s3://state-bucket/clusters", AgentURL: clusters.AgentURL, AgentSHA256: clusters.AgentSHA256}
}

func (e *env) create(t *testing.T, o newcluster.Options) *registry.Snapshot {
	t.Helper()
	m, err := newcluster.Build(o)
	if err != nil {
		t.Fatal(err)
	}
	snap, err := e.reg.Create(context.Background(), m, "create")
	if err != nil {
		t.Fatal(err)
	}
	return snap
}

func (e *env) converge(t *testing.T, snap *registry.Snapshot) *engine.Plan {
	t.Helper()
	ctx := context.Background()
	p, err := Plan(ctx, snap, e.opts())
	if err != nil {
		t.Fatal(err)
	}
	if err := Apply(ctx, p, engine.ApplyOptions{}); err != nil {
		t.Fatalf("apply: %v", err)
	}
	return p.Plan
}

func (e *env) owned(t *testing.T, cluster string) awscheck.Counts {
	t.Helper()
	n, err := awscheck.Owned(context.Background(), e.cfg, cluster)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// assertConverged checks that a fresh plan is empty and that making it
// issued no mutating call.
func (e *env) assertConverged(t *testing.T, snap *registry.Snapshot) {
	t.Helper()
	e.counter.Reset()
	p, err := Plan(context.Background(), snap, e.opts())
	if err != nil {
		t.Fatal(err)
	}
	if p.Plan.HasChanges() {
		t.Fatalf("not converged:\n%s", p.Plan)
	}
	if m := e.counter.Mutating(); len(m) > 0 {
		t.Fatalf("planning a converged cluster made mutating calls: %v", m)
	}
}

// publicCounts is what a 3+1 group public cluster holds in AWS.
var publicCounts = awscheck.Counts{
	"ec2:vpc": 1, "ec2:internet-gateway": 1, "ec2:subnet": 3, "ec2:route-table": 1, "ec2:route": 1,
	"ec2:route-table-association": 3, "ec2:security-group": 3, "ec2:security-group-rule": 10,
	"ec2:volume": 6, "ec2:launch-template": 4, "ec2:instance": 6,
	"autoscaling:group": 4, "elbv2:load-balancer": 1, "elbv2:target-group": 1, "iam:role": 2, "iam:instance-profile": 2,
}

func TestTopologiesConverge(t *testing.T) {
	t.Run("public, new VPC", func(t *testing.T) {
		e := newEnv(t)
		snap := e.create(t, newcluster.Options{Name: "demo.k8s.local", Zones: zones, ControlPlaneCount: 3, NodeCount: 3})
		e.converge(t, snap)
		if diff := cmp.Diff(publicCounts, e.owned(t, "demo.k8s.local")); diff != "" {
			t.Fatalf("resources (-want +got):\n%s", diff)
		}
		e.assertConverged(t, snap)
	})

	t.Run("private with utility subnets and a bastion", func(t *testing.T) {
		e := newEnv(t)
		r53 := route53.NewFromConfig(e.cfg)
		if _, err := r53.CreateHostedZone(context.Background(), &route53.CreateHostedZoneInput{
			Name: aws.String("example.com"), CallerReference: aws.String("t")}); err != nil {
			t.Fatal(err)
		}
		snap := e.create(t, newcluster.Options{Name: "private.example.com", Zones: zones, ControlPlaneCount: 3, NodeCount: 2,
			Topology: "private", Bastion: true})
		e.converge(t, snap)
		want := awscheck.Counts{
			"ec2:vpc": 1, "ec2:internet-gateway": 1, "ec2:subnet": 6, "ec2:route-table": 4, "ec2:route": 4,
			"ec2:route-table-association": 6, "ec2:elastic-ip": 3, "ec2:nat-gateway": 3,
			"ec2:security-group": 4, "ec2:security-group-rule": 11,
			"ec2:volume": 6, "ec2:launch-template": 5, "ec2:instance": 6,
			"autoscaling:group": 5, "elbv2:load-balancer": 1, "elbv2:target-group": 1, "iam:role": 3, "iam:instance-profile": 3,
		}
		if diff := cmp.Diff(want, e.owned(t, "private.example.com")); diff != "" {
			t.Fatalf("resources (-want +got):\n%s", diff)
		}
		e.assertConverged(t, snap)
	})

	t.Run("existing VPC, subnets and NAT gateways", func(t *testing.T) {
		e := newEnv(t)
		vpc, private, utility, nats := existingNetwork(t, e.cfg)
		snap := e.create(t, newcluster.Options{Name: "shared.k8s.local", Zones: zones[:2], Topology: "private",
			VPC: vpc, Subnets: private, UtilitySubnets: utility, NATGateways: nats})
		plan := e.converge(t, snap)
		for _, c := range plan.Changes {
			switch c.Address.Kind {
			case awscloud.KindVPC, awscloud.KindSubnet, awscloud.KindNATGateway:
				if c.Action == engine.Create {
					t.Errorf("kapstan created %s in an existing VPC", c.Address)
				}
			case awscloud.KindInternetGateway, awscloud.KindRouteTable, awscloud.KindElasticIP:
				t.Errorf("kapstan manages %s in an existing VPC", c.Address)
			}
		}
		shared, err := awscheck.Shared(context.Background(), e.cfg, "shared.k8s.local")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(awscheck.Counts{"ec2:vpc": 1, "ec2:subnet": 4, "ec2:nat-gateway": 2}, shared); diff != "" {
			t.Fatalf("shared tags (-want +got):\n%s", diff)
		}
		owned := e.owned(t, "shared.k8s.local")
		for _, k := range []string{"ec2:vpc", "ec2:subnet", "ec2:nat-gateway", "ec2:internet-gateway", "ec2:route-table"} {
			if owned[k] != 0 {
				t.Errorf("%d owned %s in an existing VPC", owned[k], k)
			}
		}
		e.assertConverged(t, snap)
	})
}

// existingNetwork makes, with the plain SDK, what a Terraform user would
// have made: a VPC with private and utility subnets in two zones and a NAT
// gateway per zone.
func existingNetwork(t *testing.T, cfg aws.Config) (vpc string, private, utility, nats []string) {
	t.Helper()
	ctx := context.Background()
	c := ec2.NewFromConfig(cfg)
	v, err := c.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.50.0.0/16")})
	if err != nil {
		t.Fatal(err)
	}
	vpc = aws.ToString(v.Vpc.VpcId)
	for i, z := range zones[:2] {
		p, err := c.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: &vpc, AvailabilityZone: aws.String(z), CidrBlock: aws.String(fmt.Sprintf("10.50.%d.0/24", i))})
		if err != nil {
			t.Fatal(err)
		}
		u, err := c.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: &vpc, AvailabilityZone: aws.String(z), CidrBlock: aws.String(fmt.Sprintf("10.50.%d.0/24", 100+i))})
		if err != nil {
			t.Fatal(err)
		}
		eip, err := c.AllocateAddress(ctx, &ec2.AllocateAddressInput{Domain: ec2types.DomainTypeVpc})
		if err != nil {
			t.Fatal(err)
		}
		n, err := c.CreateNatGateway(ctx, &ec2.CreateNatGatewayInput{SubnetId: u.Subnet.SubnetId, AllocationId: eip.AllocationId})
		if err != nil {
			t.Fatal(err)
		}
		private = append(private, aws.ToString(p.Subnet.SubnetId))
		utility = append(utility, aws.ToString(u.Subnet.SubnetId))
		nats = append(nats, aws.ToString(n.NatGateway.NatGatewayId))
	}
	return vpc, private, utility, nats
}

func TestReapplyMakesNoMutatingCall(t *testing.T) {
	e := newEnv(t)
	snap := e.create(t, newcluster.Options{Name: "demo.k8s.local", Zones: zones, ControlPlaneCount: 3, NodeCount: 3})
	e.counter.Reset()
	e.converge(t, snap)
	first := e.counter.Total()
	e.counter.Reset()
	p := e.converge(t, snap)
	if p.HasChanges() {
		t.Fatalf("second plan has changes:\n%s", p)
	}
	if m := e.counter.Mutating(); len(m) > 0 {
		t.Fatalf("re-apply made mutating calls: %v", m)
	}
	// The reads are one per kind, so the ratio is what the kinds make it:
	// 21 reads against 69 calls of a first apply (0.30) for this cluster.
	if again := e.counter.Total(); float64(again) > 0.31*float64(first) {
		t.Fatalf("re-apply made %d calls, more than 0.3× the first apply's %d: %v", again, first, e.counter.Calls())
	}
}

func TestEditingOneGroupPlansExactlyThatChange(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	snap := e.create(t, newcluster.Options{Name: "demo.k8s.local", Zones: zones, ControlPlaneCount: 3, NodeCount: 3})
	e.converge(t, snap)

	next := snap.Manifests.DeepCopy()
	next.InstanceGroup("nodes").Spec.MachineType = "m6i.large"
	next.InstanceGroup("nodes").Spec.MaxSize = 5
	snap2, err := e.reg.Update(ctx, snap, next, "edit")
	if err != nil {
		t.Fatal(err)
	}
	p, err := Plan(ctx, snap2, e.opts())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range p.Plan.Changes {
		if c.Action != engine.NoOp {
			for _, f := range c.Fields {
				got = append(got, fmt.Sprintf("%s %s %s: %s → %s", c.Action, c.Address, f.Path, f.Before, f.After))
			}
		}
	}
	want := []string{
		"update LaunchTemplate/nodes instanceType: t3.medium → m6i.large",
		"update AutoScalingGroup/nodes launchTemplate.version: 1 → (known after apply)",
		"update AutoScalingGroup/nodes maxSize: 3 → 5",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("plan (-want +got):\n%s", diff)
	}
	if err := Apply(ctx, p, engine.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	e.assertConverged(t, snap2)

	// Removing the group deletes its Auto Scaling group and template.
	third := snap2.Manifests.DeepCopy()
	third.InstanceGroups = third.InstanceGroups[:3]
	snap3, err := e.reg.Update(ctx, snap2, third, "delete nodes")
	if err != nil {
		t.Fatal(err)
	}
	p3, err := Plan(ctx, snap3, e.opts())
	if err != nil {
		t.Fatal(err)
	}
	var deleted []string
	for _, c := range p3.Plan.Changes {
		if c.Action != engine.NoOp {
			deleted = append(deleted, c.Action.String()+" "+c.Address.String())
		}
	}
	// The last node group takes the nodes' IAM role with it.
	wantDeleted := []string{"delete AutoScalingGroup/nodes", "delete LaunchTemplate/nodes",
		"delete InstanceProfile/nodes.demo.k8s.local", "delete IAMRolePolicy/nodes.demo.k8s.local:kapstan", "delete IAMRole/nodes.demo.k8s.local"}
	if diff := cmp.Diff(wantDeleted, deleted); diff != "" {
		t.Fatalf("plan after removing the group (-want +got):\n%s", diff)
	}
	if err := Apply(ctx, p3, engine.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	e.assertConverged(t, snap3)
}

// cancelAfter cancels the context after the n-th mutating call. With
// afterResponse, the call itself completes first (the request reached AWS,
// the answer was lost), the hardest case for idempotency.
func cancelAfter(n int32, afterResponse bool, cancel context.CancelFunc) func(*middleware.Stack) error {
	var seen atomic.Int32
	return func(stack *middleware.Stack) error {
		return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("cancelAfter",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				op := fmt.Sprintf("%T", in.Parameters)
				mutating := !strings.Contains(op, "Describe") && !strings.Contains(op, "List") && !strings.Contains(op, ".Get")
				if mutating && seen.Add(1) == n {
					if afterResponse {
						out, md, err := next.HandleInitialize(ctx, in)
						cancel()
						if err == nil {
							err = context.Canceled
						}
						return out, md, err
					}
					cancel()
				}
				return next.HandleInitialize(ctx, in)
			}), middleware.After)
	}
}

// TestInterruptedApplyResumes cancels update --yes at a random mutating
// call (20 seeds, half of them after AWS answered), re-runs it, and checks
// the cluster converged with exactly the resources of a clean run.
func TestInterruptedApplyResumes(t *testing.T) {
	for seed := range uint64(20) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			e := newEnv(t)
			snap := e.create(t, newcluster.Options{Name: "demo.k8s.local", Zones: zones, ControlPlaneCount: 3, NodeCount: 3})
			rng := rand.New(rand.NewPCG(seed, 42))
			at := int32(1 + rng.IntN(48))
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			opts := e.opts()
			opts.AWS = e.cfg.Copy()
			opts.AWS.APIOptions = append(opts.AWS.APIOptions, cancelAfter(at, seed%2 == 1, cancel))
			p, err := Plan(ctx, snap, opts)
			if err != nil {
				t.Fatal(err)
			}
			err = Apply(ctx, p, engine.ApplyOptions{})
			if err == nil && ctx.Err() == nil {
				t.Fatalf("apply was not interrupted at mutating call %d", at)
			}
			if err != nil && !errors.Is(err, context.Canceled) {
				var ae *engine.ApplyError
				if !errors.As(err, &ae) {
					t.Fatalf("interrupted apply: %v", err)
				}
			}
			e.converge(t, snap)
			if diff := cmp.Diff(publicCounts, e.owned(t, "demo.k8s.local")); diff != "" {
				if os.Getenv("DEBUG_VOLUMES") != "" {
					out, _ := ec2.NewFromConfig(e.cfg).DescribeVolumes(context.Background(), &ec2.DescribeVolumesInput{})
					for _, v := range out.Volumes {
						var tags []string
						for _, tg := range v.Tags {
							tags = append(tags, aws.ToString(tg.Key)+"="+aws.ToString(tg.Value))
						}
						t.Logf("volume %s %s %s tags %v", aws.ToString(v.VolumeId), v.State, aws.ToTime(v.CreateTime), tags)
					}
				}
				t.Fatalf("after an interruption at mutating call %d and a re-run (-want +got):\n%s", at, diff)
			}
			e.assertConverged(t, snap)
		})
	}
}
