package nodeup

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/kapstan/kapstan/internal/pki"
	"github.com/kapstan/kapstan/internal/store"
	api "github.com/kapstan/kapstan/pkg/apis/kapstan/v1alpha1"
)

// Image versions that do not follow the Kubernetes version.
const (
	// EtcdVersion is the etcd that Kubernetes 1.36 is tested with.
	EtcdVersion = "3.6.8"
	// PauseImage is the sandbox image containerd and the kubelet agree on.
	PauseImage = "registry.k8s.io/pause:3.10.1"
	registry   = "registry.k8s.io"
)

// Tags that find a member's etcd volume. They must match what the model
// puts on the volume (model.EtcdTagPrefix, awscloud.TagKubernetesCluster);
// a test checks it. They are repeated here so the node agent does not
// depend on the planner.
const (
	TagKubernetesCluster = "KubernetesCluster"
	EtcdTagPrefix        = "kapstan.io/etcd/"
)

// EtcdMountPath is where the volume of an etcd cluster's member is mounted
// on a control-plane node.
func EtcdMountPath(etcdCluster string) string { return "/mnt/kapstan/etcd-" + etcdCluster }

// ConfigPrefix is the store prefix of a cluster's node configurations;
// ConfigKey is that of one instance group. The nodes' IAM role may read
// only these keys.
func ConfigPrefix(cluster string) string { return cluster + "/nodeup/" }

// ConfigKey is the store key of an instance group's node configuration.
func ConfigKey(cluster, ig string) string { return ConfigPrefix(cluster) + ig }

// Keypairs every node gets: the CA to trust the apiserver, and the
// kubelet's client keypair.
var (
	nodeCerts = []string{pki.KubernetesCA, pki.Kubelet}
	nodeKeys  = []string{pki.Kubelet}

	controlPlaneCerts = []string{
		pki.EtcdServerCA, pki.EtcdPeerCA, pki.EtcdClientCA, pki.FrontProxyCA, pki.ServiceAccount,
		pki.APIServer, pki.APIServerKubeletClient, pki.APIServerEtcdClient, pki.FrontProxyClient,
		pki.ControllerManager, pki.Scheduler,
	}
	// The Kubernetes CA's key is on control-plane nodes because the
	// controller manager signs kubelet certificate requests with it. The
	// etcd and front-proxy CAs' keys never leave the state store.
	controlPlaneKeys = []string{
		pki.KubernetesCA, pki.ServiceAccount,
		pki.APIServer, pki.APIServerKubeletClient, pki.APIServerEtcdClient, pki.FrontProxyClient,
		pki.ControllerManager, pki.Scheduler,
	}
)

// Build makes the node configuration of instance group ig, reading its
// certificates and keys from ks, which must hold them (see pki.Ensure).
// lbDNSName is the API load balancer's name; a worker of a .k8s.local
// cluster reaches the API through it, and while it is empty such a
// worker's configuration has no API endpoint yet.
func Build(ctx context.Context, m *api.Manifests, ig string, ks *pki.Keystore, lbDNSName string) (*NodeConfig, error) {
	cfg, err := buildSpec(m, ig, lbDNSName)
	if err != nil {
		return nil, err
	}
	certs, keys := nodeCerts, nodeKeys
	if cp := cfg.ControlPlane; cp != nil {
		key, err := pki.NewSecrets(ks.Store(), cfg.ClusterName).Get(ctx, pki.EncryptionKey)
		if err != nil {
			return nil, fmt.Errorf("node configuration of %s: %w", ig, err)
		}
		cp.EncryptionKey = pki.SecretString(key)
		var memberCerts []string
		for _, e := range cp.Etcd {
			memberCerts = append(memberCerts, pki.EtcdServerID(e.Cluster, e.Name), pki.EtcdPeerID(e.Cluster, e.Name))
		}
		certs = slices.Concat(certs, controlPlaneCerts, memberCerts)
		keys = slices.Concat(keys, controlPlaneKeys, memberCerts)
	}
	for _, id := range certs {
		cert, err := ks.Certificate(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("node configuration of %s: %w", ig, err)
		}
		cfg.Certificates[id] = string(pki.EncodeCertificate(cert))
	}
	for _, id := range keys {
		kp, err := ks.Get(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("node configuration of %s: %w", ig, err)
		}
		if cfg.Keys[id], err = kp.PrivateKeyPEM(); err != nil {
			return nil, fmt.Errorf("node configuration of %s: %w", ig, err)
		}
	}
	return cfg, nil
}

// SpecHash is a digest of what instance group ig's node configuration takes
// from the spec: versions, images, network ranges, labels, taints, etcd
// members. It leaves out the keys and certificates (they stay the same for
// the life of the cluster, and a digest of them would be a digest of
// secrets) and the load balancer's name (known only after the first apply).
//
// The planner puts it in the boot script, so a spec change that changes
// what nodes run makes a new launch-template version, and rolling-update
// sees which instances run an older configuration. It needs no state store.
func SpecHash(m *api.Manifests, ig string) (string, error) {
	cfg, err := buildSpec(m, ig, "")
	if err != nil {
		return "", err
	}
	// JSON, not Encode's YAML: the planner hashes every group on every
	// plan, and encoding/json sorts map keys, which is all a stable digest
	// needs.
	data, err := json.Marshal(cfg)
	if err != nil {
		return "", fmt.Errorf("node configuration of %s: %w", ig, err)
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:]), nil
}

