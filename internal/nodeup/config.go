// Package nodeup is the node side of kapstan: it turns an instance group's
// node configuration into the files a machine needs to join the cluster.
//
// `update cluster` writes one [NodeConfig] per instance group to the state
// store, at NAME/nodeup/IG ([WriteConfigs]). It holds everything the node
// needs and nothing more: versions and images, network ranges, the API
// endpoint, the etcd members, and the certificates and keys of that role
// only (a worker gets the kubelet's client keypair and the CA certificate;
// a control-plane node also gets the control plane's keys and its own etcd
// member's certificates, never another member's). Because it carries keys
// it is written as a secret.
//
// On the machine, the node agent (cmd/nodeup; `kapstan nodeup` runs the
// same [Agent]) reads it, installs the assets it lists from the cluster's
// mirror, each verified against its SHA-256 before it is put in a
// versioned folder and switched to by a symlink (install.go), and
// [Render]s the files:
// containerd's config.toml, the kubelet's KubeletConfiguration, kubeconfig,
// systemd unit and certificates, and on a control-plane node the static pod
// manifests of etcd (main and events), kube-apiserver,
// kube-controller-manager and kube-scheduler. [Write] puts them under a
// root folder and rewrites a file only when its content or mode changes,
// so a second run reports no changes. With a root other than "/" nothing
// outside it is touched: the etcd volume is a folder under the root and no
// service is restarted, which makes the whole node side testable on any
// machine.
package nodeup

import (
	"bytes"
	"fmt"

	"sigs.k8s.io/yaml"

	"github.com/kapstan/kapstan/internal/assets"
	"github.com/kapstan/kapstan/internal/pki"
	api "github.com/kapstan/kapstan/pkg/apis/kapstan/v1alpha1"
)

// APIVersion and Kind identify a NodeConfig document. A node refuses a
// document of another version rather than guessing.
const (
	APIVersion = "nodeup.kapstan.io/v1alpha1"
	Kind       = "NodeConfig"
)

// Ports the control plane listens on.
const (
	// APIServerPort is the apiserver's secure port, the one the load
	// balancer forwards 443 to.
	APIServerPort = 443
	// Etcd "main" and "events" each have a client, a peer and a metrics
	// port, so both run side by side on a control-plane node.
	EtcdMainClientPort    = 4001
	EtcdMainPeerPort      = 2380
	EtcdMainMetricsPort   = 2382
	EtcdEventsClientPort  = 4002
	EtcdEventsPeerPort    = 2381
	EtcdEventsMetricsPort = 2383
	// Health ports of the controller manager and the scheduler (their
	// defaults), bound to 127.0.0.1.
	ControllerManagerPort = 10257
	SchedulerPort         = 10259
)

// NodeConfig is the configuration of the machines of one instance group.
type NodeConfig struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	// ClusterName and InstanceGroup say whose machines these are.
	ClusterName   string                `json:"clusterName"`
	InstanceGroup string                `json:"instanceGroup"`
	Role          api.InstanceGroupRole `json:"role"`
	// KubernetesVersion is e.g. "1.36.3".
	KubernetesVersion string `json:"kubernetesVersion"`
	// APIServer is the URL the kubelet reaches the API at: the local
	// apiserver on a control-plane node, api.internal.NAME or the load
	// balancer's name on a worker.
	APIServer string `json:"apiServer"`
	// Networking are the cluster's address ranges.
	Networking Networking `json:"networking"`
	// Images are the container images the node runs.
	Images Images `json:"images"`
	// Kubelet is how the node registers.
	Kubelet Kubelet `json:"kubelet"`
	// ControlPlane is set on control-plane nodes only.
	ControlPlane *ControlPlane `json:"controlPlane,omitempty"`
	// Certificates are PEM certificates by keypair ID (see package pki).
	Certificates map[string]string `json:"certificates"`
	// Keys are PEM private keys by keypair ID: only those of this role.
	Keys map[string]pki.PrivateKeyPEM `json:"keys"`
	// Assets are the files the node installs from AssetsMirror
	// (containerd, runc, the CNI plugins, the kubelet), each with its
	// SHA-256: a download with another hash is refused. Images and the
	// node agent itself are not installed by nodeup. Without assets the
	// machine's image must provide the software.
	Assets []assets.Asset `json:"assets,omitempty"`
	// AssetsMirror is the root of the file repository assets' paths are
	// relative to: s3://bucket/prefix, file:///dir or https://host/path.
	AssetsMirror string `json:"assetsMirror,omitempty"`
}

