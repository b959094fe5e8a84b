package kubetest

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// InstanceLister is the EC2 calls the node simulator makes.
type InstanceLister interface {
	DescribeInstances(ctx context.Context, params *ec2.DescribeInstancesInput, optFns ...func(*ec2.Options)) (*ec2.DescribeInstancesOutput, error)
	DescribeInstanceStatus(ctx context.Context, params *ec2.DescribeInstanceStatusInput, optFns ...func(*ec2.Options)) (*ec2.DescribeInstanceStatusOutput, error)
}

// CloudNodes makes the cluster's EC2 instances into nodes, as their
// kubelets and the cloud controller manager would: an instance that runs
// for BootDelay registers a Node named by its private DNS name, with
// provider ID aws:///ZONE/ID and the role label of its k8s.io/role tag;
// the Node of an instance that is terminated (or gone) is deleted.
type CloudNodes struct {
	EC2 InstanceLister
	// Cluster is the value of the instances' KubernetesCluster tag.
	Cluster string
	// BootDelay is how long after it is first seen running an instance
	// registers.
	BootDelay time.Duration
	// Interval is how often EC2 is listed.
	Interval time.Duration
	// NeverReady, if set, picks instances whose Node registers NotReady
	// and stays so.
	NeverReady func(instanceID string) bool
}

// RunCloudNodes starts the simulator and returns at once; it runs until
// ctx ends, and is waited for by the returned function. Pods on the nodes
// it registers are run by [Env.RunKubelet], if started.
//
// It polls with DescribeInstanceStatus, which moto answers in about a
// millisecond per instance, and describes only instances it has not seen:
// DescribeInstances costs moto several milliseconds per instance, and the
// simulator's lag is added to every boot.
func (e *Env) RunCloudNodes(ctx context.Context, s CloudNodes) (wait func()) {
	sim := &cloudNodes{CloudNodes: s, env: e, seen: map[string]*simInstance{}}
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(s.Interval)
		defer tick.Stop()
		for {
			sim.sync(ctx)
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	})
	return wg.Wait
}

// cloudNodes is the simulator's state; only its goroutine uses it.
type cloudNodes struct {
	CloudNodes
	env  *Env
	seen map[string]*simInstance // running instances by ID
}

type simInstance struct {
	firstSeen time.Time
	// node is the Node's name once registered; skip marks instances of
	// other clusters and bastions, which never register.
	node     string
	skip     bool
	instance ec2types.Instance
}

// sync is one pass of the simulator. Errors are retried at the next pass.
func (s *cloudNodes) sync(ctx context.Context) {
	running := map[string]bool{}
	p := ec2.NewDescribeInstanceStatusPaginator(s.EC2, &ec2.DescribeInstanceStatusInput{
		Filters: []ec2types.Filter{{Name: aws.String("instance-state-name"), Values: []string{"running"}}},
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return
		}
		for _, st := range page.InstanceStatuses {
			running[aws.ToString(st.InstanceId)] = true
		}
	}
	now := time.Now()
	var fresh []string
	for id := range running {
		if _, ok := s.seen[id]; !ok {
			fresh = append(fresh, id)
		}
	}
	if len(fresh) > 0 {
		out, err := s.EC2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: fresh})
		if err != nil {
			return
		}
		for _, r := range out.Reservations {
			for _, in := range r.Instances {
				si := &simInstance{firstSeen: now, instance: in}
				si.skip = !hasTag(in, "KubernetesCluster", s.Cluster)
				s.seen[aws.ToString(in.InstanceId)] = si
			}
		}
	}
	// Register the instances whose boot delay is over, side by side, as
	// their kubelets would.
	var wg sync.WaitGroup
	for id, si := range s.seen {
		if si.skip || si.node != "" || now.Sub(si.firstSeen) < s.BootDelay {
			continue
		}
		name, labels := nodeIdentity(si.instance)
		if name == "" || labels == nil {
			si.skip = true
			continue
		}
		zone := ""
		if si.instance.Placement != nil {
			zone = aws.ToString(si.instance.Placement.AvailabilityZone)
		}
		ready := s.NeverReady == nil || !s.NeverReady(id)
		wg.Go(func() {
			err := s.env.RegisterNode(ctx, name, fmt.Sprintf("aws:///%s/%s", zone, id), labels, ready)
			if err == nil || apierrors.IsAlreadyExists(err) {
				si.node = name // each goroutine writes its own instance only
			}
		})
	}
	wg.Wait()
	for id, si := range s.seen {
		if running[id] {
			continue
		}
		if si.node != "" {
			// The cloud controller deletes the Node of a terminated
			// instance.
			if err := s.env.DeregisterNode(ctx, si.node); err != nil {
				continue // retried at the next pass
			}
		}
		delete(s.seen, id)
	}
}

func hasTag(in ec2types.Instance, key, value string) bool {
	for _, t := range in.Tags {
		if aws.ToString(t.Key) == key && aws.ToString(t.Value) == value {
			return true
		}
	}
	return false
}

// nodeIdentity is the name and labels a kubelet on the instance would
// register with; nil labels for a bastion, which runs no kubelet.
func nodeIdentity(in ec2types.Instance) (string, map[string]string) {
	labels := map[string]string{"kubernetes.io/os": "linux", "node.kubernetes.io/instance-type": string(in.InstanceType)}
	if in.Placement != nil {
		labels["topology.kubernetes.io/zone"] = aws.ToString(in.Placement.AvailabilityZone)
	}
	for _, t := range in.Tags {
		switch k := aws.ToString(t.Key); k {
		case "k8s.io/role/control-plane":
			labels["node-role.kubernetes.io/control-plane"] = ""
		case "k8s.io/role/bastion":
			return "", nil // no kubelet runs there
		case "k8s.io/role/node":
			labels["node-role.kubernetes.io/node"] = ""
		case "kapstan.io/instancegroup":
			labels[k] = aws.ToString(t.Value)
		}
	}
	return aws.ToString(in.PrivateDnsName), labels
}
