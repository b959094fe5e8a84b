package kube_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/kapstan/kapstan/internal/kube"
)

const drainNode = "node-a"

var podsResource = schema.GroupVersionResource{Version: "v1", Resource: "pods"}

// fakePod is a pod named name in namespace "app" on node, with label
// app=name's prefix and its name as UID.
func fakePod(name, node string, edit ...func(p *corev1.Pod)) *corev1.Pod {
	app, _, _ := strings.Cut(name, "-")
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "app", UID: types.UID("uid-" + name),
			Labels: map[string]string{"app": app}},
		Spec:   corev1.PodSpec{NodeName: node},
		Status: corev1.PodStatus{Phase: corev1.PodRunning},
	}
	for _, f := range edit {
		f(p)
	}
	return p
}

func ownedBy(kind, apiVersion string) func(p *corev1.Pod) {
	return func(p *corev1.Pod) {
		p.OwnerReferences = []metav1.OwnerReference{{APIVersion: apiVersion, Kind: kind, Name: "owner", UID: "uid-owner",
			Controller: new(true)}}
	}
}

func mirror(p *corev1.Pod) { p.Annotations = map[string]string{corev1.MirrorPodAnnotationKey: "hash"} }

func succeeded(p *corev1.Pod) { p.Status.Phase = corev1.PodSucceeded }

// fakeCluster is a fake API with one node's worth of pods that answers
// evictions as the API server does: a refused pod gets 429, a failing one
// 500, any other is marked terminating, and a simulated kubelet deletes
// terminating pods a little later (or replaces them, same name, new UID).
type fakeCluster struct {
	client *fake.Clientset
	refuse map[string]bool
	fail   map[string]bool
	// replace makes the kubelet recreate each pod it deletes under a new
	// UID, as a StatefulSet would.
	replace bool

	mu      sync.Mutex
	evicted []string // accepted evictions and deletions
	refused int
}

func newFakeCluster(t *testing.T, objs ...runtime.Object) *fakeCluster {
	t.Helper()
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: drainNode}}
	f := &fakeCluster{client: fake.NewClientset(append([]runtime.Object{node}, objs...)...)}
	tracker := f.client.Tracker()
	f.client.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() != "eviction" {
			return false, nil, nil
		}
		ev := a.(k8stesting.CreateAction).GetObject().(*policyv1.Eviction)
		f.mu.Lock()
		defer f.mu.Unlock()
		switch {
		case f.refuse[ev.Name]:
			f.refused++
			return true, nil, apierrors.NewTooManyRequests("Cannot evict pod as it would violate the pod's disruption budget.", 0)
		case f.fail[ev.Name]:
			return true, nil, apierrors.NewInternalError(errors.New("etcd is sad"))
		}
		obj, err := tracker.Get(podsResource, ev.Namespace, ev.Name)
		if err != nil {
			return true, nil, err
		}
		pod := obj.(*corev1.Pod)
		if p := ev.DeleteOptions; p == nil || p.Preconditions == nil || p.Preconditions.UID == nil || *p.Preconditions.UID != pod.UID {
			t.Errorf("eviction of %s without its UID as precondition: %+v", ev.Name, ev.DeleteOptions)
		}
		now := metav1.Now()
		pod.DeletionTimestamp = &now
		f.evicted = append(f.evicted, ev.Name)
		return true, nil, tracker.Update(podsResource, pod, ev.Namespace)
	})
	f.client.PrependReactor("delete", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		f.mu.Lock()
		f.evicted = append(f.evicted, a.(k8stesting.DeleteAction).GetName())
		f.mu.Unlock()
		return false, nil, nil // the tracker deletes
	})
	return f
}

// runKubelet deletes terminating pods every 20 ms until ctx ends.
func (f *fakeCluster) runKubelet(ctx context.Context) {
	tracker := f.client.Tracker()
	go func() {
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			obj, err := tracker.List(podsResource, schema.GroupVersionKind{Version: "v1", Kind: "Pod"}, "")
			if err != nil {
				continue
			}
			for _, p := range obj.(*corev1.PodList).Items {
				if p.DeletionTimestamp == nil {
					continue
				}
				_ = tracker.Delete(podsResource, p.Namespace, p.Name)
				if f.replace {
					p.UID += "-new"
					p.DeletionTimestamp = nil
					_ = tracker.Add(&p)
				}
			}
		}
	}()
}

