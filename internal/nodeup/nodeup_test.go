package nodeup_test

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/client-go/tools/clientcmd"
	kubeletv1beta1 "k8s.io/kubelet/config/v1beta1"

	awscloud "github.com/kapstan/kapstan/internal/cloud/aws"
	"github.com/kapstan/kapstan/internal/model"
	"github.com/kapstan/kapstan/internal/nodeup"
	"github.com/kapstan/kapstan/internal/pki"
	"github.com/kapstan/kapstan/internal/store"
	"github.com/kapstan/kapstan/internal/testing/golden"
	api "github.com/kapstan/kapstan/pkg/apis/kapstan/v1alpha1"
)

// render renders cfg's files as a map by path relative to /, normalized.
// Certificates and keys, which are random, are left out; files.txt lists
// every file with its mode instead.
func render(t *testing.T, cfg *nodeup.NodeConfig) (root map[string][]byte, list []byte) {
	t.Helper()
	files, err := nodeup.Render(cfg, nodeup.Host{})
	if err != nil {
		t.Fatal(err)
	}
	root = map[string][]byte{}
	var b strings.Builder
	for _, f := range files {
		fmt.Fprintf(&b, "%v %s\n", f.Mode, f.Path)
		if !strings.HasPrefix(f.Path, nodeup.PKIDir+"/") {
			root[strings.TrimPrefix(f.Path, "/")] = normalize(f.Data)
		}
	}
	return root, []byte(b.String())
}

// TestRenderGolden compares every file of a control-plane node (three etcd
// members, DNS zone) and of a worker of a gossip cluster with
// testdata/golden/. PEM blocks are replaced by their type. Run with
// -update to rewrite.
func TestRenderGolden(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  func(t *testing.T) *nodeup.NodeConfig
	}{
		{"control-plane", func(t *testing.T) *nodeup.NodeConfig {
			return nodeConfig(t, dnsCluster(t), "control-plane-us-east-1b", "")
		}},
		{"node-gossip", func(t *testing.T) *nodeup.NodeConfig {
			return nodeConfig(t, gossipCluster(t), "nodes", "api-demo-k8s-local-0a1b2c.elb.us-east-1.amazonaws.com")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg(t)
			root, list := render(t, cfg)
			golden.AssertDir(t, root, filepath.Join("testdata", "golden", tc.name, "root"))
			golden.Assert(t, list, filepath.Join("testdata", "golden", tc.name, "files.txt"))
			data, err := nodeup.Encode(cfg)
			if err != nil {
				t.Fatal(err)
			}
			golden.Assert(t, normalize(data), filepath.Join("testdata", "golden", tc.name, "nodeconfig.yaml"))
		})
	}
}

// strictDecoder decodes Pods and KubeletConfigurations strictly: an
// unknown or duplicate field is an error.
func strictDecoder(t *testing.T) runtime.Decoder {
	t.Helper()
	sch := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{corev1.AddToScheme, kubeletv1beta1.AddToScheme} {
		if err := add(sch); err != nil {
			t.Fatal(err)
		}
	}
	return serializer.NewCodecFactory(sch, serializer.EnableStrict).UniversalDeserializer()
}

