package nodeup

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
)

// Volumes makes an etcd member's volume available at its mount path.
type Volumes interface {
	// Mount finds the volume whose tags are v.Tags, attaches it to this
	// machine and mounts it at v.MountPath, creating a file system the
	// first time. It returns the folder, as seen by this process, that
	// holds the volume.
	Mount(ctx context.Context, v EtcdVolume) (string, error)
}

// RootVolumes stands in for EBS volumes in --root mode: a member's volume is
// the folder MountPath under Root. Nothing is attached.
type RootVolumes struct{ Root string }

var _ Volumes = RootVolumes{}

// Mount creates ROOT/MOUNTPATH/data, the folder etcd's data lives in.
func (r RootVolumes) Mount(_ context.Context, v EtcdVolume) (string, error) {
	dir := filepath.Join(r.Root, filepath.FromSlash(v.MountPath))
	// etcd refuses a data folder others can read.
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o700); err != nil {
		return "", fmt.Errorf("preparing the volume folder %s: %w", dir, err)
	}
	return dir, nil
}
