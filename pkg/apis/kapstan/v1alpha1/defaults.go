package v1alpha1

import (
	"fmt"
	"strings"
)

// Defaults for fields a user may leave out. They are the values a cluster
// gets when nothing else is said, and the values `create cluster` writes.
const (
	DefaultKubernetesVersion     = "1.36.3"
	DefaultNetworkCIDR           = "172.20.0.0/16"
	DefaultServiceClusterIPRange = "100.64.0.0/13"
	DefaultPodCIDR               = "100.96.0.0/11"
	DefaultClusterDNSDomain      = "cluster.local"
	DefaultCNI                   = "cilium"
	DefaultEtcdVolumeType        = "gp3"
	DefaultEtcdVolumeSize        = 20
	DefaultRootVolumeType        = "gp3"
	// DefaultImage is resolved through the SSM public parameter AWS keeps
	// pointing at the newest Amazon Linux 2023 image.
	DefaultImage = "ssm:/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
	// GossipSuffix marks a cluster that uses no DNS zone.
	GossipSuffix = ".k8s.local"
)

// DefaultMachineType is the instance type each role gets by default.
func DefaultMachineType(role InstanceGroupRole) string {
	switch role {
	case RoleBastion:
		return "t3.micro"
	default:
		return "t3.medium"
	}
}

// DefaultRootVolumeSize is the boot disk size (GiB) each role gets by default.
func DefaultRootVolumeSize(role InstanceGroupRole) int32 {
	switch role {
	case RoleControlPlane:
		return 64
	case RoleBastion:
		return 32
	default:
		return 128
	}
}

// DefaultFileRepository is the file repository of a cluster whose
// spec.assets.fileRepository is empty: the folder "NAME/assets" of the
// state store, so that a cluster needs no second bucket and its machines,
// which already read their configuration from the store, read their files
// from the same place. For s3://BUCKET/PREFIX it is
// s3://BUCKET/PREFIX/NAME/assets; for file:///DIR it is
// file:///DIR/NAME/assets (machines cannot use it, but a mirror can be
// prepared there). A store of any other kind (memory://) has no default
// and ok is false.
//
// It is not written into the spec by SetDefaults, which does not know the
// store: the default follows the store the cluster is kept in.
func DefaultFileRepository(stateStore, cluster string) (repo string, ok bool) {
	for _, scheme := range []string{"s3://", "file://"} {
		if rest, found := strings.CutPrefix(stateStore, scheme); found && strings.Trim(rest, "/") != "" {
			return strings.TrimSuffix(stateStore, "/") + "/" + cluster + "/assets", true
		}
	}
	return "", false
}

// FileRepository is the cluster's file repository: spec.assets.fileRepository,
// or DefaultFileRepository of the store it is kept in.
func (c *Cluster) FileRepository(stateStore string) (string, error) {
	if c.Spec.Assets != nil && c.Spec.Assets.FileRepository != "" {
		return strings.TrimSuffix(c.Spec.Assets.FileRepository, "/"), nil
	}
	repo, ok := DefaultFileRepository(stateStore, c.Metadata.Name)
	if !ok {
		return "", fmt.Errorf("cluster %q: spec.assets.fileRepository is empty and state store %s gives no default (only s3:// and file:// stores do): set it", c.Metadata.Name, stateStore)
	}
	return repo, nil
}

// ImageRepository is spec.assets.imageRepository, "" when images come as
// archives in the file repository.
func (c *Cluster) ImageRepository() string {
	if c.Spec.Assets == nil {
		return ""
	}
	return strings.TrimSuffix(c.Spec.Assets.ImageRepository, "/")
}

// IsGossip reports whether a cluster name means "no DNS zone".
func IsGossip(clusterName string) bool {
	return strings.HasSuffix(clusterName, GossipSuffix)
}

// SetDefaults fills every field of m that the user left empty and that has
// a default. It never overrides a value the user gave, so defaulting is
// idempotent: SetDefaults twice gives the same manifests as once.
func SetDefaults(m *Manifests) {
	if m.Cluster != nil {
		setClusterDefaults(m.Cluster)
		setEtcdDefaults(m)
	}
	for _, ig := range m.InstanceGroups {
		setInstanceGroupDefaults(ig)
	}
}