// TestManifestsDecodeStrictly decodes each static pod and the kubelet
// configuration with the Kubernetes API types, strictly, and checks the
// file says exactly what the typed value does (rendering drops only zero
// values). The apiserver's own validation of the pods runs in the boot
// test (server-side dry run).
func TestManifestsDecodeStrictly(t *testing.T) {
	dec := strictDecoder(t)
	for _, tc := range []struct {
		name string
		cfg  *nodeup.NodeConfig
	}{
		{"control-plane", nodeConfig(t, dnsCluster(t), "control-plane-us-east-1a", "")},
		{"node", nodeConfig(t, dnsCluster(t), "nodes", "")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			files, err := nodeup.Render(tc.cfg, nodeup.Host{})
			if err != nil {
				t.Fatal(err)
			}
			byPath := map[string][]byte{}
			for _, f := range files {
				byPath[f.Path] = f.Data
			}

			wantKC, err := nodeup.KubeletConfiguration(tc.cfg, nodeup.Host{})
			if err != nil {
				t.Fatal(err)
			}
			obj, _, err := dec.Decode(byPath[nodeup.KubeletConfigPath], nil, nil)
			if err != nil {
				t.Fatalf("%s: %v", nodeup.KubeletConfigPath, err)
			}
			gotKC, ok := obj.(*kubeletv1beta1.KubeletConfiguration)
			if !ok {
				t.Fatalf("%s decodes to %T", nodeup.KubeletConfigPath, obj)
			}
			if !apiequality.Semantic.DeepEqual(wantKC, gotKC) {
				t.Errorf("%s says something else than the typed value:\n%s", nodeup.KubeletConfigPath, cmp.Diff(wantKC, gotKC))
			}

			for _, p := range []string{nodeup.KubeletKubeconfigPath, nodeup.ControllerManagerKubeconfigPath, nodeup.SchedulerKubeconfigPath} {
				data, ok := byPath[p]
				if !ok {
					continue
				}
				kc, err := clientcmd.Load(data)
				if err != nil {
					t.Errorf("%s: %v", p, err)
					continue
				}
				// Every file it names is one nodeup writes.
				ctx := kc.Contexts[kc.CurrentContext]
				if ctx == nil || kc.Clusters[ctx.Cluster] == nil || kc.AuthInfos[ctx.AuthInfo] == nil {
					t.Errorf("%s: current context %q is incomplete", p, kc.CurrentContext)
					continue
				}
				user, cluster := kc.AuthInfos[ctx.AuthInfo], kc.Clusters[ctx.Cluster]
				for _, ref := range []string{cluster.CertificateAuthority, user.ClientCertificate, user.ClientKey} {
					if _, ok := byPath[ref]; !ok {
						t.Errorf("%s names %q, which nodeup does not write", p, ref)
					}
				}
				if cluster.Server != tc.cfg.APIServer && cluster.Server != "https://127.0.0.1:443" {
					t.Errorf("%s: server %q", p, cluster.Server)
				}
			}

			var pods []string
			var wantPods []*corev1.Pod
			if tc.cfg.Role == api.RoleControlPlane {
				if wantPods, err = nodeup.StaticPods(tc.cfg); err != nil {
					t.Fatal(err)
				}
			}
			for _, want := range wantPods {
				path := nodeup.ManifestsDir + "/" + want.Name + ".yaml"
				pods = append(pods, want.Name)
				obj, _, err := dec.Decode(byPath[path], nil, nil)
				if err != nil {
					t.Errorf("%s: %v", path, err)
					continue
				}
				got, ok := obj.(*corev1.Pod)
				if !ok {
					t.Errorf("%s decodes to %T", path, obj)
					continue
				}
				if !apiequality.Semantic.DeepEqual(want, got) {
					t.Errorf("%s says something else than the typed pod:\n%s", path, cmp.Diff(want, got))
				}
			}
			var inDir []string
			for p := range byPath {
				if name, ok := strings.CutPrefix(p, nodeup.ManifestsDir+"/"); ok {
					inDir = append(inDir, strings.TrimSuffix(name, ".yaml"))
				}
			}
			slices.Sort(inDir)
			slices.Sort(pods)
			want := []string(nil)
			if tc.cfg.Role == api.RoleControlPlane {
				want = []string{"etcd-events", "etcd-main", "kube-apiserver", "kube-controller-manager", "kube-scheduler"}
			}
			if diff := cmp.Diff(want, inDir); diff != "" {
				t.Errorf("static pods (-want +got):\n%s", diff)
			}
		})
	}
}

// TestDecoderIsStrict makes sure the decoder above would catch a typo.
func TestDecoderIsStrict(t *testing.T) {
	dec := strictDecoder(t)
	for _, doc := range []string{
		"apiVersion: v1\nkind: Pod\nmetadata:\n  name: x\nspec:\n  hostNetwrok: true\n",
		"apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nstaticPodPath: /a\nstaticPodPath: /b\n",
	} {
		if _, _, err := dec.Decode([]byte(doc), nil, nil); err == nil {
			t.Errorf("decoded without error:\n%s", doc)
		}
	}
}

