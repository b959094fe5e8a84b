package kube_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/kapstan/kapstan/internal/kube"
	"github.com/kapstan/kapstan/internal/testing/kubetest"
)

// TestDrainRealAPI drains a node of a real kube-apiserver, whose Eviction
// API consults budgets the disruption controller keeps: a budget that
// allows no disruption holds its pod until the timeout, with a DrainError
// naming the budget; DaemonSet and mirror pods stay; the other pods are
// evicted and the drain returns only once the simulated kubelet deleted
// them. With the budget gone, a second drain finishes.
func TestDrainRealAPI(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	env, err := kubetest.Start(ctx, kubetest.Options{ControllerManager: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	cs := env.Client
	for _, n := range []string{"node-a", "node-b"} {
		if err := env.RegisterNode(ctx, n, "aws:///us-east-1a/i-"+n, nil, true); err != nil {
			t.Fatal(err)
		}
	}
	env.RunKubelet(ctx, interval)

	ns := "drain"
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	ds, err := cs.AppsV1().DaemonSets(ns).Create(ctx, &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: "agent", Namespace: ns},
		Spec: appsv1.DaemonSetSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "agent"}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "agent"}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "agent", Image: "registry.k8s.io/pause:3.10.1"}}}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pod := func(name, node string, labels map[string]string, edit func(p *corev1.Pod)) {
		t.Helper()
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels},
			Spec: corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "c", Image: "registry.k8s.io/pause:3.10.1"}}}}
		if edit != nil {
			edit(p)
		}
		if _, err := cs.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatalf("creating pod %s: %v", name, err)
		}
	}
	web := map[string]string{"app": "web"}
	pod("web-1", "node-a", web, nil)
	pod("web-2", "node-a", web, nil)
	pod("web-3", "node-b", web, nil)
	pod("db-0", "node-a", map[string]string{"app": "db"}, nil)
	pod("agent-a", "node-a", map[string]string{"app": "agent"}, func(p *corev1.Pod) {
		p.OwnerReferences = []metav1.OwnerReference{*metav1.NewControllerRef(ds, appsv1.SchemeGroupVersion.WithKind("DaemonSet"))}
	})
	pod("static-node-a", "node-a", nil, func(p *corev1.Pod) {
		p.Annotations = map[string]string{corev1.MirrorPodAnnotationKey: "hash"}
	})
	minAvailable := intstr.FromInt32(1)
	if _, err := cs.PolicyV1().PodDisruptionBudgets(ns).Create(ctx, &policyv1.PodDisruptionBudget{
		ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: ns},
		Spec:       policyv1.PodDisruptionBudgetSpec{MinAvailable: &minAvailable, Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the budget to count its healthy pod", func() bool {
		p, err := cs.PolicyV1().PodDisruptionBudgets(ns).Get(ctx, "db", metav1.GetOptions{})
		return err == nil && p.Status.ObservedGeneration == p.Generation && p.Status.CurrentHealthy == 1
	})

	var log strings.Builder
	o := kube.DrainOptions{Timeout: 2 * time.Second, RetryDelay: 100 * time.Millisecond, Log: &log}
	start := time.Now()
	err = kube.Drain(ctx, cs, "node-a", o)
	took := time.Since(start)
	t.Logf("first drain, %s:\n%s", took.Round(time.Millisecond), log.String())
	var de *kube.DrainError
	if !errors.As(err, &de) {
		t.Fatalf("want a *DrainError, got %v", err)
	}
	want := []string{"pod drain/db-0 is still running: eviction blocked by PodDisruptionBudget drain/db (minAvailable 1; 1 of 1 pods healthy, 0 disruptions allowed)"}
	if diff := cmp.Diff(want, de.Blocked); diff != "" {
		t.Errorf("blocked (-want +got):\n%s", diff)
	}
	if !apierrors.IsTooManyRequests(err) {
		t.Errorf("the budget's 429 is not wrapped: %v", err)
	}
	if took < o.Timeout {
		t.Errorf("gave up after %s, before the timeout %s", took, o.Timeout)
	}
	if got, want := podsOn(t, env, ns), []string{"agent-a node-a", "db-0 node-a", "static-node-a node-a", "web-3 node-b"}; !slices.Equal(got, want) {
		t.Errorf("pods after the first drain: %v, want %v", got, want)
	}
	node, err := cs.CoreV1().Nodes().Get(ctx, "node-a", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !node.Spec.Unschedulable {
		t.Error("node-a is not cordoned")
	}

	if err := cs.PolicyV1().PodDisruptionBudgets(ns).Delete(ctx, "db", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	log.Reset()
	o.Timeout = 30 * time.Second
	if err := kube.Drain(ctx, cs, "node-a", o); err != nil {
		t.Fatalf("second drain, without the budget: %v\n%s", err, log.String())
	}
	t.Logf("second drain:\n%s", log.String())
	// Read at once: the drain returned only after the kubelet deleted db-0.
	if got, want := podsOn(t, env, ns), []string{"agent-a node-a", "static-node-a node-a", "web-3 node-b"}; !slices.Equal(got, want) {
		t.Errorf("pods after the second drain: %v, want %v", got, want)
	}
}

// podsOn lists the namespace's pods as "NAME NODE", sorted.
func podsOn(t *testing.T, env *kubetest.Env, ns string) []string {
	t.Helper()
	list, err := env.Client.CoreV1().Pods(ns).List(t.Context(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, p := range list.Items {
		out = append(out, p.Name+" "+p.Spec.NodeName)
	}
	slices.Sort(out)
	return out
}
