package aws

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/kapstan/kapstan/internal/engine"
)

// TestPrivateNetwork converges a public network plus a private subnet
// routed through a NAT gateway with its elastic IP, changes each kind's
// tags, then removes the private part.
func TestPrivateNetwork(t *testing.T) {
	t.Parallel()
	c, counter := testCloud(t)
	ctx := context.Background()
	n := networkPrivate(c)
	desired := n.all()

	plan := converge(t, c, desired...)
	if got := plan.Count()[engine.Create]; got != len(desired) {
		t.Fatalf("first plan creates %d resources, want %d:\n%s", got, len(desired), plan)
	}
	assertInSync(t, c, counter, desired...)

	tagged := []struct {
		name string
		tags Tags
		addr string
	}{
		{"vpc", n.vpc.Tags, "VPC/main"},
		{"internet gateway", n.igw.Tags, "InternetGateway/main"},
		{"subnet", n.subnets["private-a"].Tags, "Subnet/private-a"},
		{"route table", n.rts["private"].Tags, "RouteTable/private-us-east-1a"},
		{"elastic ip", n.eip.Tags, "ElasticIP/us-east-1a"},
		{"nat gateway", n.nat.Tags, "NATGateway/us-east-1a"},
	}
	for _, tc := range tagged {
		t.Run("tag "+tc.name, func(t *testing.T) {
			tc.tags["team"] = "net"
			networkAssertPlan(t, planOf(t, c, desired...), map[string]string{tc.addr: "update tags[team]"})
			counter.Reset()
			converge(t, c, desired...)
			if got := counter.Mutating(); got["EC2.CreateTags"] != 1 || len(got) != 1 {
				t.Errorf("mutating calls = %v, want one CreateTags", got)
			}
			assertInSync(t, c, counter, desired...)
		})
	}

	t.Run("orphan private part", func(t *testing.T) {
		natID := networkChangeID(t, planOf(t, c, desired...), n.nat.Address())
		eipID := n.eip.Address()
		private := []engine.Address{n.subnets["private-a"].Address(), n.rts["private"].Address(), n.routes["private"].Address(),
			n.assocs["private-a"].Address(), eipID, n.nat.Address()}
		left := networkWithout(desired, private...)
		networkAssertPlan(t, planOf(t, c, left...), map[string]string{
			"Subnet/private-a": "delete", "RouteTable/private-us-east-1a": "delete", "Route/private-us-east-1a:0.0.0.0/0": "delete",
			"RouteTableAssociation/private-a": "delete", "ElasticIP/us-east-1a": "delete", "NATGateway/us-east-1a": "delete",
		})
		converge(t, c, left...)
		assertInSync(t, c, counter, left...)

		nats, err := c.EC2.DescribeNatGateways(ctx, &ec2.DescribeNatGatewaysInput{NatGatewayIds: []string{natID}})
		if err == nil && len(nats.NatGateways) > 0 && nats.NatGateways[0].State != ec2types.NatGatewayStateDeleted {
			t.Errorf("NAT gateway %s is %s, want deleted", natID, nats.NatGateways[0].State)
		}
		eips, err := c.EC2.DescribeAddresses(ctx, &ec2.DescribeAddressesInput{Filters: c.ownedFilters(KindElasticIP)})
		if err != nil {
			t.Fatal(err)
		}
		if len(eips.Addresses) != 0 {
			t.Errorf("elastic IP %s not released", aws.ToString(eips.Addresses[0].AllocationId))
		}
	})
}

// fakeNetworkNATStates answers DescribeNatGateways with one state per call; ""
// stands for NatGatewayNotFound.
type fakeNetworkNATStates struct {
	natGatewayAPI
	states []ec2types.NatGatewayState
	calls  int
}

func (f *fakeNetworkNATStates) DescribeNatGateways(_ context.Context, in *ec2.DescribeNatGatewaysInput, _ ...func(*ec2.Options)) (*ec2.DescribeNatGatewaysOutput, error) {
	s := f.states[min(f.calls, len(f.states)-1)]
	f.calls++
	if s == "" {
		return nil, networkAPIErr("NatGatewayNotFound", "NAT gateway "+in.NatGatewayIds[0]+" was not found")
	}
	return &ec2.DescribeNatGatewaysOutput{NatGateways: []ec2types.NatGateway{{
		NatGatewayId: aws.String(in.NatGatewayIds[0]), State: s,
		FailureCode: aws.String("InsufficientFreeAddressesInSubnet"), FailureMessage: aws.String("Subnet has insufficient free addresses"),
	}}}, nil
}