// Networking are the cluster's address ranges and DNS.
type Networking struct {
	ServiceClusterIPRange string `json:"serviceClusterIPRange"`
	PodCIDR               string `json:"podCIDR"`
	ClusterDNSDomain      string `json:"clusterDNSDomain"`
	// ClusterDNSIP is the cluster DNS Service's address, the 10th of the
	// service range by convention.
	ClusterDNSIP string `json:"clusterDNSIP"`
	CNI          string `json:"cni"`
}

// Images are container images by component.
type Images struct {
	Pause                 string `json:"pause"`
	Etcd                  string `json:"etcd,omitempty"`
	KubeAPIServer         string `json:"kubeAPIServer,omitempty"`
	KubeControllerManager string `json:"kubeControllerManager,omitempty"`
	KubeScheduler         string `json:"kubeScheduler,omitempty"`
}

// Kubelet is how the node registers with the cluster.
type Kubelet struct {
	// NodeLabels are put on the Node at registration.
	NodeLabels map[string]string `json:"nodeLabels,omitempty"`
	// Taints are "key=value:Effect" or "key:Effect".
	Taints []string `json:"taints,omitempty"`
}

// ControlPlane is what only control-plane nodes need.
type ControlPlane struct {
	// ServiceAccountIssuer is the issuer of service-account tokens.
	ServiceAccountIssuer string `json:"serviceAccountIssuer"`
	// Etcd are this node's members, one per etcd cluster (main, events).
	Etcd []EtcdMember `json:"etcd"`
	// EncryptionKey encrypts Kubernetes Secrets in etcd (secretbox).
	EncryptionKey pki.SecretString `json:"encryptionKey"`
}

// EtcdMember is this node's member of one etcd cluster.
type EtcdMember struct {
	// Cluster is "main" or "events"; Name is the member's name.
	Cluster string `json:"cluster"`
	Name    string `json:"name"`
	// ClientPort, PeerPort and MetricsPort are where it listens.
	ClientPort  int `json:"clientPort"`
	PeerPort    int `json:"peerPort"`
	MetricsPort int `json:"metricsPort"`
	// Peers are every member of the cluster, this one included, by name:
	// etcd's --initial-cluster.
	Peers []EtcdPeer `json:"peers"`
	// Volume is the EBS volume that holds the member's data.
	Volume EtcdVolume `json:"volume"`
}

// EtcdPeer is one member of an etcd cluster.
type EtcdPeer struct {
	Name    string `json:"name"`
	PeerURL string `json:"peerURL"`
}

// EtcdVolume says how to find a member's volume and where to mount it.
type EtcdVolume struct {
	// Tags all match the volume: the cluster tag and the member tag.
	Tags map[string]string `json:"tags"`
	// Device is the device name the volume is attached as (/dev/xvdu for
	// main, /dev/xvdv for events). On Nitro instances it shows up as an
	// NVMe device instead, found by the volume's id.
	Device string `json:"device"`
	// MountPath is the host directory the volume is mounted at; the
	// member's data is in its "data" subdirectory.
	MountPath string `json:"mountPath"`
}

// Encode is the YAML of c.
func Encode(c *NodeConfig) ([]byte, error) {
	out, err := yaml.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("encoding the node configuration of %s: %w", c.InstanceGroup, err)
	}
	return out, nil
}

// Decode reads a NodeConfig strictly: an unknown field, another apiVersion
// or kind, or a missing cluster name is an error.
func Decode(data []byte) (*NodeConfig, error) {
	var c NodeConfig
	if err := yaml.UnmarshalStrict(bytes.TrimSpace(data), &c); err != nil {
		return nil, fmt.Errorf("decoding the node configuration: %w", err)
	}
	if c.APIVersion != APIVersion || c.Kind != Kind {
		return nil, fmt.Errorf("decoding the node configuration: apiVersion %q kind %q, want %s %s", c.APIVersion, c.Kind, APIVersion, Kind)
	}
	if c.ClusterName == "" || c.InstanceGroup == "" {
		return nil, fmt.Errorf("decoding the node configuration: clusterName and instanceGroup are required")
	}
	if c.Role == api.RoleControlPlane && c.ControlPlane == nil {
		return nil, fmt.Errorf("decoding the node configuration of %s: a control-plane node needs controlPlane", c.InstanceGroup)
	}
	return &c, nil
}

// certificate and key return a credential the config must hold.
func (c *NodeConfig) certificate(id string) (string, error) {
	v, ok := c.Certificates[id]
	if !ok || v == "" {
		return "", fmt.Errorf("node configuration of %s: certificate %q missing", c.InstanceGroup, id)
	}
	return v, nil
}

func (c *NodeConfig) key(id string) (pki.PrivateKeyPEM, error) {
	v, ok := c.Keys[id]
	if !ok || v == "" {
		return "", fmt.Errorf("node configuration of %s: private key %q missing", c.InstanceGroup, id)
	}
	return v, nil
}