// buildSpec is the part of ig's configuration that comes from the spec
// alone: everything but keys, certificates and the encryption key.
func buildSpec(m *api.Manifests, ig, lbDNSName string) (*NodeConfig, error) {
	if m.Cluster == nil {
		return nil, errors.New("node configuration: the manifests hold no Cluster")
	}
	g := m.InstanceGroup(ig)
	if g == nil {
		return nil, fmt.Errorf("node configuration: no instance group %q in cluster %q", ig, m.Cluster.Metadata.Name)
	}
	if g.Spec.Role == api.RoleBastion {
		return nil, fmt.Errorf("node configuration: instance group %q is a bastion, which runs no Kubernetes", ig)
	}
	c := m.Cluster
	s := c.Spec
	dnsIP, err := pki.ServiceIP(s.ServiceClusterIPRange, 10)
	if err != nil {
		return nil, fmt.Errorf("node configuration of %s: cluster DNS address: %w", ig, err)
	}
	cfg := &NodeConfig{
		APIVersion: APIVersion, Kind: Kind,
		ClusterName: c.Metadata.Name, InstanceGroup: ig, Role: g.Spec.Role,
		KubernetesVersion: s.KubernetesVersion,
		APIServer:         workerAPIServer(c, lbDNSName),
		Networking: Networking{
			ServiceClusterIPRange: s.ServiceClusterIPRange, PodCIDR: s.PodCIDR,
			ClusterDNSDomain: s.ClusterDNSDomain, ClusterDNSIP: dnsIP.String(), CNI: s.Networking.CNI,
		},
		Images: Images{Pause: PauseImage},
		Kubelet: Kubelet{
			NodeLabels: map[string]string{"kapstan.io/instancegroup": ig},
			Taints:     slices.Clone(g.Spec.Taints),
		},
		Certificates: map[string]string{},
		Keys:         map[string]pki.PrivateKeyPEM{},
	}
	maps.Copy(cfg.Kubelet.NodeLabels, g.Spec.NodeLabels)
	if g.Spec.Role == api.RoleControlPlane {
		cp, err := controlPlane(m, ig)
		if err != nil {
			return nil, err
		}
		cfg.ControlPlane = cp
		// The kubelet of a control-plane node talks to its own apiserver,
		// which it runs as a static pod: no load balancer in the way.
		cfg.APIServer = fmt.Sprintf("https://127.0.0.1:%d", APIServerPort)
		v := "v" + strings.TrimPrefix(s.KubernetesVersion, "v")
		cfg.Images.Etcd = registry + "/etcd:" + EtcdVersion + "-0"
		cfg.Images.KubeAPIServer = registry + "/kube-apiserver:" + v
		cfg.Images.KubeControllerManager = registry + "/kube-controller-manager:" + v
		cfg.Images.KubeScheduler = registry + "/kube-scheduler:" + v
		cfg.Kubelet.Taints = append([]string{"node-role.kubernetes.io/control-plane:NoSchedule"}, cfg.Kubelet.Taints...)
	}
	return cfg, nil
}

// workerAPIServer is the API URL of a worker: api.internal.NAME in a
// cluster with a DNS zone, the load balancer's name otherwise ("" while it
// is unknown).
func workerAPIServer(c *api.Cluster, lbDNSName string) string {
	if !api.IsGossip(c.Metadata.Name) {
		return "https://" + pki.APIInternalName(c.Metadata.Name)
	}
	if lbDNSName == "" {
		return ""
	}
	return "https://" + lbDNSName
}

// controlPlane is the control-plane part of ig's configuration.
func controlPlane(m *api.Manifests, ig string) (*ControlPlane, error) {
	c := m.Cluster
	cp := &ControlPlane{ServiceAccountIssuer: "https://" + pki.APIInternalName(c.Metadata.Name)}
	for _, ec := range c.Spec.EtcdClusters {
		ports, ok := etcdPorts[ec.Name]
		if !ok {
			return nil, fmt.Errorf("node configuration of %s: etcd cluster %q: only main and events are supported", ig, ec.Name)
		}
		var mine *api.EtcdMemberSpec
		var peers []EtcdPeer
		for i, mem := range ec.Members {
			if mem.InstanceGroup == ig {
				if mine != nil {
					return nil, fmt.Errorf("node configuration of %s: etcd cluster %q has two members on it", ig, ec.Name)
				}
				mine = &ec.Members[i]
			}
			peers = append(peers, EtcdPeer{Name: mem.Name,
				PeerURL: fmt.Sprintf("https://%s:%d", pki.EtcdMemberDNSName(c.Metadata.Name, ec.Name, mem.Name), ports.peer)})
		}
		if mine == nil {
			return nil, fmt.Errorf("node configuration of %s: etcd cluster %q has no member on this control-plane group", ig, ec.Name)
		}
		cp.Etcd = append(cp.Etcd, EtcdMember{
			Cluster: ec.Name, Name: mine.Name,
			ClientPort: ports.client, PeerPort: ports.peer, MetricsPort: ports.metrics,
			Peers: peers,
			Volume: EtcdVolume{
				Tags:      map[string]string{TagKubernetesCluster: c.Metadata.Name, EtcdTagPrefix + ec.Name: mine.Name},
				Device:    ports.device,
				MountPath: EtcdMountPath(ec.Name),
			},
		})
	}
	if !slices.ContainsFunc(cp.Etcd, func(e EtcdMember) bool { return e.Cluster == "main" }) {
		return nil, fmt.Errorf("node configuration of %s: the cluster has no etcd cluster \"main\"", ig)
	}
	return cp, nil
}

