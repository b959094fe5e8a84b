package aws

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/kapstan/kapstan/internal/engine"
)

// KindDHCPOptions is a DHCP option set. kapstan's VPCs use the default one,
// but other tools of the family (kops) make a set per cluster, tagged for
// it; a delete finds and, when told to, deletes it.
const KindDHCPOptions = "DHCPOptions"

// dhcpOptionsAPI is the EC2 calls for DHCP option sets.
type dhcpOptionsAPI interface {
	DescribeDhcpOptions(ctx context.Context, params *ec2.DescribeDhcpOptionsInput, optFns ...func(*ec2.Options)) (*ec2.DescribeDhcpOptionsOutput, error)
	DeleteDhcpOptions(ctx context.Context, params *ec2.DeleteDhcpOptionsInput, optFns ...func(*ec2.Options)) (*ec2.DeleteDhcpOptionsOutput, error)
}

// DHCPOptions is a DHCP option set tagged for the cluster.
type DHCPOptions struct {
	deleteOnly
	ID string
	// VPCs are the VPCs that use the set: AWS refuses to delete a set in
	// use, so it goes after them.
	VPCs []string
	Tags Tags
}

func (r *DHCPOptions) Address() engine.Address {
	return engine.Address{Kind: KindDHCPOptions, Name: r.ID}
}
func (r *DHCPOptions) Dependencies() []engine.Address { return nil }
func (r *DHCPOptions) CloudID() string                { return r.ID }

func (r *DHCPOptions) delete(ctx context.Context, c *Cloud) error {
	_, err := c.EC2.DeleteDhcpOptions(ctx, &ec2.DeleteDhcpOptionsInput{DhcpOptionsId: aws.String(r.ID)})
	return deleteResult(err, fmt.Sprintf("DHCP options %s", r.ID))
}
