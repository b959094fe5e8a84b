package kube_test

import (
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"

	"github.com/kapstan/kapstan/internal/kube"
)

// TestValidate: a converged cluster validates; a NotReady node and a
// group with fewer instances than its minSize each fail with their
// reason; --wait rides out a node that is NotReady for a moment.
func TestValidate(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{nodes: 2})
	ctx := t.Context()

	r, err := w.cluster.Validate(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Valid() {
		t.Fatalf("converged cluster fails: %v", r.Failures)
	}
	if len(r.Nodes) != 3 || len(r.Groups) != 2 {
		t.Fatalf("want 3 nodes in 2 groups, got %d nodes, %d groups", len(r.Nodes), len(r.Groups))
	}
	for _, n := range r.Nodes {
		if n.InstanceGroup == "" || n.InstanceID == "" || !n.Ready {
			t.Errorf("node %+v: not matched to its instance, or not Ready", n)
		}
	}

	t.Run("node NotReady", func(t *testing.T) {
		node := r.Nodes[0].Name
		if err := w.kube.SetNodeReady(ctx, node, false); err != nil {
			t.Fatal(err)
		}
		defer func() { _ = w.kube.SetNodeReady(ctx, node, true) }()
		got, err := w.cluster.Validate(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !hasFailure(got, "Node", "is not Ready") {
			t.Fatalf("want a NotReady failure for %s, got %v", node, got.Failures)
		}
	})

	t.Run("wait rides out a flap", func(t *testing.T) {
		node := r.Nodes[1].Name
		if err := w.kube.SetNodeReady(ctx, node, false); err != nil {
			t.Fatal(err)
		}
		go func() {
			time.Sleep(300 * time.Millisecond)
			_ = w.kube.SetNodeReady(ctx, node, true)
		}()
		var failed, passed int
		got, err := w.cluster.WaitValid(ctx, nil, kube.WaitOptions{Timeout: 30 * time.Second, Interval: interval, Successes: 3,
			OnResult: func(r kube.Result) {
				if r.Valid() {
					passed++
				} else {
					failed++
				}
			}})
		if err != nil {
			t.Fatalf("wait: %v", err)
		}
		if !got.Valid() || failed == 0 || passed < 3 {
			t.Fatalf("want failures first, then 3 passes: %d failed, %d passed", failed, passed)
		}
	})

	t.Run("wait times out naming the failure", func(t *testing.T) {
		// The group replaced an instance above: look again.
		r, err := w.cluster.WaitValid(ctx, nil, kube.WaitOptions{Timeout: 30 * time.Second, Interval: interval})
		if err != nil {
			t.Fatal(err)
		}
		node := r.Nodes[0].Name
		if err := w.kube.SetNodeReady(ctx, node, false); err != nil {
			t.Fatal(err)
		}
		defer func() { _ = w.kube.SetNodeReady(ctx, node, true) }()
		_, err = w.cluster.WaitValid(ctx, nil, kube.WaitOptions{Timeout: 200 * time.Millisecond, Interval: interval, Successes: 1})
		if err == nil || !contains(err.Error(), node, "is not Ready", "did not validate within") {
			t.Fatalf("want a timeout naming %s, got %v", node, err)
		}
	})

	t.Run("fewer instances than minSize", func(t *testing.T) {
		nodes := w.groups(t)["nodes"]
		// Someone shrank the group behind kapstan's back.
		as := autoscaling.NewFromConfig(w.cfg)
		if _, err := as.UpdateAutoScalingGroup(ctx, &autoscaling.UpdateAutoScalingGroupInput{
			AutoScalingGroupName: aws.String(nodes.CloudName), MinSize: aws.Int32(1), DesiredCapacity: aws.Int32(1),
		}); err != nil {
			t.Fatal(err)
		}
		got, err := w.cluster.Validate(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !hasFailure(got, "InstanceGroup", "fewer than its minSize 2") {
			t.Fatalf("want a minSize failure, got %v", got.Failures)
		}
		if _, err := as.UpdateAutoScalingGroup(ctx, &autoscaling.UpdateAutoScalingGroupInput{
			AutoScalingGroupName: aws.String(nodes.CloudName), MinSize: aws.Int32(2), DesiredCapacity: aws.Int32(2),
		}); err != nil {
			t.Fatal(err)
		}
	})
}