// ports are where one etcd cluster's member listens, and the device its
// volume is attached as.
type ports struct {
	client, peer, metrics int
	device                string
}

var etcdPorts = map[string]ports{
	"main":   {EtcdMainClientPort, EtcdMainPeerPort, EtcdMainMetricsPort, "/dev/xvdu"},
	"events": {EtcdEventsClientPort, EtcdEventsPeerPort, EtcdEventsMetricsPort, "/dev/xvdv"},
}

// ConfigChange is one node configuration WriteConfigs wrote or deleted.
type ConfigChange struct {
	InstanceGroup string
	// Action is "written" or "deleted".
	Action string
}

// WriteConfigs writes the node configuration of every instance group that
// runs Kubernetes (not bastions) to NAME/nodeup/IG, as a secret, and
// deletes those of groups that no longer exist. An object whose content
// would not change is not rewritten, so running it twice changes nothing.
// The keypairs must exist: call pki.Ensure first.
//
// `update cluster` calls it after pki.Ensure, and again once the API load
// balancer's name is known for a .k8s.local cluster, before instances boot.
func WriteConfigs(ctx context.Context, s store.Store, m *api.Manifests, ks *pki.Keystore, lbDNSName string) ([]ConfigChange, error) {
	name := m.Cluster.Metadata.Name
	var changes []ConfigChange
	want := map[string]bool{}
	for _, g := range m.InstanceGroups {
		if g.Spec.Role == api.RoleBastion {
			continue
		}
		ig := g.Metadata.Name
		want[ig] = true
		cfg, err := Build(ctx, m, ig, ks, lbDNSName)
		if err != nil {
			return changes, err
		}
		data, err := Encode(cfg)
		if err != nil {
			return changes, err
		}
		key := ConfigKey(name, ig)
		pre := store.IfAbsent()
		old, err := s.Get(ctx, key)
		switch {
		case err == nil && bytes.Equal(old.Data, data):
			continue
		case err == nil:
			pre = store.IfMatch(old.Revision)
		case !errors.Is(err, store.ErrNotFound):
			return changes, fmt.Errorf("reading the node configuration of %s: %w", ig, err)
		}
		if _, err := s.Put(ctx, key, data, pre, store.Secret()); err != nil {
			return changes, fmt.Errorf("writing the node configuration of %s: %w", ig, err)
		}
		changes = append(changes, ConfigChange{InstanceGroup: ig, Action: "written"})
	}
	keys, err := s.List(ctx, ConfigPrefix(name))
	if err != nil {
		return changes, fmt.Errorf("listing node configurations of cluster %q: %w", name, err)
	}
	for _, key := range keys {
		ig := strings.TrimPrefix(key, ConfigPrefix(name))
		if want[ig] || strings.Contains(ig, "/") {
			continue
		}
		if err := s.Delete(ctx, key, store.Unconditionally()); err != nil {
			return changes, fmt.Errorf("deleting the node configuration of removed group %s: %w", ig, err)
		}
		changes = append(changes, ConfigChange{InstanceGroup: ig, Action: "deleted"})
	}
	return changes, nil
}

// ReadConfig reads an instance group's node configuration from the store.
func ReadConfig(ctx context.Context, s store.Store, cluster, ig string) (*NodeConfig, error) {
	key := ConfigKey(cluster, ig)
	obj, err := s.Get(ctx, key)
	if err != nil {
		return nil, &readError{key: key, err: err}
	}
	cfg, err := Decode(obj.Data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	if cfg.ClusterName != cluster || cfg.InstanceGroup != ig {
		return nil, fmt.Errorf("%s: holds the configuration of %s/%s", key, cfg.ClusterName, cfg.InstanceGroup)
	}
	return cfg, nil
}

// readError is a store read that failed, as opposed to a configuration
// that is wrong: WaitForConfig retries only the former.
type readError struct {
	key string
	err error
}

func (e *readError) Error() string {
	return "reading the node configuration " + e.key + ": " + e.err.Error()
}
func (e *readError) Unwrap() error { return e.err }
