package nodeup

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"slices"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/kapstan/kapstan/internal/pki"
	api "github.com/kapstan/kapstan/pkg/apis/kapstan/v1alpha1"
)

// Paths on the node. Everything nodeup writes is under one of these.
const (
	PKIDir                          = "/etc/kubernetes/pki"
	ManifestsDir                    = "/etc/kubernetes/manifests"
	ContainerdConfigPath            = "/etc/containerd/config.toml"
	ContainerdSocket                = "/run/containerd/containerd.sock"
	KubeletBinary                   = "/usr/local/bin/kubelet"
	KubeletConfigPath               = "/var/lib/kubelet/config.yaml"
	KubeletKubeconfigPath           = "/var/lib/kubelet/kubeconfig"
	KubeletUnitPath                 = "/etc/systemd/system/kubelet.service"
	ContainerdUnitPath              = "/etc/systemd/system/containerd.service"
	SysctlPath                      = "/etc/sysctl.d/99-kubernetes.conf"
	ModulesPath                     = "/etc/modules-load.d/kubernetes.conf"
	ControllerManagerKubeconfigPath = "/etc/kubernetes/kube-controller-manager.kubeconfig"
	SchedulerKubeconfigPath         = "/etc/kubernetes/kube-scheduler.kubeconfig"
)

// CertPath and KeyPath are where a keypair's halves live on the node.
func CertPath(id string) string { return PKIDir + "/" + id + ".crt" }

// KeyPath is the path of a keypair's private key on the node.
func KeyPath(id string) string { return PKIDir + "/" + id + ".key" }

// ServiceAccountPublicKeyPath is the public half of the service-account
// key, which the apiserver verifies tokens with.
const ServiceAccountPublicKeyPath = PKIDir + "/service-account.pub"

// File is one file nodeup writes.
type File struct {
	// Path is the absolute path on the node.
	Path string
	Data []byte
	Mode fs.FileMode
}

// Render returns every file of the node, sorted by path. It is pure: the
// same configuration and host always give the same bytes.
func Render(cfg *NodeConfig, host Host) ([]File, error) {
	if cfg.APIServer == "" {
		return nil, fmt.Errorf("node configuration of %s/%s has no API endpoint yet: the cluster's API load balancer was not known "+
			"when it was written; run `kapstan update cluster %s --yes` again", cfg.ClusterName, cfg.InstanceGroup, cfg.ClusterName)
	}
	var files []File
	add := func(fs ...File) { files = append(files, fs...) }

	pkiFiles, err := renderPKI(cfg)
	if err != nil {
		return nil, err
	}
	add(pkiFiles...)
	add(File{Path: ContainerdConfigPath, Data: renderContainerd(cfg), Mode: 0o644})
	if hasAsset(cfg, assetContainerd) {
		// containerd from the mirror needs its unit; one that came with
		// the image has its package's.
		add(File{Path: ContainerdUnitPath, Data: []byte(containerdUnit(cfg)), Mode: 0o644})
	}
	add(File{Path: SysctlPath, Data: []byte(sysctl), Mode: 0o644}, File{Path: ModulesPath, Data: []byte(modules), Mode: 0o644})
	kubelet, err := renderKubelet(cfg, host)
	if err != nil {
		return nil, err
	}
	add(kubelet...)
	if cfg.Role == api.RoleControlPlane {
		cp, err := renderControlPlane(cfg)
		if err != nil {
			return nil, err
		}
		add(cp...)
	}
	slices.SortFunc(files, func(a, b File) int { return strings.Compare(a.Path, b.Path) })
	for i := 1; i < len(files); i++ {
		if files[i].Path == files[i-1].Path {
			return nil, fmt.Errorf("rendering %s: two files at %s", cfg.InstanceGroup, files[i].Path)
		}
	}
	return files, nil
}

