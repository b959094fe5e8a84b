package kube_test

import (
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/kapstan/kapstan/internal/kube"
	api "github.com/kapstan/kapstan/pkg/apis/kapstan/v1alpha1"
)

const newType = "t3.large"

func changeType(groups ...string) func(m *api.Manifests) {
	return func(m *api.Manifests) {
		for _, g := range groups {
			m.InstanceGroup(g).Spec.MachineType = newType
		}
	}
}

// snapshotIDs are the IDs of every group's members now.
func (w *world) snapshotIDs(t *testing.T) map[string][]string {
	out := map[string][]string{}
	for name, g := range w.groups(t) {
		out[name] = ids(g.Instances)
	}
	return out
}

// assertRolled checks that every instance of before was terminated exactly
// once, that nothing else was, and that every member now runs the group's
// launch-template version with the new instance type.
func (w *world) assertRolled(t *testing.T, before map[string][]string, rolled ...string) {
	t.Helper()
	var want []string
	for _, g := range rolled {
		want = append(want, before[g]...)
	}
	got := slices.Clone(w.cloud.terminated)
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("terminated %v, want each of %v exactly once", got, want)
	}
	after := w.groups(t)
	for _, name := range rolled {
		g := after[name]
		if len(g.Instances) != len(before[name]) || len(g.Detached) != 0 {
			t.Errorf("%s: %d members and %d detached after the roll, want %d and 0", name, len(g.Instances), len(g.Detached), len(before[name]))
		}
		var idList []string
		for _, in := range g.Instances {
			if in.LaunchTemplateVersion != g.LaunchTemplateVersion {
				t.Errorf("%s: instance %s on launch template version %s, group on %s", name, in.ID, in.LaunchTemplateVersion, g.LaunchTemplateVersion)
			}
			if slices.Contains(before[name], in.ID) {
				t.Errorf("%s: instance %s was not replaced", name, in.ID)
			}
			idList = append(idList, in.ID)
		}
		out, err := ec2.NewFromConfig(w.cfg).DescribeInstances(t.Context(), &ec2.DescribeInstancesInput{InstanceIds: idList})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range out.Reservations {
			for _, in := range r.Instances {
				if string(in.InstanceType) != newType {
					t.Errorf("%s: instance %s is a %s, want %s", name, aws.ToString(in.InstanceId), in.InstanceType, newType)
				}
			}
		}
	}
	for _, u := range kube.NeedsUpdate(w.cluster.Spec, mapValues(after), kube.Selection{}) {
		if u.Pending() {
			t.Errorf("%s still needs an update: %s", u.Name, u.Reason)
		}
	}
	r, err := w.cluster.Validate(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Valid() {
		t.Errorf("cluster does not validate after the roll: %v", r.Failures)
	}
}

func mapValues(m map[string]kube.Group) []kube.Group {
	var out []kube.Group
	for _, g := range m {
		out = append(out, g)
	}
	return out
}

// TestRollingUpdateAfterInstanceTypeChange: after an instance-type change
// and an apply, the rolling update replaces every instance exactly once,
// control plane included, and the cluster validates.
func TestRollingUpdateAfterInstanceTypeChange(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{nodes: 3})
	before := w.snapshotIDs(t)
	w.edit(t, changeType("control-plane-us-east-1a", "nodes"))

	plan := kube.NeedsUpdate(w.cluster.Spec, mapValues(w.groups(t)), kube.Selection{})
	want := map[string]int{"control-plane-us-east-1a": 1, "nodes": 3}
	for _, u := range plan {
		if len(u.Replace) != want[u.Name] {
			t.Errorf("%s: %d to replace (%s), want %d", u.Name, len(u.Replace), u.Reason, want[u.Name])
		}
	}
	if plan[0].Role != api.RoleControlPlane {
		t.Errorf("control plane does not roll first: %v", plan)
	}

	if _, err := w.cluster.RollingUpdate(t.Context(), w.rollOptions()); err != nil {
		t.Fatalf("rolling update: %v", err)
	}
	w.assertRolled(t, before, "control-plane-us-east-1a", "nodes")

	// Nothing is left to do: a second run changes nothing.
	w.cloud.terminated = nil
	if _, err := w.cluster.RollingUpdate(t.Context(), w.rollOptions()); err != nil {
		t.Fatal(err)
	}
	if len(w.cloud.terminated)+len(w.cloud.detached) > 3 {
		t.Errorf("second run touched instances: terminated %v", w.cloud.terminated)
	}
}

