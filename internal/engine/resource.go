// Package engine plans and applies changes to a graph of typed cloud
// resources. It is cloud-neutral: a Cloud finds, creates, updates and
// deletes resources, and the engine decides what to do and in which order.
//
// The flow follows Terraform's: the desired resources (from the model) are
// compared one by one with what the cloud holds, each comparison giving a
// Change with field-level differences; the Plan is plain data that can be
// printed, saved and applied later; Apply walks the changes as a dependency
// graph, in parallel under a bound, retrying what the cloud says is worth
// retrying.
package engine

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Address names a resource in a cluster: its kind and a name unique within
// the kind, e.g. Subnet/us-east-1a.
type Address struct {
	Kind string `json:"kind"`
	Name string `json:"name"`
}

func (a Address) String() string { return a.Kind + "/" + a.Name }

// IsZero reports whether a is the zero address.
func (a Address) IsZero() bool { return a == Address{} }

// ParseAddress parses "Kind/Name".
func ParseAddress(s string) (Address, error) {
	kind, name, ok := strings.Cut(s, "/")
	if !ok || kind == "" || name == "" {
		return Address{}, fmt.Errorf("address %q: want Kind/Name", s)
	}
	return Address{Kind: kind, Name: name}, nil
}

// Ref is a reference from one resource to another. A desired resource
// refers by address; an actual resource read from the cloud knows the id
// and, when the target is one of the cluster's own, its address too. A ref
// to something the cluster does not manage (an existing VPC) has an id and
// no address.
type Ref struct {
	Addr Address `json:"addr,omitzero"`
	ID   string  `json:"id,omitempty"`
}

// RefTo returns a reference to a managed resource.
func RefTo(kind, name string) Ref { return Ref{Addr: Address{Kind: kind, Name: name}} }

// RefID returns a reference to an unmanaged resource known by id.
func RefID(id string) Ref { return Ref{ID: id} }

// IsZero reports whether r refers to nothing.
func (r Ref) IsZero() bool { return r.Addr.IsZero() && r.ID == "" }

func (r Ref) String() string {
	switch {
	case r.ID != "":
		return r.ID
	case !r.Addr.IsZero():
		return r.Addr.String()
	}
	return ""
}

// Resource is one cloud resource, desired (from the model) or actual (read
// from the cloud). Concrete types live in the cloud package; each is a
// plain struct with an explicit Diff.
type Resource interface {
	// Address is the resource's name in the cluster's graph.
	Address() Address
	// Dependencies are the resources this one refers to: they are created
	// before it and deleted after it.
	Dependencies() []Address
	// Diff compares the receiver, the desired state, with actual, read
	// from the cloud at the same address. References are resolved through
	// refs. No differences means in sync.
	Diff(actual Resource, refs Refs) []FieldDiff
}

// Identified is implemented by actual resources that have a cloud id.
type Identified interface {
	CloudID() string
}

// Refs resolves references to resources planned or applied so far.
type Refs interface {
	// Actual returns the cloud's version of a managed resource, if it
	// exists (already, or because apply created it).
	Actual(Address) (Resource, bool)
}

// ResolveID returns the cloud id a reference stands for, or "" when it
// refers to a resource that does not exist yet.
func ResolveID(refs Refs, r Ref) string {
	if r.ID != "" {
		return r.ID
	}
	if refs == nil || r.Addr.IsZero() {
		return ""
	}
	if a, ok := refs.Actual(r.Addr); ok {
		if id, ok := a.(Identified); ok {
			return id.CloudID()
		}
	}
	return ""
}

// FieldDiff is one field that differs between desired and actual.
type FieldDiff struct {
	// Path names the field, e.g. "maxSize" or "tags[team]".
	Path string `json:"path"`
	// Before and After are the values for display; "" means unset.
	Before string `json:"before"`
	After  string `json:"after"`
	// ForcesReplacement is set when the cloud cannot change the field in
	// place.
	ForcesReplacement bool `json:"forcesReplacement,omitempty"`
}

func (f FieldDiff) String() string {
	s := fmt.Sprintf("%s: %s → %s", f.Path, display(f.Before), display(f.After))
	if f.ForcesReplacement {
		s += " (forces replacement)"
	}
	return s
}

func display(v string) string {
	if v == "" {
		return "(none)"
	}
	return v
}

// Differ accumulates field differences; resource Diff methods use it to
// stay short and uniform.
type Differ struct {
	diffs []FieldDiff
}

// String records a difference when before and after differ.
func (d *Differ) String(path, before, after string) {
	if before != after {
		d.diffs = append(d.diffs, FieldDiff{Path: path, Before: before, After: after})
	}
}

// Immutable records a difference that the cloud cannot apply in place.
func (d *Differ) Immutable(path, before, after string) {
	if before != after {
		d.diffs = append(d.diffs, FieldDiff{Path: path, Before: before, After: after, ForcesReplacement: true})
	}
}

// Int records a difference between two numbers.
func (d *Differ) Int(path string, before, after int64) {
	d.String(path, fmt.Sprint(before), fmt.Sprint(after))
}

// Bool records a difference between two booleans.
func (d *Differ) Bool(path string, before, after bool) {
	d.String(path, fmt.Sprint(before), fmt.Sprint(after))
}

// Set records a difference between two sets of strings, order ignored.
func (d *Differ) Set(path string, before, after []string) {
	b, a := slices.Sorted(slices.Values(before)), slices.Sorted(slices.Values(after))
	d.String(path, strings.Join(b, ","), strings.Join(a, ","))
}

// Ref records a difference between a desired reference and the id the
// cloud holds. A reference to a resource that does not exist yet shows as
// "(known after apply)".
func (d *Differ) Ref(path string, actualID string, desired Ref, refs Refs, immutable bool) {
	want := ResolveID(refs, desired)
	if want == actualID {
		return
	}
	after := want
	if after == "" {
		after = "(" + desired.String() + ", known after apply)"
	}
	d.diffs = append(d.diffs, FieldDiff{Path: path, Before: actualID, After: after, ForcesReplacement: immutable})
}

// Tags records the tags that differ. Tags the cloud has but the desired
// state does not mention are left alone: other tools and AWS itself
// (aws:*) tag resources too.
func (d *Differ) Tags(before, after map[string]string) {
	for _, k := range slices.Sorted(maps.Keys(after)) {
		if v, ok := before[k]; !ok || v != after[k] {
			d.diffs = append(d.diffs, FieldDiff{Path: "tags[" + k + "]", Before: before[k], After: after[k]})
		}
	}
}

// Diffs returns what was recorded.
func (d *Differ) Diffs() []FieldDiff { return d.diffs }

// Cloud does the IO for resources. The AWS implementation batches reads:
// Find answers from one Describe call per kind.
type Cloud interface {
	// Find returns the cloud's version of desired, or nil when it does not
	// exist. refs holds the actual versions of desired's dependencies.
	Find(ctx context.Context, desired Resource, refs Refs) (Resource, error)
	// Orphans returns the resources the cluster owns that no desired
	// address matches, such as the Auto Scaling group of an instance group
	// removed from the spec. Resources the cluster did not make (an
	// existing VPC, load balancers made by Kubernetes) are never orphans.
	Orphans(ctx context.Context, desired map[Address]bool) ([]Resource, error)
	// Create makes desired and returns the actual resource, with its id.
	Create(ctx context.Context, desired Resource, refs Refs) (Resource, error)
	// Update changes actual in place so that it matches desired.
	Update(ctx context.Context, desired, actual Resource, diffs []FieldDiff, refs Refs) (Resource, error)
	// Delete removes actual.
	Delete(ctx context.Context, actual Resource) error
}
