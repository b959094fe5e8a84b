// Package registry keeps cluster specifications in a state store, with a
// revision history and without lost updates.
//
// # Layout
//
// Under the cluster's name the store holds:
//
//	NAME/history/0000000001     every revision of the whole spec, immutable
//	NAME/config                 the Cluster of the newest revision
//	NAME/instancegroup/IG       each InstanceGroup of the newest revision
//	NAME/pki/…, NAME/secrets/…, NAME/addons/…   (owned by other packages)
//
// # Commits
//
// A spec change is committed by creating the next history object with an
// "only if absent" write. That single conditional write is the commit point
// and the serialization point: of two writers that read revision N, exactly
// one creates N+1 and the other gets a *ConflictError saying what changed.
// Because a writer can only create N+1 after reading N, the history never
// has a gap.
//
// The config and instancegroup objects are a materialized view of the newest
// revision, for the nodes and for people browsing the store. Each object
// carries metadata.generation (the revision it last changed in) and is only
// ever replaced by a newer generation, with a compare-and-swap write, so a
// slow writer can never put back an older spec. A writer that dies between
// its commit and the view leaves the view behind; the next commit repairs
// it. Reads of the spec always come from the history, never from the view.
package registry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/kapstan/kapstan/internal/store"
	api "github.com/kapstan/kapstan/pkg/apis/kapstan/v1alpha1"
)

// ErrNotFound is wrapped by errors for a cluster that has no spec.
var ErrNotFound = errors.New("cluster not found")

// ErrExists is wrapped by errors for creating a cluster that exists.
var ErrExists = errors.New("cluster already exists")

// Registry reads and writes cluster specs in a store.
type Registry struct {
	store store.Store
	now   func() time.Time
}

// New returns a registry on s.
func New(s store.Store) *Registry {
	return &Registry{store: s, now: time.Now}
}

// Store is the store the registry writes to.
func (r *Registry) Store() store.Store { return r.store }

// Snapshot is one revision of a cluster's spec.
type Snapshot struct {
	// Revision counts the spec's commits, from 1.
	Revision int
	// Time is when the revision was committed.
	Time time.Time
	// Reason says what made the revision, e.g. "edit instancegroup nodes".
	Reason string
	// Manifests is the spec. Callers may change it and pass it to Update.
	Manifests *api.Manifests
}

// record is the stored form of a snapshot.
type record struct {
	Revision  int       `json:"revision"`
	Time      time.Time `json:"time"`
	Reason    string    `json:"reason"`
	Manifests string    `json:"manifests"`
}

func historyPrefix(name string) string { return name + "/history/" }

func historyKey(name string, rev int) string {
	return fmt.Sprintf("%s%010d", historyPrefix(name), rev)
}

// ConfigKey is the key of a cluster's materialized Cluster object.
func ConfigKey(name string) string { return name + "/config" }

// InstanceGroupKey is the key of a cluster's materialized InstanceGroup.
func InstanceGroupKey(cluster, ig string) string { return cluster + "/instancegroup/" + ig }