func setClusterDefaults(c *Cluster) {
	c.APIVersion, c.Kind = APIVersion, KindCluster
	s := &c.Spec
	name := c.Metadata.Name
	setString(&s.KubernetesVersion, DefaultKubernetesVersion)
	setString(&s.Cloud, "aws")
	if s.Region == "" && len(s.Zones) > 0 {
		s.Region = RegionOfZone(s.Zones[0])
	}
	if s.NetworkID == "" {
		// An existing VPC's range is read from the cloud, not guessed.
		setString(&s.NetworkCIDR, DefaultNetworkCIDR)
	}
	setString((*string)(&s.Topology.ControlPlane), string(TopologyPublic))
	setString((*string)(&s.Topology.Nodes), string(TopologyPublic))
	setString((*string)(&s.API.LoadBalancerType), string(LoadBalancerPublic))
	if !IsGossip(name) {
		if s.DNSZone == "" {
			if _, parent, ok := strings.Cut(name, "."); ok {
				s.DNSZone = parent
			}
		}
		setString(&s.API.DNSName, "api."+name)
	}
	setString(&s.Networking.CNI, DefaultCNI)
	if s.SSHAccess == nil {
		s.SSHAccess = []string{"0.0.0.0/0"}
	}
	if s.KubernetesAPIAccess == nil {
		s.KubernetesAPIAccess = []string{"0.0.0.0/0"}
	}
	setString(&s.ServiceClusterIPRange, DefaultServiceClusterIPRange)
	setString(&s.PodCIDR, DefaultPodCIDR)
	setString(&s.ClusterDNSDomain, DefaultClusterDNSDomain)
	for i := range s.Subnets {
		sn := &s.Subnets[i]
		if sn.Name == "" {
			sn.Name = DefaultSubnetName(sn.Zone, sn.Type)
		}
	}
}

// DefaultSubnetName is the name `create cluster` gives a subnet: the zone,
// with a "utility-" prefix for utility subnets.
func DefaultSubnetName(zone string, t SubnetType) string {
	if t == SubnetTypeUtility {
		return "utility-" + zone
	}
	return zone
}

// setEtcdDefaults gives a cluster with no etcd clusters the usual two, with
// one member per control-plane instance group, and fills in volume settings.
func setEtcdDefaults(m *Manifests) {
	s := &m.Cluster.Spec
	if len(s.EtcdClusters) == 0 {
		var members []EtcdMemberSpec
		for _, ig := range m.InstanceGroups {
			if ig.Spec.Role == RoleControlPlane {
				members = append(members, EtcdMemberSpec{Name: ig.Metadata.Name, InstanceGroup: ig.Metadata.Name})
			}
		}
		if len(members) > 0 {
			for _, name := range []string{"main", "events"} {
				s.EtcdClusters = append(s.EtcdClusters, EtcdClusterSpec{Name: name, Members: append([]EtcdMemberSpec(nil), members...)})
			}
		}
	}
	for i := range s.EtcdClusters {
		for j := range s.EtcdClusters[i].Members {
			mem := &s.EtcdClusters[i].Members[j]
			setString(&mem.Name, mem.InstanceGroup)
			setString(&mem.VolumeType, DefaultEtcdVolumeType)
			if mem.VolumeSize == 0 {
				mem.VolumeSize = DefaultEtcdVolumeSize
			}
			if mem.Encrypted == nil {
				mem.Encrypted = ptrTo(true)
			}
		}
	}
}

func setInstanceGroupDefaults(ig *InstanceGroup) {
	ig.APIVersion, ig.Kind = APIVersion, KindInstanceGroup
	s := &ig.Spec
	setString((*string)(&s.Role), string(RoleNode))
	setString(&s.Image, DefaultImage)
	setString(&s.MachineType, DefaultMachineType(s.Role))
	if s.MinSize == 0 && s.MaxSize == 0 {
		s.MinSize, s.MaxSize = 1, 1
	}
	if s.RootVolume.Size == 0 {
		s.RootVolume.Size = DefaultRootVolumeSize(s.Role)
	}
	setString(&s.RootVolume.Type, DefaultRootVolumeType)
	if s.RootVolume.Encrypted == nil {
		s.RootVolume.Encrypted = ptrTo(true)
	}
}

// RegionOfZone is the region an availability zone belongs to: the zone
// without its final letter ("us-east-1a" → "us-east-1").
func RegionOfZone(zone string) string {
	if len(zone) < 2 {
		return zone
	}
	last := zone[len(zone)-1]
	if last >= 'a' && last <= 'z' {
		return zone[:len(zone)-1]
	}
	return zone
}

func setString(p *string, v string) {
	if *p == "" {
		*p = v
	}
}

func ptrTo[T any](v T) *T { return &v }