// TestRoleGetsOnlyItsKeys: a worker gets the kubelet's key and nothing
// else; a control-plane node gets its own etcd members' keys, not another
// member's, and never the etcd or front-proxy CA keys.
func TestRoleGetsOnlyItsKeys(t *testing.T) {
	m := dnsCluster(t)
	_, ks := withPKI(t, m, "")
	build := func(ig string) *nodeup.NodeConfig {
		cfg, err := nodeup.Build(t.Context(), m, ig, ks, "")
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	node := build("nodes")
	if diff := cmp.Diff([]string{"kubelet"}, slices.Sorted(maps.Keys(node.Keys))); diff != "" {
		t.Errorf("worker keys (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"kubelet", "kubernetes-ca"}, slices.Sorted(maps.Keys(node.Certificates))); diff != "" {
		t.Errorf("worker certificates (-want +got):\n%s", diff)
	}
	if node.ControlPlane != nil {
		t.Error("worker has a controlPlane section")
	}
	if node.APIServer != "https://api.internal.demo.example.com" {
		t.Errorf("worker API server %q", node.APIServer)
	}

	cp := build("control-plane-us-east-1a")
	wantKeys := []string{
		"etcd-events-control-plane-us-east-1a-peer", "etcd-events-control-plane-us-east-1a-server",
		"etcd-main-control-plane-us-east-1a-peer", "etcd-main-control-plane-us-east-1a-server",
		"front-proxy-client", "kube-apiserver", "kube-apiserver-etcd-client", "kube-apiserver-kubelet-client",
		"kube-controller-manager", "kube-scheduler", "kubelet", "kubernetes-ca", "service-account",
	}
	if diff := cmp.Diff(wantKeys, slices.Sorted(maps.Keys(cp.Keys))); diff != "" {
		t.Errorf("control-plane keys (-want +got):\n%s", diff)
	}
	if cp.APIServer != "https://127.0.0.1:443" {
		t.Errorf("control-plane kubelet's API server %q, want its own apiserver", cp.APIServer)
	}
	if _, err := nodeup.Build(t.Context(), m, "bastions", ks, ""); err == nil {
		t.Error("Build of a bastion group succeeded")
	}
}

// TestPrivateKeysDoNotPrint: a NodeConfig printed with fmt (a log line, a
// debug dump) shows no key.
func TestPrivateKeysDoNotPrint(t *testing.T) {
	cfg := nodeConfig(t, gossipCluster(t), "control-plane-us-east-1a", "")
	for _, format := range []string{"%v", "%+v", "%#v"} {
		if out := fmt.Sprintf(format, cfg); strings.Contains(out, "PRIVATE KEY") {
			t.Errorf("fmt %s of a NodeConfig shows a private key", format)
		}
	}
}

func TestWriteOnlyWhatChanged(t *testing.T) {
	cfg := nodeConfig(t, gossipCluster(t), "control-plane-us-east-1a", "")
	root := t.TempDir()
	ctx := t.Context()

	res, err := nodeup.Run(ctx, cfg, nodeup.Options{Root: root, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	files, err := nodeup.Render(cfg, nodeup.Host{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Changed) != len(files) {
		t.Errorf("dry run on an empty root reports %d changes, want all %d files", len(res.Changed), len(files))
	}
	if entries, _ := os.ReadDir(root); len(entries) != 0 {
		t.Errorf("dry run wrote %d entries under the root", len(entries))
	}

	res, err = nodeup.Run(ctx, cfg, nodeup.Options{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Changed) != len(files) {
		t.Errorf("first run changed %d files, want %d", len(res.Changed), len(files))
	}
	for _, f := range files {
		fi, err := os.Stat(filepath.Join(root, f.Path))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != f.Mode {
			t.Errorf("%s: mode %v, want %v", f.Path, fi.Mode().Perm(), f.Mode)
		}
		if strings.HasSuffix(f.Path, ".key") && f.Mode != 0o600 {
			t.Errorf("%s: a key with mode %v", f.Path, f.Mode)
		}
	}
	if want := filepath.Join(root, "mnt/kapstan/etcd-main"); res.Volumes["main"] != want {
		t.Errorf("etcd main volume at %q, want %q", res.Volumes["main"], want)
	}
	if fi, err := os.Stat(filepath.Join(root, "mnt/kapstan/etcd-events/data")); err != nil || !fi.IsDir() {
		t.Errorf("etcd events data folder not made: %v", err)
	}

	res, err = nodeup.Run(ctx, cfg, nodeup.Options{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Changed) != 0 {
		t.Errorf("second run changed %v, want nothing", res.Changed)
	}

	// Content and mode drift are both repaired, and only they are.
	unit := filepath.Join(root, nodeup.KubeletUnitPath)
	if err := os.WriteFile(unit, []byte("edited by hand\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	key := filepath.Join(root, nodeup.KeyPath(pki.APIServer))
	if err := os.Chmod(key, 0o644); err != nil {
		t.Fatal(err)
	}
	res, err = nodeup.Run(ctx, cfg, nodeup.Options{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{nodeup.KeyPath(pki.APIServer), nodeup.KubeletUnitPath}, res.Changed); diff != "" {
		t.Errorf("changes after drift (-want +got):\n%s", diff)
	}
	if fi, _ := os.Stat(key); fi.Mode().Perm() != 0o600 {
		t.Errorf("key mode %v after repair", fi.Mode().Perm())
	}
}

// TestRenderNeedsAnAPIEndpoint: a gossip worker's configuration written
// before the load balancer existed has no endpoint, and nodeup says what
// to do rather than writing a kubeconfig that points nowhere.
func TestRenderNeedsAnAPIEndpoint(t *testing.T) {
	cfg := nodeConfig(t, gossipCluster(t), "nodes", "")
	_, err := nodeup.Render(cfg, nodeup.Host{})
	if err == nil || !strings.Contains(err.Error(), "kapstan update cluster demo.k8s.local --yes") {
		t.Errorf("Render of a worker without endpoint: %v", err)
	}
}

func TestWriteConfigs(t *testing.T) {
	dir := t.TempDir()
	s, err := store.NewFile(dir)
	if err != nil {
		t.Fatal(err)
	}
	m := dnsCluster(t)
	ctx := t.Context()
	if _, err := pki.Ensure(ctx, s, m, ""); err != nil {
		t.Fatal(err)
	}
	ks := pki.NewKeystore(s, m.Cluster.Metadata.Name)

	changes, err := nodeup.WriteConfigs(ctx, s, m, ks, "")
	if err != nil {
		t.Fatal(err)
	}
	want := []nodeup.ConfigChange{
		{"control-plane-us-east-1a", "written"}, {"control-plane-us-east-1b", "written"},
		{"control-plane-us-east-1c", "written"}, {"nodes", "written"},
	}
	if diff := cmp.Diff(want, changes); diff != "" {
		t.Errorf("first WriteConfigs (-want +got):\n%s", diff)
	}
	for _, c := range changes {
		fi, err := os.Stat(filepath.Join(dir, nodeup.ConfigKey(m.Cluster.Metadata.Name, c.InstanceGroup)))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600: it holds keys", c.InstanceGroup, fi.Mode().Perm())
		}
		cfg, err := nodeup.ReadConfig(ctx, s, m.Cluster.Metadata.Name, c.InstanceGroup)
		if err != nil {
			t.Fatal(err)
		}
		if cfg.InstanceGroup != c.InstanceGroup {
			t.Errorf("config of %s says %s", c.InstanceGroup, cfg.InstanceGroup)
		}
	}

	if again, err := nodeup.WriteConfigs(ctx, s, m, ks, ""); err != nil || len(again) != 0 {
		t.Errorf("second WriteConfigs: %v, %v; want no change", again, err)
	}

	// A removed group's configuration goes; the others stay as they are.
	next := m.DeepCopy()
	next.InstanceGroups = slices.DeleteFunc(next.InstanceGroups, func(ig *api.InstanceGroup) bool { return ig.Metadata.Name == "nodes" })
	changes, err = nodeup.WriteConfigs(ctx, s, next, ks, "")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]nodeup.ConfigChange{{"nodes", "deleted"}}, changes); diff != "" {
		t.Errorf("after removing nodes (-want +got):\n%s", diff)
	}
}

func TestDecodeIsStrict(t *testing.T) {
	good, err := nodeup.Encode(nodeConfig(t, gossipCluster(t), "nodes", "lb.example"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := nodeup.Decode(good); err != nil {
		t.Fatalf("decoding what Encode wrote: %v", err)
	}
	for name, doc := range map[string]string{
		"unknown field": string(good) + "surprise: 1\n",
		"other version": strings.Replace(string(good), nodeup.APIVersion, "nodeup.kapstan.io/v9", 1),
		"no cluster":    strings.Replace(string(good), "clusterName: demo.k8s.local", "clusterName: \"\"", 1),
	} {
		if _, err := nodeup.Decode([]byte(doc)); err == nil {
			t.Errorf("%s: decoded without error", name)
		}
	}
}

// TestTagsMatchTheModel: nodeup finds the etcd volumes by the tags the
// model puts on them.
func TestTagsMatchTheModel(t *testing.T) {
	if nodeup.EtcdTagPrefix != model.EtcdTagPrefix {
		t.Errorf("nodeup.EtcdTagPrefix %q, model.EtcdTagPrefix %q", nodeup.EtcdTagPrefix, model.EtcdTagPrefix)
	}
	if nodeup.TagKubernetesCluster != awscloud.TagKubernetesCluster {
		t.Errorf("nodeup.TagKubernetesCluster %q, awscloud.TagKubernetesCluster %q", nodeup.TagKubernetesCluster, awscloud.TagKubernetesCluster)
	}
}
