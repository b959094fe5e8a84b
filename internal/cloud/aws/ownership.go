package aws

import (
	"fmt"
	"slices"
	"strings"
)

// Ownership: who made a resource that carries a cluster's tags.
//
// kops, kapstan and the other tools of their family tag what they make the
// same way (KubernetesCluster=NAME, kubernetes.io/cluster/NAME=owned), and
// so do Kubernetes' own controllers. Those tags say a resource serves the
// cluster, not that this tool may delete it: a kops cluster of the same
// name in the same account carries them too. So a delete decides, per
// resource, from the marks each maker sets, and deletes by default only
// what it can prove is the cluster's: what kapstan made, and what
// Kubernetes made for it. Everything else tagged for the cluster is
// foreign: shown, never deleted unless the user asks for it by name.

// Origin says who made a resource found for a cluster's delete.
type Origin string

// Origins.
const (
	// OriginKapstan resources carry the cluster's kapstan.io/address tag.
	OriginKapstan Origin = "owned"
	// OriginKubernetes resources were made for the cluster by Kubernetes
	// (Services' load balancers and their security groups, persistent
	// volumes, network interfaces of the VPC CNI) or by the cluster's own
	// Auto Scaling groups (instances), recognised by the marks those
	// components set.
	OriginKubernetes Origin = "owned (kubernetes)"
	// OriginShared resources are the user's and only lose the tag.
	OriginShared Origin = "shared"
	// OriginForeign resources carry the cluster's tags but none of the
	// marks above: another tool made them. They are never deleted unless
	// the delete is told to include them.
	OriginForeign Origin = "foreign"
)

// Tags Kubernetes components set on what they make for a cluster.
const (
	// tagServiceName is set by the AWS cloud provider on a Service's load
	// balancers and target groups.
	tagServiceName = "kubernetes.io/service-name"
	// tagLBControllerCluster is set by the AWS Load Balancer Controller on
	// its load balancers, target groups and security groups.
	tagLBControllerCluster = "elbv2.k8s.aws/cluster"
	// tagPVCName is set by the in-tree EBS provisioner on a persistent
	// volume's EBS volume.
	tagPVCName = "kubernetes.io/created-for/pvc/name"
	// tagEBSCSICluster is set by the EBS CSI driver on the volumes it
	// provisions.
	tagEBSCSICluster = "ebs.csi.aws.com/cluster"
	// tagCNIInstance is set by the Amazon VPC CNI on the network interfaces
	// it attaches to a node.
	tagCNIInstance = "node.k8s.amazonaws.com/instance_id"
	// tagASGName is set by Auto Scaling on the instances a group launches.
	tagASGName = "aws:autoscaling:groupName"
	// k8sELBGroupPrefix starts the name of the security group the AWS
	// cloud provider makes for a Service's load balancer.
	k8sELBGroupPrefix = "k8s-elb-"
)

// verdict is who made a resource, and the evidence, for the preview.
type verdict struct {
	Origin Origin
	// Why is the evidence, e.g. "kubernetes.io/service-name=default/web".
	Why string
}

// ownership decides who made a resource of kind tagged for cluster, from
// its tags alone, with a few facts only the caller knows: the name of its
// security group (groupName, for k8s-elb- groups) and the Auto Scaling
// groups kapstan made for the cluster (ownGroups, for instances).
//
// The order matters: shared first (the user's, never deleted), then
// kapstan's address tag, then the marks of Kubernetes' components; what is
// left is foreign.
func ownership(cluster, kind string, tags Tags, groupName string, ownGroups map[string]bool) verdict {
	if tags[TagClusterPrefix+cluster] == "shared" {
		return verdict{Origin: OriginShared}
	}
	if a, ok := tags[TagAddress]; ok && tags[TagKubernetesCluster] == cluster {
		return verdict{Origin: OriginKapstan, Why: TagAddress + "=" + a}
	}
	mark := func(key string) (verdict, bool) {
		if v, ok := tags[key]; ok {
			return verdict{Origin: OriginKubernetes, Why: key + "=" + v}, true
		}
		return verdict{}, false
	}
	switch kind {
	case KindLoadBalancer, KindTargetGroup, KindClassicLoadBalancer:
		if v, ok := mark(tagServiceName); ok {
			return v
		}
		if tags[tagLBControllerCluster] == cluster {
			return verdict{Origin: OriginKubernetes, Why: tagLBControllerCluster + "=" + cluster}
		}
	case KindSecurityGroup:
		if strings.HasPrefix(groupName, k8sELBGroupPrefix) {
			return verdict{Origin: OriginKubernetes, Why: "group name " + groupName}
		}
		if tags[tagLBControllerCluster] == cluster {
			return verdict{Origin: OriginKubernetes, Why: tagLBControllerCluster + "=" + cluster}
		}
	case KindVolume:
		if v, ok := mark(tagPVCName); ok {
			return v
		}
		if tags[tagEBSCSICluster] == "true" {
			return verdict{Origin: OriginKubernetes, Why: tagEBSCSICluster + "=true"}
		}
	case KindInstance:
		if g := tags[tagASGName]; g != "" && ownGroups[g] {
			return verdict{Origin: OriginKubernetes, Why: "launched by the cluster's Auto Scaling group " + g}
		}
	case KindNetworkInterface:
		if v, ok := mark(tagCNIInstance); ok {
			return v
		}
	}
	return verdict{Origin: OriginForeign, Why: madeBy(tags)}
}

// toolMarks are tag keys (or key prefixes, ending in "/") that tell which
// tool made a resource, with the tool's name.
var toolMarks = []struct{ key, tool string }{
	{"kops.k8s.io/", "kops"},
	{"k8s.io/etcd/", "kops"},
	{"k8s.io/role/master", "kops"},
	{"k8s.io/role/control-plane", "kops"},
	{"alpha.eksctl.io/", "eksctl"},
	{"eksctl.cluster.k8s.io/", "eksctl"},
	{"aws:cloudformation:stack-name", "CloudFormation"},
	{"aws:eks:cluster-name", "EKS"},
	{"karpenter.sh/", "Karpenter"},
	{tagASGName, "Auto Scaling"},
}

// madeBy names the tool that made a resource, with the tags that tell,
// as far as its tags tell: "kops (k8s.io/etcd/main=a/a,b,c)". Without
// such a tag it says only that another tool made it.
func madeBy(tags Tags) string {
	var tools, evidence []string
	for _, k := range sortedKeys(tags) {
		for _, m := range toolMarks {
			if k == m.key || (strings.HasSuffix(m.key, "/") && strings.HasPrefix(k, m.key)) {
				if !slices.Contains(tools, m.tool) {
					tools = append(tools, m.tool)
				}
				if len(evidence) < 2 {
					evidence = append(evidence, fmt.Sprintf("%s=%s", k, tags[k]))
				}
				break
			}
		}
	}
	if len(tools) == 0 {
		return "made by another tool"
	}
	return fmt.Sprintf("made by %s (%s)", strings.Join(tools, ", "), strings.Join(evidence, ", "))
}
