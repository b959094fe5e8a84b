package model

import (
	"fmt"

	awscloud "github.com/kapstan/kapstan/internal/cloud/aws"
	"github.com/kapstan/kapstan/internal/engine"
	api "github.com/kapstan/kapstan/pkg/apis/kapstan/v1alpha1"
)

// Security group names in the graph.
const (
	sgControlPlane = "control-plane"
	sgNodes        = "nodes"
	sgBastion      = "bastion"
	sgAPI          = "api-lb"
)

// securityGroups holds refs to the groups by name.
type securityGroups map[string]engine.Ref

// port is a protocol and port range.
type port struct {
	protocol string
	from, to int32
}

var allTraffic = port{protocol: "-1"}

func tcp(p int32) port { return port{"tcp", p, p} }
func udp(p int32) port { return port{"udp", p, p} }

// cniPorts are what the nodes' CNI needs open between nodes and control
// plane, beyond the API.
func cniPorts(cni string) []port {
	switch cni {
	case "cilium":
		return []port{udp(8472), tcp(4240)} // VXLAN overlay, health checks
	case "calico":
		return []port{tcp(179), {protocol: "4"}} // BGP, IP-in-IP
	case "flannel":
		return []port{udp(8472)}
	}
	return nil // amazon-vpc: pods use VPC addresses, nothing extra
}

// securityGroups builds one group per role and the API load balancer's,
// and the ingress rules between them: least privilege, with everything
// inside a role allowed.
func (b *builder) securityGroups(n network) securityGroups {
	s := b.m.Cluster.Spec
	groups := []string{sgControlPlane, sgNodes, sgAPI}
	if b.hasRole(api.RoleBastion) {
		groups = append(groups, sgBastion)
	}
	sgs := securityGroups{}
	for _, g := range groups {
		addr := engine.Address{Kind: awscloud.KindSecurityGroup, Name: g}
		b.add(&awscloud.SecurityGroup{Name: g, GroupName: limitName(dotted(g, b.cluster), maxGroupName), VPC: n.vpc,
			Description: fmt.Sprintf("%s of Kubernetes cluster %s", g, b.cluster), Tags: b.tags(addr, dotted(g, b.cluster))})
		sgs[g] = engine.RefTo(awscloud.KindSecurityGroup, g)
	}

	b.ruleFromGroup(sgs, sgControlPlane, sgControlPlane, allTraffic, "control plane to control plane")
	b.ruleFromGroup(sgs, sgNodes, sgNodes, allTraffic, "nodes to nodes")
	b.ruleFromGroup(sgs, sgNodes, sgControlPlane, allTraffic, "control plane to nodes")
	b.ruleFromGroup(sgs, sgControlPlane, sgNodes, tcp(443), "nodes to the API")
	for _, p := range cniPorts(s.Networking.CNI) {
		b.ruleFromGroup(sgs, sgControlPlane, sgNodes, p, "nodes to control plane: "+s.Networking.CNI)
	}
	b.ruleFromGroup(sgs, sgControlPlane, sgAPI, tcp(443), "API load balancer to the API, and its health checks")
	for _, cidr := range s.KubernetesAPIAccess {
		b.ruleFromCIDR(sgs, sgAPI, cidr, tcp(443), "API access")
	}
	if b.hasRole(api.RoleBastion) {
		for _, cidr := range s.SSHAccess {
			b.ruleFromCIDR(sgs, sgBastion, cidr, tcp(22), "SSH to the bastion")
		}
		b.ruleFromGroup(sgs, sgControlPlane, sgBastion, tcp(22), "SSH from the bastion")
		b.ruleFromGroup(sgs, sgNodes, sgBastion, tcp(22), "SSH from the bastion")
	} else if s.Topology.ControlPlane == api.TopologyPublic || s.Topology.Nodes == api.TopologyPublic {
		for _, cidr := range s.SSHAccess {
			b.ruleFromCIDR(sgs, sgControlPlane, cidr, tcp(22), "SSH")
			b.ruleFromCIDR(sgs, sgNodes, cidr, tcp(22), "SSH")
		}
	}
	return sgs
}

func (b *builder) ruleFromGroup(sgs securityGroups, group, source string, p port, why string) {
	b.add(&awscloud.SecurityGroupRule{
		Name:  awscloud.RuleName(group, p.protocol, p.from, p.to, source),
		Group: sgs[group], Protocol: p.protocol, FromPort: p.from, ToPort: p.to,
		SourceGroup: sgs[source], Description: why,
	})
}

func (b *builder) ruleFromCIDR(sgs securityGroups, group, cidr string, p port, why string) {
	b.add(&awscloud.SecurityGroupRule{
		Name:  awscloud.RuleName(group, p.protocol, p.from, p.to, cidr),
		Group: sgs[group], Protocol: p.protocol, FromPort: p.from, ToPort: p.to,
		CIDR: cidr, Description: why,
	})
}

func (b *builder) hasRole(role api.InstanceGroupRole) bool {
	for _, ig := range b.m.InstanceGroups {
		if ig.Spec.Role == role {
			return true
		}
	}
	return false
}
