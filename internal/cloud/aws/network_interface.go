package aws

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/kapstan/kapstan/internal/engine"
)

// networkInterfaceAPI is the EC2 calls for network interfaces.
type networkInterfaceAPI interface {
	DescribeNetworkInterfaces(ctx context.Context, params *ec2.DescribeNetworkInterfacesInput, optFns ...func(*ec2.Options)) (*ec2.DescribeNetworkInterfacesOutput, error)
	DeleteNetworkInterface(ctx context.Context, params *ec2.DeleteNetworkInterfaceInput, optFns ...func(*ec2.Options)) (*ec2.DeleteNetworkInterfaceOutput, error)
}

// NetworkInterface is a network interface tagged with the cluster, such as
// one a CNI plugin made for pods and left behind.
type NetworkInterface struct {
	deleteOnly
	ID             string
	Subnet         engine.Ref
	SecurityGroups []engine.Ref
	Attachment     string // the instance it is attached to, if any
}

func (r *NetworkInterface) Address() engine.Address {
	return engine.Address{Kind: KindNetworkInterface, Name: r.ID}
}
func (r *NetworkInterface) Dependencies() []engine.Address {
	return deps(append([]engine.Ref{r.Subnet}, r.SecurityGroups...)...)
}
func (r *NetworkInterface) CloudID() string { return r.ID }

// DeleteAfter implements engine.DeletesAfter: an attached interface goes
// with its instance, or after it.
func (r *NetworkInterface) DeleteAfter() []engine.Address {
	if r.Attachment == "" {
		return nil
	}
	return []engine.Address{{Kind: KindInstance, Name: r.Attachment}}
}

func (r *NetworkInterface) delete(ctx context.Context, c *Cloud) error {
	_, err := c.EC2.DeleteNetworkInterface(ctx, &ec2.DeleteNetworkInterfaceInput{NetworkInterfaceId: aws.String(r.ID)})
	switch {
	case err == nil, isNotFound(err):
		return nil
	case hasCode(err, "InvalidNetworkInterface.InUse") || isDependencyViolation(err):
		return engine.Retryable(fmt.Errorf("deleting network interface %s: %w", r.ID, err))
	}
	return fmt.Errorf("deleting network interface %s: %w", r.ID, err)
}

func networkInterfaceFrom(ni ec2types.NetworkInterface) *NetworkInterface {
	r := &NetworkInterface{ID: aws.ToString(ni.NetworkInterfaceId), Subnet: engine.RefID(aws.ToString(ni.SubnetId))}
	for _, g := range ni.Groups {
		r.SecurityGroups = append(r.SecurityGroups, engine.RefID(aws.ToString(g.GroupId)))
	}
	if ni.Attachment != nil {
		r.Attachment = aws.ToString(ni.Attachment.InstanceId)
	}
	return r
}

// subnetBlockers lists what still holds network interfaces in a subnet,
// which AWS would refuse to delete (DependencyViolation). moto deletes such
// a subnet anyway, so kapstan checks first and behaves as on AWS.
//
// Two kinds of interface are the cluster's own leftovers and are not
// blockers: those of terminated instances (AWS deletes an instance's
// primary interface with it; moto keeps it, attached) and those of deleted
// NAT gateways (AWS removes them within minutes; moto never does, so
// kapstan deletes them). Anything else is named, with what it belongs to,
// so that the user can see what blocks the delete.
func (c *Cloud) subnetBlockers(ctx context.Context, subnetID string) ([]string, error) {
	inSubnet := []ec2types.Filter{{Name: aws.String("subnet-id"), Values: []string{subnetID}}}
	out, err := c.EC2.DescribeNetworkInterfaces(ctx, &ec2.DescribeNetworkInterfacesInput{Filters: inSubnet})
	if err != nil {
		return nil, fmt.Errorf("listing network interfaces in subnet %s: %w", subnetID, err)
	}
	if len(out.NetworkInterfaces) == 0 {
		return nil, nil
	}
	natOf, err := c.natInterfaces(ctx, inSubnet)
	if err != nil {
		return nil, err
	}
	terminated, err := c.terminatedInstances(ctx, out.NetworkInterfaces)
	if err != nil {
		return nil, err
	}
	var blockers []string
	for _, ni := range out.NetworkInterfaces {
		id := aws.ToString(ni.NetworkInterfaceId)
		if ni.Attachment != nil && terminated[aws.ToString(ni.Attachment.InstanceId)] {
			continue
		}
		if nat, ok := natOf[id]; ok {
			if nat.State == ec2types.NatGatewayStateDeleted {
				if _, err := c.EC2.DeleteNetworkInterface(ctx, &ec2.DeleteNetworkInterfaceInput{NetworkInterfaceId: ni.NetworkInterfaceId}); err != nil && !isNotFound(err) {
					return nil, fmt.Errorf("deleting network interface %s of deleted NAT gateway %s: %w", id, aws.ToString(nat.NatGatewayId), err)
				}
				continue
			}
			blockers = append(blockers, fmt.Sprintf("network interface %s (of NAT gateway %s, %s)", id, aws.ToString(nat.NatGatewayId), nat.State))
			continue
		}
		what := []string{string(ni.Status)}
		if desc := aws.ToString(ni.Description); desc != "" {
			what = append(what, fmt.Sprintf("%q", desc))
		}
		if ni.Attachment != nil && ni.Attachment.InstanceId != nil {
			what = append(what, "attached to "+aws.ToString(ni.Attachment.InstanceId))
		}
		tags := fromEC2Tags(ni.TagSet)
		if tags[TagClusterPrefix+c.Cluster] == "" && tags[TagKubernetesCluster] != c.Cluster {
			what = append(what, "not the cluster's")
		}
		blockers = append(blockers, fmt.Sprintf("network interface %s (%s)", id, strings.Join(what, ", ")))
	}
	return blockers, nil
}

