package aws

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/kapstan/kapstan/internal/engine"
)

// KindInstance, KindNetworkInterface and KindClassicLoadBalancer are found
// only when a cluster is deleted: kapstan does not make them itself (Auto
// Scaling and Kubernetes do) but deletes them with the cluster.
const (
	KindInstance            = "Instance"
	KindNetworkInterface    = "NetworkInterface"
	KindClassicLoadBalancer = "ClassicLoadBalancer"
)

// instanceAPI is the EC2 calls for instances.
type instanceAPI interface {
	DescribeInstances(ctx context.Context, params *ec2.DescribeInstancesInput, optFns ...func(*ec2.Options)) (*ec2.DescribeInstancesOutput, error)
	TerminateInstances(ctx context.Context, params *ec2.TerminateInstancesInput, optFns ...func(*ec2.Options)) (*ec2.TerminateInstancesOutput, error)
}

// Instance is an EC2 instance tagged with the cluster, usually launched by
// one of its Auto Scaling groups.
type Instance struct {
	deleteOnly
	ID             string
	Subnet         engine.Ref
	SecurityGroups []engine.Ref
	// GroupName is the Auto Scaling group that launched it, if any. The
	// group goes first, or it would replace what is terminated.
	GroupName string
}

func (r *Instance) Address() engine.Address { return engine.Address{Kind: KindInstance, Name: r.ID} }
func (r *Instance) Dependencies() []engine.Address {
	return deps(append([]engine.Ref{r.Subnet}, r.SecurityGroups...)...)
}
func (r *Instance) CloudID() string { return r.ID }

// instancePollInterval is how often delete looks for the end of a
// termination.
const instancePollInterval = 2 * time.Second

// delete terminates the instance and waits until it is terminated, so that
// its network interfaces and volumes are gone before their subnet is
// deleted.
func (r *Instance) delete(ctx context.Context, c *Cloud) error {
	_, err := c.EC2.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{r.ID}})
	if isNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("terminating instance %s: %w", r.ID, err)
	}
	for {
		out, err := c.EC2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{r.ID}})
		if isNotFound(err) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("waiting for instance %s to terminate: %w", r.ID, err)
		}
		done := true
		for _, res := range out.Reservations {
			for _, in := range res.Instances {
				if in.State != nil && in.State.Name != ec2types.InstanceStateNameTerminated {
					done = false
				}
			}
		}
		if done {
			return nil
		}
		if err := sleepCtx(ctx, instancePollInterval); err != nil {
			return fmt.Errorf("waiting for instance %s to terminate: %w", r.ID, err)
		}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
