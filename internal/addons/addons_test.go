package addons

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/kapstan/kapstan/internal/channels"
	"github.com/kapstan/kapstan/internal/newcluster"
	"github.com/kapstan/kapstan/internal/store"
	api "github.com/kapstan/kapstan/pkg/apis/kapstan/v1alpha1"
)

// cluster is a valid spec; the service range is the test apiserver's, so
// CoreDNS's Service gets an address it accepts.
func cluster(t *testing.T, name, version string) *api.Manifests {
	t.Helper()
	m, err := newcluster.Build(newcluster.Options{Name: name, Zones: []string{"us-east-1a"}, KubernetesVersion: version})
	if err != nil {
		t.Fatal(err)
	}
	m.Cluster.Spec.ServiceClusterIPRange = "10.0.0.0/24"
	return m
}

func stableChannel(t *testing.T) *channels.Channel {
	t.Helper()
	c, err := channels.Stable()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func render(t *testing.T, m *api.Manifests, st store.Store) *Set {
	t.Helper()
	set, err := Render(context.Background(), m, Options{Channel: stableChannel(t), Store: st, LoadBalancerDNS: "api-lb.elb.amazonaws.com"})
	if err != nil {
		t.Fatal(err)
	}
	return set
}

// find returns the object of kind and name in an add-on.
func find(t *testing.T, set *Set, addon, kind, name string) *unstructured.Unstructured {
	t.Helper()
	for _, a := range set.Addons {
		if a.Name != addon {
			continue
		}
		objs, err := a.Objects()
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range objs {
			if o.GetKind() == kind && o.GetName() == name {
				return o
			}
		}
	}
	t.Fatalf("no %s %s in add-on %s", kind, name, addon)
	return nil
}

func str(t *testing.T, o *unstructured.Unstructured, path ...string) string {
	t.Helper()
	s, _, err := unstructured.NestedString(o.Object, path...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func images(t *testing.T, o *unstructured.Unstructured) []string {
	t.Helper()
	var out []string
	for _, field := range []string{"initContainers", "containers"} {
		cs, _, _ := unstructured.NestedSlice(o.Object, "spec", "template", "spec", field)
		for _, c := range cs {
			out = append(out, c.(map[string]any)["image"].(string))
		}
	}
	return out
}

// TestRenderFromSpec checks that the add-ons take their values from the
// spec and their images from the channel's release of the cluster's minor.
func TestRenderFromSpec(t *testing.T) {
	m := cluster(t, "demo.example.com", "1.35.2")
	m.Cluster.Spec.PodCIDR = "100.96.0.0/11"
	m.Cluster.Spec.ClusterDNSDomain = "corp.local"
	set := render(t, m, nil)
	if d := cmp.Diff([]string{"kube-proxy", "cilium", "coredns", "aws-cloud-controller-manager", "aws-ebs-csi-driver"}, set.Names()); d != "" {
		t.Fatalf("add-ons (-want +got):\n%s", d)
	}
	if got := str(t, find(t, set, "coredns", "Service", "kube-dns"), "spec", "clusterIP"); got != "10.0.0.10" {
		t.Errorf("cluster DNS address %s, want the 10th of 10.0.0.0/24", got)
	}
	if got := str(t, find(t, set, "coredns", "ConfigMap", "coredns"), "data", "Corefile"); !strings.Contains(got, "kubernetes corp.local in-addr.arpa") {
		t.Errorf("Corefile does not serve the cluster domain:\n%s", got)
	}
	proxy := find(t, set, "kube-proxy", "ConfigMap", "kube-proxy")
	if got := str(t, proxy, "data", "config.conf"); !strings.Contains(got, "clusterCIDR: 100.96.0.0/11") {
		t.Errorf("kube-proxy config:\n%s", got)
	}
	if got := str(t, proxy, "data", "kubeconfig.conf"); !strings.Contains(got, "server: https://api.internal.demo.example.com") {
		t.Errorf("kube-proxy reaches the API elsewhere:\n%s", got)
	}
	if got := str(t, find(t, set, "cilium", "ConfigMap", "cilium-config"), "data", "cluster-pool-ipv4-cidr"); got != "100.96.0.0/11" {
		t.Errorf("cilium pod range %s", got)
	}
	for _, tc := range []struct {
		addon, kind, name string
		want              []string
	}{
		{"kube-proxy", "DaemonSet", "kube-proxy", []string{"registry.k8s.io/kube-proxy:v1.35.2"}},
		{"coredns", "Deployment", "coredns", []string{"registry.k8s.io/coredns/coredns:v1.12.4"}},
		{"cilium", "Deployment", "cilium-operator", []string{"quay.io/cilium/operator-generic:v1.18.5"}},
		{"aws-cloud-controller-manager", "DaemonSet", "aws-cloud-controller-manager", []string{"registry.k8s.io/provider-aws/cloud-controller-manager:v1.35.0"}},
		{"aws-ebs-csi-driver", "DaemonSet", "ebs-csi-node", []string{
			"public.ecr.aws/ebs-csi-driver/aws-ebs-csi-driver:v1.52.0",
			"registry.k8s.io/sig-storage/csi-node-driver-registrar:v2.15.0",
			"registry.k8s.io/sig-storage/livenessprobe:v2.17.0"}},
	} {
		if d := cmp.Diff(tc.want, images(t, find(t, set, tc.addon, tc.kind, tc.name))); d != "" {
			t.Errorf("%s %s images (-want +got):\n%s", tc.kind, tc.name, d)
		}
	}
	find(t, set, "aws-ebs-csi-driver", "CSIDriver", "ebs.csi.aws.com")
	ccm := find(t, set, "aws-cloud-controller-manager", "DaemonSet", "aws-cloud-controller-manager")
	args, _, _ := unstructured.NestedSlice(ccm.Object, "spec", "template", "spec", "containers")
	if !slices.Contains(args[0].(map[string]any)["args"].([]any), any("--cluster-name=demo.example.com")) {
		t.Errorf("cloud controller args: %v", args[0].(map[string]any)["args"])
	}
}

func TestRenderCases(t *testing.T) {
	st := store.NewMemory("t")
	if _, err := st.Put(context.Background(), "extras.yaml", []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n"), store.IfAbsent()); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name      string
		mutate    func(m *api.Manifests)
		lb        string
		wantNames []string
		wantNote  string
		wantErr   string
	}{
		{"CNI without manifests", func(m *api.Manifests) { m.Cluster.Spec.Networking.CNI = "calico" }, "",
			[]string{"kube-proxy", "coredns", "aws-cloud-controller-manager", "aws-ebs-csi-driver"}, "CNI calico: kapstan has no manifest for it yet", ""},
		{"user add-on from the store", func(m *api.Manifests) {
			m.Cluster.Spec.Addons = []api.AddonSpec{{Name: "extras", Manifest: "store:extras.yaml"}}
		}, "", []string{"kube-proxy", "cilium", "coredns", "aws-cloud-controller-manager", "aws-ebs-csi-driver", "extras"}, "", ""},
		{"user add-on missing", func(m *api.Manifests) {
			m.Cluster.Spec.Addons = []api.AddonSpec{{Name: "extras", Manifest: "store:nowhere.yaml"}}
		}, "", nil, "", "spec.addons[0] (extras): reading nowhere.yaml from the state store"},
		{"user add-on file missing", func(m *api.Manifests) {
			m.Cluster.Spec.Addons = []api.AddonSpec{{Name: "extras", Manifest: "/nonexistent/extras.yaml"}}
		}, "", nil, "", "spec.addons[0] (extras): reading manifest"},
		{"minor not in the channel", func(m *api.Manifests) { m.Cluster.Spec.KubernetesVersion = "1.39.0" }, "", nil, "", "channel stable has no Kubernetes 1.39"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := cluster(t, "demo.example.com", "1.36.3")
			tc.mutate(m)
			set, err := Render(context.Background(), m, Options{Channel: stableChannel(t), Store: st, LoadBalancerDNS: tc.lb})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.wantNames, set.Names()); d != "" {
				t.Errorf("add-ons (-want +got):\n%s", d)
			}
			if tc.wantNote != "" && !slices.ContainsFunc(set.Notes, func(n string) bool { return strings.Contains(n, tc.wantNote) }) {
				t.Errorf("notes %q lack %q", set.Notes, tc.wantNote)
			}
		})
	}
	t.Run("gossip cluster before its load balancer", func(t *testing.T) {
		_, err := Render(context.Background(), cluster(t, "demo.k8s.local", "1.36.3"), Options{Channel: stableChannel(t)})
		if !errors.Is(err, ErrNoAPIAddress) {
			t.Fatalf("got %v, want ErrNoAPIAddress", err)
		}
	})
}

func TestObjectsRejects(t *testing.T) {
	cases := []struct{ name, manifest, want string }{
		{"no kind", "apiVersion: v1\nmetadata: {name: a}\n", "document 1: no apiVersion or kind"},
		{"no name", "apiVersion: v1\nkind: ConfigMap\nmetadata: {}\n", "document 1 (ConfigMap): no metadata.name"},
		{"twice", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n", "document 2: ConfigMap a appears twice"},
		{"not yaml", "a: [\n", "document 1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := (&Addon{Name: "x", Manifest: []byte(tc.manifest)}).Objects()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
}
