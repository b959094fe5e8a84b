package machine

import "encoding/json"

// The OCI runtime config (config.json) of a machine, as the few fields of
// the runtime-spec that runc reads here. Only what a machine sets is
// declared; the JSON names are the spec's.
type ociSpec struct {
	OCIVersion string     `json:"ociVersion"`
	Process    ociProcess `json:"process"`
	Root       ociRoot    `json:"root"`
	Hostname   string     `json:"hostname"`
	Mounts     []ociMount `json:"mounts"`
	Linux      ociLinux   `json:"linux"`
}

type ociProcess struct {
	Terminal        bool            `json:"terminal"`
	User            ociUser         `json:"user"`
	Args            []string        `json:"args"`
	Env             []string        `json:"env"`
	Cwd             string          `json:"cwd"`
	Capabilities    ociCapabilities `json:"capabilities"`
	Rlimits         []ociRlimit     `json:"rlimits"`
	NoNewPrivileges bool            `json:"noNewPrivileges"`
}

type ociUser struct {
	UID uint32 `json:"uid"`
	GID uint32 `json:"gid"`
}

type ociCapabilities struct {
	Bounding    []string `json:"bounding"`
	Effective   []string `json:"effective"`
	Inheritable []string `json:"inheritable"`
	Permitted   []string `json:"permitted"`
	Ambient     []string `json:"ambient"`
}

type ociRlimit struct {
	Type string `json:"type"`
	Hard uint64 `json:"hard"`
	Soft uint64 `json:"soft"`
}

type ociRoot struct {
	Path     string `json:"path"`
	Readonly bool   `json:"readonly"`
}

type ociMount struct {
	Destination string   `json:"destination"`
	Type        string   `json:"type"`
	Source      string   `json:"source"`
	Options     []string `json:"options,omitempty"`
}

type ociLinux struct {
	Namespaces        []ociNamespace `json:"namespaces"`
	Resources         ociResources   `json:"resources"`
	CgroupsPath       string         `json:"cgroupsPath"`
	RootfsPropagation string         `json:"rootfsPropagation"`
	MaskedPaths       []string       `json:"maskedPaths"`
	ReadonlyPaths     []string       `json:"readonlyPaths"`
}

type ociNamespace struct {
	Type string `json:"type"`
	Path string `json:"path,omitempty"`
}

type ociResources struct {
	Devices []ociDeviceRule `json:"devices"`
	Memory  *ociMemory      `json:"memory,omitempty"`
}

type ociDeviceRule struct {
	Allow  bool   `json:"allow"`
	Access string `json:"access"`
}

type ociMemory struct {
	Limit int64 `json:"limit"`
}

// capNames are the Linux capabilities by number (linux/capability.h, up to
// CAP_CHECKPOINT_RESTORE = 40).
var capNames = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER",
	"CAP_FSETID", "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP",
	"CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST",
	"CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER",
	"CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE",
	"CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
	"CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD",
	"CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP",
	"CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM",
	"CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
	"CAP_CHECKPOINT_RESTORE",
}

const capSysResource = 24

// machineCaps returns every capability in the bounding set bnd (a CapBnd
// mask) except CAP_SYS_RESOURCE. That one is left out everywhere, so
// machines behave the same on every host: this VM's PID 1 drops it, and
// asking for it fails the start (notes/machines.md, failure 1).
func machineCaps(bnd uint64) []string {
	var caps []string
	for i, name := range capNames {
		if i == capSysResource || bnd&(1<<i) == 0 {
			continue
		}
		caps = append(caps, name)
	}
	return caps
}

// specConfig is what a machine's config.json is made from.
type specConfig struct {
	RootFS      string // the merged overlay
	Hostname    string
	NetNS       string // path of the network namespace, /run/netns/NAME
	CgroupsPath string // /machines/ID
	Containerd  string // host dir bound at /var/lib/containerd
	CapBnd      uint64 // the host's bounding set
	NoFile      uint64 // RLIMIT_NOFILE, at most the host's hard limit
	MemoryLimit int64  // bytes; 0 = none
}

// newSpec builds a machine's runtime config: systemd as PID 1 in its own
// pid, ipc, uts, mount and cgroup namespaces and the host-made network
// namespace, with the fixes of notes/machines.md.
func newSpec(c specConfig) ociSpec {
	caps := machineCaps(c.CapBnd)
	s := ociSpec{
		OCIVersion: "1.0.2",
		Process: ociProcess{
			Args: []string{"/sbin/init"},
			Env: []string{
				"container=runc",
				"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
			},
			Cwd: "/",
			Capabilities: ociCapabilities{
				Bounding: caps, Effective: caps, Inheritable: caps, Permitted: caps, Ambient: caps,
			},
			// The VM's hard NOFILE limit is 20000 and raising it needs
			// CAP_SYS_RESOURCE.
			Rlimits: []ociRlimit{{Type: "RLIMIT_NOFILE", Hard: c.NoFile, Soft: c.NoFile}},
		},
		Root:     ociRoot{Path: c.RootFS},
		Hostname: c.Hostname,
		Mounts: []ociMount{
			{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "noexec", "nodev"}},
			{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
			{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
			{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
			{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
			{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "rw"}},
			// Writable, so systemd and the kubelet make cgroups; the cgroup
			// namespace roots them at /machines/ID (failure 3).
			{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"nosuid", "noexec", "nodev", "relatime", "rw"}},
			{Destination: "/run", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "nodev", "mode=755"}},
			{Destination: "/run/lock", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "nodev", "noexec", "size=5m"}},
			{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "nodev", "mode=1777"}},
			{Destination: "/dev/kmsg", Type: "bind", Source: "/dev/kmsg", Options: []string{"rbind", "rw"}},
			// overlayfs cannot be containerd's upperdir (failure 6).
			{Destination: "/var/lib/containerd", Type: "bind", Source: c.Containerd, Options: []string{"rbind", "rw"}},
		},
		Linux: ociLinux{
			Namespaces: []ociNamespace{
				{Type: "pid"}, {Type: "ipc"}, {Type: "uts"}, {Type: "mount"}, {Type: "cgroup"},
				{Type: "network", Path: c.NetNS},
			},
			Resources:         ociResources{Devices: []ociDeviceRule{{Allow: true, Access: "rwm"}}},
			CgroupsPath:       c.CgroupsPath,
			RootfsPropagation: "rslave",
			MaskedPaths:       []string{},
			ReadonlyPaths:     []string{},
		},
	}
	if c.MemoryLimit > 0 {
		s.Linux.Resources.Memory = &ociMemory{Limit: c.MemoryLimit}
	}
	return s
}

func (s ociSpec) marshal() ([]byte, error) {
	return json.MarshalIndent(s, "", "  ")
}
