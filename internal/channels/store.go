package channels

import (
	"context"
	"errors"
	"fmt"

	"github.com/kapstan/kapstan/internal/store"
)

// Key is the store key of the channel a cluster follows, written by
// `upgrade cluster --channel FILE --yes`. Without it a cluster follows
// the built-in stable channel.
func Key(cluster string) string { return cluster + "/channel.yaml" }

// ForCluster is the channel a cluster follows.
func ForCluster(ctx context.Context, st store.Store, cluster string) (*Channel, error) {
	obj, err := st.Get(ctx, Key(cluster))
	if errors.Is(err, store.ErrNotFound) {
		return Stable()
	}
	if err != nil {
		return nil, fmt.Errorf("reading the channel of %s: %w", cluster, err)
	}
	return Parse(obj.Key, obj.Data)
}

// SaveForCluster makes a cluster follow the channel in data from now on.
func SaveForCluster(ctx context.Context, st store.Store, cluster string, data []byte) error {
	if _, err := Parse(Key(cluster), data); err != nil {
		return err
	}
	if _, err := st.Put(ctx, Key(cluster), data, store.Unconditionally()); err != nil {
		return fmt.Errorf("writing the channel of %s: %w", cluster, err)
	}
	return nil
}
