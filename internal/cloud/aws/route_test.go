package aws

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/kapstan/kapstan/internal/engine"
)

// TestRoute changes a route's target in place and deletes a route that
// is in one of the cluster's tables but not in the spec, leaving the
// table's local route alone.
func TestRoute(t *testing.T) {
	t.Parallel()
	c, counter := testCloud(t)
	ctx := context.Background()
	n := networkPrivate(c)
	desired := n.all()
	converge(t, c, desired...)
	assertInSync(t, c, counter, desired...)
	route := n.routes["private"]

	targets := []struct {
		name string
		igw  engine.Ref
		nat  engine.Ref
	}{
		{"to internet gateway", engine.RefTo(KindInternetGateway, "main"), engine.Ref{}},
		{"back to NAT gateway", engine.Ref{}, engine.RefTo(KindNATGateway, "us-east-1a")},
	}
	for _, tc := range targets {
		t.Run(tc.name, func(t *testing.T) {
			route.InternetGateway, route.NATGateway = tc.igw, tc.nat
			networkAssertPlan(t, planOf(t, c, desired...), map[string]string{
				"Route/private-us-east-1a:0.0.0.0/0": "update internetGateway natGateway",
			})
			counter.Reset()
			converge(t, c, desired...)
			if got := counter.Mutating(); got["EC2.ReplaceRoute"] != 1 || len(got) != 1 {
				t.Errorf("mutating calls = %v, want one ReplaceRoute", got)
			}
			assertInSync(t, c, counter, desired...)
		})
	}

	t.Run("route added by hand is an orphan", func(t *testing.T) {
		rtID := networkChangeID(t, planOf(t, c, desired...), n.rts["public"].Address())
		igwID := networkChangeID(t, planOf(t, c, desired...), n.igw.Address())
		if _, err := c.EC2.CreateRoute(ctx, &ec2.CreateRouteInput{
			RouteTableId: aws.String(rtID), DestinationCidrBlock: aws.String("192.168.0.0/16"), GatewayId: aws.String(igwID),
		}); err != nil {
			t.Fatal(err)
		}
		networkAssertPlan(t, planOf(t, c, desired...), map[string]string{"Route/public:192.168.0.0/16": "delete"})
		converge(t, c, desired...)
		assertInSync(t, c, counter, desired...)
	})
}
