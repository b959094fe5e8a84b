package nodeup

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"

	"github.com/kapstan/kapstan/internal/pki"
)

// Static pod names; the manifest of pod P is ManifestsDir/P.yaml.
const (
	PodEtcdMain          = "etcd-main"
	PodEtcdEvents        = "etcd-events"
	PodAPIServer         = "kube-apiserver"
	PodControllerManager = "kube-controller-manager"
	PodScheduler         = "kube-scheduler"
)

// EnvHostIP is the environment variable, set from the pod's host IP, the
// apiserver advertises itself at. The kubelet expands $(HOST_IP) in the
// command, so the manifest does not need the machine's address.
const EnvHostIP = "HOST_IP"

// etcdDataDir is where an etcd container sees its volume's data folder.
const etcdDataDir = "/var/lib/etcd"

// renderControlPlane returns the static pod manifests and the component
// kubeconfigs of a control-plane node.
func renderControlPlane(cfg *NodeConfig) ([]File, error) {
	pods, err := StaticPods(cfg)
	if err != nil {
		return nil, err
	}
	var files []File
	for _, p := range pods {
		data, err := marshalClean(p)
		if err != nil {
			return nil, fmt.Errorf("rendering static pod %s: %w", p.Name, err)
		}
		files = append(files, File{Path: ManifestsDir + "/" + p.Name + ".yaml", Data: data, Mode: 0o644})
	}
	enc, err := encryptionConfig(cfg)
	if err != nil {
		return nil, err
	}
	files = append(files, File{Path: EncryptionConfigPath, Data: enc, Mode: 0o600})
	local := fmt.Sprintf("https://127.0.0.1:%d", APIServerPort)
	for path, who := range map[string]struct{ user, id string }{
		ControllerManagerKubeconfigPath: {pki.ControllerManagerUser, pki.ControllerManager},
		SchedulerKubeconfigPath:         {pki.SchedulerUser, pki.Scheduler},
	} {
		data, err := renderKubeconfig(who.user, cfg.ClusterName, local, who.id)
		if err != nil {
			return nil, err
		}
		files = append(files, File{Path: path, Data: data, Mode: 0o600})
	}
	return files, nil
}

// StaticPods are the control plane's pods, as their API type: etcd main
// and events, kube-apiserver, kube-controller-manager, kube-scheduler.
func StaticPods(cfg *NodeConfig) ([]*corev1.Pod, error) {
	cp := cfg.ControlPlane
	if cp == nil {
		return nil, fmt.Errorf("node configuration of %s: no controlPlane section", cfg.InstanceGroup)
	}
	for _, id := range []string{pki.KubernetesCA, pki.ServiceAccount, pki.APIServer, pki.APIServerEtcdClient, pki.EtcdServerCA} {
		if _, err := cfg.certificate(id); err != nil {
			return nil, err
		}
	}
	if _, err := cfg.key(pki.ServiceAccount); err != nil {
		return nil, err
	}
	var pods []*corev1.Pod
	var main, events *EtcdMember
	for i := range cp.Etcd {
		m := &cp.Etcd[i]
		pod, err := etcdPod(cfg, m)
		if err != nil {
			return nil, err
		}
		pods = append(pods, pod)
		switch m.Cluster {
		case "main":
			main = m
		case "events":
			events = m
		}
	}
	if main == nil {
		return nil, fmt.Errorf("node configuration of %s: no member of etcd main", cfg.InstanceGroup)
	}
	pods = append(pods, apiServerPod(cfg, main, events), controllerManagerPod(cfg), schedulerPod(cfg))
	return pods, nil
}

