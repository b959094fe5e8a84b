package machine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// NetworkConfig describes the bridge the machines sit on.
type NetworkConfig struct {
	// CIDR holds every machine's address (the VPC's CIDR, e.g.
	// 10.0.0.0/16). Machines reach each other on-link across it, whatever
	// their subnets. It must not overlap an address of the host. Required.
	CIDR netip.Prefix
	// Gateway is the host's address on the bridge and the machines'
	// default route; default the first address after CIDR's network
	// address (10.0.0.1). AWS reserves it in the first subnet, so no
	// instance gets it. The host does not forward anything the machines
	// send it, so nothing outside is ever reached.
	Gateway netip.Addr
	// Nameservers go into each machine's /etc/resolv.conf; none by
	// default (the file then only has a comment).
	Nameservers []netip.Addr
	// RootFS is the image every machine's root is an overlay of; default
	// [FindRootFS].
	RootFS string
	// Dir holds the machines' upper dirs, bundles and logs; default a new
	// temp dir, removed by Close. It must not be on overlayfs.
	Dir string
	// MemoryLimit per machine in bytes; 0 = none.
	MemoryLimit int64
}

// Network is a host bridge with machines on it. Make one with
// [NewNetwork] (in a test) or [CreateNetwork], start machines with
// [Network.Start], and Close it to stop them all.
type Network struct {
	cfg     NetworkConfig
	lock    *os.File // held while the network exists: one network per CIDR on the host
	bridge  string
	dir     string
	ownDir  bool
	capBnd  uint64
	noFile  uint64
	mu      sync.Mutex
	live    map[*Machine]bool
	started []*Machine // every machine started, for Leftovers
	fwds    []*forward
	closed  bool
}

// networks counts the networks and machines of this process, which name
// bridges, containers and veths.
var networks struct {
	sync.Mutex
	n, machines int
}

// bridgeName is kmach-PID for a process's first network and kmach-PID-N
// after, shortened to fit the 15 bytes of an interface name.
func bridgeName(pid, n int) string {
	name := "kmach-" + strconv.Itoa(pid)
	if n == 0 {
		return name
	}
	if name += "-" + strconv.Itoa(n); len(name) <= 15 {
		return name
	}
	return fmt.Sprintf("km%d-%d", pid, n)
}

// NewNetwork is [CreateNetwork] for a test: it fails the test with the
// reason (and, without root, runc or the rootfs, the command that fixes
// it), and closes the network when the test ends, after logging the
// journal and user-data output of each machine still running if the test
// failed.
func NewNetwork(t testing.TB, cfg NetworkConfig) *Network {
	t.Helper()
	n, err := CreateNetwork(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx := context.Background() // t.Context is done by now
		if t.Failed() {
			for _, m := range n.Machines() {
				t.Logf("machine %s (%s) at failure:\n%s", m.ID, m.Instance.ID, m.Diagnostics(ctx))
			}
		}
		if err := n.Close(); err != nil {
			t.Errorf("machine network: %v", err)
		}
	})
	return n
}

