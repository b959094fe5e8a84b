// Package clusters holds the cluster specs the target tests render: one
// per topology kapstan supports, each covering a different set of
// resource kinds and options.
package clusters

import (
	"fmt"
	"testing"

	"github.com/kapstan/kapstan/internal/engine"
	"github.com/kapstan/kapstan/internal/model"
	"github.com/kapstan/kapstan/internal/newcluster"
	api "github.com/kapstan/kapstan/pkg/apis/kapstan/v1alpha1"
)

// What nodes are told; fixed so rendered files are stable. AgentSHA256
// is made up: nothing downloads the agent in these tests.
const (
	StateStore  = "s3://kapstan-state/clusters"
	AgentURL    = "https://kapstan-state.s3.us-east-1.amazonaws.com/clusters/assets/kapstan/v0.1.0/linux/amd64/nodeup"
	AgentSHA256 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
)

// SSHPublicKey is the key of the private topology.
const SSHPublicKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG5CqoLwmMROKQdA3FgJr0LtJL2nAFHaX+w6sD98ANmV admin@example.com"

// BastionImage is the private topology's bastion image, an owner/name
// lookup (Canonical's Ubuntu 24.04).
const BastionImage = "099720109477/ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-*"

// Existing names the VPC, subnets and NAT gateways of the shared topology,
// one subnet of each kind and one NAT gateway per zone.
type Existing struct {
	VPC            string
	Subnets        []string
	UtilitySubnets []string
	NATGateways    []string
}

// ExistingIDs are made-up ids for tests that need no cloud.
var ExistingIDs = Existing{
	VPC:            "vpc-0a1b2c3d4e5f60718",
	Subnets:        []string{"subnet-0aaa1111bbbb2222c", "subnet-0ddd3333eeee4444f"},
	UtilitySubnets: []string{"subnet-0fff5555aaaa6666b", "subnet-0bbb7777cccc8888d"},
	NATGateways:    []string{"nat-0123456789abcdef0", "nat-0fedcba9876543210"},
}

// Topology is one cluster spec.
type Topology struct {
	// Name is short, for test and folder names.
	Name      string
	Manifests *api.Manifests
}

// Public is a public cluster in a new VPC: three zones, three
// control-plane groups and a node group, gossip (.k8s.local) DNS.
func Public(t testing.TB) Topology {
	return Topology{"public", build(t, newcluster.Options{Name: "demo.k8s.local",
		Zones: []string{"us-east-1a", "us-east-1b", "us-east-1c"}, ControlPlaneCount: 3, NodeCount: 3})}
}

// Private is a private cluster in a new VPC with utility subnets, NAT
// gateways, a bastion, a Route 53 zone, an SSH key, calico (whose IP-in-IP
// rule has no ports), mixed instances with spot on the nodes and an
// owner/name image on the bastion.
func Private(t testing.TB) Topology {
	m := build(t, newcluster.Options{Name: "private.example.com", Zones: []string{"us-east-1a", "us-east-1b", "us-east-1c"},
		ControlPlaneCount: 3, NodeCount: 2, Topology: "private", Bastion: true, Networking: "calico", SSHPublicKey: SSHPublicKey})
	base, above := int32(1), int32(25)
	nodes := m.InstanceGroup("nodes")
	nodes.Spec.MixedInstancesPolicy = &api.MixedInstancesPolicySpec{
		Instances: []string{"m6i.large", "m5.large"}, OnDemandBase: &base, OnDemandAboveBase: &above,
		SpotAllocationStrategy: "capacity-optimized",
	}
	for _, ig := range m.InstanceGroups {
		if ig.Spec.Role == api.RoleBastion {
			ig.Spec.Image = BastionImage
		}
	}
	return Topology{"private", m}
}

// Shared is a private cluster in an existing VPC whose subnets and NAT
// gateways exist too, as the seed's Terraform workflow has it.
func Shared(t testing.TB, ids Existing) Topology {
	return Topology{"shared", build(t, newcluster.Options{Name: "shared.k8s.local", Zones: []string{"us-east-1a", "us-east-1b"},
		Topology: "private", VPC: ids.VPC, NetworkCIDR: "10.1.0.0/16",
		Subnets: ids.Subnets, UtilitySubnets: ids.UtilitySubnets, NATGateways: ids.NATGateways})}
}

// All are the three topologies, the shared one with ExistingIDs.
func All(t testing.TB) []Topology {
	return []Topology{Public(t), Private(t), Shared(t, ExistingIDs)}
}

// Resources builds a topology's resources as rendering does: no cloud
// facts.
func Resources(t testing.TB, m *api.Manifests) []engine.Resource {
	t.Helper()
	rs, err := model.Build(m, model.Options{StateStore: StateStore, AgentURL: AgentURL, AgentSHA256: AgentSHA256})
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func build(t testing.TB, o newcluster.Options) *api.Manifests {
	t.Helper()
	m, err := newcluster.Build(o)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// Scaled is the public topology with n instance groups: three
// control-plane groups and n-3 node groups (nodes, nodes-1, …), for
// benchmarks. n must be at least 4.
func Scaled(n int) (*api.Manifests, error) {
	if n < 4 {
		return nil, fmt.Errorf("clusters: %d instance groups: want at least 4", n)
	}
	m, err := newcluster.Build(newcluster.Options{Name: "scaled.k8s.local",
		Zones: []string{"us-east-1a", "us-east-1b", "us-east-1c"}, ControlPlaneCount: 3, NodeCount: 3})
	if err != nil {
		return nil, err
	}
	nodes := m.InstanceGroup("nodes")
	for i := 1; len(m.InstanceGroups) < n; i++ {
		ig := (&api.Manifests{InstanceGroups: []*api.InstanceGroup{nodes}}).DeepCopy().InstanceGroups[0]
		ig.Metadata.Name = fmt.Sprintf("nodes-%d", i)
		m.InstanceGroups = append(m.InstanceGroups, ig)
	}
	return m, nil
}