// etcdPod runs one member. Clients must present a certificate of the etcd
// client CA, peers one of the peer CA. The data lives on the member's EBS
// volume, so a replaced instance picks up where the old one stopped; the
// --initial-cluster flags only matter the first time.
func etcdPod(cfg *NodeConfig, m *EtcdMember) (*corev1.Pod, error) {
	server, peer := pki.EtcdServerID(m.Cluster, m.Name), pki.EtcdPeerID(m.Cluster, m.Name)
	for _, id := range []string{server, peer} {
		if _, err := cfg.key(id); err != nil {
			return nil, err
		}
	}
	host := pki.EtcdMemberDNSName(cfg.ClusterName, m.Cluster, m.Name)
	var initial []string
	for _, p := range m.Peers {
		initial = append(initial, p.Name+"="+p.PeerURL)
	}
	name := "etcd-" + m.Cluster
	cmd := []string{
		"etcd",
		"--name=" + m.Name,
		"--data-dir=" + etcdDataDir,
		fmt.Sprintf("--listen-client-urls=https://0.0.0.0:%d", m.ClientPort),
		fmt.Sprintf("--advertise-client-urls=https://%s:%d", host, m.ClientPort),
		fmt.Sprintf("--listen-peer-urls=https://0.0.0.0:%d", m.PeerPort),
		fmt.Sprintf("--initial-advertise-peer-urls=https://%s:%d", host, m.PeerPort),
		"--initial-cluster=" + strings.Join(initial, ","),
		"--initial-cluster-state=new",
		"--initial-cluster-token=" + name + "." + cfg.ClusterName,
		fmt.Sprintf("--listen-metrics-urls=http://127.0.0.1:%d", m.MetricsPort),
		"--client-cert-auth=true",
		"--trusted-ca-file=" + CertPath(pki.EtcdClientCA),
		"--cert-file=" + CertPath(server),
		"--key-file=" + KeyPath(server),
		"--peer-client-cert-auth=true",
		"--peer-trusted-ca-file=" + CertPath(pki.EtcdPeerCA),
		"--peer-cert-file=" + CertPath(peer),
		"--peer-key-file=" + KeyPath(peer),
	}
	pod := staticPod(name, cfg.Images.Etcd, cmd, "200m", "100Mi")
	c := &pod.Spec.Containers[0]
	c.LivenessProbe = httpProbe("/livez", m.MetricsPort, corev1.URISchemeHTTP, 8)
	c.ReadinessProbe = httpProbe("/readyz", m.MetricsPort, corev1.URISchemeHTTP, 3)
	c.StartupProbe = httpProbe("/readyz", m.MetricsPort, corev1.URISchemeHTTP, 24)
	mountPKI(pod)
	mountHostPath(pod, "data", m.Volume.MountPath+"/data", etcdDataDir, false, corev1.HostPathDirectoryOrCreate)
	return pod, nil
}

