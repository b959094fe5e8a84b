package store

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
)

// MemoryStore keeps objects in memory. It is meant for tests: each one is
// independent and its content is lost with it.
type MemoryStore struct {
	name string

	mu      sync.Mutex
	objects map[string][]byte
}

var _ Store = (*MemoryStore)(nil)

// NewMemory returns an empty store. name only shows in URL; two stores with
// the same name share nothing.
func NewMemory(name string) *MemoryStore {
	return &MemoryStore{name: name, objects: map[string][]byte{}}
}

// Get implements [Store].
func (m *MemoryStore) Get(ctx context.Context, key string) (*Object, error) {
	if err := ValidateKey(key); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", key, err)
	}
	m.mu.Lock()
	data, ok := m.objects[key]
	m.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("reading %s: %w", key, ErrNotFound)
	}
	// Stored slices are never modified, but the caller may modify its copy.
	data = slices.Clone(data)
	return &Object{Key: key, Data: data, Revision: contentRevision(data)}, nil
}

// Put implements [Store]. Options are accepted and ignored.
func (m *MemoryStore) Put(ctx context.Context, key string, data []byte, pre Precondition, _ ...PutOption) (Revision, error) {
	if err := ValidateKey(key); err != nil {
		return "", err
	}
	if err := pre.validate(); err != nil {
		return "", fmt.Errorf("writing %s: %w", key, err)
	}
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("writing %s: %w", key, err)
	}
	data = slices.Clone(data)
	if data == nil {
		data = []byte{}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := pre.check("writing", key, m.revisionLocked(key)); err != nil {
		return "", err
	}
	m.objects[key] = data
	return contentRevision(data), nil
}

// Delete implements [Store].
func (m *MemoryStore) Delete(ctx context.Context, key string, pre Precondition) error {
	if err := ValidateKey(key); err != nil {
		return err
	}
	if err := pre.validateDelete(); err != nil {
		return fmt.Errorf("deleting %s: %w", key, err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("deleting %s: %w", key, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := pre.check("deleting", key, m.revisionLocked(key)); err != nil {
		return err
	}
	delete(m.objects, key)
	return nil
}

// revisionLocked returns the current revision of key, "" if absent.
// m.mu must be held.
func (m *MemoryStore) revisionLocked(key string) Revision {
	data, ok := m.objects[key]
	if !ok {
		return ""
	}
	return contentRevision(data)
}

// List implements [Store].
func (m *MemoryStore) List(ctx context.Context, prefix string) ([]string, error) {
	if err := validatePrefix(prefix); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("listing %q: %w", prefix, err)
	}
	m.mu.Lock()
	keys := []string{}
	for k := range m.objects {
		if strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
	}
	m.mu.Unlock()
	slices.Sort(keys)
	return keys, nil
}

// URL implements [Store]: memory:// or memory://name.
func (m *MemoryStore) URL() string { return "memory://" + m.name }