// List returns the names of the clusters in the store, sorted.
func (r *Registry) List(ctx context.Context) ([]string, error) {
	keys, err := r.store.List(ctx, "")
	if err != nil {
		return nil, fmt.Errorf("listing clusters: %w", err)
	}
	var names []string
	for _, k := range keys {
		name, rest, ok := strings.Cut(k, "/history/")
		if ok && !strings.Contains(name, "/") && rest != "" && (len(names) == 0 || names[len(names)-1] != name) {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return slices.Compact(names), nil
}

// Get returns the newest revision of a cluster's spec.
func (r *Registry) Get(ctx context.Context, name string) (*Snapshot, error) {
	revs, err := r.revisions(ctx, name)
	if err != nil {
		return nil, err
	}
	if len(revs) == 0 {
		return nil, fmt.Errorf("cluster %q in %s: %w", name, r.store.URL(), ErrNotFound)
	}
	return r.GetRevision(ctx, name, revs[len(revs)-1])
}

// GetRevision returns one revision of a cluster's spec.
func (r *Registry) GetRevision(ctx context.Context, name string, rev int) (*Snapshot, error) {
	key := historyKey(name, rev)
	obj, err := r.store.Get(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("cluster %q has no revision %d: %w", name, rev, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("reading cluster %q revision %d: %w", name, rev, err)
	}
	return decodeRecord(key, obj.Data)
}

func decodeRecord(key string, data []byte) (*Snapshot, error) {
	var rec record
	if err := yaml.UnmarshalStrict(data, &rec); err != nil {
		return nil, fmt.Errorf("reading %s: %w", key, err)
	}
	m, err := api.Decode(key, []byte(rec.Manifests))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", key, err)
	}
	return &Snapshot{Revision: rec.Revision, Time: rec.Time, Reason: rec.Reason, Manifests: m}, nil
}

// revisions lists the revision numbers in a cluster's history, ascending.
func (r *Registry) revisions(ctx context.Context, name string) ([]int, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	keys, err := r.store.List(ctx, historyPrefix(name))
	if err != nil {
		return nil, fmt.Errorf("listing history of cluster %q: %w", name, err)
	}
	revs := make([]int, 0, len(keys))
	for _, k := range keys {
		n, err := strconv.Atoi(strings.TrimPrefix(k, historyPrefix(name)))
		if err == nil && n > 0 {
			revs = append(revs, n)
		}
	}
	slices.Sort(revs)
	return revs, nil
}

func checkName(name string) error {
	if name == "" || strings.ContainsAny(name, "/\\") {
		return fmt.Errorf("cluster name %q: must be a DNS name", name)
	}
	return nil
}

// Create stores the first revision of a new cluster's spec. The manifests
// are defaulted and validated first; nothing is written when they are
// invalid or the cluster exists.
func (r *Registry) Create(ctx context.Context, m *api.Manifests, reason string) (*Snapshot, error) {
	m = m.DeepCopy()
	if err := prepare(m); err != nil {
		return nil, err
	}
	name := m.Cluster.Metadata.Name
	revs, err := r.revisions(ctx, name)
	if err != nil {
		return nil, err
	}
	if len(revs) > 0 {
		return nil, fmt.Errorf("cluster %q in %s: %w", name, r.store.URL(), ErrExists)
	}
	setGenerations(nil, m, 1)
	snap := &Snapshot{Revision: 1, Time: r.now().UTC(), Reason: reason, Manifests: m}
	err = r.commit(ctx, snap)
	var ce *store.ConflictError
	if errors.As(err, &ce) {
		return nil, fmt.Errorf("cluster %q in %s: %w (created by another writer just now)", name, r.store.URL(), ErrExists)
	}
	if err != nil {
		return nil, err
	}
	return snap, r.materialize(ctx, name)
}

// Update stores m as the revision after base. m is defaulted and validated
// first. If another writer committed since base was read, Update returns a
// *ConflictError and writes nothing. If m equals base, Update returns base
// and writes nothing.
func (r *Registry) Update(ctx context.Context, base *Snapshot, m *api.Manifests, reason string) (*Snapshot, error) {
	m = m.DeepCopy()
	if err := prepare(m); err != nil {
		return nil, err
	}
	name := base.Manifests.Cluster.Metadata.Name
	if got := m.Cluster.Metadata.Name; got != name {
		return nil, fmt.Errorf("metadata.name: a cluster cannot be renamed (%q to %q)", name, got)
	}
	next := base.Revision + 1
	if !setGenerations(base.Manifests, m, int64(next)) {
		return base, nil
	}
	snap := &Snapshot{Revision: next, Time: r.now().UTC(), Reason: reason, Manifests: m}
	if err := r.commit(ctx, snap); err != nil {
		var ce *store.ConflictError
		if errors.As(err, &ce) {
			return nil, r.conflict(ctx, base, err)
		}
		return nil, err
	}
	return snap, r.materialize(ctx, name)
}

// Rollback makes a new revision whose spec is that of revision rev.
func (r *Registry) Rollback(ctx context.Context, name string, rev int) (*Snapshot, error) {
	head, err := r.Get(ctx, name)
	if err != nil {
		return nil, err
	}
	old, err := r.GetRevision(ctx, name, rev)
	if err != nil {
		return nil, err
	}
	return r.Update(ctx, head, old.Manifests, fmt.Sprintf("rollback to revision %d", rev))
}

// History returns every revision of a cluster's spec, oldest first.
func (r *Registry) History(ctx context.Context, name string) ([]*Snapshot, error) {
	revs, err := r.revisions(ctx, name)
	if err != nil {
		return nil, err
	}
	if len(revs) == 0 {
		return nil, fmt.Errorf("cluster %q in %s: %w", name, r.store.URL(), ErrNotFound)
	}
	out := make([]*Snapshot, 0, len(revs))
	for _, rev := range revs {
		s, err := r.GetRevision(ctx, name, rev)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// Delete removes every object under the cluster's name: its spec, history,
// keys and secrets. The history goes last, so an interrupted delete leaves
// a cluster that can still be read and deleted again.
func (r *Registry) Delete(ctx context.Context, name string) error {
	if err := checkName(name); err != nil {
		return err
	}
	keys, err := r.store.List(ctx, name+"/")
	if err != nil {
		return fmt.Errorf("listing objects of cluster %q: %w", name, err)
	}
	slices.SortStableFunc(keys, func(a, b string) int {
		ha, hb := strings.HasPrefix(a, historyPrefix(name)), strings.HasPrefix(b, historyPrefix(name))
		switch {
		case ha == hb:
			return 0
		case ha:
			return 1
		default:
			return -1
		}
	})
	for _, k := range keys {
		if err := r.store.Delete(ctx, k, store.Unconditionally()); err != nil {
			return fmt.Errorf("deleting %s: %w", k, err)
		}
	}
	return nil
}

// prepare defaults and validates manifests before they are stored.
func prepare(m *api.Manifests) error {
	if m.Cluster == nil {
		return errors.New("the manifests hold no Cluster")
	}
	api.SetDefaults(m)
	return api.Validate(m)
}

// setGenerations stamps each object of next with the revision it last
// changed in: rev when it differs from its namesake in base (or is new),
// base's generation otherwise. It reports whether anything changed,
// including an instance group being removed.
func setGenerations(base, next *api.Manifests, rev int64) bool {
	changed := false
	if base != nil && sameCluster(base.Cluster, next.Cluster) {
		next.Cluster.Metadata.Generation = base.Cluster.Metadata.Generation
	} else {
		next.Cluster.Metadata.Generation = rev
		changed = true
	}
	for _, ig := range next.InstanceGroups {
		var old *api.InstanceGroup
		if base != nil {
			old = base.InstanceGroup(ig.Metadata.Name)
		}
		if old != nil && sameInstanceGroup(old, ig) {
			ig.Metadata.Generation = old.Metadata.Generation
		} else {
			ig.Metadata.Generation = rev
			changed = true
		}
	}
	if base != nil {
		for _, ig := range base.InstanceGroups {
			if next.InstanceGroup(ig.Metadata.Name) == nil {
				changed = true
			}
		}
	}
	return changed
}

// sameCluster compares two Clusters, ignoring their generations.
func sameCluster(a, b *api.Cluster) bool {
	x, y := *a, *b // shallow copies: only the generation is changed
	x.Metadata.Generation, y.Metadata.Generation = 0, 0
	return sameEncoding(&x, &y)
}

// sameInstanceGroup compares two InstanceGroups, ignoring their generations.
func sameInstanceGroup(a, b *api.InstanceGroup) bool {
	x, y := *a, *b
	x.Metadata.Generation, y.Metadata.Generation = 0, 0
	return sameEncoding(&x, &y)
}

func sameEncoding(a, b any) bool {
	x, errX := api.EncodeObject(a)
	y, errY := api.EncodeObject(b)
	return errX == nil && errY == nil && bytes.Equal(x, y)
}

// commit writes the history object of snap; it fails with a
// *store.ConflictError when that revision exists.
func (r *Registry) commit(ctx context.Context, snap *Snapshot) error {
	body, err := api.Encode(snap.Manifests)
	if err != nil {
		return err
	}
	data, err := yaml.Marshal(record{Revision: snap.Revision, Time: snap.Time, Reason: snap.Reason, Manifests: string(body)})
	if err != nil {
		return fmt.Errorf("encoding revision %d: %w", snap.Revision, err)
	}
	name := snap.Manifests.Cluster.Metadata.Name
	if _, err := r.store.Put(ctx, historyKey(name, snap.Revision), data, store.IfAbsent()); err != nil {
		return fmt.Errorf("committing revision %d of cluster %q: %w", snap.Revision, name, err)
	}
	return nil
}
