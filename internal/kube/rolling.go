package kube

import (
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/util/intstr"

	api "github.com/kapstan/kapstan/pkg/apis/kapstan/v1alpha1"
)

// Selection chooses what a rolling update replaces.
type Selection struct {
	// InstanceGroups limits it to these groups; empty means all.
	InstanceGroups []string
	// Roles limits it to groups of these roles; empty means all.
	Roles []api.InstanceGroupRole
	// Force replaces every instance, up to date or not.
	Force bool
}

// GroupUpdate is one instance group's part of a rolling update: which of
// its instances are to be replaced, and why.
type GroupUpdate struct {
	Name string                `json:"name"`
	Role api.InstanceGroupRole `json:"role"`
	// Instances is how many the group runs, Min and Max its spec's sizes.
	Instances int `json:"instances"`
	Min       int `json:"min"`
	Max       int `json:"max"`
	// Replace are the IDs of the members to replace, and Detached those of
	// instances an interrupted rolling update detached and did not
	// terminate.
	Replace  []string `json:"replace"`
	Detached []string `json:"detached,omitempty"`
	// Reason says why, for display.
	Reason string `json:"reason,omitempty"`
}

// Pending reports whether anything of the group is to be replaced.
func (u *GroupUpdate) Pending() bool { return len(u.Replace)+len(u.Detached) > 0 }

// NeedsUpdate says, for every selected instance group of the spec (in the
// order they roll: control plane, bastions, nodes; by name within a role),
// which instances to replace: those launched with another launch-template
// version than their group launches now, every one with Force, and any an
// interrupted rolling update left detached.
func NeedsUpdate(m *api.Manifests, groups []Group, sel Selection) []GroupUpdate {
	byName := map[string]*Group{}
	for i := range groups {
		byName[groups[i].Name] = &groups[i]
	}
	var out []GroupUpdate
	for _, ig := range rollOrder(m) {
		name, s := ig.Metadata.Name, ig.Spec
		if len(sel.InstanceGroups) > 0 && !slices.Contains(sel.InstanceGroups, name) {
			continue
		}
		if len(sel.Roles) > 0 && !slices.Contains(sel.Roles, s.Role) {
			continue
		}
		u := GroupUpdate{Name: name, Role: s.Role, Min: int(s.MinSize), Max: int(s.MaxSize)}
		g := byName[name]
		if g == nil {
			u.Reason = "no Auto Scaling group yet"
			out = append(out, u)
			continue
		}
		u.Instances = len(g.Instances)
		versions := map[string]int{}
		for _, in := range g.Instances {
			switch {
			case sel.Force:
				u.Replace = append(u.Replace, in.ID)
			case in.LaunchTemplateVersion != g.LaunchTemplateVersion:
				u.Replace = append(u.Replace, in.ID)
				versions[in.LaunchTemplateVersion]++
			}
		}
		for _, in := range g.Detached {
			u.Detached = append(u.Detached, in.ID)
		}
		var why []string
		if len(versions) > 0 {
			var old []string
			for v := range versions {
				if v == "" {
					v = "unknown"
				}
				old = append(old, v)
			}
			slices.Sort(old)
			why = append(why, fmt.Sprintf("launch template is at version %s, instances on %s", g.LaunchTemplateVersion, strings.Join(old, ", ")))
		}
		if sel.Force && len(u.Replace) > 0 {
			why = append(why, "forced")
		}
		if len(u.Detached) > 0 {
			why = append(why, fmt.Sprintf("%d detached by an interrupted rolling update", len(u.Detached)))
		}
		u.Reason = strings.Join(why, "; ")
		out = append(out, u)
	}
	return out
}

// rollOrder is the spec's groups in the order they roll: control plane
// first (the API must keep quorum while the rest moves), then bastions,
// then nodes; by name within each role.
func rollOrder(m *api.Manifests) []*api.InstanceGroup {
	rank := map[api.InstanceGroupRole]int{api.RoleControlPlane: 0, api.RoleBastion: 1, api.RoleNode: 2}
	igs := slices.Clone(m.InstanceGroups)
	slices.SortStableFunc(igs, func(a, b *api.InstanceGroup) int {
		if d := rank[a.Spec.Role] - rank[b.Spec.Role]; d != 0 {
			return d
		}
		return strings.Compare(a.Metadata.Name, b.Metadata.Name)
	})
	return igs
}

// Limits are how a group is replaced: Surge instances are launched before
// old ones go (by detaching the old ones, so the group replaces them), and
// Unavailable more are drained and terminated without a replacement
// waiting. One batch replaces Surge+Unavailable instances.
type Limits struct {
	Surge, Unavailable int
}

// GroupLimits resolves a group's rollingUpdate settings against its size.
// Control-plane and bastion groups replace one instance at a time and never
// surge: a control-plane node's etcd member and volume are its own, and
// etcd must keep quorum. Node groups default to a surge of 1; percentages
// count from the group's size, the surge rounding up and the unavailable
// count down, as a Deployment's do. If both come to 0, the surge is 1.
func GroupLimits(ig *api.InstanceGroup, size int) (Limits, error) {
	if ig.Spec.Role != api.RoleNode {
		return Limits{Unavailable: 1}, nil
	}
	l := Limits{Surge: 1}
	if ru := ig.Spec.RollingUpdate; ru != nil {
		if ru.MaxSurge != nil {
			v, err := intstr.GetScaledValueFromIntOrPercent(ru.MaxSurge, size, true)
			if err != nil {
				return Limits{}, fmt.Errorf("instance group %s: spec.rollingUpdate.maxSurge: %w", ig.Metadata.Name, err)
			}
			l.Surge = v
		}
		if ru.MaxUnavailable != nil {
			v, err := intstr.GetScaledValueFromIntOrPercent(ru.MaxUnavailable, size, false)
			if err != nil {
				return Limits{}, fmt.Errorf("instance group %s: spec.rollingUpdate.maxUnavailable: %w", ig.Metadata.Name, err)
			}
			l.Unavailable = v
		}
	}
	if l.Surge <= 0 && l.Unavailable <= 0 {
		l.Surge = 1
	}
	return l, nil
}

// Batch is the next step of a group's roll.
type Batch struct {
	// Detach are members to detach now, so the group launches their
	// replacements before they are drained.
	Detach []string
	// Drain are the instances to drain and then terminate: the detached
	// ones (from Detach, or left by an earlier run) and members to
	// terminate without a replacement waiting.
	Drain []Instance
	// Direct is the subset of Drain still in the group: terminated
	// through it, which then replaces them.
	Direct []string
}

// Empty reports whether the group has nothing left to replace.
func (b *Batch) Empty() bool { return len(b.Drain) == 0 }

// NextBatch chooses the next batch of a group's roll, given the group as
// it is now and the IDs chosen for replacement when the roll began. An
// instance detached earlier is finished first, before anything new is
// detached; otherwise up to l.Surge members are detached and up to
// l.Unavailable more go directly.
func NextBatch(g *Group, replace map[string]bool, l Limits) Batch {
	var b Batch
	if len(g.Detached) > 0 {
		b.Drain = slices.Clone(g.Detached)
		return b
	}
	var old []Instance
	for _, in := range g.Instances {
		if replace[in.ID] {
			old = append(old, in)
		}
	}
	n := min(l.Surge, len(old))
	for _, in := range old[:n] {
		b.Detach = append(b.Detach, in.ID)
		b.Drain = append(b.Drain, in)
	}
	for _, in := range old[n:min(len(old), n+l.Unavailable)] {
		b.Direct = append(b.Direct, in.ID)
		b.Drain = append(b.Drain, in)
	}
	return b
}
