package aws

import (
	"testing"

	"github.com/kapstan/kapstan/internal/engine"
)

func TestOwnership(t *testing.T) {
	const cluster = "shop.example.com"
	clusterTags := func(extra ...string) Tags {
		t := Tags{TagKubernetesCluster: cluster, TagClusterPrefix + cluster: "owned"}
		for i := 0; i+1 < len(extra); i += 2 {
			t[extra[i]] = extra[i+1]
		}
		return t
	}
	own := map[string]bool{"nodes-us-east-1a": true}
	cases := []struct {
		name      string
		kind      string
		tags      Tags
		groupName string
		want      Origin
		wantWhy   string
	}{
		{"kapstan's address", KindVPC, clusterTags(TagAddress, "VPC/shop"), "", OriginKapstan, TagAddress + "=VPC/shop"},
		{"an address for another cluster is not ours", KindVPC, Tags{TagKubernetesCluster: "other", TagAddress: "VPC/x", TagClusterPrefix + cluster: "owned"}, "", OriginForeign, "made by another tool"},
		{"shared", KindSubnet, Tags{TagClusterPrefix + cluster: "shared"}, "", OriginShared, ""},
		{"service load balancer", KindClassicLoadBalancer, clusterTags(tagServiceName, "default/web"), "", OriginKubernetes, tagServiceName + "=default/web"},
		{"service target group", KindTargetGroup, clusterTags(tagServiceName, "default/web"), "", OriginKubernetes, tagServiceName + "=default/web"},
		{"load balancer controller", KindLoadBalancer, clusterTags(tagLBControllerCluster, cluster), "", OriginKubernetes, tagLBControllerCluster + "=" + cluster},
		{"k8s-elb security group", KindSecurityGroup, clusterTags(), "k8s-elb-a1b2c3", OriginKubernetes, "group name k8s-elb-a1b2c3"},
		{"kops security group", KindSecurityGroup, clusterTags("Name", "masters."+cluster), "masters." + cluster, OriginForeign, "made by another tool"},
		{"in-tree persistent volume", KindVolume, clusterTags(tagPVCName, "data"), "", OriginKubernetes, tagPVCName + "=data"},
		{"EBS CSI volume", KindVolume, Tags{TagClusterPrefix + cluster: "owned", tagEBSCSICluster: "true", "CSIVolumeName": "pvc-1"}, "", OriginKubernetes, tagEBSCSICluster + "=true"},
		{"kops etcd volume", KindVolume, clusterTags("k8s.io/etcd/main", "a/a", "k8s.io/role/master", "1"), "", OriginForeign, "made by kops (k8s.io/etcd/main=a/a, k8s.io/role/master=1)"},
		{"instance of the cluster's group", KindInstance, clusterTags(tagASGName, "nodes-us-east-1a"), "", OriginKubernetes, "launched by the cluster's Auto Scaling group nodes-us-east-1a"},
		{"instance of another group", KindInstance, clusterTags(tagASGName, "nodes.shop", "kops.k8s.io/instancegroup", "nodes"), "", OriginForeign, "made by Auto Scaling, kops (aws:autoscaling:groupName=nodes.shop, kops.k8s.io/instancegroup=nodes)"},
		{"VPC CNI interface", KindNetworkInterface, clusterTags(tagCNIInstance, "i-1"), "", OriginKubernetes, tagCNIInstance + "=i-1"},
		{"service mark on a kind Kubernetes does not make", KindVPC, clusterTags(tagServiceName, "default/web"), "", OriginForeign, "made by another tool"},
		{"eksctl", KindVPC, clusterTags("alpha.eksctl.io/cluster-name", "shop"), "", OriginForeign, "made by eksctl (alpha.eksctl.io/cluster-name=shop)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := ownership(cluster, tc.kind, tc.tags, tc.groupName, own)
			if got.Origin != tc.want || got.Why != tc.wantWhy {
				t.Errorf("ownership = %q (%s), want %q (%s)", got.Origin, got.Why, tc.want, tc.wantWhy)
			}
		})
	}
}

// TestSortRootVolumeGoesWithItsInstance covers what moto cannot show: AWS
// gives an instance's root volume and primary interface the instance's
// tags (kapstan's launch templates tag volumes; moto drops template volume
// tags), so they carry the cluster's tags and no mark of Kubernetes. They
// are the instance's own, deleted with it, and belong to whoever the
// instance belongs to; an etcd volume attached without DeleteOnTermination
// stays foreign. Recorded shapes of DescribeVolumes and
// DescribeNetworkInterfaces on AWS (2026-11) are reduced to what sorting
// reads.
func TestSortRootVolumeGoesWithItsInstance(t *testing.T) {
	const cluster = "shop.k8s.local"
	tags := Tags{TagKubernetesCluster: cluster, TagClusterPrefix + cluster: "owned", "Name": "nodes"}
	withGroup := func(g string) Tags { t := Tags{tagASGName: g}; return mergeTags(t, tags) }
	others := []tagged{
		{res: &Volume{Name: "vol-root", ID: "vol-root"}, tags: tags, withInstance: "i-own", after: []string{"i-own"}},
		{res: &NetworkInterface{ID: "eni-own", Attachment: "i-own"}, tags: tags, withInstance: "i-own"},
		{res: &Volume{Name: "vol-etcd", ID: "vol-etcd"}, tags: mergeTags(Tags{"k8s.io/etcd/main": "a/a"}, tags), after: []string{"i-kops"}},
		{res: &Volume{Name: "vol-kops-root", ID: "vol-kops-root"}, tags: tags, withInstance: "i-kops", after: []string{"i-kops"}},
		{res: &Instance{ID: "i-own", GroupName: "nodes-a"}, tags: withGroup("nodes-a")},
		{res: &Instance{ID: "i-kops", GroupName: "nodes.kops"}, tags: withGroup("nodes.kops")},
	}
	s := sorting{cluster: cluster, ownGroups: map[string]bool{"nodes-a": true}, liveGroups: map[string]bool{"nodes.kops": true}}
	d := s.sort(nil, others)
	origin := map[string]Origin{}
	for _, r := range d.Delete {
		origin[r.Address().Name] = d.Origin(r)
	}
	for _, r := range d.Foreign {
		origin[r.Address().Name] = d.Origin(r)
	}
	want := map[string]Origin{
		"vol-root": OriginKubernetes, "eni-own": OriginKubernetes, "i-own": OriginKubernetes,
		"vol-etcd": OriginForeign, "vol-kops-root": OriginForeign, "i-kops": OriginForeign,
	}
	for name, o := range want {
		if origin[name] != o {
			t.Errorf("%s: origin %q, want %q", name, origin[name], o)
		}
	}
	if len(d.Delete) != 3 || len(d.Kept) != 0 {
		t.Errorf("delete %d, kept %v: want the cluster's instance with its disk and interface, nothing kept", len(d.Delete), d.Kept)
	}
	// The instance goes before its disk.
	for _, r := range d.Delete {
		if r.Address().Name == "vol-root" {
			if after := r.(*found).DeleteAfter(); len(after) != 1 || after[0] != (engine.Address{Kind: KindInstance, Name: "i-own"}) {
				t.Errorf("root volume deletes after %v, want its instance", after)
			}
		}
	}
}
