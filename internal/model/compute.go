package model

import (
	"fmt"

	"github.com/kapstan/kapstan/internal/bootstrap"
	awscloud "github.com/kapstan/kapstan/internal/cloud/aws"
	"github.com/kapstan/kapstan/internal/engine"
	"github.com/kapstan/kapstan/internal/nodeup"
	api "github.com/kapstan/kapstan/pkg/apis/kapstan/v1alpha1"
)

// Tags on instances that say what they are.
const (
	TagInstanceGroup = awscloud.TagInstanceGroup
	tagRolePrefix    = "k8s.io/role/"
)

// keyPair adds the EC2 key pair for the spec's SSH key, if any.
func (b *builder) keyPair() engine.Ref {
	key := b.m.Cluster.Spec.SSHPublicKey
	if key == "" {
		return engine.Ref{}
	}
	fp, err := awscloud.KeyFingerprint(key)
	if err != nil {
		fp = "" // validation has parsed the key; an unknown type only loses the change check
	}
	addr := engine.Address{Kind: awscloud.KindKeyPair, Name: b.cluster}
	b.add(&awscloud.KeyPair{Name: b.cluster, KeyName: "kapstan." + b.cluster, PublicKey: key, Fingerprint: fp,
		Tags: b.tags(addr, b.cluster)})
	return engine.RefTo(awscloud.KindKeyPair, b.cluster)
}

// loadBalancer builds the API's network load balancer, its target group
// and its TCP 443 listener. It returns a ref to the target group, which the
// control-plane groups register in.
type apiLB struct {
	lb, tg engine.Ref
}

func (b *builder) loadBalancer(n network, sgs securityGroups) apiLB {
	s := b.m.Cluster.Spec
	internal := s.API.LoadBalancerType == api.LoadBalancerInternal
	// A public load balancer lives in the public-facing subnets (utility
	// in a private topology); an internal one beside the control plane.
	want := api.SubnetTypePublic
	switch {
	case internal && s.Topology.ControlPlane == api.TopologyPrivate:
		want = api.SubnetTypePrivate
	case s.Topology.ControlPlane == api.TopologyPrivate || s.Topology.Nodes == api.TopologyPrivate:
		want = api.SubnetTypeUtility
	}
	var subnets []engine.Ref
	seen := map[string]bool{}
	for _, sn := range s.Subnets {
		if sn.Type == want && !seen[sn.Zone] {
			seen[sn.Zone] = true
			subnets = append(subnets, n.subnets[sn.Name])
		}
	}
	scheme := "internet-facing"
	if internal {
		scheme = "internal"
	}
	const name = "api"
	lbAddr := engine.Address{Kind: awscloud.KindLoadBalancer, Name: name}
	b.add(&awscloud.LoadBalancer{Name: name, LBName: elbName("api", b.cluster), Scheme: scheme, Subnets: subnets,
		SecurityGroups: []engine.Ref{sgs[sgAPI]}, Tags: b.tags(lbAddr, dotted(name, b.cluster))})
	tgAddr := engine.Address{Kind: awscloud.KindTargetGroup, Name: name}
	b.add(&awscloud.TargetGroup{Name: name, TGName: elbName("tcp", b.cluster), VPC: n.vpc, Port: 443, Protocol: "TCP",
		Tags: b.tags(tgAddr, dotted(name, b.cluster))})
	lb, tg := engine.RefTo(awscloud.KindLoadBalancer, name), engine.RefTo(awscloud.KindTargetGroup, name)
	b.add(&awscloud.Listener{Name: awscloud.ListenerName(name, 443), LoadBalancer: lb, TargetGroup: tg, Port: 443, Protocol: "TCP"})
	return apiLB{lb: lb, tg: tg}
}

