package aws

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// TestInternetGatewayAttach covers a gateway left detached, by a create
// whose attach failed or by hand: the next run attaches it rather than
// making another.
func TestInternetGatewayAttach(t *testing.T) {
	t.Parallel()
	c, counter := testCloud(t)
	ctx := context.Background()
	n := networkPublic(c)
	converge(t, c, n.vpc)

	// What a create leaves when AttachInternetGateway fails.
	out, err := c.EC2.CreateInternetGateway(ctx, &ec2.CreateInternetGatewayInput{
		TagSpecifications: ec2TagSpec(ec2types.ResourceTypeInternetGateway, n.igw.Tags),
	})
	if err != nil {
		t.Fatal(err)
	}
	igwID := aws.ToString(out.InternetGateway.InternetGatewayId)
	vpcID := networkChangeID(t, planOf(t, c, n.vpc), n.vpc.Address())

	detach := []struct {
		name   string
		before func(t *testing.T)
	}{
		{"after a failed attach", func(t *testing.T) {}},
		{"detached by hand", func(t *testing.T) {
			if _, err := c.EC2.DetachInternetGateway(ctx, &ec2.DetachInternetGatewayInput{
				InternetGatewayId: aws.String(igwID), VpcId: aws.String(vpcID),
			}); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tc := range detach {
		t.Run(tc.name, func(t *testing.T) {
			tc.before(t)
			networkAssertPlan(t, planOf(t, c, n.vpc, n.igw), map[string]string{"InternetGateway/main": "update vpc"})
			counter.Reset()
			converge(t, c, n.vpc, n.igw)
			if got := counter.Mutating(); got["EC2.AttachInternetGateway"] != 1 || len(got) != 1 {
				t.Errorf("mutating calls = %v, want one AttachInternetGateway", got)
			}
			assertInSync(t, c, counter, n.vpc, n.igw)
		})
	}

	t.Run("orphan", func(t *testing.T) {
		networkAssertPlan(t, planOf(t, c, n.vpc), map[string]string{"InternetGateway/main": "delete"})
		converge(t, c, n.vpc)
		igws, err := c.EC2.DescribeInternetGateways(ctx, &ec2.DescribeInternetGatewaysInput{InternetGatewayIds: []string{igwID}})
		if err == nil && len(igws.InternetGateways) > 0 {
			t.Fatalf("internet gateway %s still exists", igwID)
		}
	})
}
