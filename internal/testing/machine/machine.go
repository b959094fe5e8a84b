// Package machine runs "machines" for tests: containers on this computer
// that play EC2 instances. Each is a runc container with systemd as PID 1
// on an overlay of a cached Debian root file system, in its own network
// namespace with the instance's private address on a bridge the test
// made. It runs the instance's user-data at boot as cloud-init would, and
// answers its own metadata service (IMDSv2) at 169.254.169.254.
//
//	n := machine.NewNetwork(t, machine.NetworkConfig{CIDR: netip.MustParsePrefix("10.0.0.0/16")})
//	motoAddr, _ := n.Expose(moto.Addr) // moto on loopback, reachable from the machines
//	m, err := n.Start(ctx, machine.Instance{ID: "i-0abc", Region: "us-east-1", ...})
//	state, err := m.WaitRunning(ctx)
//	out, err := m.Exec(ctx, "cat", "/etc/hostname")
//
// It needs root, runc, ip(8) and the root file system that `make
// machine-rootfs` (hack/machine-rootfs/build.sh) builds once per computer.
// There is no skipping: without them [NewNetwork] fails the test and says
// what to run. The recipe and its six fixes are in notes/machines.md.
package machine

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

const (
	// RootFSVersion names the root file system recipe; it must equal
	// ROOTFS_VERSION in hack/machine-rootfs/build.sh (a test checks it).
	RootFSVersion = "bookworm-r1"
	// RootFSDirEnv overrides the root file system dir.
	RootFSDirEnv = "MACHINE_ROOTFS_DIR"

	// BuildCommand builds the root file system and installs the host
	// tools; error messages name it.
	BuildCommand = "sudo make machine-rootfs"
	buildHint    = "run `" + BuildCommand + "` (hack/machine-rootfs/build.sh: installs debootstrap and runc, " +
		"then builds a Debian bookworm root file system once, about 4 minutes)"

	containerPrefix = "kmach-"
	workDirPrefix   = "kapstan-machines-"
	cgroupParent    = "machines"
	metadataIP      = "169.254.169.254"
)

// DefaultRootFSDir is where build.sh puts the root file system when
// MACHINE_ROOTFS_DIR is unset: $HOME/.cache/kapstan/machine-rootfs/VERSION.
func DefaultRootFSDir() (string, error) {
	home, err := os.UserHomeDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(home, ".cache", "kapstan", "machine-rootfs", RootFSVersion), nil
}

// FindRootFS locates the root file system in $MACHINE_ROOTFS_DIR, else in
// [DefaultRootFSDir], and checks it was built by this recipe.
func FindRootFS() (string, error) {
	dir, from := os.Getenv(RootFSDirEnv), "$"+RootFSDirEnv
	if dir == "" {
		d, err := DefaultRootFSDir()
		if err != nil {
			return "", fmt.Errorf("machine: finding the root file system: %w; set $%s", err, RootFSDirEnv)
		}
		dir, from = d, "default dir"
	}
	stamp, err := os.ReadFile(filepath.Join(dir, "etc", "kapstan-machine-image"))
	if err != nil || !slices.Contains(strings.Split(string(stamp), "\n"), "version="+RootFSVersion) {
		return "", fmt.Errorf("machine: no root file system %s in %s (%s); %s", RootFSVersion, dir, from, buildHint)
	}
	return dir, nil
}

