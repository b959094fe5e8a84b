//go:build !linux

package machine

import (
	"context"
	"errors"
	"net"
	"os"
)

// Machines are Linux containers; elsewhere every host step fails.
var errNotLinux = errors.New("machine: machines run only on Linux")

func listenInNetns(nsPath, addr string) (net.Listener, error)     { return nil, errNotLinux }
func mountOverlay(lower, upper, work, merged string) error        { return errNotLinux }
func unmount(path string) error                                   { return errNotLinux }
func mountsUnder(dir string) ([]string, error)                    { return nil, nil }
func ensureCgroupHierarchies() error                              { return errNotLinux }
func hostLimits() (uint64, uint64, error)                         { return 0, 0, errNotLinux }
func lockFile(ctx context.Context, path string) (*os.File, error) { return nil, errNotLinux }