// renderPKI writes each certificate (0644) and key (0600) of the config,
// and the service-account public key a control-plane node needs.
func renderPKI(cfg *NodeConfig) ([]File, error) {
	var files []File
	for id, cert := range cfg.Certificates {
		files = append(files, File{Path: CertPath(id), Data: []byte(cert), Mode: 0o644})
	}
	for id, key := range cfg.Keys {
		files = append(files, File{Path: KeyPath(id), Data: []byte(string(key)), Mode: 0o600})
	}
	if cert, ok := cfg.Certificates[pki.ServiceAccount]; ok {
		c, err := pki.ParseCertificate([]byte(cert))
		if err != nil {
			return nil, fmt.Errorf("node configuration of %s: certificate %q: %w", cfg.InstanceGroup, pki.ServiceAccount, err)
		}
		pub, err := (&pki.Keypair{ID: pki.ServiceAccount, Cert: c}).PublicKeyPEM()
		if err != nil {
			return nil, err
		}
		files = append(files, File{Path: ServiceAccountPublicKeyPath, Data: pub, Mode: 0o644})
	}
	return files, nil
}

// containerd reads the version 2 format in 1.7 and, migrating it, in 2.x,
// so one file serves both.
func renderContainerd(cfg *NodeConfig) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "# Written by kapstan nodeup for %s/%s; it is rewritten on every run.\n", cfg.ClusterName, cfg.InstanceGroup)
	b.WriteString("version = 2\n\n")
	b.WriteString("[plugins.\"io.containerd.grpc.v1.cri\"]\n")
	fmt.Fprintf(&b, "  sandbox_image = %q\n\n", cfg.Images.Pause)
	b.WriteString("[plugins.\"io.containerd.grpc.v1.cri\".containerd]\n")
	b.WriteString("  default_runtime_name = \"runc\"\n\n")
	b.WriteString("[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc]\n")
	b.WriteString("  runtime_type = \"io.containerd.runc.v2\"\n\n")
	// The kubelet's cgroupDriver is the same value.
	b.WriteString("[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc.options]\n")
	fmt.Fprintf(&b, "  SystemdCgroup = %t\n", cgroupDriver == "systemd")
	if hasAsset(cfg, assetCNIPlugins) {
		// The plugins from the mirror are in their versioned folder.
		b.WriteString("\n[plugins.\"io.containerd.grpc.v1.cri\".cni]\n")
		fmt.Fprintf(&b, "  bin_dir = %q\n", CurrentPath(assetCNIPlugins))
		b.WriteString("  conf_dir = \"/etc/cni/net.d\"\n")
	}
	return []byte(b.String())
}

const sysctl = `# Written by kapstan nodeup: pods' traffic is routed and bridged through the host.
net.ipv4.ip_forward = 1
net.bridge.bridge-nf-call-iptables = 1
net.bridge.bridge-nf-call-ip6tables = 1
`

const modules = `# Written by kapstan nodeup: containerd's overlay snapshotter and bridged pod traffic.
overlay
br_netfilter
`

// marshalClean renders v as YAML without the zero values its Go type
// cannot omit (empty structs, "0s" durations, 0 and "" of non-pointer
// fields), so a file shows only what nodeup sets. Tests decode every
// output strictly back into its type and compare, so nothing meaningful is
// lost.
func marshalClean(v any) ([]byte, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var m any
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, err
	}
	m, _ = prune(m)
	return yaml.Marshal(m)
}

// prune drops zero values from decoded JSON; it reports whether v itself is
// zero. false is kept: in the Kubernetes types an explicit false is a
// pointer that was set.
func prune(v any) (any, bool) {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			if p, zero := prune(e); zero {
				delete(t, k)
			} else {
				t[k] = p
			}
		}
		return t, len(t) == 0
	case []any:
		return t, false // lists are kept whole: position matters
	case string:
		return t, t == "" || t == "0s" || t == "0"
	case float64:
		return t, t == 0
	case nil:
		return t, true
	}
	return v, false
}