// Check reports what this computer lacks to run machines: root, runc and
// ip(8), and the command that fixes it.
func Check() error {
	var errs []error
	if os.Geteuid() != 0 {
		errs = append(errs, errors.New("machines need root (runc, network namespaces, mounts): run the tests as root"))
	}
	for _, tool := range []string{"runc", "ip"} {
		if _, err := exec.LookPath(tool); err != nil {
			errs = append(errs, fmt.Errorf("%s not found; %s", tool, buildHint))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("machine: %w", err)
	}
	return nil
}

// Machine is one running instance. Stop it, or Close its network.
type Machine struct {
	// ID is the runc container ID and the network namespace's name,
	// kmach-PID-N.
	ID string
	// Instance holds the facts it plays, defaults filled in.
	Instance Instance
	// Started is when runc started it.
	Started time.Time

	net      *Network
	dir      string // per-machine work dir
	merged   string // the overlay, the machine's /
	bundle   string
	veth     string // host end
	mac      string
	imds     *http.Server
	stopOnce sync.Once
	stopErr  error
}

func netnsPath(id string) string { return "/run/netns/" + id }

// vethName is the host end of machine m's link, kv-PID-N shortened to
// the 15 bytes of an interface name.
func vethName(pid, m int) string { return fmt.Sprintf("kv%d-%d", pid, m) }

// macFor derives a stable, locally administered MAC from the address.
func macFor(a netip.Addr) string {
	b := a.As4()
	return fmt.Sprintf("0e:00:%02x:%02x:%02x:%02x", b[0], b[1], b[2], b[3])
}

// Start boots a machine for inst: its network namespace and veth, its
// metadata service, an overlay root with its host name and user-data, and
// a runc container running systemd. It returns once runc has started
// systemd; use [Machine.WaitRunning] to wait for the boot. On error
// nothing of the machine is left.
func (n *Network) Start(ctx context.Context, inst Instance) (*Machine, error) {
	if err := inst.validate(); err != nil {
		return nil, fmt.Errorf("machine %s: %w", inst.ID, err)
	}
	inst = inst.withDefaults()
	if !n.cfg.CIDR.Contains(inst.PrivateIP.Addr()) || inst.PrivateIP.Addr() == n.cfg.Gateway {
		return nil, fmt.Errorf("machine %s: address %s is outside %s or is the gateway", inst.ID, inst.PrivateIP, n.cfg.CIDR)
	}
	networks.Lock()
	networks.machines++
	seq := networks.machines
	networks.Unlock()
	pid := os.Getpid()
	m := &Machine{
		ID:       fmt.Sprintf("%s%d-%d", containerPrefix, pid, seq),
		Instance: inst,
		net:      n,
		dir:      filepath.Join(n.dir, fmt.Sprintf("%d-%s", seq, inst.ID)),
		veth:     vethName(pid, seq),
		mac:      macFor(inst.PrivateIP.Addr()),
	}
	m.merged = filepath.Join(m.dir, "rootfs")
	m.bundle = filepath.Join(m.dir, "bundle")
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil, fmt.Errorf("machine %s: network closed", inst.ID)
	}
	n.live[m] = true
	n.started = append(n.started, m)
	n.mu.Unlock()
	if err := m.start(ctx); err != nil {
		return nil, errors.Join(fmt.Errorf("machine %s (%s): start: %w", m.ID, inst.ID, err), m.Stop())
	}
	return m, nil
}

func (m *Machine) start(ctx context.Context) error {
	n := m.net
	for _, d := range []string{"upper", "work", "rootfs", "containerd", "bundle"} {
		if err := os.MkdirAll(filepath.Join(m.dir, d), 0o755); err != nil {
			return err
		}
	}
	if err := m.setupNetwork(ctx); err != nil {
		return err
	}
	if err := m.startMetadata(); err != nil {
		return err
	}
	if err := mountOverlay(n.cfg.RootFS, filepath.Join(m.dir, "upper"), filepath.Join(m.dir, "work"), m.merged); err != nil {
		return err
	}
	for _, f := range machineFiles(m.Instance, n.cfg.Nameservers) {
		if err := writeInRoot(m.merged, f); err != nil {
			return fmt.Errorf("write %w", err)
		}
	}
	spec := newSpec(specConfig{
		RootFS:      m.merged,
		Hostname:    m.Instance.Hostname,
		NetNS:       netnsPath(m.ID),
		CgroupsPath: "/" + cgroupParent + "/" + m.ID,
		Containerd:  filepath.Join(m.dir, "containerd"),
		CapBnd:      n.capBnd,
		NoFile:      n.noFile,
		MemoryLimit: n.cfg.MemoryLimit,
	})
	b, err := spec.marshal()
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(m.bundle, "config.json"), b, 0o600); err != nil {
		return err
	}
	console, err := os.OpenFile(m.consolePath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer console.Close()
	// -d: runc returns once systemd runs; systemd's console output goes
	// to console.log. A file, not a pipe, so Wait does not wait for it.
	cmd := exec.CommandContext(ctx, "runc", "run", "-d", "--bundle", m.bundle,
		"--pid-file", filepath.Join(m.bundle, "pid"), m.ID)
	cmd.Stdout, cmd.Stderr = console, console
	m.Started = time.Now()
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("runc run: %w\n%s", err, tail(m.consolePath(), 20))
	}
	return nil
}

