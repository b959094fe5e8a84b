package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Summarizer is implemented by resources that can say in a few words what
// they are; a create shows it as its reason.
type Summarizer interface {
	Summary() string
}

// ReplacementError lists changes the cloud cannot make in place. kapstan
// does not replace resources behind the user's back: a subnet or VPC range
// that changes needs a new cluster, or a deliberate delete first.
type ReplacementError struct {
	Changes []*Change
}

func (e *ReplacementError) Error() string {
	var b strings.Builder
	b.WriteString("these changes cannot be made in place:")
	for _, c := range e.Changes {
		for _, f := range c.Fields {
			if f.ForcesReplacement {
				fmt.Fprintf(&b, "\n  %s (%s): %s", c.Address, c.ID, f)
			}
		}
	}
	b.WriteString("\nrevert them in the spec, or delete and re-create what they belong to")
	return b.String()
}

// MakePlan compares the desired resources with the cloud and returns the
// plan. It reads from the cloud and never writes to it.
func MakePlan(ctx context.Context, cloud Cloud, cluster string, specRevision int, desired []Resource) (*Plan, error) {
	sorted, err := order(desired)
	if err != nil {
		return nil, err
	}
	refs := newRefMap()
	plan := &Plan{Cluster: cluster, SpecRevision: specRevision}
	var forced []*Change
	for _, r := range sorted {
		actual, err := cloud.Find(ctx, r, refs)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", r.Address(), err)
		}
		c := &Change{Address: r.Address(), DependsOn: r.Dependencies(), desired: r, actual: actual}
		switch {
		case actual == nil:
			c.Action = Create
			if s, ok := r.(Summarizer); ok {
				c.Reason = s.Summary()
			}
		default:
			refs.set(r.Address(), actual)
			if id, ok := actual.(Identified); ok {
				c.ID = id.CloudID()
			}
			c.Fields = r.Diff(actual, refs)
			if len(c.Fields) > 0 {
				c.Action = Update
				if slices.ContainsFunc(c.Fields, func(f FieldDiff) bool { return f.ForcesReplacement }) {
					forced = append(forced, c)
				}
			}
		}
		plan.Changes = append(plan.Changes, c)
	}
	if len(forced) > 0 {
		return nil, &ReplacementError{Changes: forced}
	}
	addrs := make(map[Address]bool, len(sorted))
	for _, r := range sorted {
		addrs[r.Address()] = true
	}
	orphans, err := cloud.Orphans(ctx, addrs)
	if err != nil {
		return nil, fmt.Errorf("finding resources no longer in the spec: %w", err)
	}
	plan.Changes = append(plan.Changes, deletions(orphans)...)
	return plan, nil
}

// DeletesAfter is implemented by resources that must be deleted only after
// some others that do not depend on them: an instance after the Auto
// Scaling group that would replace it, a volume after the instance it is
// attached to.
type DeletesAfter interface {
	DeleteAfter() []Address
}

// DeletePlan is the plan that deletes every one of resources, each after
// those that depend on it. Delete cluster uses it on what discovery found.
func DeletePlan(cluster string, resources []Resource) *Plan {
	return &Plan{Cluster: cluster, Changes: deletions(resources)}
}

// deletions turns orphans into delete changes. A resource is deleted only
// after every orphan that depends on it, so each delete change depends on
// its dependents: the graph's edges reversed.
func deletions(orphans []Resource) []*Change {
	present := map[Address]bool{}
	for _, o := range orphans {
		present[o.Address()] = true
	}
	dependents := map[Address][]Address{}
	for _, o := range orphans {
		for _, d := range o.Dependencies() {
			if present[d] {
				dependents[d] = append(dependents[d], o.Address())
			}
		}
	}
	for _, o := range orphans {
		if da, ok := o.(DeletesAfter); ok {
			for _, first := range da.DeleteAfter() {
				if present[first] {
					dependents[o.Address()] = append(dependents[o.Address()], first)
				}
			}
		}
	}
	out := make([]*Change, 0, len(orphans))
	for _, o := range orphans {
		reason := "no longer in the spec"
		if r, ok := o.(interface{ DeleteReason() string }); ok {
			reason = r.DeleteReason()
		}
		c := &Change{Address: o.Address(), Action: Delete, Reason: reason, DependsOn: dependents[o.Address()], actual: o}
		if id, ok := o.(Identified); ok {
			c.ID = id.CloudID()
		}
		out = append(out, c)
	}
	return out
}

// ErrStalePlan is wrapped by errors for a saved plan that no longer
// matches the spec or the cloud.
var ErrStalePlan = errors.New("saved plan is stale")

// CheckSaved compares a saved plan with a fresh one and returns an error
// wrapping ErrStalePlan unless they make the same changes from the same
// spec revision.
func CheckSaved(saved *SavedPlan, fresh *Plan) error {
	if saved.Plan.Cluster != fresh.Cluster {
		return fmt.Errorf("%w: it is for cluster %q, not %q", ErrStalePlan, saved.Plan.Cluster, fresh.Cluster)
	}
	if saved.Plan.SpecRevision != fresh.SpecRevision {
		return fmt.Errorf("%w: it was made from spec revision %d and the spec is now at revision %d; make a new plan",
			ErrStalePlan, saved.Plan.SpecRevision, fresh.SpecRevision)
	}
	if saved.Fingerprint != fresh.Fingerprint() {
		return fmt.Errorf("%w: the cloud changed since it was made (it planned %s; now: %s); make a new plan",
			ErrStalePlan, saved.Plan.Summary(), fresh.Summary())
	}
	return nil
}
