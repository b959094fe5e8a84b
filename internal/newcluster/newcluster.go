// Package newcluster turns the options of `kapstan create cluster` into a
// complete, valid set of manifests: the Cluster with its subnets and etcd
// clusters, one control-plane instance group per control-plane zone, a
// "nodes" group spanning the zones and, when asked, a bastion group.
//
// It makes no cloud call: an existing VPC and subnets are named by id and
// their ranges are checked later, when the cluster is updated.
package newcluster

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/kapstan/kapstan/internal/cidr"
	api "github.com/kapstan/kapstan/pkg/apis/kapstan/v1alpha1"
)

// Options are the choices `create cluster` offers. Zero values mean the
// default.
type Options struct {
	Name              string
	Zones             []string
	ControlPlaneZones []string
	ControlPlaneCount int
	NodeCount         int
	NodeSize          string
	ControlPlaneSize  string
	Topology          string // public or private
	Bastion           bool
	NetworkCIDR       string
	VPC               string
	Subnets           []string // existing subnet ids, in --zones order
	UtilitySubnets    []string // existing utility subnet ids, in --zones order
	NATGateways       []string // existing NAT gateway ids, in --zones order
	Networking        string
	SSHPublicKey      string // the key itself, not a path
	KubernetesVersion string
	DNSZone           string
	APILoadBalancer   string // public or internal
	Image             string
}

// Build makes the manifests for opts, defaulted and validated.
func Build(opts Options) (*api.Manifests, error) {
	if len(opts.Zones) == 0 {
		return nil, errors.New("--zones is required: the availability zones the cluster spans")
	}
	cpZones := opts.ControlPlaneZones
	if len(cpZones) == 0 {
		cpZones = controlPlaneZones(opts.Zones, max(opts.ControlPlaneCount, 1))
	}
	for _, z := range cpZones {
		if !slices.Contains(opts.Zones, z) {
			return nil, fmt.Errorf("--control-plane-zones: %s is not one of --zones", z)
		}
	}
	if opts.ControlPlaneCount > 0 && len(opts.ControlPlaneZones) > 0 && opts.ControlPlaneCount != len(cpZones) {
		return nil, fmt.Errorf("--control-plane-count %d does not match the %d --control-plane-zones", opts.ControlPlaneCount, len(cpZones))
	}

	topology := api.TopologyType(strings.ToLower(opts.Topology))
	if topology == "" {
		topology = api.TopologyPublic
	}
	if topology != api.TopologyPublic && topology != api.TopologyPrivate {
		return nil, fmt.Errorf("--topology %q: must be public or private", opts.Topology)
	}
	c := &api.Cluster{
		Metadata: api.ObjectMeta{Name: opts.Name},
		Spec: api.ClusterSpec{
			KubernetesVersion: strings.TrimPrefix(opts.KubernetesVersion, "v"),
			Zones:             opts.Zones,
			NetworkCIDR:       opts.NetworkCIDR,
			NetworkID:         opts.VPC,
			Topology:          api.Topology{ControlPlane: topology, Nodes: topology, Bastion: opts.Bastion},
			DNSZone:           opts.DNSZone,
			Networking:        api.NetworkingSpec{CNI: opts.Networking},
			SSHPublicKey:      strings.TrimSpace(opts.SSHPublicKey),
		},
	}
	if lb := opts.APILoadBalancer; lb != "" {
		switch strings.ToLower(lb) {
		case "public":
			c.Spec.API.LoadBalancerType = api.LoadBalancerPublic
		case "internal":
			c.Spec.API.LoadBalancerType = api.LoadBalancerInternal
		default:
			return nil, fmt.Errorf("--api-loadbalancer-type %q: must be public or internal", lb)
		}
	}
	if c.Spec.Region == "" {
		c.Spec.Region = api.RegionOfZone(opts.Zones[0])
	}
	subnets, err := buildSubnets(opts, topology)
	if err != nil {
		return nil, err
	}
	c.Spec.Subnets = subnets

	m := &api.Manifests{Cluster: c}
	machineSubnet := api.SubnetTypePublic
	if topology == api.TopologyPrivate {
		machineSubnet = api.SubnetTypePrivate
	}
	for _, z := range cpZones {
		m.InstanceGroups = append(m.InstanceGroups, &api.InstanceGroup{
			Metadata: api.ObjectMeta{Name: "control-plane-" + z},
			Spec: api.InstanceGroupSpec{
				Role: api.RoleControlPlane, MachineType: opts.ControlPlaneSize, Image: opts.Image,
				MinSize: 1, MaxSize: 1,
				Subnets: []string{subnetName(subnets, z, machineSubnet)},
			},
		})
	}
	nodes := int32(max(opts.NodeCount, 1))
	ng := &api.InstanceGroup{
		Metadata: api.ObjectMeta{Name: "nodes"},
		Spec: api.InstanceGroupSpec{
			Role: api.RoleNode, MachineType: opts.NodeSize, Image: opts.Image,
			MinSize: nodes, MaxSize: nodes,
		},
	}
	for _, z := range opts.Zones {
		ng.Spec.Subnets = append(ng.Spec.Subnets, subnetName(subnets, z, machineSubnet))
	}
	m.InstanceGroups = append(m.InstanceGroups, ng)
	if opts.Bastion {
		b := &api.InstanceGroup{
			Metadata: api.ObjectMeta{Name: "bastions"},
			Spec:     api.InstanceGroupSpec{Role: api.RoleBastion, Image: opts.Image, MinSize: 1, MaxSize: 1},
		}
		for _, z := range opts.Zones {
			b.Spec.Subnets = append(b.Spec.Subnets, subnetName(subnets, z, api.SubnetTypeUtility))
		}
		m.InstanceGroups = append(m.InstanceGroups, b)
	}
	api.SetDefaults(m)
	if err := api.Validate(m); err != nil {
		return nil, err
	}
	return m, nil
}