// setupNetwork makes the namespace and the veth into the bridge, the
// instance's address with an on-link route over the whole CIDR and a
// default route via the gateway, and the metadata address on loopback.
func (m *Machine) setupNetwork(ctx context.Context) error {
	n := m.net
	ns := m.ID
	steps := [][]string{
		{"netns", "add", ns},
		{"link", "add", m.veth, "type", "veth", "peer", "name", "eth0", "address", m.mac, "netns", ns},
		{"link", "set", m.veth, "master", n.bridge, "up"},
		{"-n", ns, "link", "set", "lo", "up"},
		{"-n", ns, "addr", "add", metadataIP + "/32", "dev", "lo"},
		{"-n", ns, "addr", "add", m.Instance.PrivateIP.String(), "dev", "eth0"},
		{"-n", ns, "link", "set", "eth0", "up"},
		{"-n", ns, "route", "replace", n.cfg.CIDR.String(), "dev", "eth0", "src", m.Instance.PrivateIP.Addr().String()},
		{"-n", ns, "route", "add", "default", "via", n.cfg.Gateway.String(), "dev", "eth0", "onlink"},
	}
	for _, s := range steps {
		if err := ip(ctx, s...); err != nil {
			return err
		}
	}
	return nil
}

// startMetadata listens on 169.254.169.254:80 inside the machine's
// namespace and serves the instance's metadata from this process.
func (m *Machine) startMetadata() error {
	l, err := listenInNetns(netnsPath(m.ID), MetadataAddr)
	if err != nil {
		return fmt.Errorf("metadata service: %w", err)
	}
	m.imds = &http.Server{
		Handler:           newMetadataService(m.Instance, m.mac, time.Now),
		ReadHeaderTimeout: 10 * time.Second,
	}
	go func() { _ = m.imds.Serve(l) }()
	return nil
}

// RootFS is the machine's root as the host sees it (the merged overlay).
// Files under /run and /tmp are on tmpfs inside and not seen here.
func (m *Machine) RootFS() string { return m.merged }

// Addr is the machine's private address.
func (m *Machine) Addr() netip.Addr { return m.Instance.PrivateIP.Addr() }

func (m *Machine) consolePath() string { return filepath.Join(m.dir, "console.log") }

// Exec runs args inside the machine (runc exec, as root, in its
// namespaces) and returns its stdout and stderr combined. A non-zero exit
// is an error that carries the output; the output is returned too.
func (m *Machine) Exec(ctx context.Context, args ...string) ([]byte, error) {
	out, err := exec.CommandContext(ctx, "runc", append([]string{"exec", m.ID}, args...)...).CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("machine %s: exec %q: %w: %s", m.ID, args, err, strings.TrimSpace(string(out)))
	}
	return out, nil
}

