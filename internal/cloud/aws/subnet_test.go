package aws

import (
	"context"
	"errors"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/smithy-go"

	"github.com/kapstan/kapstan/internal/engine"
)

// networkAPIErr is an error as the SDK returns it for an AWS error code.
func networkAPIErr(code, msg string) error {
	return &smithy.GenericAPIError{Code: code, Message: msg}
}

// fakeNetworkEC2 is an EC2 client whose delete calls fail as AWS does
// where moto does not. Calls it does not override panic.
type fakeNetworkEC2 struct {
	EC2API
	err     error
	enis    []ec2types.NetworkInterface
	deleted bool
}

func (f *fakeNetworkEC2) DeleteSubnet(context.Context, *ec2.DeleteSubnetInput, ...func(*ec2.Options)) (*ec2.DeleteSubnetOutput, error) {
	f.deleted = true
	return nil, f.err
}

func (f *fakeNetworkEC2) DescribeNetworkInterfaces(context.Context, *ec2.DescribeNetworkInterfacesInput, ...func(*ec2.Options)) (*ec2.DescribeNetworkInterfacesOutput, error) {
	return &ec2.DescribeNetworkInterfacesOutput{NetworkInterfaces: f.enis}, nil
}

func (f *fakeNetworkEC2) DescribeNatGateways(context.Context, *ec2.DescribeNatGatewaysInput, ...func(*ec2.Options)) (*ec2.DescribeNatGatewaysOutput, error) {
	return &ec2.DescribeNatGatewaysOutput{}, nil
}

func (f *fakeNetworkEC2) DescribeInstances(context.Context, *ec2.DescribeInstancesInput, ...func(*ec2.Options)) (*ec2.DescribeInstancesOutput, error) {
	return &ec2.DescribeInstancesOutput{}, nil
}

// TestSubnetDeleteWaitsForInterfaces: AWS refuses to delete a subnet that
// holds a network interface; kapstan looks first, does not call
// DeleteSubnet, and names the interface in a retryable error.
func TestSubnetDeleteWaitsForInterfaces(t *testing.T) {
	t.Parallel()
	f := &fakeNetworkEC2{enis: []ec2types.NetworkInterface{{
		NetworkInterfaceId: aws.String("eni-0abc"), Status: ec2types.NetworkInterfaceStatusAvailable, Description: aws.String("left by a test"),
	}}}
	c := New(Clients{EC2: f}, "test", "us-east-1")
	err := (&Subnet{Name: "a", ID: "subnet-1"}).delete(context.Background(), c)
	if !engine.IsRetryable(err) || !strings.Contains(err.Error(), "eni-0abc") || !strings.Contains(err.Error(), "not the cluster's") {
		t.Fatalf("delete = %v, want a retryable error naming eni-0abc as not the cluster's", err)
	}
	if f.deleted {
		t.Fatal("DeleteSubnet was called while an interface was in the subnet")
	}
}

// TestSubnetDeleteInUse covers AWS refusing to delete a subnet that still
// holds network interfaces, which moto allows.
func TestSubnetDeleteInUse(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name          string
		err           error
		wantErr       bool
		wantRetryable bool
	}{
		{"in use", networkAPIErr("DependencyViolation", "The subnet 'subnet-1' has dependencies and cannot be deleted."), true, true},
		{"gone already", networkAPIErr("InvalidSubnetID.NotFound", "The subnet ID 'subnet-1' does not exist"), false, false},
		{"other", networkAPIErr("UnauthorizedOperation", "You are not authorized to perform this operation."), true, false},
		{"deleted", nil, false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := New(Clients{EC2: &fakeNetworkEC2{err: tc.err}}, "test", "us-east-1")
			err := (&Subnet{Name: "a", ID: "subnet-1"}).delete(context.Background(), c)
			if (err != nil) != tc.wantErr || engine.IsRetryable(err) != tc.wantRetryable {
				t.Fatalf("delete = %v (retryable %v), want error %v, retryable %v", err, engine.IsRetryable(err), tc.wantErr, tc.wantRetryable)
			}
		})
	}
}

func TestSubnet(t *testing.T) {
	t.Parallel()
	c, counter := testCloud(t)
	n := networkPublic(c)
	a, b := n.subnets["public-a"], n.subnets["public-b"]
	desired := []engine.Resource{n.vpc, a, b}
	converge(t, c, desired...)
	assertInSync(t, c, counter, desired...)

	t.Run("map public ip off", func(t *testing.T) {
		a.MapPublicIP = false
		networkAssertPlan(t, planOf(t, c, desired...), map[string]string{"Subnet/public-a": "update mapPublicIp"})
		counter.Reset()
		converge(t, c, desired...)
		if got := counter.Mutating(); got["EC2.ModifySubnetAttribute"] != 1 || len(got) != 1 {
			t.Errorf("mutating calls = %v, want one ModifySubnetAttribute", got)
		}
		assertInSync(t, c, counter, desired...)
	})

	immutable := []struct {
		name   string
		change func(s *Subnet)
		path   string
	}{
		{"cidr", func(s *Subnet) { s.CIDR = "10.0.3.0/24" }, "cidr"},
		{"zone", func(s *Subnet) { s.Zone = "us-east-1c" }, "zone"},
	}
	for _, tc := range immutable {
		t.Run(tc.name+" cannot change", func(t *testing.T) {
			changed := *b
			tc.change(&changed)
			err := networkPlanErr(t, c, n.vpc, a, &changed)
			var re *engine.ReplacementError
			if !errors.As(err, &re) || len(re.Changes) != 1 || re.Changes[0].Fields[0].Path != tc.path {
				t.Fatalf("plan error = %v, want a ReplacementError for %s", err, tc.path)
			}
		})
	}

	t.Run("orphan", func(t *testing.T) {
		networkAssertPlan(t, planOf(t, c, n.vpc, a), map[string]string{"Subnet/public-b": "delete"})
		converge(t, c, n.vpc, a)
		assertInSync(t, c, counter, n.vpc, a)
		out, err := c.EC2.DescribeSubnets(context.Background(), &ec2.DescribeSubnetsInput{Filters: c.ownedFilters(KindSubnet)})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Subnets) != 1 || aws.ToString(out.Subnets[0].CidrBlock) != a.CIDR {
			t.Fatalf("subnets left: %d, want only %s", len(out.Subnets), a.Name)
		}
	})
}
