package kube

import (
	"slices"
	"testing"

	"k8s.io/apimachinery/pkg/util/intstr"

	api "github.com/kapstan/kapstan/pkg/apis/kapstan/v1alpha1"
)

func nodeGroup(surge, unavailable *intstr.IntOrString) *api.InstanceGroup {
	ig := &api.InstanceGroup{Metadata: api.ObjectMeta{Name: "nodes"}, Spec: api.InstanceGroupSpec{Role: api.RoleNode, MinSize: 2, MaxSize: 10}}
	if surge != nil || unavailable != nil {
		ig.Spec.RollingUpdate = &api.RollingUpdateSpec{MaxSurge: surge, MaxUnavailable: unavailable}
	}
	return ig
}

func TestGroupLimits(t *testing.T) {
	n := func(i int) *intstr.IntOrString { v := intstr.FromInt32(int32(i)); return &v }
	p := func(s string) *intstr.IntOrString { v := intstr.FromString(s); return &v }
	cases := []struct {
		name string
		ig   *api.InstanceGroup
		size int
		want Limits
	}{
		{"default surge 1", nodeGroup(nil, nil), 10, Limits{Surge: 1}},
		{"surge 3", nodeGroup(n(3), nil), 10, Limits{Surge: 3}},
		{"surge percent rounds up", nodeGroup(p("25%"), nil), 10, Limits{Surge: 3}},
		{"unavailable percent rounds down", nodeGroup(n(0), p("25%")), 10, Limits{Unavailable: 2}},
		{"both zero surges 1", nodeGroup(n(0), n(0)), 10, Limits{Surge: 1}},
		{"surge and unavailable", nodeGroup(n(2), n(1)), 10, Limits{Surge: 2, Unavailable: 1}},
		{"control plane one at a time", &api.InstanceGroup{Spec: api.InstanceGroupSpec{Role: api.RoleControlPlane,
			RollingUpdate: &api.RollingUpdateSpec{MaxSurge: n(3)}}}, 3, Limits{Unavailable: 1}},
		{"bastion one at a time", &api.InstanceGroup{Spec: api.InstanceGroupSpec{Role: api.RoleBastion}}, 1, Limits{Unavailable: 1}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := GroupLimits(tc.ig, tc.size)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func instancesOf(ids ...string) []Instance {
	var out []Instance
	for _, id := range ids {
		out = append(out, Instance{ID: id})
	}
	return out
}

func TestNextBatch(t *testing.T) {
	replace := map[string]bool{"i-1": true, "i-2": true, "i-3": true, "i-4": true}
	cases := []struct {
		name                string
		group               Group
		limits              Limits
		detach, drain, dirc []string
	}{
		{"surge 1 detaches one", Group{Instances: instancesOf("i-1", "i-2", "i-3", "i-4")}, Limits{Surge: 1},
			[]string{"i-1"}, []string{"i-1"}, nil},
		{"surge 3", Group{Instances: instancesOf("i-1", "i-2", "i-3", "i-4")}, Limits{Surge: 3},
			[]string{"i-1", "i-2", "i-3"}, []string{"i-1", "i-2", "i-3"}, nil},
		{"surge capped by what is left", Group{Instances: instancesOf("i-4", "i-9")}, Limits{Surge: 3},
			[]string{"i-4"}, []string{"i-4"}, nil},
		{"unavailable goes directly", Group{Instances: instancesOf("i-1", "i-2", "i-3")}, Limits{Surge: 1, Unavailable: 1},
			[]string{"i-1"}, []string{"i-1", "i-2"}, []string{"i-2"}},
		{"control plane: one direct", Group{Instances: instancesOf("i-1", "i-2")}, Limits{Unavailable: 1},
			nil, []string{"i-1"}, []string{"i-1"}},
		{"detached from an earlier run go first", Group{Instances: instancesOf("i-1", "i-9"), Detached: instancesOf("i-2")}, Limits{Surge: 3},
			nil, []string{"i-2"}, nil},
		{"replacements are not replaced", Group{Instances: instancesOf("i-8", "i-9")}, Limits{Surge: 1},
			nil, nil, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := NextBatch(&tc.group, replace, tc.limits)
			var drain []string
			for _, in := range b.Drain {
				drain = append(drain, in.ID)
			}
			if !slices.Equal(b.Detach, tc.detach) || !slices.Equal(drain, tc.drain) || !slices.Equal(b.Direct, tc.dirc) {
				t.Fatalf("got detach %v drain %v direct %v; want %v %v %v", b.Detach, drain, b.Direct, tc.detach, tc.drain, tc.dirc)
			}
			if b.Empty() != (len(tc.drain) == 0) {
				t.Fatalf("Empty() = %v with %d to drain", b.Empty(), len(tc.drain))
			}
		})
	}
}

func spec() *api.Manifests {
	ig := func(name string, role api.InstanceGroupRole, n int32) *api.InstanceGroup {
		return &api.InstanceGroup{Metadata: api.ObjectMeta{Name: name}, Spec: api.InstanceGroupSpec{Role: role, MinSize: n, MaxSize: n}}
	}
	return &api.Manifests{
		Cluster: &api.Cluster{Metadata: api.ObjectMeta{Name: "c.k8s.local"}},
		InstanceGroups: []*api.InstanceGroup{ig("nodes-b", api.RoleNode, 2), ig("bastions", api.RoleBastion, 1),
			ig("nodes-a", api.RoleNode, 2), ig("cp", api.RoleControlPlane, 1)},
	}
}

func TestNeedsUpdate(t *testing.T) {
	groups := []Group{
		{Name: "cp", LaunchTemplateVersion: "2", Instances: []Instance{{ID: "i-c", LaunchTemplateVersion: "2"}}},
		{Name: "nodes-a", LaunchTemplateVersion: "3", Instances: []Instance{{ID: "i-a1", LaunchTemplateVersion: "2"}, {ID: "i-a2", LaunchTemplateVersion: "3"}}},
		{Name: "nodes-b", LaunchTemplateVersion: "1", Instances: []Instance{{ID: "i-b1", LaunchTemplateVersion: "1"}}, Detached: []Instance{{ID: "i-b0"}}},
		{Name: "bastions", LaunchTemplateVersion: "1", Instances: []Instance{{ID: "i-x", LaunchTemplateVersion: "1"}}},
	}
	got := NeedsUpdate(spec(), groups, Selection{})
	var order []string
	for _, u := range got {
		order = append(order, u.Name)
	}
	if want := []string{"cp", "bastions", "nodes-a", "nodes-b"}; !slices.Equal(order, want) {
		t.Fatalf("order %v, want %v", order, want)
	}
	byName := map[string]GroupUpdate{}
	for _, u := range got {
		byName[u.Name] = u
	}
	if u := byName["nodes-a"]; !slices.Equal(u.Replace, []string{"i-a1"}) || u.Reason != "launch template is at version 3, instances on 2" {
		t.Errorf("nodes-a: %+v", u)
	}
	if u := byName["nodes-b"]; len(u.Replace) != 0 || !slices.Equal(u.Detached, []string{"i-b0"}) || !u.Pending() {
		t.Errorf("nodes-b: %+v", u)
	}
	if u := byName["cp"]; u.Pending() {
		t.Errorf("cp is up to date but pending: %+v", u)
	}

	forced := NeedsUpdate(spec(), groups, Selection{Force: true, Roles: []api.InstanceGroupRole{api.RoleControlPlane}})
	if len(forced) != 1 || !slices.Equal(forced[0].Replace, []string{"i-c"}) || forced[0].Reason != "forced" {
		t.Errorf("forced control plane: %+v", forced)
	}
	only := NeedsUpdate(spec(), groups, Selection{InstanceGroups: []string{"nodes-b"}})
	if len(only) != 1 || only[0].Name != "nodes-b" {
		t.Errorf("--instance-group nodes-b: %+v", only)
	}
}