// natInterfaces maps the network interfaces of the NAT gateways in a
// subnet, deleted ones included, to their gateway.
func (c *Cloud) natInterfaces(ctx context.Context, inSubnet []ec2types.Filter) (map[string]ec2types.NatGateway, error) {
	out, err := c.EC2.DescribeNatGateways(ctx, &ec2.DescribeNatGatewaysInput{Filter: inSubnet})
	if err != nil {
		return nil, fmt.Errorf("listing NAT gateways: %w", err)
	}
	m := map[string]ec2types.NatGateway{}
	for _, n := range out.NatGateways {
		for _, a := range n.NatGatewayAddresses {
			if id := aws.ToString(a.NetworkInterfaceId); id != "" {
				m[id] = n
			}
		}
	}
	return m, nil
}

// terminatedInstances tells which instances the interfaces are attached to
// are terminated.
func (c *Cloud) terminatedInstances(ctx context.Context, nis []ec2types.NetworkInterface) (map[string]bool, error) {
	var ids []string
	for _, ni := range nis {
		if ni.Attachment != nil && ni.Attachment.InstanceId != nil {
			ids = append(ids, aws.ToString(ni.Attachment.InstanceId))
		}
	}
	done := map[string]bool{}
	if len(ids) == 0 {
		return done, nil
	}
	out, err := c.EC2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{Filters: []ec2types.Filter{
		{Name: aws.String("instance-id"), Values: ids},
		{Name: aws.String("instance-state-name"), Values: []string{"terminated"}},
	}})
	if err != nil {
		return nil, fmt.Errorf("looking up instances: %w", err)
	}
	for _, r := range out.Reservations {
		for _, in := range r.Instances {
			done[aws.ToString(in.InstanceId)] = true
		}
	}
	return done, nil
}

// vpcBlockers names what is still inside a VPC: subnets, network
// interfaces and security groups other than the default one. It explains a
// DependencyViolation from DeleteVpc.
func (c *Cloud) vpcBlockers(ctx context.Context, vpcID string) []string {
	filter := []ec2types.Filter{{Name: aws.String("vpc-id"), Values: []string{vpcID}}}
	var out []string
	if subnets, err := c.EC2.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{Filters: filter}); err == nil {
		for _, s := range subnets.Subnets {
			out = append(out, "subnet "+aws.ToString(s.SubnetId))
		}
	}
	if nis, err := c.EC2.DescribeNetworkInterfaces(ctx, &ec2.DescribeNetworkInterfacesInput{Filters: filter}); err == nil {
		for _, ni := range nis.NetworkInterfaces {
			out = append(out, fmt.Sprintf("network interface %s (%s)", aws.ToString(ni.NetworkInterfaceId), aws.ToString(ni.Description)))
		}
	}
	if groups, err := c.EC2.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{Filters: filter}); err == nil {
		for _, g := range groups.SecurityGroups {
			if aws.ToString(g.GroupName) != "default" {
				out = append(out, fmt.Sprintf("security group %s (%s)", aws.ToString(g.GroupId), aws.ToString(g.GroupName)))
			}
		}
	}
	return out
}
