// Package v1alpha1 holds kapstan's versioned cluster API: the Cluster and
// InstanceGroup kinds, their defaults, their validation and a strict decoder
// for the YAML manifests users write.
//
// The types are Kubernetes-style (apiVersion, kind, metadata, spec) so that a
// manifest reads like any other Kubernetes object, but they are plain Go
// structs: kapstan never registers them with an apiserver.
package v1alpha1

import (
	"encoding/json"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Group and Version name this API; APIVersion is their join, as written in
// manifests.
const (
	Group      = "kapstan.io"
	Version    = "v1alpha1"
	APIVersion = Group + "/" + Version
)

// Kinds of object in this API.
const (
	KindCluster       = "Cluster"
	KindInstanceGroup = "InstanceGroup"
)

// Cluster describes one Kubernetes cluster: its network, control plane
// endpoint, etcd and access rules. Machines are described by InstanceGroups.
type Cluster struct {
	metav1.TypeMeta `json:",inline"`
	Metadata        ObjectMeta  `json:"metadata"`
	Spec            ClusterSpec `json:"spec"`
}

// ObjectMeta is the part of Kubernetes object metadata kapstan uses.
type ObjectMeta struct {
	// Name is the cluster's DNS name (for a Cluster) or the group's name
	// (for an InstanceGroup).
	Name string `json:"name"`
	// Labels are free-form and carried through unchanged.
	Labels map[string]string `json:"labels,omitempty"`
	// Annotations are free-form and carried through unchanged.
	Annotations map[string]string `json:"annotations,omitempty"`
	// Generation is the spec revision in which this object last changed.
	// The state store sets it; a value in a manifest being created is
	// ignored.
	Generation int64 `json:"generation,omitempty"`
}

// ClusterSpec is the desired state of a cluster.
type ClusterSpec struct {
	// KubernetesVersion is the version every component runs, e.g. "1.36.3".
	KubernetesVersion string `json:"kubernetesVersion"`
	// Cloud is the provider; only "aws" exists today.
	Cloud string `json:"cloud"`
	// Region is the cloud region; it is derived from the zones by default.
	Region string `json:"region"`
	// Zones are the availability zones the cluster spans.
	Zones []string `json:"zones"`
	// NetworkCIDR is the VPC's address range.
	NetworkCIDR string `json:"networkCIDR"`
	// NetworkID names an existing VPC. When set, kapstan tags it as shared
	// and never creates or deletes it.
	NetworkID string `json:"networkID,omitempty"`
	// Subnets are the cluster's subnets, in order.
	Subnets []ClusterSubnet `json:"subnets"`
	// Topology places the control plane and nodes in public or private
	// subnets.
	Topology Topology `json:"topology"`
	// API is how clients reach the Kubernetes API.
	API APISpec `json:"api"`
	// DNSZone is the Route 53 zone for the API records. It is empty for
	// clusters whose name ends in ".k8s.local" (gossip clusters, reached
	// through the load balancer).
	DNSZone string `json:"dnsZone,omitempty"`
	// EtcdClusters are the etcd clusters of the control plane ("main" and
	// "events").
	EtcdClusters []EtcdClusterSpec `json:"etcdClusters"`
	// Networking chooses the CNI.
	Networking NetworkingSpec `json:"networking"`
	// SSHAccess are the CIDRs allowed to reach port 22 (on the bastion in a
	// private topology, on every instance otherwise).
	SSHAccess []string `json:"sshAccess"`
	// KubernetesAPIAccess are the CIDRs allowed to reach the API on 443.
	KubernetesAPIAccess []string `json:"kubernetesAPIAccess"`
	// SSHPublicKey is the public key installed on every instance; empty for
	// none.
	SSHPublicKey string `json:"sshPublicKey,omitempty"`
	// CloudLabels are tags put on every cloud resource of the cluster.
	CloudLabels map[string]string `json:"cloudLabels,omitempty"`
	// ServiceClusterIPRange is the range of Service IPs.
	ServiceClusterIPRange string `json:"serviceClusterIPRange"`
	// PodCIDR is the range pod IPs come from.
	PodCIDR string `json:"podCIDR"`
	// ClusterDNSDomain is the in-cluster DNS domain.
	ClusterDNSDomain string `json:"clusterDNSDomain"`
	// Addons are the user's own add-ons, applied after kapstan's (CoreDNS,
	// kube-proxy, the CNI, the AWS cloud controller, the EBS CSI driver)
	// and in the same way.
	Addons []AddonSpec `json:"addons,omitempty"`
	// Assets says where machines download their files and images from.
	// Unset, files come from the default file repository (see
	// DefaultFileRepository) and images as archives in it.
	Assets *AssetsSpec `json:"assets,omitempty"`
}

// AssetsSpec is the cluster's mirror: where machines download every file
// and container image they need (`kapstan get assets NAME` lists them,
// `kapstan get assets NAME --copy` fills the mirror). Machines download
// from nowhere else, so an air-gapped cluster needs nothing more.
type AssetsSpec struct {
	// FileRepository is the root URL of the file mirror: s3://BUCKET/PREFIX,
	// https://HOST/PATH (read only: filled by other means) or file:///DIR
	// (a folder on the computer running kapstan: for preparing a mirror,
	// not for machines). Empty means DefaultFileRepository: a folder of
	// the state store.
	FileRepository string `json:"fileRepository,omitempty"`
	// ImageRepository is a container registry, HOST[:PORT][/PATH], that
	// holds every image under its upstream path (registry.k8s.io/pause:3.10.1
	// is pulled as HOST/PATH/pause:3.10.1). Empty means images come as
	// archives in the file repository, imported into containerd by the
	// node agent.
	ImageRepository string `json:"imageRepository,omitempty"`
}

// AddonSpec is an add-on of the user's: a file of Kubernetes objects.
type AddonSpec struct {
	// Name names the add-on; its objects are labelled kapstan.io/addon=NAME
	// and an object dropped from the file is deleted from the cluster.
	Name string `json:"name"`
	// Manifest is where the objects are (YAML documents separated by ---):
	// "store:KEY" for an object in the state store, else a file path on
	// the machine running kapstan, read at each update.
	Manifest string `json:"manifest"`
}

// StoreManifestPrefix marks an AddonSpec.Manifest that is a state-store key.
const StoreManifestPrefix = "store:"

// BuiltinAddons are the names of kapstan's own add-ons; a user's add-on
// may not take one. The CNIs are among them, whichever is chosen.
func BuiltinAddons() []string {
	return append([]string{"kube-proxy", "coredns", "aws-cloud-controller-manager", "aws-ebs-csi-driver"}, SupportedCNIs()...)
}

// SubnetType says what a subnet is for.
type SubnetType string

// Subnet types. Public subnets route to the internet gateway and hold
// instances with public addresses; Private subnets route through a NAT
// gateway; Utility subnets are public subnets that hold only load balancers,
// NAT gateways and bastions in a private topology.
const (
	SubnetTypePublic  SubnetType = "Public"
	SubnetTypePrivate SubnetType = "Private"
	SubnetTypeUtility SubnetType = "Utility"
)

// ClusterSubnet is one subnet of the cluster.
type ClusterSubnet struct {
	// Name is unique in the cluster; by default the zone for public and
	// private subnets and "utility-" + zone for utility subnets.
	Name string `json:"name"`
	// Zone is the availability zone.
	Zone string `json:"zone"`
	// CIDR is the subnet's range, inside the network CIDR.
	CIDR string `json:"cidr"`
	// Type is Public, Private or Utility.
	Type SubnetType `json:"type"`
	// ID names an existing subnet, which kapstan tags as shared.
	ID string `json:"id,omitempty"`
	// Egress names an existing NAT gateway private subnets route through.
	Egress string `json:"egress,omitempty"`
}

// TopologyType is public or private.
type TopologyType string

// Topology types.
const (
	TopologyPublic  TopologyType = "public"
	TopologyPrivate TopologyType = "private"
)

// Topology places machines in the network.
type Topology struct {
	// ControlPlane is "public" or "private".
	ControlPlane TopologyType `json:"controlPlane"`
	// Nodes is "public" or "private".
	Nodes TopologyType `json:"nodes"`
	// Bastion turns on a bastion instance group in the utility subnets.
	Bastion bool `json:"bastion,omitempty"`
}

// LoadBalancerType says who can reach the API load balancer.
type LoadBalancerType string

// Load balancer types.
const (
	LoadBalancerPublic   LoadBalancerType = "Public"
	LoadBalancerInternal LoadBalancerType = "Internal"
)

// APISpec is how clients reach the Kubernetes API.
type APISpec struct {
	// LoadBalancerType is Public or Internal.
	LoadBalancerType LoadBalancerType `json:"loadBalancerType"`
	// DNSName is the name clients use; by default "api." + the cluster
	// name, or empty for ".k8s.local" clusters, which use the load
	// balancer's own name.
	DNSName string `json:"dnsName,omitempty"`
}

// EtcdClusterSpec is one etcd cluster of the control plane.
type EtcdClusterSpec struct {
	// Name is "main" or "events".
	Name string `json:"name"`
	// Members are the etcd members, one per control-plane instance group.
	Members []EtcdMemberSpec `json:"members"`
}

// EtcdMemberSpec is one etcd member and its volume.
type EtcdMemberSpec struct {
	// Name is the member's name, by convention its zone's letter or its
	// instance group's name.
	Name string `json:"name"`
	// InstanceGroup is the control-plane instance group that runs it.
	InstanceGroup string `json:"instanceGroup"`
	// VolumeType is the EBS volume type (gp3, io1, ...).
	VolumeType string `json:"volumeType"`
	// VolumeSize is the volume size in GiB.
	VolumeSize int32 `json:"volumeSize"`
	// Encrypted turns on EBS encryption; it defaults to true.
	Encrypted *bool `json:"encrypted"`
}

// NetworkingSpec chooses the CNI.
type NetworkingSpec struct {
	// CNI is one of the supported plugin names (see SupportedCNIs).
	CNI string `json:"cni"`
}

// SupportedCNIs lists the CNI plugins kapstan can install.
func SupportedCNIs() []string { return []string{"cilium", "calico", "flannel", "amazon-vpc"} }

// InstanceGroup describes a set of identical machines: an Auto Scaling group.
type InstanceGroup struct {
	metav1.TypeMeta `json:",inline"`
	Metadata        ObjectMeta        `json:"metadata"`
	Spec            InstanceGroupSpec `json:"spec"`
}

// InstanceGroupRole is what the machines of a group do.
type InstanceGroupRole string

// Instance group roles.
const (
	RoleControlPlane InstanceGroupRole = "ControlPlane"
	RoleNode         InstanceGroupRole = "Node"
	RoleBastion      InstanceGroupRole = "Bastion"
)

// InstanceGroupSpec is the desired state of an instance group.
type InstanceGroupSpec struct {
	// Role is ControlPlane, Node or Bastion.
	Role InstanceGroupRole `json:"role"`
	// Image is the machine image: an AMI id or an "owner/name" to look up.
	Image string `json:"image"`
	// MachineType is the instance type.
	MachineType string `json:"machineType"`
	// MinSize is the group's minimum size.
	MinSize int32 `json:"minSize"`
	// MaxSize is the group's maximum size.
	MaxSize int32 `json:"maxSize"`
	// Subnets are names of the cluster's subnets the group spans.
	Subnets []string `json:"subnets"`
	// RootVolume is the boot disk.
	RootVolume RootVolumeSpec `json:"rootVolume"`
	// NodeLabels are Kubernetes labels put on the group's nodes.
	NodeLabels map[string]string `json:"nodeLabels,omitempty"`
	// Taints are put on the group's nodes, as "key=value:Effect".
	Taints []string `json:"taints,omitempty"`
	// CloudLabels are tags added to the group's cloud resources.
	CloudLabels map[string]string `json:"cloudLabels,omitempty"`
	// MixedInstancesPolicy runs several instance types and spot capacity.
	MixedInstancesPolicy *MixedInstancesPolicySpec `json:"mixedInstancesPolicy,omitempty"`
	// MaxPrice asks for spot instances at up to this hourly price.
	MaxPrice string `json:"maxPrice,omitempty"`
	// RollingUpdate tunes how rolling-update replaces the group.
	RollingUpdate *RollingUpdateSpec `json:"rollingUpdate,omitempty"`
}

// RootVolumeSpec is an instance's boot disk.
type RootVolumeSpec struct {
	// Size in GiB.
	Size int32 `json:"size"`
	// Type is the EBS volume type.
	Type string `json:"type"`
	// Encrypted turns on EBS encryption; it defaults to true.
	Encrypted *bool `json:"encrypted"`
}

// MixedInstancesPolicySpec mixes instance types and purchase options.
type MixedInstancesPolicySpec struct {
	// Instances are the instance types to choose from.
	Instances []string `json:"instances"`
	// OnDemandBase is how many instances are on-demand before any spot.
	OnDemandBase *int32 `json:"onDemandBase,omitempty"`
	// OnDemandAboveBase is the percentage of on-demand above the base.
	OnDemandAboveBase *int32 `json:"onDemandAboveBase,omitempty"`
	// SpotAllocationStrategy is how spot capacity is chosen.
	SpotAllocationStrategy string `json:"spotAllocationStrategy,omitempty"`
}

// SpotAllocationStrategies lists the strategies AWS accepts.
func SpotAllocationStrategies() []string {
	return []string{"lowest-price", "capacity-optimized", "capacity-optimized-prioritized", "price-capacity-optimized"}
}

// RollingUpdateSpec tunes instance replacement.
type RollingUpdateSpec struct {
	// MaxSurge is how many extra instances may be launched at once: a
	// number or a percentage of the group's size.
	MaxSurge *intstr.IntOrString `json:"maxSurge,omitempty"`
	// MaxUnavailable is how many instances may be missing at once.
	MaxUnavailable *intstr.IntOrString `json:"maxUnavailable,omitempty"`
}

// Manifests is a Cluster with its InstanceGroups: the unit kapstan
// validates, stores and applies. It is not itself a kind.
type Manifests struct {
	Cluster        *Cluster
	InstanceGroups []*InstanceGroup
}

// InstanceGroup returns the group named name, or nil.
func (m *Manifests) InstanceGroup(name string) *InstanceGroup {
	for _, ig := range m.InstanceGroups {
		if ig.Metadata.Name == name {
			return ig
		}
	}
	return nil
}

// DeepCopy returns manifests that share no memory with m.
func (m *Manifests) DeepCopy() *Manifests {
	out := &Manifests{}
	if m.Cluster != nil {
		out.Cluster = roundTrip(m.Cluster)
	}
	for _, ig := range m.InstanceGroups {
		out.InstanceGroups = append(out.InstanceGroups, roundTrip(ig))
	}
	return out
}

// roundTrip copies a value through JSON. The API types are plain data with
// JSON tags on every field, so this copy is exact.
func roundTrip[T any](in *T) *T {
	data, err := json.Marshal(in)
	if err != nil {
		return nil // unreachable: the API types always marshal
	}
	out := new(T)
	if err := json.Unmarshal(data, out); err != nil {
		return nil
	}
	return out
}