// WaitRunning waits until `systemctl is-system-running` inside says
// running or degraded, and returns that state. While systemd boots, and
// while the user-data runs, it says starting. On timeout the error names
// the last state and the failed units.
func (m *Machine) WaitRunning(ctx context.Context) (string, error) {
	state := ""
	for {
		out, _ := exec.CommandContext(ctx, "runc", "exec", m.ID, "systemctl", "is-system-running").Output()
		state = strings.TrimSpace(string(out))
		if state == "running" || state == "degraded" {
			return state, nil
		}
		select {
		case <-ctx.Done():
			failed, _ := m.Exec(context.Background(), "systemctl", "--failed", "--no-legend", "--plain")
			return state, fmt.Errorf("machine %s: system state %q after %s (failed units: %s): %w",
				m.ID, state, time.Since(m.Started).Round(time.Millisecond), strings.TrimSpace(string(failed)), ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Journal returns the last lines of the machine's journal for this boot.
func (m *Machine) Journal(ctx context.Context, lines int) (string, error) {
	out, err := m.Exec(ctx, "journalctl", "--no-pager", "-b", "-n", strconv.Itoa(lines))
	return string(out), err
}

// Diagnostics is what to log when a test fails: the failed units, the
// journal's tail, the user-data output and runc's console log.
func (m *Machine) Diagnostics(ctx context.Context) string {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	var b strings.Builder
	failed, err := m.Exec(ctx, "systemctl", "--failed", "--no-legend", "--plain")
	fmt.Fprintf(&b, "--- failed units:\n%s", failed)
	if err != nil {
		fmt.Fprintf(&b, "(%v)\n", err)
	}
	j, err := m.Journal(ctx, 150)
	fmt.Fprintf(&b, "--- journal (last 150 lines):\n%s", j)
	if err != nil {
		fmt.Fprintf(&b, "(%v)\n", err)
	}
	fmt.Fprintf(&b, "--- %s:\n%s", UserDataLogPath, tail(filepath.Join(m.merged, UserDataLogPath), 50))
	fmt.Fprintf(&b, "--- runc console:\n%s", tail(m.consolePath(), 30))
	return b.String()
}

// tail returns the last n lines of a file, or why it can't.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(%v)\n", err)
	}
	lines := strings.SplitAfter(string(b), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "")
}

// Stop kills the machine (runc kill KILL, then runc delete, which removes
// its cgroups), stops its metadata service, deletes its veth and network
// namespace, unmounts its root and removes its work dir. It is safe to
// call more than once; what is already gone is no error.
func (m *Machine) Stop() error {
	m.stopOnce.Do(func() {
		m.stopErr = m.stop()
		m.net.mu.Lock()
		delete(m.net.live, m)
		m.net.mu.Unlock()
	})
	return m.stopErr
}

func (m *Machine) stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var errs []error
	if runcContainers(ctx)[m.ID] {
		_ = exec.CommandContext(ctx, "runc", "kill", m.ID, "KILL").Run()
		waitStopped(ctx, m.ID)
		if out, err := exec.CommandContext(ctx, "runc", "delete", "--force", m.ID).CombinedOutput(); err != nil {
			errs = append(errs, fmt.Errorf("runc delete %s: %w: %s", m.ID, err, strings.TrimSpace(string(out))))
		}
	}
	removeCgroups(m.ID) // runc removes them; this catches a crashed runc
	if m.imds != nil {
		_ = m.imds.Close() // the listener holds the namespace open
	}
	if linkExists(m.veth) {
		if err := ip(ctx, "link", "del", m.veth); err != nil {
			errs = append(errs, err)
		}
	}
	if _, err := os.Stat(netnsPath(m.ID)); err == nil {
		if err := ip(ctx, "netns", "del", m.ID); err != nil {
			errs = append(errs, err)
		}
	}
	if err := removeDir(m.dir); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("machine %s (%s): stop: %w", m.ID, m.Instance.ID, err)
	}
	return nil
}