// CreateNetwork checks the host ([Check]) and the root file system, reaps
// what crashed test processes left, waits while another process of this
// host has a network with the same CIDR, mounts the cgroup hierarchies
// machines need, and makes the bridge with the gateway address.
func CreateNetwork(ctx context.Context, cfg NetworkConfig) (*Network, error) {
	if !cfg.CIDR.IsValid() || !cfg.CIDR.Addr().Is4() {
		return nil, fmt.Errorf("machine network: CIDR %q: an IPv4 prefix is required", cfg.CIDR)
	}
	cfg.CIDR = cfg.CIDR.Masked()
	if !cfg.Gateway.IsValid() {
		cfg.Gateway = cfg.CIDR.Addr().Next()
	}
	if !cfg.CIDR.Contains(cfg.Gateway) {
		return nil, fmt.Errorf("machine network: gateway %s is outside %s", cfg.Gateway, cfg.CIDR)
	}
	if cfg.RootFS == "" {
		dir, err := FindRootFS()
		if err != nil {
			return nil, err
		}
		cfg.RootFS = dir
	}
	if err := Check(); err != nil {
		return nil, err
	}
	reapStale(ctx)
	// Test processes that use the same CIDR (say, two packages whose
	// clusters have the same VPC) take turns; the lock goes with Close or
	// the process.
	lock, err := lockFile(ctx, "/run/kapstan-machine-net-"+strings.ReplaceAll(cfg.CIDR.String(), "/", "_")+".lock")
	if err != nil {
		return nil, fmt.Errorf("machine network %s: %w", cfg.CIDR, err)
	}
	if err := checkNoOverlap(cfg.CIDR); err != nil {
		lock.Close()
		return nil, err
	}
	if err := ensureCgroupHierarchies(); err != nil {
		lock.Close()
		return nil, fmt.Errorf("machine network: %w", err)
	}
	capBnd, noFile, err := hostLimits()
	if err != nil {
		lock.Close()
		return nil, fmt.Errorf("machine network: %w", err)
	}
	n := &Network{cfg: cfg, lock: lock, capBnd: capBnd, noFile: min(noFile, 20000), live: map[*Machine]bool{}}
	networks.Lock()
	n.bridge = bridgeName(os.Getpid(), networks.n)
	networks.n++
	networks.Unlock()
	n.dir = cfg.Dir
	if n.dir == "" {
		d, err := os.MkdirTemp("", fmt.Sprintf("%s%d-", workDirPrefix, os.Getpid()))
		if err != nil {
			n.Close()
			return nil, fmt.Errorf("machine network: %w", err)
		}
		n.dir, n.ownDir = d, true
	}
	plen := strconv.Itoa(cfg.CIDR.Bits())
	steps := [][]string{
		{"link", "add", n.bridge, "type", "bridge"},
		{"addr", "add", cfg.Gateway.String() + "/" + plen, "dev", n.bridge},
		{"link", "set", n.bridge, "up"},
	}
	for _, s := range steps {
		if err := ip(ctx, s...); err != nil {
			n.Close()
			return nil, fmt.Errorf("machine network %s: %w", n.bridge, err)
		}
	}
	// Never route what machines send to anything beyond the host.
	if err := os.WriteFile("/proc/sys/net/ipv4/conf/"+n.bridge+"/forwarding", []byte("0\n"), 0o644); err != nil {
		n.Close()
		return nil, fmt.Errorf("machine network %s: turn off forwarding: %w", n.bridge, err)
	}
	return n, nil
}

// checkNoOverlap refuses a CIDR that holds one of the host's addresses.
func checkNoOverlap(cidr netip.Prefix) error {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return fmt.Errorf("machine network: list host addresses: %w", err)
	}
	for _, a := range addrs {
		p, err := netip.ParsePrefix(a.String())
		if err != nil {
			continue
		}
		if p.Addr().Is4() && p.Masked().Overlaps(cidr) && !strings.HasPrefix(p.String(), "169.254.") {
			return fmt.Errorf("machine network: CIDR %s overlaps the host's address %s; choose another", cidr, p)
		}
	}
	return nil
}

// Bridge is the bridge's interface name.
func (n *Network) Bridge() string { return n.bridge }

// Gateway is the host's address on the bridge, which machines reach.
func (n *Network) Gateway() netip.Addr { return n.cfg.Gateway }

// Machines returns the machines started and not yet stopped.
func (n *Network) Machines() []*Machine {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := make([]*Machine, 0, len(n.live))
	for m := range n.live {
		out = append(out, m)
	}
	return out
}

// Expose forwards TCP connections to the gateway's address (a port the
// kernel picks) to target, a host address such as moto's
// 127.0.0.1:PORT, so machines reach a service that listens on loopback
// only. It returns the address machines use. Close stops it.
func (n *Network) Expose(target string) (netip.AddrPort, error) {
	l, err := net.Listen("tcp4", net.JoinHostPort(n.cfg.Gateway.String(), "0"))
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("expose %s: %w", target, err)
	}
	f := &forward{l: l, target: target, conns: map[net.Conn]bool{}}
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		l.Close()
		return netip.AddrPort{}, fmt.Errorf("expose %s: network closed", target)
	}
	n.fwds = append(n.fwds, f)
	n.mu.Unlock()
	go f.serve()
	return netip.MustParseAddrPort(l.Addr().String()), nil
}

