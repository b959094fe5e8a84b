package aws

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/kapstan/kapstan/internal/engine"
)

// TestPublicNetwork converges a VPC with an internet gateway, two subnets
// and their route table, then takes it apart piece by piece.
func TestPublicNetwork(t *testing.T) {
	t.Parallel()
	c, counter := testCloud(t)
	ctx := context.Background()
	n := networkPublic(c)
	desired := n.all()

	plan := converge(t, c, desired...)
	if got := plan.Count()[engine.Create]; got != len(desired) {
		t.Fatalf("first plan creates %d resources, want %d:\n%s", got, len(desired), plan)
	}
	assertInSync(t, c, counter, desired...)

	t.Run("route table tag", func(t *testing.T) {
		n.rts["public"].Tags["team"] = "net"
		networkAssertPlan(t, planOf(t, c, desired...), map[string]string{"RouteTable/public": "update tags[team]"})
		converge(t, c, desired...)
		assertInSync(t, c, counter, desired...)
	})

	assocB := n.assocs["public-b"].Address()
	route := n.routes["public"].Address()
	steps := []struct {
		name   string
		remove []engine.Address
		want   map[string]string
		check  func(t *testing.T)
	}{
		{"association", []engine.Address{assocB}, map[string]string{"RouteTableAssociation/public-b": "delete"}, func(t *testing.T) {
			id := networkSubnetID(t, c, n.subnets["public-b"].CIDR)
			out, err := c.EC2.DescribeRouteTables(ctx, &ec2.DescribeRouteTablesInput{Filters: []ec2types.Filter{
				{Name: aws.String("association.subnet-id"), Values: []string{id}},
			}})
			if err != nil {
				t.Fatal(err)
			}
			if len(out.RouteTables) != 0 {
				t.Fatalf("subnet %s is still associated with %s", id, aws.ToString(out.RouteTables[0].RouteTableId))
			}
		}},
		{"route", []engine.Address{assocB, route}, map[string]string{"Route/public:0.0.0.0/0": "delete"}, func(t *testing.T) {
			out, err := c.EC2.DescribeRouteTables(ctx, &ec2.DescribeRouteTablesInput{Filters: c.ownedFilters(KindRouteTable)})
			if err != nil {
				t.Fatal(err)
			}
			for _, rt := range out.RouteTables {
				for _, r := range rt.Routes {
					if aws.ToString(r.DestinationCidrBlock) == "0.0.0.0/0" {
						t.Fatalf("route 0.0.0.0/0 still in %s", aws.ToString(rt.RouteTableId))
					}
				}
			}
		}},
		{"everything", networkAddresses(desired), map[string]string{
			"VPC/main": "delete", "InternetGateway/main": "delete", "Subnet/public-a": "delete", "Subnet/public-b": "delete",
			"RouteTable/public": "delete", "RouteTableAssociation/public-a": "delete",
		}, func(t *testing.T) {
			out, err := c.EC2.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{Filters: c.ownedFilters(KindVPC)})
			if err != nil {
				t.Fatal(err)
			}
			if len(out.Vpcs) != 0 {
				t.Fatalf("VPC %s still exists", aws.ToString(out.Vpcs[0].VpcId))
			}
			igws, err := c.EC2.DescribeInternetGateways(ctx, &ec2.DescribeInternetGatewaysInput{Filters: c.ownedFilters(KindInternetGateway)})
			if err != nil {
				t.Fatal(err)
			}
			if len(igws.InternetGateways) != 0 {
				t.Fatalf("internet gateway %s still exists", aws.ToString(igws.InternetGateways[0].InternetGatewayId))
			}
		}},
	}
	for _, st := range steps {
		t.Run("orphan "+st.name, func(t *testing.T) {
			left := networkWithout(desired, st.remove...)
			networkAssertPlan(t, planOf(t, c, left...), st.want)
			converge(t, c, left...)
			assertInSync(t, c, counter, left...)
			st.check(t)
		})
	}
}

// TestNetworkPlanReads checks that planning a whole network reads each
// kind once, whatever the number of resources.
func TestNetworkPlanReads(t *testing.T) {
	t.Parallel()
	c, counter := testCloud(t)
	desired := networkPrivate(c).all()
	converge(t, c, desired...)
	counter.Reset()
	planOf(t, c, desired...)
	calls := counter.Calls()
	want := map[string]int{
		"EC2.DescribeVpcs": 1, "EC2.DescribeVpcAttribute": 2, "EC2.DescribeSubnets": 1, "EC2.DescribeInternetGateways": 1,
		"EC2.DescribeRouteTables": 1, "EC2.DescribeAddresses": 1, "EC2.DescribeNatGateways": 1,
	}
	for op, n := range want {
		if calls[op] != n {
			t.Errorf("%s: %d calls, want %d (all calls: %v)", op, calls[op], n, calls)
		}
	}
}

// networkSubnetID returns the id of the cluster's subnet with cidr.
func networkSubnetID(t *testing.T, c *Cloud, cidr string) string {
	t.Helper()
	out, err := c.EC2.DescribeSubnets(context.Background(), &ec2.DescribeSubnetsInput{Filters: []ec2types.Filter{
		{Name: aws.String("cidr-block"), Values: []string{cidr}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Subnets) != 1 {
		t.Fatalf("%d subnets with cidr %s, want 1", len(out.Subnets), cidr)
	}
	return aws.ToString(out.Subnets[0].SubnetId)
}

func networkAddresses(rs []engine.Resource) []engine.Address {
	var out []engine.Address
	for _, r := range rs {
		out = append(out, r.Address())
	}
	return out
}