// waitStopped waits (at most 10 s) until runc no longer reports the
// container running.
func waitStopped(ctx context.Context, id string) {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		out, err := exec.CommandContext(ctx, "runc", "state", id).Output()
		if err != nil || !strings.Contains(string(out), `"status": "running"`) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// removeDir unmounts everything under dir, deepest first, then removes
// it. It refuses to remove a dir that still has a mount under it.
func removeDir(dir string) error {
	mounts, err := mountsUnder(dir)
	if err != nil {
		return err
	}
	slices.SortFunc(mounts, func(a, b string) int { return len(b) - len(a) })
	for _, mp := range mounts {
		if err := unmount(mp); err != nil {
			return err
		}
	}
	if mounts, _ := mountsUnder(dir); len(mounts) > 0 {
		return fmt.Errorf("remove %s: still mounted: %s", dir, strings.Join(mounts, ", "))
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("remove %s: %w", dir, err)
	}
	return nil
}

// runcContainers returns the IDs runc knows (in its default state dir).
func runcContainers(ctx context.Context) map[string]bool {
	out, err := exec.CommandContext(ctx, "runc", "list", "-q").Output()
	ids := map[string]bool{}
	if err != nil {
		return ids
	}
	for _, id := range strings.Fields(string(out)) {
		ids[id] = true
	}
	return ids
}

// cgroupRoots are the mounted cgroup hierarchies (v1: one per controller
// set; v2: the unified root).
func cgroupRoots() []string {
	var roots []string
	entries, err := os.ReadDir("/sys/fs/cgroup")
	if err != nil {
		return nil
	}
	for _, e := range entries {
		if e.IsDir() {
			roots = append(roots, filepath.Join("/sys/fs/cgroup", e.Name()))
		}
	}
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		roots = append(roots, "/sys/fs/cgroup") // v2
	}
	return roots
}

// machineCgroups lists the cgroup dirs of machine id still present.
func machineCgroups(id string) []string {
	var out []string
	for _, r := range cgroupRoots() {
		p := filepath.Join(r, cgroupParent, id)
		if _, err := os.Stat(p); err == nil {
			out = append(out, p)
		}
	}
	return out
}

// removeCgroups removes machine id's cgroups in every hierarchy, deepest
// first (rmdir only: a cgroup with tasks stays and is reported).
func removeCgroups(id string) {
	for _, p := range machineCgroups(id) {
		var dirs []string
		_ = filepath.WalkDir(p, func(path string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, path)
			}
			return nil
		})
		for i := len(dirs) - 1; i >= 0; i-- {
			_ = syscall.Rmdir(dirs[i])
		}
	}
}

// removeEmptyMachinesCgroups removes the /machines parent cgroups when no
// machine (of any process) is left in them.
func removeEmptyMachinesCgroups() {
	for _, r := range cgroupRoots() {
		_ = syscall.Rmdir(filepath.Join(r, cgroupParent)) // fails while not empty
	}
}

// reapStale removes what test processes that died without cleaning up
// left: their runc containers, network namespaces, bridges, mounts and
// work dirs, all named after the dead process's PID. Best effort.
func reapStale(ctx context.Context) {
	dead := func(name, prefix string) bool {
		rest, ok := strings.CutPrefix(name, prefix)
		if !ok {
			return false
		}
		pidStr, _, _ := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidStr)
		if err != nil || pid <= 0 || pid == os.Getpid() {
			return false
		}
		err = syscall.Kill(pid, 0)
		return errors.Is(err, syscall.ESRCH)
	}
	for id := range runcContainers(ctx) {
		if dead(id, containerPrefix) {
			_ = exec.CommandContext(ctx, "runc", "delete", "--force", id).Run()
			removeCgroups(id)
		}
	}
	if entries, err := os.ReadDir("/run/netns"); err == nil {
		for _, e := range entries {
			if dead(e.Name(), containerPrefix) {
				_ = ip(ctx, "netns", "del", e.Name())
			}
		}
	}
	if links, err := net.Interfaces(); err == nil {
		for _, l := range links {
			if dead(l.Name, containerPrefix) || dead(l.Name, "kv") {
				_ = ip(ctx, "link", "del", l.Name)
			}
		}
	}
	if entries, err := os.ReadDir(os.TempDir()); err == nil {
		for _, e := range entries {
			if e.IsDir() && dead(e.Name(), workDirPrefix) {
				_ = removeDir(filepath.Join(os.TempDir(), e.Name()))
			}
		}
	}
}