// forward is a TCP proxy from the gateway to a host address.
type forward struct {
	l      net.Listener
	target string
	mu     sync.Mutex
	conns  map[net.Conn]bool
	wg     sync.WaitGroup
}

func (f *forward) serve() {
	for {
		c, err := f.l.Accept()
		if err != nil {
			return
		}
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			f.pipe(c)
		}()
	}
}

func (f *forward) pipe(c net.Conn) {
	defer c.Close()
	u, err := net.DialTimeout("tcp", f.target, 5*time.Second)
	if err != nil {
		return
	}
	defer u.Close()
	if !f.track(c, u) {
		return
	}
	defer f.untrack(c, u)
	done := make(chan struct{}, 2)
	cp := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		if tc, ok := dst.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
		done <- struct{}{}
	}
	go cp(u, c)
	go cp(c, u)
	<-done
	<-done
}

func (f *forward) track(cs ...net.Conn) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.conns == nil {
		return false // closed
	}
	for _, c := range cs {
		f.conns[c] = true
	}
	return true
}

func (f *forward) untrack(cs ...net.Conn) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range cs {
		delete(f.conns, c)
	}
}

func (f *forward) close() {
	f.l.Close()
	f.mu.Lock()
	for c := range f.conns {
		c.Close()
	}
	f.conns = nil
	f.mu.Unlock()
	f.wg.Wait()
}

// Close stops every machine still running, the forwards and the bridge,
// and removes the work dir it made. It is safe to call more than once.
func (n *Network) Close() error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil
	}
	n.closed = true
	fwds := n.fwds
	n.fwds = nil
	n.mu.Unlock()

	var errs []error
	for _, m := range n.Machines() {
		errs = append(errs, m.Stop())
	}
	for _, f := range fwds {
		f.close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if n.bridge != "" && linkExists(n.bridge) {
		if err := ip(ctx, "link", "del", n.bridge); err != nil {
			errs = append(errs, fmt.Errorf("machine network %s: %w", n.bridge, err))
		}
	}
	removeEmptyMachinesCgroups()
	if n.ownDir && n.dir != "" {
		if err := removeDir(n.dir); err != nil {
			errs = append(errs, err)
		}
	}
	if n.lock != nil {
		n.lock.Close()
	}
	return errors.Join(errs...)
}

// Leftovers lists whatever of this network is still on the host: its
// bridge, and for each machine ever started its runc container, network
// namespace, host veth, cgroups and mounts. Empty after Close.
func (n *Network) Leftovers(ctx context.Context) []string {
	var out []string
	if linkExists(n.bridge) {
		out = append(out, "bridge "+n.bridge)
	}
	n.mu.Lock()
	started := append([]*Machine(nil), n.started...)
	n.mu.Unlock()
	containers := runcContainers(ctx)
	for _, m := range started {
		if containers[m.ID] {
			out = append(out, "runc container "+m.ID)
		}
		if _, err := os.Stat(netnsPath(m.ID)); err == nil {
			out = append(out, "network namespace "+m.ID)
		}
		if linkExists(m.veth) {
			out = append(out, "veth "+m.veth)
		}
		for _, c := range machineCgroups(m.ID) {
			out = append(out, "cgroup "+c)
		}
	}
	for _, d := range []string{n.dir, n.cfg.RootFS} {
		mounts, _ := mountsUnder(d)
		for _, mp := range mounts {
			out = append(out, "mount "+mp)
		}
	}
	if n.ownDir {
		if _, err := os.Stat(n.dir); err == nil {
			out = append(out, "dir "+n.dir)
		}
	}
	return out
}

// ip runs ip(8) with args.
func ip(ctx context.Context, args ...string) error {
	out, err := exec.CommandContext(ctx, "ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

func linkExists(name string) bool {
	_, err := os.Stat("/sys/class/net/" + name)
	return err == nil
}
