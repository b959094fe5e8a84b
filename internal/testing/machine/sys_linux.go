//go:build linux

package machine

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// listenInNetns opens a TCP listener on addr inside the network namespace
// at nsPath. The socket stays in that namespace after this thread switches
// back, so the test process serves it while the machine reaches it.
//
// The switch happens on a locked OS thread in its own goroutine: if
// switching back fails, the goroutine ends with the thread still locked and
// the runtime discards that thread, so no other goroutine runs in the
// machine's namespace.
func listenInNetns(nsPath, addr string) (net.Listener, error) {
	type result struct {
		l   net.Listener
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			runtime.UnlockOSThread()
			ch <- result{err: err}
			return
		}
		defer orig.Close()
		target, err := os.Open(nsPath)
		if err != nil {
			runtime.UnlockOSThread()
			ch <- result{err: err}
			return
		}
		defer target.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			ch <- result{err: fmt.Errorf("setns %s: %w", nsPath, err)}
			return
		}
		l, lerr := net.Listen("tcp4", addr)
		if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
			// Keep the thread locked: it dies with this goroutine.
			if l != nil {
				l.Close()
			}
			ch <- result{err: fmt.Errorf("setns back to the host namespace: %w", err)}
			return
		}
		runtime.UnlockOSThread()
		ch <- result{l: l, err: lerr}
	}()
	r := <-ch
	return r.l, r.err
}

// mountOverlay mounts an overlay of lower (read-only) and upper at merged.
func mountOverlay(lower, upper, work, merged string) error {
	opts := "lowerdir=" + lower + ",upperdir=" + upper + ",workdir=" + work
	if err := unix.Mount("overlay", merged, "overlay", 0, opts); err != nil {
		return fmt.Errorf("mount overlay at %s (%s): %w", merged, opts, err)
	}
	return nil
}

// unmount unmounts path; one that is not mounted is no error. A busy
// mount is detached (MNT_DETACH) so nothing stays in the mount table.
func unmount(path string) error {
	err := unix.Unmount(path, 0)
	if err == unix.EBUSY {
		err = unix.Unmount(path, unix.MNT_DETACH)
	}
	if err == unix.EINVAL || err == unix.ENOENT {
		return nil // not a mount point (any more)
	}
	if err != nil {
		return fmt.Errorf("unmount %s: %w", path, err)
	}
	return nil
}

// mountsUnder lists the mount points in the host's mount table at or
// under dir.
func mountsUnder(dir string) ([]string, error) {
	f, err := os.Open("/proc/self/mounts")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	dir = filepath.Clean(dir)
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 {
			continue
		}
		mp := unescapeMount(fields[1])
		if mp == dir || strings.HasPrefix(mp, dir+"/") {
			out = append(out, mp)
		}
	}
	return out, sc.Err()
}

// unescapeMount undoes the octal escapes (\040 for a space) of
// /proc/self/mounts.
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// ensureCgroupHierarchies mounts, on a cgroup v1 host, every enabled
// controller that no hierarchy holds yet (here net_cls,net_prio,
// perf_event and hugetlb), as systemd would. Without them runc cannot
// place a machine in those controllers, so systemd inside mounts them
// itself and every machine shares their global cgroups
// (notes/machines.md, failure 8). On a cgroup v2 host it does nothing.
// The mounts stay: they are the host's, like systemd's own.
func ensureCgroupHierarchies() error {
	var st unix.Statfs_t
	if err := unix.Statfs("/sys/fs/cgroup", &st); err != nil {
		return fmt.Errorf("statfs /sys/fs/cgroup: %w", err)
	}
	if st.Type == unix.CGROUP2_SUPER_MAGIC {
		return nil
	}
	lock, err := os.OpenFile("/run/kapstan-machine-cgroups.lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return err
	}
	defer lock.Close()
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX); err != nil {
		return fmt.Errorf("lock cgroup setup: %w", err)
	}
	unmounted, err := unmountedControllers()
	if err != nil {
		return err
	}
	// net_cls and net_prio share a hierarchy, as systemd mounts them.
	var groups []string
	if unmounted["net_cls"] && unmounted["net_prio"] {
		groups = append(groups, "net_cls,net_prio")
		delete(unmounted, "net_cls")
		delete(unmounted, "net_prio")
	}
	for c := range unmounted {
		groups = append(groups, c)
	}
	for _, g := range groups {
		dir := "/sys/fs/cgroup/" + g
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("cgroup %s: %w", g, err)
		}
		if err := unix.Mount("cgroup", dir, "cgroup", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, g); err != nil {
			return fmt.Errorf("cgroup %s: mount at %s: %w", g, dir, err)
		}
	}
	return nil
}

// unmountedControllers reads /proc/cgroups: enabled controllers in
// hierarchy 0 are mounted nowhere.
func unmountedControllers() (map[string]bool, error) {
	b, err := os.ReadFile("/proc/cgroups")
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) != 4 || strings.HasPrefix(f[0], "#") {
			continue
		}
		if f[1] == "0" && f[3] == "1" {
			out[f[0]] = true
		}
	}
	return out, nil
}

// lockFile takes an exclusive flock on path, waiting until ctx is done.
// The lock goes when the file is closed or the process dies.
func lockFile(ctx context.Context, path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			return f, nil
		}
		if err != unix.EWOULDBLOCK {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// hostLimits returns this process's capability bounding set and its hard
// RLIMIT_NOFILE.
func hostLimits() (capBnd uint64, noFile uint64, err error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "CapBnd:"); ok {
			capBnd, err = strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if err != nil {
				return 0, 0, fmt.Errorf("CapBnd %q: %w", v, err)
			}
		}
	}
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err != nil {
		return 0, 0, fmt.Errorf("getrlimit NOFILE: %w", err)
	}
	return capBnd, rl.Max, nil
}
