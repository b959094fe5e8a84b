package aws

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/google/go-cmp/cmp"

	"github.com/kapstan/kapstan/internal/engine"
)

// Test helpers of the network kinds.

// networkTags are the owned tags of a test resource.
func networkTags(c *Cloud, kind, name string) Tags {
	return OwnedTags(c.Cluster, engine.Address{Kind: kind, Name: name}, name, nil)
}

// networkTestNet is a small network built for tests, by name.
type networkTestNet struct {
	vpc     *VPC
	igw     *InternetGateway
	subnets map[string]*Subnet
	rts     map[string]*RouteTable
	routes  map[string]*Route
	assocs  map[string]*RouteTableAssociation
	eip     *ElasticIP
	nat     *NATGateway
}

// networkPublic is a VPC with an internet gateway, two public subnets and
// their route table with a default route to the gateway.
func networkPublic(c *Cloud) *networkTestNet {
	n := &networkTestNet{
		vpc: &VPC{Name: "main", CIDR: "10.0.0.0/16", EnableDNSHostnames: true, EnableDNSSupport: true,
			Tags: networkTags(c, KindVPC, "main")},
		subnets: map[string]*Subnet{}, rts: map[string]*RouteTable{}, routes: map[string]*Route{},
		assocs: map[string]*RouteTableAssociation{},
	}
	vpc := engine.RefTo(KindVPC, "main")
	n.igw = &InternetGateway{Name: "main", VPC: vpc, Tags: networkTags(c, KindInternetGateway, "main")}
	for name, s := range map[string][2]string{"public-a": {"10.0.1.0/24", "us-east-1a"}, "public-b": {"10.0.2.0/24", "us-east-1b"}} {
		n.subnets[name] = &Subnet{Name: name, VPC: vpc, CIDR: s[0], Zone: s[1], MapPublicIP: true, Tags: networkTags(c, KindSubnet, name)}
		n.assocs[name] = &RouteTableAssociation{Name: AssociationName(name), RouteTable: engine.RefTo(KindRouteTable, "public"),
			Subnet: engine.RefTo(KindSubnet, name)}
	}
	n.rts["public"] = &RouteTable{Name: "public", VPC: vpc, Tags: networkTags(c, KindRouteTable, "public")}
	n.routes["public"] = &Route{Name: RouteName("public", "0.0.0.0/0"), RouteTable: engine.RefTo(KindRouteTable, "public"),
		Destination: "0.0.0.0/0", InternetGateway: engine.RefTo(KindInternetGateway, "main")}
	return n
}

// networkPrivate is networkPublic plus a private subnet whose route table
// sends its traffic through a NAT gateway in public-a.
func networkPrivate(c *Cloud) *networkTestNet {
	n := networkPublic(c)
	vpc := engine.RefTo(KindVPC, "main")
	n.subnets["private-a"] = &Subnet{Name: "private-a", VPC: vpc, CIDR: "10.0.11.0/24", Zone: "us-east-1a",
		Tags: networkTags(c, KindSubnet, "private-a")}
	n.eip = &ElasticIP{Name: "us-east-1a", Tags: networkTags(c, KindElasticIP, "us-east-1a")}
	n.nat = &NATGateway{Name: "us-east-1a", Subnet: engine.RefTo(KindSubnet, "public-a"),
		ElasticIP: engine.RefTo(KindElasticIP, "us-east-1a"), Tags: networkTags(c, KindNATGateway, "us-east-1a")}
	rt := engine.RefTo(KindRouteTable, "private-us-east-1a")
	n.rts["private"] = &RouteTable{Name: "private-us-east-1a", VPC: vpc, Tags: networkTags(c, KindRouteTable, "private-us-east-1a")}
	n.routes["private"] = &Route{Name: RouteName("private-us-east-1a", "0.0.0.0/0"), RouteTable: rt, Destination: "0.0.0.0/0",
		NATGateway: engine.RefTo(KindNATGateway, "us-east-1a")}
	n.assocs["private-a"] = &RouteTableAssociation{Name: AssociationName("private-a"), RouteTable: rt,
		Subnet: engine.RefTo(KindSubnet, "private-a")}
	return n
}

// all lists the network's resources, in a fixed order.
func (n *networkTestNet) all() []engine.Resource {
	out := []engine.Resource{n.vpc, n.igw}
	for _, m := range []func() []engine.Resource{
		func() []engine.Resource { return networkValues(n.subnets) },
		func() []engine.Resource { return networkValues(n.rts) },
		func() []engine.Resource { return networkValues(n.routes) },
		func() []engine.Resource { return networkValues(n.assocs) },
	} {
		out = append(out, m()...)
	}
	if n.eip != nil {
		out = append(out, n.eip, n.nat)
	}
	return out
}

func networkValues[T engine.Resource](m map[string]T) []engine.Resource {
	var out []engine.Resource
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, m[k])
	}
	return out
}

// without returns rs minus the resources at addrs.
func networkWithout(rs []engine.Resource, addrs ...engine.Address) []engine.Resource {
	return slices.DeleteFunc(slices.Clone(rs), func(r engine.Resource) bool { return slices.Contains(addrs, r.Address()) })
}

