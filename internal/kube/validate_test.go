package kube

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"

	api "github.com/kapstan/kapstan/pkg/apis/kapstan/v1alpha1"
)

func node(name, id string, ready bool) corev1.Node {
	st := corev1.ConditionFalse
	if ready {
		st = corev1.ConditionTrue
	}
	return corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.NodeSpec{ProviderID: "aws:///us-east-1a/" + id},
		Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: st, Reason: "KubeletNotReady"}}}}
}

func TestValidateFixtures(t *testing.T) {
	m := spec() // cp 1, bastions 1, nodes-a 2, nodes-b 2
	healthy := func() Observation {
		return Observation{
			Groups: []Group{
				{Name: "cp", Desired: 1, Instances: instancesOf("i-c")},
				{Name: "bastions", Desired: 1, Instances: instancesOf("i-x")},
				{Name: "nodes-a", Desired: 2, Instances: instancesOf("i-a1", "i-a2")},
				{Name: "nodes-b", Desired: 2, Instances: instancesOf("i-b1", "i-b2")},
			},
			Nodes: []corev1.Node{node("c", "i-c", true), node("a1", "i-a1", true), node("a2", "i-a2", true),
				node("b1", "i-b1", true), node("b2", "i-b2", true)},
		}
	}
	critical := func(ready bool) corev1.Pod {
		p := corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "coredns-1", Namespace: "kube-system"},
			Spec: corev1.PodSpec{PriorityClassName: "system-cluster-critical"}, Status: corev1.PodStatus{Phase: corev1.PodPending}}
		if ready {
			p.Status.Phase = corev1.PodRunning
			p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
		}
		return p
	}
	cases := []struct {
		name   string
		change func(o *Observation)
		scope  Scope
		want   []string // "Kind Name" of each failure
	}{
		{"healthy", func(*Observation) {}, nil, nil},
		{"node not ready", func(o *Observation) { o.Nodes[2] = node("a2", "i-a2", false) }, nil, []string{"Node a2"}},
		{"not joined", func(o *Observation) { o.Nodes = o.Nodes[:4] }, nil, []string{"Instance i-b2"}},
		{"control plane down", func(o *Observation) { o.Nodes[0] = node("c", "i-c", false) }, nil, []string{"Node c", "ControlPlane c.k8s.local"}},
		{"too few instances", func(o *Observation) { o.Groups[2].Instances = instancesOf("i-a1"); o.Groups[2].Desired = 1 }, nil,
			[]string{"InstanceGroup nodes-a"}},
		{"replacements launching", func(o *Observation) { o.Groups[3].Desired = 3; m.InstanceGroup("nodes-b").Spec.MaxSize = 3 }, nil,
			[]string{"InstanceGroup nodes-b"}},
		{"group missing", func(o *Observation) { o.Groups = o.Groups[:3] }, nil, []string{"InstanceGroup nodes-b"}},
		{"critical pod pending", func(o *Observation) { o.SystemPods = []corev1.Pod{critical(false)} }, nil, []string{"Pod kube-system/coredns-1"}},
		{"critical pod ready", func(o *Observation) { o.SystemPods = []corev1.Pod{critical(true)} }, nil, nil},
		{"scope leaves other groups out", func(o *Observation) { o.Nodes[2] = node("a2", "i-a2", false); o.Nodes = o.Nodes[:4] },
			Scope{"nodes-b": true}, []string{"Instance i-b2"}},
		{"scope keeps the control plane", func(o *Observation) { o.Nodes[0] = node("c", "i-c", false) },
			Scope{"nodes-b": true}, []string{"ControlPlane c.k8s.local"}},
		{"detached nodes do not count as members", func(o *Observation) {
			o.Groups[2].Detached = instancesOf("i-old")
			o.Nodes = append(o.Nodes, node("old", "i-old", true))
		}, nil, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m = spec()
			obs := healthy()
			tc.change(&obs)
			r := Validate(m, obs, tc.scope)
			var got []string
			for _, f := range r.Failures {
				got = append(got, f.Kind+" "+f.Name)
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("failures %v, want %v (%v)", got, tc.want, r.Failures)
			}
		})
	}
}

// scriptedCloud shows the bastion group with or without its instance, by
// a script of observations; the last one repeats.
type scriptedCloud struct {
	script []bool
	calls  atomic.Int32
}

func (c *scriptedCloud) Groups(context.Context) ([]Group, error) {
	i := min(int(c.calls.Add(1))-1, len(c.script)-1)
	g := Group{Name: "bastions", Desired: 1}
	if c.script[i] {
		g.Instances = instancesOf("i-x")
	}
	return []Group{g}, nil
}
func (c *scriptedCloud) Mark(context.Context, *Group, []string) error            { return nil }
func (c *scriptedCloud) Detach(context.Context, *Group, []string) error          { return nil }
func (c *scriptedCloud) Terminate(context.Context, *Group, []string, bool) error { return nil }

// TestWaitValidNeedsSuccessesInARow: one pass between failures is not
// enough; Successes passes in a row are; and the timeout gives the last
// failures.
func TestWaitValidNeedsSuccessesInARow(t *testing.T) {
	m := &api.Manifests{Cluster: &api.Cluster{Metadata: api.ObjectMeta{Name: "c"}},
		InstanceGroups: []*api.InstanceGroup{{Metadata: api.ObjectMeta{Name: "bastions"},
			Spec: api.InstanceGroupSpec{Role: api.RoleBastion, MinSize: 1, MaxSize: 1}}}}
	run := func(script []bool, timeout time.Duration) (int32, error) {
		clk := clocktesting.NewFakeClock(time.Unix(0, 0))
		cloud := &scriptedCloud{script: script}
		c := &Cluster{Spec: m, Cloud: cloud, Clock: clk}
		var done atomic.Bool
		var wg sync.WaitGroup
		wg.Go(func() { // step the fake clock whenever the wait sleeps
			for !done.Load() {
				if clk.HasWaiters() {
					clk.Step(time.Second)
				}
				time.Sleep(100 * time.Microsecond)
			}
		})
		_, err := c.WaitValid(t.Context(), nil, WaitOptions{Timeout: timeout, Interval: time.Second, Successes: 3})
		done.Store(true)
		wg.Wait()
		return cloud.calls.Load(), err
	}

	calls, err := run([]bool{true, false, true, true, false, true, true, true}, time.Hour)
	if err != nil || calls != 8 {
		t.Fatalf("want success at the 8th look (3 in a row), got %d looks, %v", calls, err)
	}
	calls, err = run([]bool{true, true, false}, 10*time.Second)
	var invalid *InvalidError
	if !errors.As(err, &invalid) || !strings.Contains(err.Error(), "fewer than its minSize 1") || calls != 11 {
		t.Fatalf("want a timeout after 11 looks naming the failure, got %d looks, %v", calls, err)
	}
}
