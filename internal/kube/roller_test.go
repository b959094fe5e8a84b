package kube

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes/fake"

	api "github.com/kapstan/kapstan/pkg/apis/kapstan/v1alpha1"
)

// asgSim is an Auto Scaling group as the roller sees it, kept in memory:
// detaching or terminating a member (without lowering the desired
// capacity) launches a replacement at once, whose node registers Ready at
// once. It records the most instances that ever ran, the batches, and the
// order of the operations. It is for the roller's logic only; the real
// behaviour is tested on moto.
type asgSim struct {
	mu       sync.Mutex
	t        *testing.T
	client   *fake.Clientset
	group    Group
	next     int
	maxAlive int
	ops      []string
	marked   []string
}

func newASGSim(t *testing.T, size int) *asgSim {
	s := &asgSim{t: t, client: fake.NewClientset(),
		group: Group{Name: "nodes", CloudName: "nodes.c", Min: size, Max: size, Desired: size, LaunchTemplateVersion: "2"}}
	for range size {
		s.launch("1")
	}
	return s
}

// launch starts an instance with the template version, and its node.
func (s *asgSim) launch(version string) {
	s.next++
	id := fmt.Sprintf("i-%03d", s.next)
	s.group.Instances = append(s.group.Instances, Instance{ID: id, LaunchTemplateVersion: version})
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-" + id}, Spec: corev1.NodeSpec{ProviderID: "aws:///us-east-1a/" + id},
		Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}}}
	if _, err := s.client.CoreV1().Nodes().Create(context.Background(), node, metav1.CreateOptions{}); err != nil {
		s.t.Error(err)
	}
	s.maxAlive = max(s.maxAlive, len(s.group.Instances)+len(s.group.Detached))
}

func (s *asgSim) gone(id string) {
	if err := s.client.CoreV1().Nodes().Delete(context.Background(), "node-"+id, metav1.DeleteOptions{}); err != nil {
		s.t.Error(err)
	}
}

func (s *asgSim) Groups(context.Context) ([]Group, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.group
	g.Instances, g.Detached = slices.Clone(g.Instances), slices.Clone(g.Detached)
	return []Group{g}, nil
}

func (s *asgSim) Mark(_ context.Context, _ *Group, ids []string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.marked = append(s.marked, ids...)
	return nil
}

func (s *asgSim) Detach(_ context.Context, _ *Group, ids []string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ops = append(s.ops, fmt.Sprintf("detach %d", len(ids)))
	for _, id := range ids {
		i := slices.IndexFunc(s.group.Instances, func(in Instance) bool { return in.ID == id })
		if i < 0 {
			s.t.Errorf("detach %s: not a member", id)
			continue
		}
		s.group.Detached = append(s.group.Detached, s.group.Instances[i])
		s.group.Instances = slices.Delete(s.group.Instances, i, i+1)
		s.launch(s.group.LaunchTemplateVersion)
	}
	return nil
}

func (s *asgSim) Terminate(_ context.Context, _ *Group, ids []string, detached bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ops = append(s.ops, fmt.Sprintf("terminate %d detached=%v", len(ids), detached))
	for _, id := range ids {
		list := &s.group.Instances
		if detached {
			list = &s.group.Detached
		}
		i := slices.IndexFunc(*list, func(in Instance) bool { return in.ID == id })
		if i < 0 {
			s.t.Errorf("terminate %s (detached %v): not found", id, detached)
			continue
		}
		*list = slices.Delete(*list, i, i+1)
		s.gone(id)
		if !detached {
			s.launch(s.group.LaunchTemplateVersion)
		}
	}
	return nil
}

// TestRollingUpdateBatches: for each surge and unavailability setting,
// every old instance is replaced once, in ⌈n/(surge+unavailable)⌉ batches,
// and never more than surge extra instances run.
func TestRollingUpdateBatches(t *testing.T) {
	cases := []struct {
		size, surge, unavailable int
	}{
		{size: 5, surge: 1},
		{size: 6, surge: 3},
		{size: 5, surge: 2, unavailable: 1},
		{size: 4, unavailable: 2},
		{size: 3, surge: 10},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("size %d surge %d unavailable %d", tc.size, tc.surge, tc.unavailable), func(t *testing.T) {
			sim := newASGSim(t, tc.size)
			surge, unav := intstr.FromInt32(int32(tc.surge)), intstr.FromInt32(int32(tc.unavailable))
			m := &api.Manifests{Cluster: &api.Cluster{Metadata: api.ObjectMeta{Name: "c"}},
				InstanceGroups: []*api.InstanceGroup{{Metadata: api.ObjectMeta{Name: "nodes"}, Spec: api.InstanceGroupSpec{
					Role: api.RoleNode, MinSize: int32(tc.size), MaxSize: int32(tc.size),
					RollingUpdate: &api.RollingUpdateSpec{MaxSurge: &surge, MaxUnavailable: &unav}}}}}
			old, _ := sim.Groups(t.Context())
			c := &Cluster{Spec: m, Cloud: sim, Client: sim.client}
			updates, err := c.RollingUpdate(t.Context(), RollOptions{ValidationTimeout: 10 * time.Second, DrainTimeout: 10 * time.Second,
				Interval: time.Millisecond, EvictionRetryDelay: time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			if len(updates) != 1 || len(updates[0].Replace) != tc.size {
				t.Fatalf("updates %+v, want %d to replace", updates, tc.size)
			}
			now, _ := sim.Groups(t.Context())
			for _, in := range now[0].Instances {
				if in.LaunchTemplateVersion != "2" || slices.ContainsFunc(old[0].Instances, func(o Instance) bool { return o.ID == in.ID }) {
					t.Errorf("instance %s (version %s) was not replaced", in.ID, in.LaunchTemplateVersion)
				}
			}
			if len(now[0].Instances) != tc.size || len(now[0].Detached) != 0 {
				t.Errorf("%d members, %d detached after the roll; want %d, 0", len(now[0].Instances), len(now[0].Detached), tc.size)
			}
			perBatch := min(tc.size, max(tc.surge+tc.unavailable, 1))
			wantBatches := int(math.Ceil(float64(tc.size) / float64(perBatch)))
			// With a surge every batch starts with one detach; without,
			// it is one call terminating members.
			batches := 0
			for _, op := range sim.ops {
				if (tc.surge > 0 && strings.HasPrefix(op, "detach")) || (tc.surge == 0 && strings.HasPrefix(op, "terminate")) {
					batches++
				}
			}
			if batches != wantBatches {
				t.Errorf("%d batches (%v), want %d", batches, sim.ops, wantBatches)
			}
			if extra := sim.maxAlive - tc.size; extra > tc.surge {
				t.Errorf("%d extra instances ran at once, surge is %d", extra, tc.surge)
			}
			if tc.surge > 0 && len(sim.marked) != tc.size {
				t.Errorf("marked %d instances before detaching, want %d", len(sim.marked), tc.size)
			}
		})
	}
}
