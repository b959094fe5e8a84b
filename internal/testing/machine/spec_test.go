package machine

import (
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// The key points of notes/machines.md, checked in the generated JSON.
func TestSpec(t *testing.T) {
	const vmCapBnd = 0x1fffeffffff // this VM: every cap up to 40 but CAP_SYS_RESOURCE
	s := newSpec(specConfig{
		RootFS: "/w/rootfs", Hostname: "ip-10-0-1-23.ec2.internal", NetNS: "/run/netns/kmach-1-1",
		CgroupsPath: "/machines/kmach-1-1", Containerd: "/w/containerd", CapBnd: vmCapBnd | 1<<capSysResource, NoFile: 20000,
	})
	b, err := s.marshal()
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Process struct {
			Args         []string
			Env          []string
			Capabilities map[string][]string
			Rlimits      []struct {
				Type       string
				Hard, Soft uint64
			}
		}
		Root   struct{ Path string }
		Mounts []struct {
			Destination, Type, Source string
			Options                   []string
		}
		Linux struct {
			Namespaces  []struct{ Type, Path string }
			CgroupsPath string
		}
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.Process.Args, []string{"/sbin/init"}) {
		t.Errorf("args %q, want systemd as /sbin/init", got.Process.Args)
	}
	if !slices.Contains(got.Process.Env, "container=runc") {
		t.Errorf("env %q lacks container=runc", got.Process.Env)
	}
	for _, set := range []string{"bounding", "effective", "inheritable", "permitted", "ambient"} {
		caps := got.Process.Capabilities[set]
		if len(caps) != 40 || slices.Contains(caps, "CAP_SYS_RESOURCE") || !slices.Contains(caps, "CAP_SYS_ADMIN") {
			t.Errorf("%s caps: %d, want the 40 besides CAP_SYS_RESOURCE: %q", set, len(caps), caps)
		}
	}
	if r := got.Process.Rlimits; len(r) != 1 || r[0].Type != "RLIMIT_NOFILE" || r[0].Hard != 20000 || r[0].Soft != 20000 {
		t.Errorf("rlimits %+v, want NOFILE 20000", r)
	}
	var ns []string
	for _, n := range got.Linux.Namespaces {
		ns = append(ns, n.Type+":"+n.Path)
	}
	if want := []string{"pid:", "ipc:", "uts:", "mount:", "cgroup:", "network:/run/netns/kmach-1-1"}; !slices.Equal(ns, want) {
		t.Errorf("namespaces %q, want %q", ns, want)
	}
	if got.Linux.CgroupsPath != "/machines/kmach-1-1" {
		t.Errorf("cgroupsPath %q", got.Linux.CgroupsPath)
	}
	mounts := map[string]string{}
	for _, m := range got.Mounts {
		mounts[m.Destination] = m.Type + " " + m.Source + " " + strings.Join(m.Options, ",")
	}
	for dest, want := range map[string]string{
		"/sys/fs/cgroup":      "cgroup cgroup nosuid,noexec,nodev,relatime,rw",
		"/dev/kmsg":           "bind /dev/kmsg rbind,rw",
		"/var/lib/containerd": "bind /w/containerd rbind,rw",
	} {
		if mounts[dest] != want {
			t.Errorf("mount %s: %q, want %q", dest, mounts[dest], want)
		}
	}
	if got.Root.Path != "/w/rootfs" {
		t.Errorf("root %q", got.Root.Path)
	}
}

// The Go side and build.sh must name the same rootfs recipe.
func TestRootFSVersionMatchesBuildScript(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "hack", "machine-rootfs", "build.sh"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^ROOTFS_VERSION=(\S+)$`).FindSubmatch(b)
	if m == nil || string(m[1]) != RootFSVersion {
		t.Fatalf("hack/machine-rootfs/build.sh ROOTFS_VERSION=%s, machine.RootFSVersion=%s: bump both together", m, RootFSVersion)
	}
}

func TestWriteInRootRefusesSymlinks(t *testing.T) {
	root, outside := t.TempDir(), t.TempDir()
	if err := os.Symlink(outside, filepath.Join(root, "etc")); err != nil {
		t.Fatal(err)
	}
	err := writeInRoot(root, machineFile{path: "/etc/hostname", data: "x", mode: 0o644})
	if err == nil {
		t.Fatal("wrote through a symlinked dir")
	}
	if _, err := os.Stat(filepath.Join(outside, "hostname")); err == nil {
		t.Fatal("file written outside the root")
	}
	// A symlinked file is replaced, not followed.
	if err := os.MkdirAll(filepath.Join(root, "var"), 0o755); err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(outside, "resolv.conf")
	if err := os.WriteFile(target, []byte("host\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, filepath.Join(root, "var", "resolv.conf")); err != nil {
		t.Fatal(err)
	}
	if err := writeInRoot(root, machineFile{path: "/var/resolv.conf", data: "machine\n", mode: 0o644}); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(target); string(b) != "host\n" {
		t.Errorf("host file changed to %q", b)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "var", "resolv.conf")); string(b) != "machine\n" {
		t.Errorf("machine file %q", b)
	}
}

func TestNames(t *testing.T) {
	for _, tt := range []struct {
		pid, n int
		want   string
	}{
		{pid: 4242, n: 0, want: "kmach-4242"},
		{pid: 4242, n: 3, want: "kmach-4242-3"},
		{pid: 4194304, n: 12, want: "km4194304-12"},
	} {
		if got := bridgeName(tt.pid, tt.n); got != tt.want || len(got) > 15 {
			t.Errorf("bridgeName(%d, %d) = %q, want %q (at most 15 bytes)", tt.pid, tt.n, got, tt.want)
		}
	}
	if got := vethName(4194304, 9999); len(got) > 15 {
		t.Errorf("vethName = %q, longer than an interface name may be", got)
	}
	if got := macFor(netip.MustParseAddr("10.0.1.23")); got != "0e:00:0a:00:01:17" {
		t.Errorf("macFor = %q", got)
	}
}