// networkPlanSummary renders a plan's changes as "Kind/name": "action[ path...]",
// leaving out what does not change.
func networkPlanSummary(p *engine.Plan) map[string]string {
	out := map[string]string{}
	for _, ch := range p.Changes {
		if ch.Action == engine.NoOp {
			continue
		}
		s := ch.Action.String()
		for _, f := range ch.Fields {
			s += " " + f.Path
		}
		out[ch.Address.String()] = s
	}
	return out
}

// networkAssertPlan fails unless the plan makes exactly the changes in want.
func networkAssertPlan(t *testing.T, p *engine.Plan, want map[string]string) {
	t.Helper()
	if diff := cmp.Diff(want, networkPlanSummary(p)); diff != "" {
		t.Fatalf("plan (-want +got):\n%s\nplan:\n%s", diff, p)
	}
}

// networkChangeID returns the cloud id of the resource at addr in a plan.
func networkChangeID(t *testing.T, p *engine.Plan, addr engine.Address) string {
	t.Helper()
	for _, ch := range p.Changes {
		if ch.Address == addr && ch.ID != "" {
			return ch.ID
		}
	}
	t.Fatalf("no id for %s in the plan", addr)
	return ""
}

// networkPlanErr plans desired and returns the error, which must not be nil.
func networkPlanErr(t *testing.T, c *Cloud, desired ...engine.Resource) error {
	t.Helper()
	_, err := engine.MakePlan(context.Background(), fresh(c), c.Cluster, 1, desired)
	if err == nil {
		t.Fatal("plan succeeded, want an error")
	}
	return err
}

func TestVPC(t *testing.T) {
	t.Parallel()
	c, counter := testCloud(t)
	vpc := networkPublic(c).vpc

	plan := converge(t, c, vpc)
	networkAssertPlan(t, plan, map[string]string{"VPC/main": "create"})
	assertInSync(t, c, counter, vpc)

	changes := []struct {
		name   string
		change func(v *VPC)
		want   string
	}{
		{"dns hostnames off", func(v *VPC) { v.EnableDNSHostnames = false }, "update enableDnsHostnames"},
		{"dns support off", func(v *VPC) { v.EnableDNSSupport = false }, "update enableDnsSupport"},
		{"tag added", func(v *VPC) { v.Tags["team"] = "net" }, "update tags[team]"},
	}
	for _, tc := range changes {
		t.Run(tc.name, func(t *testing.T) {
			tc.change(vpc)
			networkAssertPlan(t, planOf(t, c, vpc), map[string]string{"VPC/main": tc.want})
			converge(t, c, vpc)
			assertInSync(t, c, counter, vpc)
		})
	}

	t.Run("cidr cannot change", func(t *testing.T) {
		changed := *vpc
		changed.CIDR = "10.1.0.0/16"
		var re *engine.ReplacementError
		if err := networkPlanErr(t, c, &changed); !errors.As(err, &re) {
			t.Fatalf("plan error = %v, want a ReplacementError", err)
		}
	})

	t.Run("orphan", func(t *testing.T) {
		id := networkChangeID(t, planOf(t, c, vpc), vpc.Address())
		networkAssertPlan(t, planOf(t, c), map[string]string{"VPC/main": "delete"})
		converge(t, c)
		out, err := c.EC2.DescribeVpcs(context.Background(), &ec2.DescribeVpcsInput{VpcIds: []string{id}})
		if err == nil && len(out.Vpcs) > 0 {
			t.Fatalf("VPC %s still exists", id)
		}
	})
}