// apiServerPod runs the apiserver against the local etcd members.
func apiServerPod(cfg *NodeConfig, main, events *EtcdMember) *corev1.Pod {
	cmd := []string{
		"kube-apiserver",
		"--advertise-address=$(" + EnvHostIP + ")",
		"--allow-privileged=true",
		"--authorization-mode=Node,RBAC",
		"--bind-address=0.0.0.0",
		"--client-ca-file=" + CertPath(pki.KubernetesCA),
		"--enable-admission-plugins=NodeRestriction",
		"--encryption-provider-config=" + EncryptionConfigPath,
		"--etcd-cafile=" + CertPath(pki.EtcdServerCA),
		"--etcd-certfile=" + CertPath(pki.APIServerEtcdClient),
		"--etcd-keyfile=" + KeyPath(pki.APIServerEtcdClient),
		fmt.Sprintf("--etcd-servers=https://127.0.0.1:%d", main.ClientPort),
	}
	if events != nil {
		// Events churn; keeping them in their own etcd spares main.
		cmd = append(cmd, fmt.Sprintf("--etcd-servers-overrides=/events#https://127.0.0.1:%d", events.ClientPort))
	}
	cmd = append(cmd,
		"--kubelet-client-certificate="+CertPath(pki.APIServerKubeletClient),
		"--kubelet-client-key="+KeyPath(pki.APIServerKubeletClient),
		"--kubelet-preferred-address-types=InternalIP,Hostname,ExternalIP",
		"--proxy-client-cert-file="+CertPath(pki.FrontProxyClient),
		"--proxy-client-key-file="+KeyPath(pki.FrontProxyClient),
		"--requestheader-allowed-names="+pki.FrontProxyClient,
		"--requestheader-client-ca-file="+CertPath(pki.FrontProxyCA),
		"--requestheader-extra-headers-prefix=X-Remote-Extra-",
		"--requestheader-group-headers=X-Remote-Group",
		"--requestheader-username-headers=X-Remote-User",
		fmt.Sprintf("--secure-port=%d", APIServerPort),
		"--service-account-issuer="+cfg.ControlPlane.ServiceAccountIssuer,
		"--service-account-key-file="+ServiceAccountPublicKeyPath,
		"--service-account-signing-key-file="+KeyPath(pki.ServiceAccount),
		"--service-cluster-ip-range="+cfg.Networking.ServiceClusterIPRange,
		"--tls-cert-file="+CertPath(pki.APIServer),
		"--tls-private-key-file="+KeyPath(pki.APIServer),
	)
	pod := staticPod(PodAPIServer, cfg.Images.KubeAPIServer, cmd, "150m", "")
	c := &pod.Spec.Containers[0]
	c.Env = []corev1.EnvVar{{Name: EnvHostIP, ValueFrom: &corev1.EnvVarSource{
		FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "status.hostIP"},
	}}}
	c.LivenessProbe = httpProbe("/livez", APIServerPort, corev1.URISchemeHTTPS, 8)
	c.ReadinessProbe = httpProbe("/readyz", APIServerPort, corev1.URISchemeHTTPS, 3)
	c.StartupProbe = httpProbe("/livez", APIServerPort, corev1.URISchemeHTTPS, 24)
	mountPKI(pod)
	mountHostPath(pod, "encryption-config", EncryptionConfigPath, EncryptionConfigPath, true, corev1.HostPathFile)
	return pod
}

// EncryptionConfigPath is the apiserver's encryption configuration.
const EncryptionConfigPath = "/etc/kubernetes/encryption-config.yaml"

// encryptionConfig encrypts Secrets with secretbox (XSalsa20-Poly1305)
// and still reads what was stored unencrypted (identity), so turning it on
// for an existing cluster loses nothing. Its API type lives in
// k8s.io/apiserver, which kapstan does not import; the boot test shows the
// apiserver accepts it and encrypts with it.
func encryptionConfig(cfg *NodeConfig) ([]byte, error) {
	key := string(cfg.ControlPlane.EncryptionKey)
	if key == "" {
		return nil, fmt.Errorf("node configuration of %s: no encryption key", cfg.InstanceGroup)
	}
	doc := map[string]any{
		"apiVersion": "apiserver.config.k8s.io/v1",
		"kind":       "EncryptionConfiguration",
		"resources": []any{map[string]any{
			"resources": []string{"secrets"},
			"providers": []any{
				map[string]any{"secretbox": map[string]any{"keys": []any{map[string]any{"name": "key1", "secret": key}}}},
				map[string]any{"identity": map[string]any{}},
			},
		}},
	}
	out, err := yaml.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("rendering the encryption configuration: %w", err)
	}
	return out, nil
}

// controllerManagerPod runs every default controller plus the bootstrap
// token ones; it signs kubelet CSRs with the Kubernetes CA.
func controllerManagerPod(cfg *NodeConfig) *corev1.Pod {
	kc := ControllerManagerKubeconfigPath
	cmd := []string{
		"kube-controller-manager",
		"--allocate-node-cidrs=true",
		"--authentication-kubeconfig=" + kc,
		"--authorization-kubeconfig=" + kc,
		"--bind-address=127.0.0.1",
		"--cloud-provider=external",
		"--cluster-cidr=" + cfg.Networking.PodCIDR,
		"--cluster-name=" + cfg.ClusterName,
		"--cluster-signing-cert-file=" + CertPath(pki.KubernetesCA),
		"--cluster-signing-key-file=" + KeyPath(pki.KubernetesCA),
		"--controllers=*,bootstrapsigner,tokencleaner",
		"--kubeconfig=" + kc,
		"--leader-elect=true",
		"--root-ca-file=" + CertPath(pki.KubernetesCA),
		fmt.Sprintf("--secure-port=%d", ControllerManagerPort),
		"--service-account-private-key-file=" + KeyPath(pki.ServiceAccount),
		"--service-cluster-ip-range=" + cfg.Networking.ServiceClusterIPRange,
		"--use-service-account-credentials=true",
	}
	pod := staticPod(PodControllerManager, cfg.Images.KubeControllerManager, cmd, "100m", "")
	c := &pod.Spec.Containers[0]
	c.LivenessProbe = httpProbe("/healthz", ControllerManagerPort, corev1.URISchemeHTTPS, 8)
	c.StartupProbe = httpProbe("/healthz", ControllerManagerPort, corev1.URISchemeHTTPS, 24)
	mountPKI(pod)
	mountHostPath(pod, "kubeconfig", kc, kc, true, corev1.HostPathFile)
	return pod
}

