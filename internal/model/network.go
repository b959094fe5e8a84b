package model

import (
	awscloud "github.com/kapstan/kapstan/internal/cloud/aws"
	"github.com/kapstan/kapstan/internal/engine"
	api "github.com/kapstan/kapstan/pkg/apis/kapstan/v1alpha1"
)

// network is what the rest of the model refers to.
type network struct {
	vpc engine.Ref
	// subnets by spec name.
	subnets map[string]engine.Ref
}

// Subnet role tags tell Kubernetes' load balancer controllers where to put
// public and internal load balancers.
const (
	tagRoleELB         = "kubernetes.io/role/elb"
	tagRoleInternalELB = "kubernetes.io/role/internal-elb"
)

// network builds the VPC, internet gateway, subnets, NAT gateways and
// routing. An existing VPC (spec.networkID) and existing subnets and NAT
// gateways are only tagged as shared: their routing is their owner's.
func (b *builder) network() network {
	s := b.m.Cluster.Spec
	n := network{vpc: engine.RefTo(awscloud.KindVPC, b.cluster), subnets: map[string]engine.Ref{}}
	shared := s.NetworkID != ""
	if shared {
		b.add(&awscloud.VPC{Name: b.cluster, ID: s.NetworkID, CIDR: s.NetworkCIDR, Shared: true, Tags: awscloud.SharedTags(b.cluster)})
	} else {
		addr := engine.Address{Kind: awscloud.KindVPC, Name: b.cluster}
		b.add(&awscloud.VPC{Name: b.cluster, CIDR: s.NetworkCIDR, EnableDNSHostnames: true, EnableDNSSupport: true,
			Tags: b.tags(addr, b.cluster)})
	}

	for _, sn := range s.Subnets {
		n.subnets[sn.Name] = engine.RefTo(awscloud.KindSubnet, sn.Name)
		if sn.ID != "" {
			b.add(&awscloud.Subnet{Name: sn.Name, ID: sn.ID, VPC: n.vpc, CIDR: sn.CIDR, Zone: sn.Zone, Shared: true,
				Tags: awscloud.SharedTags(b.cluster)})
			continue
		}
		role := map[string]string{tagRoleELB: "1"}
		if sn.Type == api.SubnetTypePrivate {
			role = map[string]string{tagRoleInternalELB: "1"}
		}
		addr := engine.Address{Kind: awscloud.KindSubnet, Name: sn.Name}
		b.add(&awscloud.Subnet{Name: sn.Name, VPC: n.vpc, CIDR: sn.CIDR, Zone: sn.Zone,
			MapPublicIP: sn.Type != api.SubnetTypePrivate, Tags: b.tags(addr, dotted(sn.Name, b.cluster), role)})
	}
	for _, sn := range s.Subnets {
		if sn.Egress != "" {
			name := "egress-" + sn.Name
			b.add(&awscloud.NATGateway{Name: name, ID: sn.Egress, Shared: true, Tags: awscloud.SharedTags(b.cluster)})
		}
	}
	if shared {
		return n
	}
	b.routing(n)
	return n
}

// routing builds, in a VPC kapstan owns: an internet gateway; one public
// route table for public and utility subnets; and per zone with private
// subnets, a NAT gateway (in the zone's utility or public subnet) with its
// elastic IP, and a private route table through it.
func (b *builder) routing(n network) {
	s := b.m.Cluster.Spec
	igwAddr := engine.Address{Kind: awscloud.KindInternetGateway, Name: b.cluster}
	b.add(&awscloud.InternetGateway{Name: b.cluster, VPC: n.vpc, Tags: b.tags(igwAddr, b.cluster)})

	const public = "public"
	rtAddr := engine.Address{Kind: awscloud.KindRouteTable, Name: public}
	b.add(&awscloud.RouteTable{Name: public, VPC: n.vpc, Tags: b.tags(rtAddr, dotted(public, b.cluster))})
	publicRT := engine.RefTo(awscloud.KindRouteTable, public)
	b.add(&awscloud.Route{Name: awscloud.RouteName(public, "0.0.0.0/0"), RouteTable: publicRT, Destination: "0.0.0.0/0",
		InternetGateway: engine.RefTo(awscloud.KindInternetGateway, b.cluster)})
	for _, sn := range s.Subnets {
		if sn.Type != api.SubnetTypePrivate {
			b.add(&awscloud.RouteTableAssociation{Name: awscloud.AssociationName(sn.Name), RouteTable: publicRT, Subnet: n.subnets[sn.Name]})
		}
	}

	for _, zone := range s.Zones {
		var private []api.ClusterSubnet
		egress := "" // the NAT gateway the spec names for this zone, if any
		for _, sn := range s.Subnets {
			if sn.Zone == zone && sn.Type == api.SubnetTypePrivate {
				private = append(private, sn)
				if sn.Egress != "" && egress == "" {
					egress = "egress-" + sn.Name
				}
			}
		}
		if len(private) == 0 {
			continue
		}
		rtName := "private-" + zone
		rt := engine.RefTo(awscloud.KindRouteTable, rtName)
		addr := engine.Address{Kind: awscloud.KindRouteTable, Name: rtName}
		b.add(&awscloud.RouteTable{Name: rtName, VPC: n.vpc, Tags: b.tags(addr, dotted(rtName, b.cluster))})
		route := &awscloud.Route{Name: awscloud.RouteName(rtName, "0.0.0.0/0"), RouteTable: rt, Destination: "0.0.0.0/0"}
		if egress != "" {
			route.NATGateway = engine.RefTo(awscloud.KindNATGateway, egress)
		} else {
			route.NATGateway = b.natGateway(n, zone)
		}
		b.add(route)
		for _, sn := range private {
			b.add(&awscloud.RouteTableAssociation{Name: awscloud.AssociationName(sn.Name), RouteTable: rt, Subnet: n.subnets[sn.Name]})
		}
	}
}

// natGateway adds a zone's NAT gateway and elastic IP, in the zone's
// utility subnet (or public, if it has none), and returns a ref to it.
func (b *builder) natGateway(n network, zone string) engine.Ref {
	var home string
	for _, t := range []api.SubnetType{api.SubnetTypeUtility, api.SubnetTypePublic} {
		for _, sn := range b.m.Cluster.Spec.Subnets {
			if home == "" && sn.Zone == zone && sn.Type == t {
				home = sn.Name
			}
		}
	}
	eipAddr := engine.Address{Kind: awscloud.KindElasticIP, Name: zone}
	b.add(&awscloud.ElasticIP{Name: zone, Tags: b.tags(eipAddr, dotted(zone, b.cluster))})
	natAddr := engine.Address{Kind: awscloud.KindNATGateway, Name: zone}
	b.add(&awscloud.NATGateway{Name: zone, Subnet: n.subnets[home], ElasticIP: engine.RefTo(awscloud.KindElasticIP, zone),
		Tags: b.tags(natAddr, dotted(zone, b.cluster))})
	return engine.RefTo(awscloud.KindNATGateway, zone)
}
