package nodeup

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	kubeletv1beta1 "k8s.io/kubelet/config/v1beta1"

	"github.com/kapstan/kapstan/internal/pki"
)

// renderKubelet returns the kubelet's configuration, kubeconfig and unit.
func renderKubelet(cfg *NodeConfig, host Host) ([]File, error) {
	kc, err := KubeletConfiguration(cfg, host)
	if err != nil {
		return nil, err
	}
	config, err := marshalClean(kc)
	if err != nil {
		return nil, fmt.Errorf("rendering the kubelet configuration of %s: %w", cfg.InstanceGroup, err)
	}
	kubeconfig, err := renderKubeconfig("kubelet", cfg.ClusterName, cfg.APIServer, pki.Kubelet)
	if err != nil {
		return nil, err
	}
	return []File{
		{Path: KubeletConfigPath, Data: config, Mode: 0o644},
		{Path: KubeletKubeconfigPath, Data: kubeconfig, Mode: 0o600},
		{Path: KubeletUnitPath, Data: []byte(kubeletUnit(cfg)), Mode: 0o644},
	}, nil
}

// KubeletConfiguration is the kubelet's configuration file as its API type.
// On a cgroup v1 host it sets failCgroupV1: false, without which a kubelet
// 1.35 or later refuses to start there. Its cgroupDriver is containerd's.
func KubeletConfiguration(cfg *NodeConfig, host Host) (*kubeletv1beta1.KubeletConfiguration, error) {
	taints, err := parseTaints(cfg.Kubelet.Taints)
	if err != nil {
		return nil, fmt.Errorf("kubelet configuration of %s: %w", cfg.InstanceGroup, err)
	}
	yes, no := true, false
	kc := &kubeletv1beta1.KubeletConfiguration{
		TypeMeta:      metav1.TypeMeta{APIVersion: kubeletv1beta1.SchemeGroupVersion.String(), Kind: "KubeletConfiguration"},
		StaticPodPath: ManifestsDir,
		Authentication: kubeletv1beta1.KubeletAuthentication{
			// Only the apiserver (kube-apiserver-kubelet-client) and
			// holders of tokens the apiserver vouches for may call the
			// kubelet's API.
			X509:      kubeletv1beta1.KubeletX509Authentication{ClientCAFile: CertPath(pki.KubernetesCA)},
			Webhook:   kubeletv1beta1.KubeletWebhookAuthentication{Enabled: &yes},
			Anonymous: kubeletv1beta1.KubeletAnonymousAuthentication{Enabled: &no},
		},
		Authorization:            kubeletv1beta1.KubeletAuthorization{Mode: kubeletv1beta1.KubeletAuthorizationModeWebhook},
		ClusterDomain:            cfg.Networking.ClusterDNSDomain,
		ClusterDNS:               []string{cfg.Networking.ClusterDNSIP},
		CgroupDriver:             cgroupDriver,
		ContainerRuntimeEndpoint: "unix://" + ContainerdSocket,
		RegisterWithTaints:       taints,
	}
	if host.CgroupV1 {
		kc.FailCgroupV1 = &no
	}
	return kc, nil
}

// parseTaints reads "key=value:Effect" and "key:Effect".
func parseTaints(in []string) ([]corev1.Taint, error) {
	var out []corev1.Taint
	for _, s := range in {
		kv, effect, ok := strings.Cut(s, ":")
		if !ok {
			return nil, fmt.Errorf("taint %q: want key=value:Effect", s)
		}
		key, value, _ := strings.Cut(kv, "=")
		e := corev1.TaintEffect(effect)
		if key == "" || !slices.Contains([]corev1.TaintEffect{corev1.TaintEffectNoSchedule, corev1.TaintEffectPreferNoSchedule, corev1.TaintEffectNoExecute}, e) {
			return nil, fmt.Errorf("taint %q: want key=value:Effect with Effect NoSchedule, PreferNoSchedule or NoExecute", s)
		}
		out = append(out, corev1.Taint{Key: key, Value: value, Effect: e})
	}
	return out, nil
}

// renderKubeconfig is a kubeconfig for user, trusting the Kubernetes CA and
// authenticating with keypair id, all by file path, so rotating a
// certificate is rewriting one file.
func renderKubeconfig(user, cluster, server, id string) ([]byte, error) {
	c := clientcmdapi.NewConfig()
	c.Clusters[cluster] = &clientcmdapi.Cluster{Server: server, CertificateAuthority: CertPath(pki.KubernetesCA)}
	c.AuthInfos[user] = &clientcmdapi.AuthInfo{ClientCertificate: CertPath(id), ClientKey: KeyPath(id)}
	c.Contexts[user] = &clientcmdapi.Context{Cluster: cluster, AuthInfo: user}
	c.CurrentContext = user
	out, err := clientcmd.Write(*c)
	if err != nil {
		return nil, fmt.Errorf("rendering the kubeconfig of %s: %w", user, err)
	}
	return out, nil
}

// kubeletUnit is the systemd unit. The cloud provider is external: the AWS
// cloud controller manager (an add-on) initializes nodes.
func kubeletUnit(cfg *NodeConfig) string {
	var labels []string
	for _, k := range slices.Sorted(maps.Keys(cfg.Kubelet.NodeLabels)) {
		labels = append(labels, k+"="+cfg.Kubelet.NodeLabels[k])
	}
	args := []string{
		"--config=" + KubeletConfigPath,
		"--kubeconfig=" + KubeletKubeconfigPath,
		"--cloud-provider=external",
	}
	if len(labels) > 0 {
		args = append(args, "--node-labels="+strings.Join(labels, ","))
	}
	return fmt.Sprintf(`# Written by kapstan nodeup for %s/%s.
[Unit]
Description=Kubernetes kubelet
Documentation=https://kubernetes.io/docs/reference/command-line-tools-reference/kubelet/
Wants=containerd.service
After=containerd.service network-online.target

[Service]
ExecStart=%s \
  %s
Restart=always
RestartSec=2s

[Install]
WantedBy=multi-user.target
`, cfg.ClusterName, cfg.InstanceGroup, KubeletBinary, strings.Join(args, " \\\n  "))
}
