package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/kapstan/kapstan/internal/store"
)

// TargetMark records that a cluster's resources were last rendered as
// files for another tool (Terraform, CloudFormation) to apply: that tool
// manages the cluster's cloud resources now, and applying directly would
// fight it.
type TargetMark struct {
	// Target is "terraform" or "cloudformation".
	Target string `json:"target"`
	// Revision is the spec revision rendered.
	Revision int `json:"revision"`
	// Out is the folder the files were written to.
	Out string `json:"out,omitempty"`
	// Time is when they were written.
	Time time.Time `json:"time"`
}

// TargetKey is the key of a cluster's target mark.
func TargetKey(name string) string { return name + "/target" }

// Target returns the cluster's target mark, or nil when it has none.
func (r *Registry) Target(ctx context.Context, name string) (*TargetMark, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	obj, err := r.store.Get(ctx, TargetKey(name))
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the target of cluster %q: %w", name, err)
	}
	var m TargetMark
	if err := json.Unmarshal(obj.Data, &m); err != nil {
		return nil, fmt.Errorf("reading %s: %w", TargetKey(name), err)
	}
	return &m, nil
}

// SetTarget records the cluster's target mark; the time is the
// registry's. The last writer wins: the mark says what was rendered last.
func (r *Registry) SetTarget(ctx context.Context, name string, m TargetMark) error {
	if err := checkName(name); err != nil {
		return err
	}
	m.Time = r.now().UTC()
	data, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("encoding the target of cluster %q: %w", name, err)
	}
	if _, err := r.store.Put(ctx, TargetKey(name), data, store.Unconditionally()); err != nil {
		return fmt.Errorf("recording the target of cluster %q: %w", name, err)
	}
	return nil
}
