package aws

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/kapstan/kapstan/internal/engine"
)

// fakeNetworkEIP fails ReleaseAddress as AWS does for an address a NAT gateway
// uses, which moto releases.
type fakeNetworkEIP struct {
	elasticIPAPI
	releaseErr error
	associated bool
}

func (f *fakeNetworkEIP) ReleaseAddress(context.Context, *ec2.ReleaseAddressInput, ...func(*ec2.Options)) (*ec2.ReleaseAddressOutput, error) {
	return &ec2.ReleaseAddressOutput{}, f.releaseErr
}

func (f *fakeNetworkEIP) DescribeAddresses(_ context.Context, in *ec2.DescribeAddressesInput, _ ...func(*ec2.Options)) (*ec2.DescribeAddressesOutput, error) {
	a := ec2types.Address{AllocationId: aws.String(in.AllocationIds[0])}
	if f.associated {
		a.AssociationId, a.NetworkInterfaceId = aws.String("eipassoc-1"), aws.String("eni-1")
	}
	return &ec2.DescribeAddressesOutput{Addresses: []ec2types.Address{a}}, nil
}

func TestReleaseElasticIPInUse(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name          string
		fake          *fakeNetworkEIP
		wantErr       bool
		wantRetryable bool
	}{
		{"released", &fakeNetworkEIP{}, false, false},
		{"in use", &fakeNetworkEIP{releaseErr: networkAPIErr("InvalidIPAddress.InUse", "Address eipalloc-1 is in use.")}, true, true},
		{"auth failure while a NAT gateway holds it", &fakeNetworkEIP{
			releaseErr: networkAPIErr("AuthFailure", "You do not have permission to access the specified resource."), associated: true,
		}, true, true},
		{"auth failure of another kind", &fakeNetworkEIP{
			releaseErr: networkAPIErr("AuthFailure", "You do not have permission to access the specified resource."),
		}, true, false},
		{"released already", &fakeNetworkEIP{releaseErr: networkAPIErr("InvalidAllocationID.NotFound", "The allocation ID 'eipalloc-1' does not exist")}, false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := releaseElasticIP(context.Background(), tc.fake, "eipalloc-1", "us-east-1a")
			if (err != nil) != tc.wantErr || engine.IsRetryable(err) != tc.wantRetryable {
				t.Fatalf("release = %v (retryable %v), want error %v, retryable %v", err, engine.IsRetryable(err), tc.wantErr, tc.wantRetryable)
			}
		})
	}
}