func schedulerPod(cfg *NodeConfig) *corev1.Pod {
	kc := SchedulerKubeconfigPath
	cmd := []string{
		"kube-scheduler",
		"--authentication-kubeconfig=" + kc,
		"--authorization-kubeconfig=" + kc,
		"--bind-address=127.0.0.1",
		"--kubeconfig=" + kc,
		"--leader-elect=true",
		fmt.Sprintf("--secure-port=%d", SchedulerPort),
	}
	pod := staticPod(PodScheduler, cfg.Images.KubeScheduler, cmd, "100m", "")
	c := &pod.Spec.Containers[0]
	c.LivenessProbe = httpProbe("/livez", SchedulerPort, corev1.URISchemeHTTPS, 8)
	c.ReadinessProbe = httpProbe("/readyz", SchedulerPort, corev1.URISchemeHTTPS, 3)
	c.StartupProbe = httpProbe("/livez", SchedulerPort, corev1.URISchemeHTTPS, 24)
	mountPKI(pod)
	mountHostPath(pod, "kubeconfig", kc, kc, true, corev1.HostPathFile)
	return pod
}

// staticPod is a host-network pod in kube-system with one container,
// critical priority and the runtime's default seccomp profile.
func staticPod(name, image string, command []string, cpu, memory string) *corev1.Pod {
	requests := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu)}
	if memory != "" {
		requests[corev1.ResourceMemory] = resource.MustParse(memory)
	}
	return &corev1.Pod{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: metav1.NamespaceSystem,
			Labels: map[string]string{"k8s-app": name, "tier": "control-plane"},
		},
		Spec: corev1.PodSpec{
			HostNetwork:       true,
			PriorityClassName: "system-node-critical",
			SecurityContext: &corev1.PodSecurityContext{
				SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
			},
			Containers: []corev1.Container{{
				Name: name, Image: image, ImagePullPolicy: corev1.PullIfNotPresent,
				Command:   command,
				Resources: corev1.ResourceRequirements{Requests: requests},
			}},
		},
	}
}

func httpProbe(path string, port int, scheme corev1.URIScheme, failures int32) *corev1.Probe {
	return &corev1.Probe{
		ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
			Host: "127.0.0.1", Path: path, Port: intstr.FromInt32(int32(port)), Scheme: scheme,
		}},
		InitialDelaySeconds: 10, PeriodSeconds: 10, TimeoutSeconds: 15, FailureThreshold: failures,
	}
}

// mountPKI mounts the node's PKI folder read-only at the same path.
func mountPKI(pod *corev1.Pod) {
	mountHostPath(pod, "pki", PKIDir, PKIDir, true, corev1.HostPathDirectory)
}

func mountHostPath(pod *corev1.Pod, name, hostPath, mountPath string, readOnly bool, typ corev1.HostPathType) {
	pod.Spec.Volumes = append(pod.Spec.Volumes, corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{
		HostPath: &corev1.HostPathVolumeSource{Path: hostPath, Type: &typ},
	}})
	c := &pod.Spec.Containers[0]
	c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: name, MountPath: mountPath, ReadOnly: readOnly})
}