func TestVPCSharedMissing(t *testing.T) {
	t.Parallel()
	c, _ := testCloud(t)
	err := networkPlanErr(t, c, &VPC{Name: "main", ID: "vpc-0123456789abcdef0", Shared: true, Tags: SharedTags(c.Cluster)})
	for _, want := range []string{"spec.networkID", "vpc-0123456789abcdef0"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
}

// TestSharedNetwork uses a VPC, subnets and a NAT gateway made outside
// kapstan: they get the cluster's shared tag, nothing is created but the
// cluster's own subnet, and none of them is ever an orphan.
func TestSharedNetwork(t *testing.T) {
	t.Parallel()
	c, counter := testCloud(t)
	ctx := context.Background()
	vpcOut, err := c.EC2.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.20.0.0/16")})
	if err != nil {
		t.Fatal(err)
	}
	vpcID := aws.ToString(vpcOut.Vpc.VpcId)
	subnetIDs := map[string]string{}
	for name, s := range map[string][2]string{"shared-a": {"10.20.1.0/24", "us-east-1a"}, "shared-b": {"10.20.2.0/24", "us-east-1b"}} {
		out, err := c.EC2.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: aws.String(vpcID), CidrBlock: aws.String(s[0]), AvailabilityZone: aws.String(s[1])})
		if err != nil {
			t.Fatal(err)
		}
		subnetIDs[name] = aws.ToString(out.Subnet.SubnetId)
	}
	eip, err := c.EC2.AllocateAddress(ctx, &ec2.AllocateAddressInput{Domain: ec2types.DomainTypeVpc})
	if err != nil {
		t.Fatal(err)
	}
	natOut, err := c.EC2.CreateNatGateway(ctx, &ec2.CreateNatGatewayInput{SubnetId: aws.String(subnetIDs["shared-a"]), AllocationId: eip.AllocationId})
	if err != nil {
		t.Fatal(err)
	}
	natID := aws.ToString(natOut.NatGateway.NatGatewayId)

	shared := SharedTags(c.Cluster)
	vpcRef := engine.RefTo(KindVPC, "main")
	desired := []engine.Resource{
		&VPC{Name: "main", ID: vpcID, CIDR: "10.20.0.0/16", Shared: true, Tags: shared},
		&Subnet{Name: "shared-a", ID: subnetIDs["shared-a"], VPC: vpcRef, CIDR: "10.20.1.0/24", Zone: "us-east-1a", Shared: true, Tags: shared},
		&Subnet{Name: "shared-b", ID: subnetIDs["shared-b"], VPC: vpcRef, Zone: "us-east-1b", Shared: true, Tags: shared},
		&NATGateway{Name: "egress-private-a", ID: natID, Shared: true, Tags: shared},
		&Subnet{Name: "own-c", VPC: vpcRef, CIDR: "10.20.3.0/24", Zone: "us-east-1c", Tags: networkTags(c, KindSubnet, "own-c")},
	}
	tag := "tags[" + TagClusterPrefix + c.Cluster + "]"
	counter.Reset()
	plan := converge(t, c, desired...)
	networkAssertPlan(t, plan, map[string]string{
		"VPC/main":                    "update " + tag,
		"Subnet/shared-a":             "update " + tag,
		"Subnet/shared-b":             "update " + tag,
		"NATGateway/egress-private-a": "update " + tag,
		"Subnet/own-c":                "create",
	})
	for op, n := range counter.Mutating() {
		if op != "EC2.CreateTags" && op != "EC2.CreateSubnet" {
			t.Errorf("converge made %d %s calls; want only tags and the cluster's own subnet", n, op)
		}
	}
	assertInSync(t, c, counter, desired...)

	tags, err := c.EC2.(*ec2.Client).DescribeTags(ctx, &ec2.DescribeTagsInput{Filters: []ec2types.Filter{
		{Name: aws.String("key"), Values: []string{TagClusterPrefix + c.Cluster}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, tg := range tags.Tags {
		got[aws.ToString(tg.ResourceId)] = aws.ToString(tg.Value)
	}
	for _, id := range []string{vpcID, subnetIDs["shared-a"], subnetIDs["shared-b"], natID} {
		if got[id] != "shared" {
			t.Errorf("%s has cluster tag %q, want shared", id, got[id])
		}
	}

	t.Run("orphans", func(t *testing.T) {
		orphans, err := fresh(c).Orphans(ctx, map[engine.Address]bool{})
		if err != nil {
			t.Fatal(err)
		}
		var addrs []string
		for _, o := range orphans {
			if o.Address().Kind == KindVPC || o.Address().Kind == KindSubnet || o.Address().Kind == KindNATGateway {
				addrs = append(addrs, o.Address().String())
			}
		}
		if diff := cmp.Diff([]string{"Subnet/own-c"}, addrs); diff != "" {
			t.Errorf("orphans (-want +got):\n%s", diff)
		}
	})

	mismatches := []struct {
		name string
		r    engine.Resource
		want string
	}{
		{"subnet cidr", &Subnet{Name: "shared-a", ID: subnetIDs["shared-a"], VPC: vpcRef, CIDR: "10.20.9.0/24", Zone: "us-east-1a", Shared: true, Tags: shared}, "cidr"},
		{"subnet zone", &Subnet{Name: "shared-b", ID: subnetIDs["shared-b"], VPC: vpcRef, Zone: "us-east-1c", Shared: true, Tags: shared}, "zone"},
	}
	for _, tc := range mismatches {
		t.Run(tc.name, func(t *testing.T) {
			err := networkPlanErr(t, c, desired[0], tc.r)
			var re *engine.ReplacementError
			if !errors.As(err, &re) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("plan error = %v, want a ReplacementError naming %s", err, tc.want)
			}
		})
	}

	t.Run("missing subnet", func(t *testing.T) {
		err := networkPlanErr(t, c, desired[0], &Subnet{Name: "gone", ID: "subnet-0123456789abcdef0", VPC: vpcRef, Shared: true, Tags: shared})
		if !strings.Contains(err.Error(), "gone") || !strings.Contains(err.Error(), "subnet-0123456789abcdef0") {
			t.Fatalf("error %q does not name the subnet", err)
		}
	})

	t.Run("missing NAT gateway", func(t *testing.T) {
		err := networkPlanErr(t, c, &NATGateway{Name: "egress-x", ID: "nat-0123456789abcdef0", Shared: true, Tags: shared})
		if !strings.Contains(err.Error(), "nat-0123456789abcdef0") {
			t.Fatalf("error %q does not name the NAT gateway", err)
		}
	})
}
