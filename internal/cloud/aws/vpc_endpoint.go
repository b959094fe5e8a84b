package aws

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/kapstan/kapstan/internal/engine"
)

// KindVPCEndpoint is a VPC endpoint (an S3 gateway, an interface endpoint
// of a private cluster). kapstan does not make them; other tools tag theirs
// for the cluster.
const KindVPCEndpoint = "VPCEndpoint"

// vpcEndpointAPI is the EC2 calls for VPC endpoints.
type vpcEndpointAPI interface {
	DescribeVpcEndpoints(ctx context.Context, params *ec2.DescribeVpcEndpointsInput, optFns ...func(*ec2.Options)) (*ec2.DescribeVpcEndpointsOutput, error)
	DeleteVpcEndpoints(ctx context.Context, params *ec2.DeleteVpcEndpointsInput, optFns ...func(*ec2.Options)) (*ec2.DeleteVpcEndpointsOutput, error)
}

// VPCEndpoint is a VPC endpoint tagged for the cluster.
type VPCEndpoint struct {
	deleteOnly
	ID   string
	VPC  engine.Ref
	Tags Tags
}

func (r *VPCEndpoint) Address() engine.Address {
	return engine.Address{Kind: KindVPCEndpoint, Name: r.ID}
}
func (r *VPCEndpoint) Dependencies() []engine.Address { return deps(r.VPC) }
func (r *VPCEndpoint) CloudID() string                { return r.ID }

// delete deletes the endpoint. DeleteVpcEndpoints reports a failure per
// endpoint in its output rather than as an error.
func (r *VPCEndpoint) delete(ctx context.Context, c *Cloud) error {
	out, err := c.EC2.DeleteVpcEndpoints(ctx, &ec2.DeleteVpcEndpointsInput{VpcEndpointIds: []string{r.ID}})
	if err != nil {
		return deleteResult(err, "VPC endpoint "+r.ID)
	}
	for _, u := range out.Unsuccessful {
		if u.Error != nil && !strings.HasSuffix(aws.ToString(u.Error.Code), ".NotFound") {
			return fmt.Errorf("deleting VPC endpoint %s: %s: %s", r.ID, aws.ToString(u.Error.Code), aws.ToString(u.Error.Message))
		}
	}
	return nil
}