// TestWaitNATGateway covers the pending states AWS goes through for a
// minute or more and moto skips.
func TestWaitNATGateway(t *testing.T) {
	t.Parallel()
	const (
		pending   = ec2types.NatGatewayStatePending
		available = ec2types.NatGatewayStateAvailable
		failed    = ec2types.NatGatewayStateFailed
		deleting  = ec2types.NatGatewayStateDeleting
		deleted   = ec2types.NatGatewayStateDeleted
	)
	cases := []struct {
		name      string
		want      ec2types.NatGatewayState
		states    []ec2types.NatGatewayState
		wantCalls int
		wantGone  bool
	}{
		{"becomes available", available, []ec2types.NatGatewayState{pending, pending, available}, 3, false},
		{"not visible at first", available, []ec2types.NatGatewayState{"", pending, available}, 3, false},
		{"fails", available, []ec2types.NatGatewayState{pending, failed}, 2, true},
		{"deleted while waiting", available, []ec2types.NatGatewayState{pending, deleted}, 2, true},
		{"deleting to deleted", deleted, []ec2types.NatGatewayState{deleting, deleting, deleted}, 3, false},
		{"gone", deleted, []ec2types.NatGatewayState{deleting, ""}, 2, false},
		{"failed counts as gone", deleted, []ec2types.NatGatewayState{failed}, 1, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := &fakeNetworkNATStates{states: tc.states}
			err := waitNATGateway(context.Background(), f, "nat-1", tc.want, time.Millisecond)
			if tc.wantGone != errors.Is(err, errNATGone) || (!tc.wantGone && err != nil) {
				t.Fatalf("wait = %v, want gone %v", err, tc.wantGone)
			}
			if f.calls != tc.wantCalls {
				t.Errorf("%d DescribeNatGateways calls, want %d", f.calls, tc.wantCalls)
			}
		})
	}

	t.Run("cancelled", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		defer cancel()
		err := waitNATGateway(ctx, &fakeNetworkNATStates{states: []ec2types.NatGatewayState{pending}}, "nat-1", available, 5*time.Millisecond)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("wait = %v, want the context's error", err)
		}
	})
}

func TestNATClientToken(t *testing.T) {
	t.Parallel()
	addr := engine.Address{Kind: KindNATGateway, Name: "us-east-1a"}
	base := natClientToken("c1", addr, "subnet-1", "eipalloc-1", nil)
	if len(base) > 64 {
		t.Fatalf("token %q is longer than the 64 characters AWS accepts", base)
	}
	if again := natClientToken("c1", addr, "subnet-1", "eipalloc-1", nil); again != base {
		t.Errorf("token is not deterministic: %s, then %s", base, again)
	}
	others := []struct {
		name  string
		token string
	}{
		{"other cluster", natClientToken("c2", addr, "subnet-1", "eipalloc-1", nil)},
		{"other address", natClientToken("c1", engine.Address{Kind: KindNATGateway, Name: "us-east-1b"}, "subnet-1", "eipalloc-1", nil)},
		{"other subnet", natClientToken("c1", addr, "subnet-2", "eipalloc-1", nil)},
		{"other elastic ip", natClientToken("c1", addr, "subnet-1", "eipalloc-2", nil)},
		{"after a failed gateway", natClientToken("c1", addr, "subnet-1", "eipalloc-1", []string{"nat-dead"})},
	}
	for _, tc := range others {
		t.Run(tc.name, func(t *testing.T) {
			if tc.token == base {
				t.Errorf("token %s is the same as for the original gateway", tc.token)
			}
		})
	}
}

// networkRefMap resolves references for calls made outside the engine.
type networkRefMap map[engine.Address]engine.Resource

func (m networkRefMap) Actual(a engine.Address) (engine.Resource, bool) {
	r, ok := m[a]
	return r, ok
}

// TestNATGatewayCreateAdopts covers a create retried after AWS made the
// gateway but its response was lost. AWS answers the repeated client
// token with the first gateway; moto ignores tokens and says the address
// is taken, so the create adopts the gateway tagged with its address.
func TestNATGatewayCreateAdopts(t *testing.T) {
	t.Parallel()
	c, counter := testCloud(t)
	ctx := context.Background()
	n := networkPrivate(c)
	converge(t, c, n.vpc, n.subnets["public-a"], n.eip)
	plan := planOf(t, c, n.vpc, n.subnets["public-a"], n.eip)
	subnet, eip := networkChangeID(t, plan, n.subnets["public-a"].Address()), networkChangeID(t, plan, n.eip.Address())

	first, err := c.EC2.CreateNatGateway(ctx, &ec2.CreateNatGatewayInput{
		SubnetId: aws.String(subnet), AllocationId: aws.String(eip),
		TagSpecifications: ec2TagSpec(ec2types.ResourceTypeNatgateway, n.nat.Tags),
	})
	if err != nil {
		t.Fatal(err)
	}
	refs := networkRefMap{
		n.subnets["public-a"].Address(): &Subnet{ID: subnet},
		n.eip.Address():                 &ElasticIP{ID: eip},
	}
	got, err := n.nat.create(ctx, fresh(c), refs)
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if want := aws.ToString(first.NatGateway.NatGatewayId); got.(*NATGateway).ID != want {
		t.Errorf("create returned %s, want the earlier gateway %s", got.(*NATGateway).ID, want)
	}
	assertInSync(t, c, counter, n.vpc, n.subnets["public-a"], n.eip, n.nat)
}
