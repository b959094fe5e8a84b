package registry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/kapstan/kapstan/internal/store"
	api "github.com/kapstan/kapstan/pkg/apis/kapstan/v1alpha1"
)

// maxViewAttempts bounds the retries of one view write that keeps losing
// compare-and-swap races; each loss means a newer writer made progress.
const maxViewAttempts = 5

// materialize brings the config and instancegroup objects up to the newest
// revision, and repeats if another commit landed meanwhile.
func (r *Registry) materialize(ctx context.Context, name string) error {
	var last int
	for range maxViewAttempts {
		head, err := r.Get(ctx, name)
		if err != nil {
			return err
		}
		if head.Revision == last {
			return nil
		}
		if err := r.writeView(ctx, head); err != nil {
			return fmt.Errorf("updating the objects of cluster %q to revision %d: %w", name, head.Revision, err)
		}
		last = head.Revision
	}
	return nil // others keep committing; each of them materializes too
}

// writeView writes each object of snap that the store holds at an older
// generation, and deletes instance groups snap no longer has.
func (r *Registry) writeView(ctx context.Context, snap *Snapshot) error {
	name := snap.Manifests.Cluster.Metadata.Name
	if err := r.putIfNewer(ctx, ConfigKey(name), snap.Manifests.Cluster, snap.Manifests.Cluster.Metadata.Generation); err != nil {
		return err
	}
	for _, ig := range snap.Manifests.InstanceGroups {
		if err := r.putIfNewer(ctx, InstanceGroupKey(name, ig.Metadata.Name), ig, ig.Metadata.Generation); err != nil {
			return err
		}
	}
	prefix := InstanceGroupKey(name, "")
	keys, err := r.store.List(ctx, prefix)
	if err != nil {
		return fmt.Errorf("listing instance groups: %w", err)
	}
	for _, k := range keys {
		if snap.Manifests.InstanceGroup(strings.TrimPrefix(k, prefix)) != nil {
			continue
		}
		obj, err := r.store.Get(ctx, k)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		// An object newer than snap belongs to a later revision that
		// re-created the group; leave it.
		if objectGeneration(obj.Data) > int64(snap.Revision) {
			continue
		}
		if err := r.store.Delete(ctx, k, store.IfMatch(obj.Revision)); err != nil && !errors.Is(err, store.ErrConflict) {
			return err
		}
	}
	return nil
}

// putIfNewer writes obj at key unless the store holds generation gen or a
// newer one there.
func (r *Registry) putIfNewer(ctx context.Context, key string, obj any, gen int64) error {
	data, err := api.EncodeObject(obj)
	if err != nil {
		return err
	}
	for range maxViewAttempts {
		cur, err := r.store.Get(ctx, key)
		pre := store.IfAbsent()
		switch {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			return err
		case objectGeneration(cur.Data) > gen, bytes.Equal(cur.Data, data):
			return nil
		default:
			pre = store.IfMatch(cur.Revision)
		}
		_, err = r.store.Put(ctx, key, data, pre)
		if !errors.Is(err, store.ErrConflict) {
			return err
		}
	}
	return nil // lost every race to newer writers, which write the view themselves
}

// objectGeneration reads metadata.generation from a stored object, or 0.
func objectGeneration(data []byte) int64 {
	var o struct {
		Metadata struct {
			Generation int64 `json:"generation"`
		} `json:"metadata"`
	}
	if yaml.Unmarshal(data, &o) != nil {
		return 0
	}
	return o.Metadata.Generation
}

// ConflictError says that a cluster's spec changed between the moment a
// writer read it and the moment it tried to commit, and what changed.
// errors.Is(err, store.ErrConflict) is true for it.
type ConflictError struct {
	Cluster string
	// Base is the revision the writer read; Head the newest one now.
	Base, Head int
	// Reason is what made the newest revision.
	Reason string
	// Changes lists what differs between Base and Head, e.g.
	// `InstanceGroup "nodes": spec.maxSize`.
	Changes []string
	err     error
}

func (e *ConflictError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "conflict: cluster %q changed since you read revision %d; it is now at revision %d", e.Cluster, e.Base, e.Head)
	if e.Reason != "" {
		fmt.Fprintf(&b, " (%s)", e.Reason)
	}
	if len(e.Changes) > 0 {
		fmt.Fprintf(&b, ", which changed %s", strings.Join(e.Changes, "; "))
	}
	b.WriteString(". Nothing was written: read the cluster again and redo your change.")
	return b.String()
}

// Unwrap returns the store's conflict.
func (e *ConflictError) Unwrap() error { return e.err }

// conflict builds the ConflictError for a commit on base that lost.
func (r *Registry) conflict(ctx context.Context, base *Snapshot, cause error) error {
	name := base.Manifests.Cluster.Metadata.Name
	ce := &ConflictError{Cluster: name, Base: base.Revision, Head: base.Revision + 1, err: cause}
	head, err := r.Get(ctx, name)
	if err != nil {
		return ce // the conflict is what matters; the details are a courtesy
	}
	ce.Head, ce.Reason = head.Revision, head.Reason
	ce.Changes = Changes(base.Manifests, head.Manifests)
	return ce
}

// Changes lists, object by object, the fields that differ between two
// versions of a cluster's manifests, e.g.
// `InstanceGroup "nodes": spec.maxSize, spec.minSize`.
func Changes(a, b *api.Manifests) []string {
	var out []string
	if paths := fieldDiff(a.Cluster.Spec, b.Cluster.Spec, "spec"); len(paths) > 0 {
		out = append(out, fmt.Sprintf("Cluster %q: %s", b.Cluster.Metadata.Name, strings.Join(paths, ", ")))
	}
	names := map[string]bool{}
	for _, ig := range append(slices.Clone(a.InstanceGroups), b.InstanceGroups...) {
		names[ig.Metadata.Name] = true
	}
	sorted := make([]string, 0, len(names))
	for n := range names {
		sorted = append(sorted, n)
	}
	slices.Sort(sorted)
	for _, n := range sorted {
		x, y := a.InstanceGroup(n), b.InstanceGroup(n)
		switch {
		case x == nil:
			out = append(out, fmt.Sprintf("InstanceGroup %q: added", n))
		case y == nil:
			out = append(out, fmt.Sprintf("InstanceGroup %q: removed", n))
		default:
			if paths := fieldDiff(x.Spec, y.Spec, "spec"); len(paths) > 0 {
				out = append(out, fmt.Sprintf("InstanceGroup %q: %s", n, strings.Join(paths, ", ")))
			}
		}
	}
	return out
}
