package addons

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/kapstan/kapstan/internal/store"
)

// Prefix is the store prefix of a cluster's add-ons.
func Prefix(cluster string) string { return cluster + "/addons/" }

func indexKey(cluster string) string           { return Prefix(cluster) + "index.yaml" }
func manifestKey(cluster, addon string) string { return Prefix(cluster) + addon + "/manifest.yaml" }
func appliedKey(cluster, addon string) string  { return Prefix(cluster) + addon + "/applied.json" }

// index is the stored list of add-ons to apply.
type index struct {
	Addons []indexEntry `json:"addons"`
}

type indexEntry struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Hash    string `json:"hash"`
}

// record is what one apply of an add-on made.
type record struct {
	Version string      `json:"version"`
	Hash    string      `json:"hash"`
	Applied time.Time   `json:"applied"`
	Objects []ObjectRef `json:"objects"`
}

// Write stores a cluster's rendered add-ons for Apply: each manifest, then
// the index that names them. Manifests of add-ons no longer in the set are
// removed; what they applied stays recorded, so the next Apply deletes it.
// Unchanged objects are not rewritten. It reports whether anything changed.
func Write(ctx context.Context, st store.Store, cluster string, set *Set) (bool, error) {
	changed := false
	put := func(key string, data []byte) error {
		old, err := st.Get(ctx, key)
		if err == nil && bytes.Equal(old.Data, data) {
			return nil
		}
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("reading %s: %w", key, err)
		}
		changed = true
		if _, err := st.Put(ctx, key, data, store.Unconditionally()); err != nil {
			return fmt.Errorf("writing %s: %w", key, err)
		}
		return nil
	}
	var idx index
	for _, a := range set.Addons {
		if err := put(manifestKey(cluster, a.Name), a.Manifest); err != nil {
			return changed, err
		}
		idx.Addons = append(idx.Addons, indexEntry{Name: a.Name, Version: a.Version, Hash: a.Hash()})
	}
	data, err := yaml.Marshal(idx)
	if err != nil {
		return changed, err
	}
	if err := put(indexKey(cluster), data); err != nil {
		return changed, err
	}
	keys, err := st.List(ctx, Prefix(cluster))
	if err != nil {
		return changed, fmt.Errorf("listing add-ons of %s: %w", cluster, err)
	}
	names := set.Names()
	for _, k := range keys {
		if name, ok := addonOf(cluster, k, "manifest.yaml"); ok && !slices.Contains(names, name) {
			changed = true
			if err := st.Delete(ctx, k, store.Unconditionally()); err != nil {
				return changed, fmt.Errorf("removing %s: %w", k, err)
			}
		}
	}
	return changed, nil
}

// addonOf is the add-on a key of file belongs to.
func addonOf(cluster, key, file string) (string, bool) {
	rest, ok := strings.CutPrefix(key, Prefix(cluster))
	if !ok || path.Base(rest) != file || strings.Count(rest, "/") != 1 {
		return "", false
	}
	return path.Dir(rest), true
}

// Load reads the add-ons Write stored, in order. A cluster with none
// written yet has an empty set.
func Load(ctx context.Context, st store.Store, cluster string) (*Set, error) {
	obj, err := st.Get(ctx, indexKey(cluster))
	if errors.Is(err, store.ErrNotFound) {
		return &Set{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the add-ons of %s: %w", cluster, err)
	}
	var idx index
	if err := yaml.UnmarshalStrict(obj.Data, &idx); err != nil {
		return nil, fmt.Errorf("reading %s: %w", obj.Key, err)
	}
	set := &Set{}
	for _, e := range idx.Addons {
		m, err := st.Get(ctx, manifestKey(cluster, e.Name))
		if err != nil {
			return nil, fmt.Errorf("reading add-on %s of %s: %w", e.Name, cluster, err)
		}
		a := &Addon{Name: e.Name, Version: e.Version, Manifest: m.Data}
		if a.Hash() != e.Hash {
			return nil, fmt.Errorf("add-on %s of %s: the manifest in the store does not match its index (written by another update?): run kapstan update cluster %s --yes", e.Name, cluster, cluster)
		}
		set.Addons = append(set.Addons, a)
	}
	return set, nil
}

// readRecords reads every applied record of a cluster, by add-on.
func readRecords(ctx context.Context, st store.Store, cluster string) (map[string]*record, error) {
	keys, err := st.List(ctx, Prefix(cluster))
	if err != nil {
		return nil, fmt.Errorf("listing add-ons of %s: %w", cluster, err)
	}
	out := map[string]*record{}
	for _, k := range keys {
		name, ok := addonOf(cluster, k, "applied.json")
		if !ok {
			continue
		}
		obj, err := st.Get(ctx, k)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", k, err)
		}
		var r record
		if err := json.Unmarshal(obj.Data, &r); err != nil {
			return nil, fmt.Errorf("reading %s: %w", k, err)
		}
		out[name] = &r
	}
	return out, nil
}

func writeRecord(ctx context.Context, st store.Store, cluster, addon string, r *record) error {
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if _, err := st.Put(ctx, appliedKey(cluster, addon), append(data, '\n'), store.Unconditionally()); err != nil {
		return fmt.Errorf("recording add-on %s: %w", addon, err)
	}
	return nil
}