// podsLeft are the names of the pods in the fake, sorted.
func (f *fakeCluster) podsLeft(t *testing.T) []string {
	t.Helper()
	list, err := f.client.CoreV1().Pods("").List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, p := range list.Items {
		out = append(out, p.Name)
	}
	slices.Sort(out)
	return out
}

func blockingBudget() *policyv1.PodDisruptionBudget {
	one := intstr.FromInt32(1)
	return &policyv1.PodDisruptionBudget{
		ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "app"},
		Spec:       policyv1.PodDisruptionBudgetSpec{MinAvailable: &one, Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}}},
		Status:     policyv1.PodDisruptionBudgetStatus{CurrentHealthy: 1, DesiredHealthy: 1, ExpectedPods: 1, DisruptionsAllowed: 0},
	}
}

// TestDrain drains a node of a fake API: DaemonSet and mirror pods stay,
// finished pods are deleted, the others are evicted and waited for, and a
// budget that refuses holds the drain until its timeout.
func TestDrain(t *testing.T) {
	t.Parallel()
	// Pods every case starts with: on the node a ReplicaSet's pod, a
	// DaemonSet's, a mirror pod and a finished Job's pod; one pod on
	// another node.
	base := func() []runtime.Object {
		return []runtime.Object{
			fakePod("web-1", drainNode, ownedBy("ReplicaSet", "apps/v1")),
			fakePod("agent-1", drainNode, ownedBy("DaemonSet", "apps/v1")),
			fakePod("etcd-node-a", drainNode, mirror),
			fakePod("job-1", drainNode, ownedBy("Job", "batch/v1"), succeeded),
			fakePod("web-2", "node-b", ownedBy("ReplicaSet", "apps/v1")),
		}
	}
	cases := []struct {
		name    string
		objs    []runtime.Object
		refuse  []string
		fail    []string
		replace bool
		// noNode deletes the node first.
		noNode bool
		// cancel cancels the drain's context after this long.
		cancel      time.Duration
		timeout     time.Duration
		wantEvicted []string
		wantLeft    []string
		// wantErr checks the error; nil wants none.
		wantErr func(t *testing.T, err error)
		// minTook is the least time the drain must take.
		minTook time.Duration
	}{
		{
			name:        "evicts and waits for deletion",
			objs:        base(),
			timeout:     5 * time.Second,
			wantEvicted: []string{"job-1", "web-1"},
			wantLeft:    []string{"agent-1", "etcd-node-a", "web-2"},
		},
		{
			name: "pod without controller and pod already terminating",
			objs: append(base(), fakePod("lonely-1", drainNode), fakePod("old-1", drainNode, func(p *corev1.Pod) {
				now := metav1.Now()
				p.DeletionTimestamp = &now
			})),
			timeout:     5 * time.Second,
			wantEvicted: []string{"job-1", "lonely-1", "web-1"},
			wantLeft:    []string{"agent-1", "etcd-node-a", "web-2"},
		},
		{
			name:        "replaced by a pod with another UID",
			objs:        base(),
			replace:     true,
			timeout:     5 * time.Second,
			wantEvicted: []string{"job-1", "web-1"},
			wantLeft:    []string{"agent-1", "etcd-node-a", "web-1", "web-2"},
		},
		{
			name:        "budget refuses until the timeout",
			objs:        append(base(), fakePod("db-0", drainNode), blockingBudget()),
			refuse:      []string{"db-0"},
			timeout:     300 * time.Millisecond,
			minTook:     300 * time.Millisecond,
			wantEvicted: []string{"job-1", "web-1"},
			wantLeft:    []string{"agent-1", "db-0", "etcd-node-a", "web-2"},
			wantErr: func(t *testing.T, err error) {
				var de *kube.DrainError
				if !errors.As(err, &de) {
					t.Fatalf("want a *DrainError, got %T: %v", err, err)
				}
				want := []string{"pod app/db-0 is still running: eviction blocked by PodDisruptionBudget app/db " +
					"(minAvailable 1; 1 of 1 pods healthy, 0 disruptions allowed)"}
				if diff := cmp.Diff(want, de.Blocked); diff != "" {
					t.Errorf("blocked (-want +got):\n%s", diff)
				}
				if de.Node != drainNode || !apierrors.IsTooManyRequests(err) {
					t.Errorf("error %q: want node %s and the 429 wrapped", err, drainNode)
				}
			},
		},
		{
			name: "eviction fails",
			objs: []runtime.Object{fakePod("agent-1", drainNode, ownedBy("DaemonSet", "apps/v1")),
				fakePod("etcd-node-a", drainNode, mirror), fakePod("db-0", drainNode)},
			fail:     []string{"db-0"},
			timeout:  time.Minute,
			wantLeft: []string{"agent-1", "db-0", "etcd-node-a"},
			wantErr: func(t *testing.T, err error) {
				var de *kube.DrainError
				if !errors.As(err, &de) || !apierrors.IsInternalError(err) || !strings.Contains(err.Error(), "evicting pod app/db-0") {
					t.Errorf("want a *DrainError wrapping the 500 of db-0, got %T: %v", err, err)
				}
			},
		},
		{
			name:        "context ends",
			objs:        append(base(), fakePod("db-0", drainNode), blockingBudget()),
			refuse:      []string{"db-0"},
			cancel:      300 * time.Millisecond,
			minTook:     300 * time.Millisecond,
			wantEvicted: []string{"job-1", "web-1"},
			wantLeft:    []string{"agent-1", "db-0", "etcd-node-a", "web-2"},
			wantErr: func(t *testing.T, err error) {
				if !errors.Is(err, context.Canceled) {
					t.Errorf("want context.Canceled, got %v", err)
				}
			},
		},
		{
			name:   "no such node",
			noNode: true,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeCluster(t, tc.objs...)
			if tc.noNode {
				if err := f.client.CoreV1().Nodes().Delete(t.Context(), drainNode, metav1.DeleteOptions{}); err != nil {
					t.Fatal(err)
				}
			}
			f.refuse, f.fail, f.replace = set(tc.refuse), set(tc.fail), tc.replace
			f.runKubelet(t.Context())
			ctx := t.Context()
			if tc.cancel > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithCancel(ctx)
				time.AfterFunc(tc.cancel, cancel)
			}
			var log strings.Builder
			start := time.Now()
			err := kube.Drain(ctx, f.client, drainNode, kube.DrainOptions{Timeout: tc.timeout, RetryDelay: 20 * time.Millisecond, Log: &log})
			took := time.Since(start)
			t.Logf("log:\n%s", log.String())
			switch {
			case tc.wantErr == nil && err != nil:
				t.Fatalf("drain: %v", err)
			case tc.wantErr != nil:
				if err == nil {
					t.Fatal("drain succeeded, want an error")
				}
				tc.wantErr(t, err)
			}
			if took < tc.minTook {
				t.Errorf("drain took %s, want at least %s", took, tc.minTook)
			}
			// Read the pods before the simulated kubelet may delete more:
			// a drain that returned nil must have waited for them.
			if diff := cmp.Diff(tc.wantLeft, f.podsLeft(t)); diff != "" {
				t.Errorf("pods left (-want +got):\n%s", diff)
			}
			f.mu.Lock()
			evicted := slices.Sorted(slices.Values(f.evicted))
			refused := f.refused
			f.mu.Unlock()
			if diff := cmp.Diff(tc.wantEvicted, evicted); diff != "" {
				t.Errorf("evicted or deleted (-want +got):\n%s", diff)
			}
			if len(tc.refuse) > 0 && refused < 2 {
				t.Errorf("refused eviction tried %d times, want retries", refused)
			}
			if tc.noNode {
				return
			}
			node, err := f.client.CoreV1().Nodes().Get(context.Background(), drainNode, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if !node.Spec.Unschedulable {
				t.Error("node not cordoned")
			}
		})
	}
}

func set(names []string) map[string]bool {
	out := map[string]bool{}
	for _, n := range names {
		out[n] = true
	}
	return out
}
