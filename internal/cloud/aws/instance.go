package aws

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
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

// errNotManaged is returned by the IO kapstan never does on kinds it only
// deletes.
var errNotManaged = errors.New("kapstan does not create or change this kind of resource; it only deletes it with the cluster")

// Instance is an EC2 instance tagged with the cluster, usually launched by
// one of its Auto Scaling groups.
type Instance struct {
	ID             string
	Subnet         engine.Ref
	SecurityGroups []engine.Ref
	// GroupName is the Auto Scaling group that launched it, if any; Group
	// is that group's address when it is the cluster's. The group goes
	// first, or it would replace what is terminated.
	GroupName string
	Group     engine.Address
}

func (r *Instance) Address() engine.Address { return engine.Address{Kind: KindInstance, Name: r.ID} }
func (r *Instance) Dependencies() []engine.Address {
	return deps(append([]engine.Ref{r.Subnet}, r.SecurityGroups...)...)
}
func (r *Instance) CloudID() string { return r.ID }

// DeleteAfter implements engine.DeletesAfter.
func (r *Instance) DeleteAfter() []engine.Address {
	if r.Group.IsZero() {
		return nil
	}
	return []engine.Address{r.Group}
}

func (r *Instance) Diff(engine.Resource, engine.Refs) []engine.FieldDiff { return nil }
func (r *Instance) find(context.Context, *Cloud, engine.Refs) (engine.Resource, error) {
	return nil, errNotManaged
}
func (r *Instance) create(context.Context, *Cloud, engine.Refs) (engine.Resource, error) {
	return nil, errNotManaged
}
func (r *Instance) update(context.Context, *Cloud, engine.Resource, []engine.FieldDiff, engine.Refs) (engine.Resource, error) {
	return nil, errNotManaged
}

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

// clusterInstances lists the instances tagged with the cluster that are
// not terminated, with the Auto Scaling group each came from.
func (c *Cloud) clusterInstances(ctx context.Context) ([]engine.Resource, error) {
	var out []engine.Resource
	seen := map[string]bool{}
	for _, f := range c.clusterTagFilters() {
		in := &ec2.DescribeInstancesInput{Filters: append(f, ec2types.Filter{
			Name: aws.String("instance-state-name"), Values: []string{"pending", "running", "stopping", "stopped", "shutting-down"}})}
		for p := ec2.NewDescribeInstancesPaginator(c.EC2, in); p.HasMorePages(); {
			page, err := p.NextPage(ctx)
			if err != nil {
				return nil, fmt.Errorf("listing the cluster's instances: %w", err)
			}
			for _, res := range page.Reservations {
				for _, in := range res.Instances {
					id := aws.ToString(in.InstanceId)
					if seen[id] {
						continue
					}
					seen[id] = true
					r := &Instance{ID: id, Subnet: engine.RefID(aws.ToString(in.SubnetId))}
					for _, g := range in.SecurityGroups {
						r.SecurityGroups = append(r.SecurityGroups, engine.RefID(aws.ToString(g.GroupId)))
					}
					r.GroupName = fromEC2Tags(in.Tags)["aws:autoscaling:groupName"]
					out = append(out, r)
				}
			}
		}
	}
	return out, nil
}

// clusterTagFilters are the two ways a resource says it belongs to the
// cluster: the kubernetes.io/cluster/NAME tag (owned or shared) and the
// older KubernetesCluster=NAME. EC2 filters are ANDed, so each is a call.
func (c *Cloud) clusterTagFilters() [][]ec2types.Filter {
	return [][]ec2types.Filter{
		{{Name: aws.String("tag-key"), Values: []string{TagClusterPrefix + c.Cluster}}},
		{{Name: aws.String("tag:" + TagKubernetesCluster), Values: []string{c.Cluster}}},
	}
}
