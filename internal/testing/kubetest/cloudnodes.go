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
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// InstanceLister is the EC2 call the node simulator makes.
type InstanceLister interface {
	DescribeInstances(ctx context.Context, params *ec2.DescribeInstancesInput, optFns ...func(*ec2.Options)) (*ec2.DescribeInstancesOutput, error)
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
func (e *Env) RunCloudNodes(ctx context.Context, s CloudNodes) (wait func()) {
	var wg sync.WaitGroup
	wg.Go(func() {
		firstSeen := map[string]time.Time{}
		registered := map[string]string{} // instance → node name
		tick := time.NewTicker(s.Interval)
		defer tick.Stop()
		for {
			e.syncCloudNodes(ctx, s, firstSeen, registered)
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	})
	return wg.Wait
}

// syncCloudNodes is one pass of the simulator. Errors are retried at the
// next pass.
func (e *Env) syncCloudNodes(ctx context.Context, s CloudNodes, firstSeen map[string]time.Time, registered map[string]string) {
	running := map[string]ec2types.Instance{}
	p := ec2.NewDescribeInstancesPaginator(s.EC2, &ec2.DescribeInstancesInput{Filters: []ec2types.Filter{
		{Name: aws.String("tag:KubernetesCluster"), Values: []string{s.Cluster}},
		{Name: aws.String("instance-state-name"), Values: []string{"running"}},
	}})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return
		}
		for _, r := range page.Reservations {
			for _, in := range r.Instances {
				running[aws.ToString(in.InstanceId)] = in
			}
		}
	}
	now := time.Now()
	for id, in := range running {
		if _, ok := registered[id]; ok {
			continue
		}
		seen, ok := firstSeen[id]
		if !ok {
			firstSeen[id] = now
			seen = now
		}
		if now.Sub(seen) < s.BootDelay {
			continue
		}
		name, labels := nodeIdentity(in)
		if name == "" || labels == nil {
			continue
		}
		zone := ""
		if in.Placement != nil {
			zone = aws.ToString(in.Placement.AvailabilityZone)
		}
		ready := s.NeverReady == nil || !s.NeverReady(id)
		err := e.RegisterNode(ctx, name, fmt.Sprintf("aws:///%s/%s", zone, id), labels, ready)
		if err == nil || apierrors.IsAlreadyExists(err) {
			registered[id] = name
		}
	}
	for id, name := range registered {
		if _, ok := running[id]; ok {
			continue
		}
		err := e.Client.CoreV1().Nodes().Delete(ctx, name, metav1.DeleteOptions{})
		if err == nil || apierrors.IsNotFound(err) {
			delete(registered, id)
			delete(firstSeen, id)
			e.mu.Lock()
			delete(e.nodes, name)
			e.mu.Unlock()
		}
	}
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