// TestRollingUpdateHonoursPDB: a budget that allows no disruption holds
// the drain until the drain timeout, and the roll stops naming the budget
// and the pod; with a looser budget, running it again finishes the job.
func TestRollingUpdateHonoursPDB(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{nodes: 2, controllers: "disruption,replicaset"})
	ctx := t.Context()
	cs := w.kube.Client
	ns := "web"
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	labels := map[string]string{"app": "web"}
	rs := &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns},
		Spec: appsv1.ReplicaSetSpec{Replicas: aws.Int32(2), Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{NodeSelector: map[string]string{"kapstan.io/instancegroup": "nodes"},
					Containers: []corev1.Container{{Name: "web", Image: "registry.k8s.io/pause:3.10.1"}}}}},
	}
	if _, err := cs.AppsV1().ReplicaSets(ns).Create(ctx, rs, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	minAvailable := intstr.FromInt32(2)
	pdb := &policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns},
		Spec: policyv1.PodDisruptionBudgetSpec{MinAvailable: &minAvailable, Selector: &metav1.LabelSelector{MatchLabels: labels}}}
	if _, err := cs.PolicyV1().PodDisruptionBudgets(ns).Create(ctx, pdb, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "2 healthy pods under the budget", func() bool {
		p, err := cs.PolicyV1().PodDisruptionBudgets(ns).Get(ctx, "web", metav1.GetOptions{})
		return err == nil && p.Status.CurrentHealthy == 2 && p.Status.ObservedGeneration == p.Generation
	})

	before := w.snapshotIDs(t)
	w.edit(t, changeType("nodes"))
	o := w.rollOptions()
	o.DrainTimeout = 2 * time.Second
	start := time.Now()
	_, err := w.cluster.RollingUpdate(ctx, o)
	var rollErr *kube.RollError
	if !errors.As(err, &rollErr) || rollErr.Group != "nodes" {
		t.Fatalf("want the roll of nodes to stop, got %v", err)
	}
	var drainErr *kube.DrainError
	if !errors.As(err, &drainErr) || !contains(err.Error(), "PodDisruptionBudget web/web", "pod web/web-", "minAvailable 2") {
		t.Fatalf("error does not name the budget and the pod: %v", err)
	}
	t.Logf("stopped as expected: %v", err)
	if took := time.Since(start); took < o.DrainTimeout {
		t.Errorf("gave up after %s, before the drain timeout %s", took, o.DrainTimeout)
	}
	if len(w.cloud.terminated) != 0 {
		t.Fatalf("terminated %v while the budget held", w.cloud.terminated)
	}
	if g := w.groups(t)["nodes"]; len(g.Detached) != 1 {
		t.Fatalf("want the blocked instance left detached for the next run, got %d detached", len(g.Detached))
	}

	pdb, err = cs.PolicyV1().PodDisruptionBudgets(ns).Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	minAvailable = intstr.FromInt32(1)
	pdb.Spec.MinAvailable = &minAvailable
	if _, err := cs.PolicyV1().PodDisruptionBudgets(ns).Update(ctx, pdb, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	o.DrainTimeout = 30 * time.Second
	if _, err := w.cluster.RollingUpdate(ctx, o); err != nil {
		t.Fatalf("second run with a looser budget: %v", err)
	}
	w.assertRolled(t, before, "nodes")
	pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	newNodes := map[string]bool{}
	for _, n := range mustValidate(t, w).Nodes {
		if n.InstanceGroup == "nodes" {
			newNodes[n.Name] = true
		}
	}
	running := 0
	for _, p := range pods.Items {
		if p.DeletionTimestamp != nil {
			continue
		}
		running++
		if !newNodes[p.Spec.NodeName] {
			t.Errorf("pod %s is on %q, not on a new node", p.Name, p.Spec.NodeName)
		}
	}
	if running != 2 {
		t.Errorf("%d web pods run after the roll, want 2", running)
	}
}

// TestRollingUpdateHaltsOnNodeNeverReady: a replacement that never turns
// Ready stops the roll after the first batch, with nothing terminated.
func TestRollingUpdateHaltsOnNodeNeverReady(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	original := map[string]bool{}
	started := false
	w := newWorld(t, worldOptions{nodes: 3, neverReady: func(id string) bool {
		mu.Lock()
		defer mu.Unlock()
		return started && !original[id]
	}})
	mu.Lock()
	for _, list := range w.snapshotIDs(t) {
		for _, id := range list {
			original[id] = true
		}
	}
	started = true
	mu.Unlock()
	w.edit(t, changeType("nodes"))
	o := w.rollOptions()
	o.ValidationTimeout = time.Second
	_, err := w.cluster.RollingUpdate(t.Context(), o)
	var rollErr *kube.RollError
	if !errors.As(err, &rollErr) || !contains(err.Error(), "did not validate", "is not Ready") {
		t.Fatalf("want the roll to stop on a NotReady node, got %v", err)
	}
	if len(w.cloud.detached) != 1 || len(w.cloud.terminated) != 0 {
		t.Fatalf("want 1 detached and 0 terminated after the first batch, got %v and %v", w.cloud.detached, w.cloud.terminated)
	}
}

// TestRollingUpdateCloudOnly replaces instances without the API.
func TestRollingUpdateCloudOnly(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{nodes: 2})
	before := w.snapshotIDs(t)
	w.edit(t, changeType("nodes"))
	cloudOnly := *w.cluster
	cloudOnly.Client = nil
	if _, err := cloudOnly.RollingUpdate(t.Context(), w.rollOptions()); err != nil {
		t.Fatal(err)
	}
	// The simulated nodes follow; the cluster validates once they joined.
	if _, err := w.cluster.WaitValid(t.Context(), nil, kube.WaitOptions{Timeout: 30 * time.Second, Interval: interval}); err != nil {
		t.Fatal(err)
	}
	w.assertRolled(t, before, "nodes")
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(interval)
	}
}

func mustValidate(t *testing.T, w *world) kube.Result {
	t.Helper()
	r, err := w.cluster.WaitValid(t.Context(), nil, kube.WaitOptions{Timeout: 30 * time.Second, Interval: interval})
	if err != nil {
		t.Fatal(err)
	}
	return r
}
