package nodeup

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Host is what the node's files depend on beyond its configuration: facts
// of the machine itself.
type Host struct {
	// CgroupV1 is set on a host with the legacy cgroup hierarchy (no
	// cgroup2 file system at /sys/fs/cgroup). A kubelet 1.35 or later
	// refuses to start there unless told otherwise.
	CgroupV1 bool
}

// cgroupControllers exists only where /sys/fs/cgroup is a cgroup2 mount.
const cgroupControllers = "/sys/fs/cgroup/cgroup.controllers"

// DetectHost looks at the machine whose / is at root. Under a root other
// than "/" (a test's folder) it looks under that folder, so a test decides
// what it sees by creating ROOT/sys/fs/cgroup/cgroup.controllers or not.
func DetectHost(root string) (Host, error) {
	_, err := os.Stat(filepath.Join(root, filepath.FromSlash(cgroupControllers)))
	switch {
	case err == nil:
		return Host{}, nil
	case errors.Is(err, fs.ErrNotExist):
		return Host{CgroupV1: true}, nil
	}
	return Host{}, fmt.Errorf("detecting the cgroup version: %w", err)
}

// cgroupDriver is the cgroup driver of both containerd (its runc runtime's
// SystemdCgroup option) and the kubelet (cgroupDriver): they must agree, so
// both renderers take it from here. systemd manages the node's cgroups on
// v1 and v2 hosts alike.
const cgroupDriver = "systemd"
