package nodeup

import (
	"fmt"
	"slices"
	"strings"

	"github.com/kapstan/kapstan/internal/assets"
)

// Units nodeup starts and restarts, in the order they start.
const (
	UnitContainerd = "containerd"
	UnitKubelet    = "kubelet"
)

// hasAsset reports whether cfg installs the file asset name.
func hasAsset(cfg *NodeConfig, name string) bool {
	return slices.ContainsFunc(cfg.Assets, func(a assets.Asset) bool { return a.Kind == assets.KindFile && a.Name == name })
}

// containerdUnit runs containerd from the mirror. Delegate lets the
// systemd cgroup driver manage the containers' cgroups below it, and
// KillMode=process leaves the containers' shims running across a restart
// of containerd, so restarting it does not stop pods.
func containerdUnit(cfg *NodeConfig) string {
	return fmt.Sprintf(`# Written by kapstan nodeup for %s/%s.
[Unit]
Description=containerd container runtime
Documentation=https://containerd.io
After=network.target local-fs.target

[Service]
ExecStartPre=-/sbin/modprobe overlay
ExecStart=%s
Type=notify
Delegate=yes
KillMode=process
Restart=always
RestartSec=5s
LimitNPROC=infinity
LimitCORE=infinity
TasksMax=infinity

[Install]
WantedBy=multi-user.target
`, cfg.ClusterName, cfg.InstanceGroup, ContainerdBinary)
}

// UnitsToRestart says which units must restart for changed, paths as on
// the node that a run wrote or switched, in the order they restart. It is
// the rule [Systemd] applies, kept apart so it can be tested:
//
//   - containerd, when its configuration, unit or binaries changed, or
//     runc's (a switched symlink counts as a change of its unit's binary);
//   - the kubelet, when its configuration, kubeconfig, unit or binary
//     changed, or a certificate or key.
//
// Static pod manifests restart nothing (the kubelet watches them); nor do
// the CNI plugins (run anew for each pod) or sysctl and module settings
// (applied by themselves).
func UnitsToRestart(changed []string) []string {
	var units []string
	if slices.ContainsFunc(changed, usedByContainerd) {
		units = append(units, UnitContainerd)
	}
	if slices.ContainsFunc(changed, usedByKubelet) {
		units = append(units, UnitKubelet)
	}
	return units
}

func usedByContainerd(p string) bool {
	switch p {
	case ContainerdConfigPath, ContainerdUnitPath, ContainerdBinary, ContainerdShimBinary, CtrBinary, RuncBinary,
		CurrentPath(assetContainerd), CurrentPath(assetRunc):
		return true
	}
	return false
}

func usedByKubelet(p string) bool {
	switch p {
	case KubeletConfigPath, KubeletKubeconfigPath, KubeletUnitPath, KubeletBinary, CurrentPath(assetKubelet):
		return true
	}
	return strings.HasPrefix(p, PKIDir+"/")
}