// controlPlaneZones spreads n control-plane groups over the zones, one per
// zone, in order.
func controlPlaneZones(zones []string, n int) []string {
	if n > len(zones) {
		n = len(zones)
	}
	return zones[:n]
}

// buildSubnets lays out one machine subnet per zone (public or private) and,
// for a private topology, one utility subnet per zone. With existing subnet
// ids, ranges are left for update to read from the cloud.
func buildSubnets(opts Options, topology api.TopologyType) ([]api.ClusterSubnet, error) {
	machineType := api.SubnetTypePublic
	if topology == api.TopologyPrivate {
		machineType = api.SubnetTypePrivate
	}
	var out []api.ClusterSubnet
	for i, z := range opts.Zones {
		out = append(out, api.ClusterSubnet{Name: z, Zone: z, Type: machineType,
			ID: at(opts.Subnets, i), Egress: at(opts.NATGateways, i)})
	}
	if topology == api.TopologyPrivate {
		for i, z := range opts.Zones {
			out = append(out, api.ClusterSubnet{Name: api.DefaultSubnetName(z, api.SubnetTypeUtility), Zone: z,
				Type: api.SubnetTypeUtility, ID: at(opts.UtilitySubnets, i)})
		}
	}
	if opts.VPC != "" {
		if err := checkExistingIDs(opts, topology); err != nil {
			return nil, err
		}
		return out, nil // existing subnets: their ranges come from the cloud
	}
	if len(opts.Subnets) > 0 || len(opts.UtilitySubnets) > 0 || len(opts.NATGateways) > 0 {
		return nil, errors.New("--subnets, --utility-subnets and --nat-gateways name parts of an existing VPC: give it with --vpc")
	}
	networkCIDR := opts.NetworkCIDR
	if networkCIDR == "" {
		networkCIDR = api.DefaultNetworkCIDR
	}
	network, err := netip.ParsePrefix(networkCIDR)
	if err != nil {
		return nil, fmt.Errorf("--network-cidr %q: %w", networkCIDR, err)
	}
	mainBits := network.Bits() + cidr.SplitBits(len(opts.Zones))
	var reqs []cidr.Request
	for _, sn := range out {
		b := mainBits
		if sn.Type == api.SubnetTypeUtility {
			b = mainBits + 3
		}
		reqs = append(reqs, cidr.Request{Bits: b})
	}
	prefixes, err := cidr.Allocate(network, nil, reqs)
	if err != nil {
		return nil, fmt.Errorf("laying out subnets in --network-cidr %s: %w", network, err)
	}
	for i := range out {
		out[i].CIDR = prefixes[i].String()
	}
	return out, nil
}

func checkExistingIDs(opts Options, topology api.TopologyType) error {
	if len(opts.Subnets) != len(opts.Zones) {
		return fmt.Errorf("--vpc: give one subnet id per zone with --subnets (%d zones, %d subnets)", len(opts.Zones), len(opts.Subnets))
	}
	if topology == api.TopologyPrivate && len(opts.UtilitySubnets) != len(opts.Zones) {
		return fmt.Errorf("--vpc with --topology private: give one utility subnet id per zone with --utility-subnets (%d zones, %d subnets)", len(opts.Zones), len(opts.UtilitySubnets))
	}
	if len(opts.NATGateways) > 0 && len(opts.NATGateways) != len(opts.Zones) {
		return fmt.Errorf("--nat-gateways: give one NAT gateway id per zone (%d zones, %d gateways)", len(opts.Zones), len(opts.NATGateways))
	}
	return nil
}

func subnetName(subnets []api.ClusterSubnet, zone string, t api.SubnetType) string {
	for _, sn := range subnets {
		if sn.Zone == zone && sn.Type == t {
			return sn.Name
		}
	}
	return ""
}

func at(s []string, i int) string {
	if i < len(s) {
		return s[i]
	}
	return ""
}