// instanceGroups builds a launch template and an Auto Scaling group for
// each instance group.
func (b *builder) instanceGroups(n network, sgs securityGroups, profiles roleNames, key engine.Ref, lb apiLB) error {
	for _, ig := range b.m.InstanceGroups {
		s := ig.Spec
		name := ig.Metadata.Name
		awsName := dotted(name, b.cluster)
		var configHash string
		if s.Role != api.RoleBastion {
			h, err := nodeup.SpecHash(b.m, name)
			if err != nil {
				return err
			}
			configHash = h
		}
		userData, err := bootstrap.UserData(bootstrap.Input{Cluster: b.cluster, InstanceGroup: name, Role: string(s.Role),
			StateStore: b.opts.StateStore, AgentURL: b.opts.AgentURL, AgentSHA256: b.opts.AgentSHA256, ConfigHash: configHash})
		if err != nil {
			return err
		}
		image := s.Image
		if id, ok := b.opts.Facts.Images[s.Image]; ok {
			image = id
		}
		labels := map[string]string{TagInstanceGroup: name, tagRolePrefix + roleTag(s.Role): "1"}
		for k, v := range s.CloudLabels {
			labels[k] = v
		}
		ltAddr := engine.Address{Kind: awscloud.KindLaunchTemplate, Name: name}
		instanceTags := b.tags(ltAddr, awsName, labels)
		delete(instanceTags, awscloud.TagAddress) // instances belong to the group, not to an address
		lt := &awscloud.LaunchTemplate{
			Name: name, TemplateName: limitName(awsName, maxTemplateLen),
			ImageID: image, InstanceType: s.MachineType,
			SecurityGroups:  []engine.Ref{sgs[shortRole(s.Role)]},
			InstanceProfile: profiles[s.Role], KeyPair: key, UserData: userData,
			RootVolumeSize: s.RootVolume.Size, RootVolumeType: s.RootVolume.Type,
			RootVolumeEncrypted: s.RootVolume.Encrypted == nil || *s.RootVolume.Encrypted,
			SpotMaxPrice:        s.MaxPrice,
			Tags:                b.tags(ltAddr, awsName, labels), InstanceTags: instanceTags,
		}
		b.add(lt)

		var subnets []engine.Ref
		for _, sn := range s.Subnets {
			subnets = append(subnets, n.subnets[sn])
		}
		asgAddr := engine.Address{Kind: awscloud.KindAutoScalingGroup, Name: name}
		asg := &awscloud.AutoScalingGroup{
			Name: name, GroupName: awsName, LaunchTemplate: engine.RefTo(awscloud.KindLaunchTemplate, name),
			MinSize: s.MinSize, MaxSize: s.MaxSize, Subnets: subnets, Tags: b.tags(asgAddr, awsName, labels),
		}
		if s.Role == api.RoleControlPlane {
			asg.TargetGroups = []engine.Ref{lb.tg}
		}
		if mip := s.MixedInstancesPolicy; mip != nil {
			asg.MixedInstances = &awscloud.MixedInstances{InstanceTypes: mip.Instances, SpotAllocationStrategy: mip.SpotAllocationStrategy}
			if mip.OnDemandBase != nil {
				asg.MixedInstances.OnDemandBase = *mip.OnDemandBase
			}
			asg.MixedInstances.OnDemandAboveBase = 100
			if mip.OnDemandAboveBase != nil {
				asg.MixedInstances.OnDemandAboveBase = *mip.OnDemandAboveBase
			}
		}
		b.add(asg)
	}
	return nil
}

// roleTag is the k8s.io/role/ tag value each role's instances carry, as
// Kubernetes tooling (and kops) spell it.
func roleTag(r api.InstanceGroupRole) string {
	switch r {
	case api.RoleControlPlane:
		return "control-plane"
	case api.RoleBastion:
		return "bastion"
	}
	return "node"
}

// EtcdTagPrefix + the etcd cluster's name is the tag whose value names the
// member a volume belongs to; nodeup finds its volumes by it.
const EtcdTagPrefix = "kapstan.io/etcd/"

// etcdVolumes builds one encrypted volume per etcd member, in the zone of
// the member's control-plane group.
func (b *builder) etcdVolumes() error {
	zoneOf := map[string]string{}
	for _, sn := range b.m.Cluster.Spec.Subnets {
		zoneOf[sn.Name] = sn.Zone
	}
	for _, ec := range b.m.Cluster.Spec.EtcdClusters {
		for _, mem := range ec.Members {
			ig := b.m.InstanceGroup(mem.InstanceGroup)
			if ig == nil || len(ig.Spec.Subnets) == 0 {
				return fmt.Errorf("model: etcd member %s/%s: instance group %q has no subnet", ec.Name, mem.Name, mem.InstanceGroup)
			}
			name := ec.Name + "-" + mem.Name
			addr := engine.Address{Kind: awscloud.KindVolume, Name: name}
			b.add(&awscloud.Volume{Name: name, Zone: zoneOf[ig.Spec.Subnets[0]], Size: mem.VolumeSize, Type: mem.VolumeType,
				Encrypted: mem.Encrypted == nil || *mem.Encrypted,
				Tags: b.tags(addr, dotted(name+".etcd", b.cluster), map[string]string{
					EtcdTagPrefix + ec.Name: mem.Name, tagRolePrefix + "control-plane": "1",
				})})
		}
	}
	return nil
}

// dns adds the API's records when the cluster uses a DNS zone.
func (b *builder) dns(lb apiLB) {
	s := b.m.Cluster.Spec
	if s.DNSZone == "" {
		return
	}
	for _, rec := range []string{s.API.DNSName, "api.internal." + b.cluster} {
		if rec == "" {
			continue
		}
		b.add(&awscloud.DNSRecord{Name: rec, ZoneName: s.DNSZone, RecordName: rec, LoadBalancer: lb.lb})
	}
}
