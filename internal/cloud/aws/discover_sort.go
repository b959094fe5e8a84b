package aws

import (
	"fmt"
	"slices"

	"github.com/kapstan/kapstan/internal/engine"
)

// Sorting what a discovery found: who made each resource (ownership),
// what it waits for, and whether this delete may touch it.

// groupsOutside lists the Auto Scaling groups that launched the instances
// found, other than the cluster's own: whether each still lives decides
// whether its instances may be deleted.
func groupsOutside(others []tagged, own map[string]bool) []string {
	var out []string
	for _, t := range others {
		if in, ok := t.res.(*Instance); ok && in.GroupName != "" && !own[in.GroupName] && !slices.Contains(out, in.GroupName) {
			out = append(out, in.GroupName)
		}
	}
	slices.Sort(out)
	return out
}

// sorting decides what a delete does with each resource found: pure, so
// that the rules are tested on recorded AWS data.
type sorting struct {
	cluster        string
	ownGroups      map[string]bool
	liveGroups     map[string]bool
	includeForeign bool
}

// sort wraps the resources found with their origin and dependencies, and
// files them into a Discovery. own are kapstan's (its owned listers);
// others are the rest tagged for the cluster.
func (s sorting) sort(own []engine.Resource, others []tagged) *Discovery {
	d := &Discovery{Kept: map[engine.Address]string{}}
	verdicts := map[string]verdict{} // by cloud id
	type item struct {
		res   awsResource
		v     verdict
		after []string
	}
	var items []item
	for _, r := range own {
		items = append(items, item{res: r.(awsResource), v: verdict{Origin: OriginKapstan}})
	}
	// Instances first: a disk or interface that goes with its instance
	// takes the instance's verdict.
	slices.SortStableFunc(others, func(a, b tagged) int {
		_, ai := a.res.(*Instance)
		_, bi := b.res.(*Instance)
		switch {
		case ai && !bi:
			return -1
		case bi && !ai:
			return 1
		}
		return 0
	})
	for _, t := range others {
		v := ownership(s.cluster, t.res.Address().Kind, t.tags, t.groupName, s.ownGroups)
		if iv, ok := verdicts[t.withInstance]; ok && t.withInstance != "" && v.Origin == OriginForeign && iv.Origin != OriginForeign {
			v = verdict{Origin: iv.Origin, Why: "goes with instance " + t.withInstance}
		}
		if v.Origin == OriginShared {
			continue // untagged, never deleted (listed by the caller)
		}
		if id, ok := t.res.(engine.Identified); ok {
			verdicts[id.CloudID()] = v
		}
		items = append(items, item{res: t.res, v: v, after: t.after})
		for _, child := range t.children {
			items = append(items, item{res: child, v: v})
		}
	}

	// Resolve references among everything found, by cloud id.
	index := map[string]engine.Address{}
	groups := map[string]engine.Address{}
	present := map[engine.Address]bool{}
	verdictAt := map[engine.Address]verdict{}
	for _, it := range items {
		verdictAt[it.res.Address()] = it.v
		if id, ok := it.res.(engine.Identified); ok && id.CloudID() != "" {
			index[id.CloudID()] = it.res.Address()
		}
		if g, ok := it.res.(*AutoScalingGroup); ok {
			groups[g.GroupName] = g.Address()
		}
		present[it.res.Address()] = true
	}
	deleting := func(v verdict) bool { return v.Origin != OriginForeign || s.includeForeign }
	for _, it := range items {
		f := &found{awsResource: it.res, origin: it.v.Origin, why: it.v.Why}
		for _, a := range it.res.Dependencies() {
			if present[a] {
				f.deps = append(f.deps, a)
			}
		}
		for _, ref := range refsOf(it.res) {
			if a, ok := index[ref.ID]; ok && ref.ID != "" && !slices.Contains(f.deps, a) && a != it.res.Address() {
				f.deps = append(f.deps, a)
			}
		}
		for _, id := range it.after {
			if a, ok := index[id]; ok {
				f.after = append(f.after, a)
			}
		}
		switch v := it.res.(type) {
		case *Instance:
			if a, ok := groups[v.GroupName]; ok {
				f.after = append(f.after, a)
			}
		case *NetworkInterface:
			f.after = append(f.after, v.DeleteAfter()...)
		}
		if !deleting(it.v) {
			d.Foreign = append(d.Foreign, f)
			continue
		}
		if in, ok := it.res.(*Instance); ok && in.GroupName != "" && s.liveGroups[in.GroupName] {
			if g, ok := groups[in.GroupName]; !ok || !deleting(verdictAt[g]) {
				d.Kept[in.Address()] = fmt.Sprintf("its Auto Scaling group %s is not being deleted and would replace it", in.GroupName)
				d.Foreign = append(d.Foreign, f)
				continue
			}
		}
		d.Delete = append(d.Delete, f)
	}
	s.keepWhatKeptUse(d)
	return d
}

// keepWhatKeptUse keeps, too, what a kept resource holds, transitively:
// what it depends on (its subnet, its security groups, their VPC) and
// what may only go after it (its volumes, a DHCP option set its VPC
// uses). Deleting those would only wait for it until the timeout.
func (s sorting) keepWhatKeptUse(d *Discovery) {
	for {
		held := map[engine.Address]string{}
		for _, r := range d.Foreign {
			if _, kept := d.Kept[r.Address()]; !kept {
				continue
			}
			for _, dep := range r.Dependencies() {
				held[dep] = "kept " + r.Address().String() + " uses it"
			}
		}
		var keep []int
		for i, r := range d.Delete {
			if why, ok := held[r.Address()]; ok {
				d.Kept[r.Address()] = why
				keep = append(keep, i)
				continue
			}
			for _, a := range r.(*found).after {
				if _, kept := d.Kept[a]; kept {
					d.Kept[r.Address()] = "it can only go after kept " + a.String()
					keep = append(keep, i)
					break
				}
			}
		}
		if len(keep) == 0 {
			return
		}
		for j := len(keep) - 1; j >= 0; j-- {
			d.Foreign = append(d.Foreign, d.Delete[keep[j]])
			d.Delete = slices.Delete(d.Delete, keep[j], keep[j]+1)
		}
	}
}
