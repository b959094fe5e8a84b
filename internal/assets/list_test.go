package assets_test

import (
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kapstan/kapstan/internal/addons"
	"github.com/kapstan/kapstan/internal/assets"
	"github.com/kapstan/kapstan/internal/channels"
	"github.com/kapstan/kapstan/internal/newcluster"
	"github.com/kapstan/kapstan/internal/testing/golden"
	api "github.com/kapstan/kapstan/pkg/apis/kapstan/v1alpha1"
)

// haCluster is what `create cluster demo.k8s.local --zones a,b,c
// --control-plane-count 3 --node-count 3` makes, defaults filled in.
func haCluster(t *testing.T, mutate ...func(*newcluster.Options)) *api.Manifests {
	t.Helper()
	o := newcluster.Options{Name: "demo.k8s.local", Zones: []string{"us-east-1a", "us-east-1b", "us-east-1c"}, ControlPlaneCount: 3, NodeCount: 3}
	for _, f := range mutate {
		f(&o)
	}
	m, err := newcluster.Build(o)
	if err != nil {
		t.Fatal(err)
	}
	api.SetDefaults(m)
	if err := api.Validate(m); err != nil {
		t.Fatal(err)
	}
	return m
}

func stable(t *testing.T) *channels.Channel {
	t.Helper()
	ch, err := channels.Stable()
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

func TestForClusterGolden(t *testing.T) {
	list, err := assets.ForCluster(haCluster(t), stable(t), assets.Options{AgentVersion: "v0.1.0"})
	if err != nil {
		t.Fatal(err)
	}
	got, err := json.MarshalIndent(list, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	golden.Assert(t, append(got, '\n'), "testdata/ha.json")
}

func TestForCluster(t *testing.T) {
	cases := []struct {
		name    string
		mutate  func(m *api.Manifests)
		check   func(t *testing.T, list []assets.Asset)
		wantErr string
	}{
		{
			name: "versions follow the spec and the channel's minor",
			mutate: func(m *api.Manifests) {
				m.Cluster.Spec.KubernetesVersion = "1.35.2"
			},
			check: func(t *testing.T, list []assets.Asset) {
				want := map[string]string{
					"kubelet": "1.35.2", "containerd": "2.1.5", "runc": "1.3.3", "cni-plugins": "1.8.0",
					"image/kube-apiserver": "1.35.2", "image/kube-proxy": "1.35.2", "image/etcd": "3.6.6-0", "image/coredns": "1.12.4",
				}
				for _, a := range list {
					if v, ok := want[a.Name]; ok && a.Version != v {
						t.Errorf("%s: version %s, want %s", a.Name, a.Version, v)
					}
				}
			},
		},
		{
			name: "an image repository replaces archives",
			mutate: func(m *api.Manifests) {
				m.Cluster.Spec.Assets = &api.AssetsSpec{ImageRepository: "registry.example.com:5000/mirror"}
			},
			check: func(t *testing.T, list []assets.Asset) {
				for _, a := range list {
					if a.Kind == assets.KindImage && (a.Path != "" || !strings.HasPrefix(a.Image, "registry.example.com:5000/mirror/")) {
						t.Errorf("%s: path %q, image %q", a.Name, a.Path, a.Image)
					}
					if a.Kind == assets.KindFile && a.Path == "" {
						t.Errorf("%s: a file without a path", a.Name)
					}
				}
				if a := find(t, list, "image/coredns"); a.Image != "registry.example.com:5000/mirror/coredns/coredns:v1.13.1" {
					t.Errorf("coredns pulled as %s", a.Image)
				}
			},
		},
		{
			name: "a CNI kapstan does not install brings no images",
			mutate: func(m *api.Manifests) {
				m.Cluster.Spec.Networking.CNI = "calico"
			},
			check: func(t *testing.T, list []assets.Asset) {
				for _, a := range list {
					if strings.HasPrefix(a.Name, "image/cilium") {
						t.Errorf("listed %s", a.Name)
					}
				}
			},
		},
		{
			name:    "a minor the channel lacks",
			mutate:  func(m *api.Manifests) { m.Cluster.Spec.KubernetesVersion = "1.32.1" },
			wantErr: "assets of demo.k8s.local: channel stable has no Kubernetes 1.32",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := haCluster(t)
			tc.mutate(m)
			list, err := assets.ForCluster(m, stable(t), assets.Options{})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, list)
		})
	}
}

func TestForClusterRefusesUnversionedImages(t *testing.T) {
	for _, ref := range []string{"registry.k8s.io/pause", "registry.k8s.io/pause:latest", "localhost:5000/pause", "registry.k8s.io/pause@sha256:0123"} {
		t.Run(ref, func(t *testing.T) {
			ch := stable(t)
			for i := range ch.Spec.Releases {
				ch.Spec.Releases[i].Images["pause"] = ref
			}
			_, err := assets.ForCluster(haCluster(t), ch, assets.Options{})
			if err == nil || !strings.Contains(err.Error(), "image pause: \""+ref+"\"") {
				t.Fatalf("got %v", err)
			}
		})
	}
}

func TestForClusterChannelWithoutComponents(t *testing.T) {
	ch := stable(t)
	for i := range ch.Spec.Releases {
		delete(ch.Spec.Releases[i].Components, "runc")
		delete(ch.Spec.Releases[i].Images, "etcd")
	}
	_, err := assets.ForCluster(haCluster(t), ch, assets.Options{})
	if err == nil || !strings.Contains(err.Error(), "the channel gives no version of runc (spec.releases[].components.runc)") {
		t.Fatalf("got %v", err)
	}
}

// TestAddonImagesMatchManifests renders kapstan's add-ons and checks that
// the images they run are exactly the add-on images the listing has.
func TestAddonImagesMatchManifests(t *testing.T) {
	m := haCluster(t)
	ch := stable(t)
	set, err := addons.Render(t.Context(), m, addons.Options{Channel: ch, LoadBalancerDNS: "api-demo.elb.amazonaws.com"})
	if err != nil {
		t.Fatal(err)
	}
	imageLine := regexp.MustCompile(`(?m)^\s+image:\s*"?([^"\s]+)"?\s*$`)
	var rendered []string
	for _, a := range set.Addons {
		for _, match := range imageLine.FindAllStringSubmatch(string(a.Manifest), -1) {
			if !slices.Contains(rendered, match[1]) {
				rendered = append(rendered, match[1])
			}
		}
	}
	list, err := assets.ForCluster(m, ch, assets.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var listed []string
	for _, a := range list {
		switch a.Name {
		case "image/pause", "image/etcd", "image/kube-apiserver", "image/kube-controller-manager", "image/kube-scheduler":
			continue // run by the kubelet as static pods, not by an add-on
		}
		if a.Kind == assets.KindImage {
			listed = append(listed, a.Source)
		}
	}
	slices.Sort(rendered)
	slices.Sort(listed)
	if d := cmp.Diff(rendered, listed); d != "" {
		t.Fatalf("add-on images (-rendered +listed):\n%s", d)
	}
}

func find(t *testing.T, list []assets.Asset, name string) assets.Asset {
	t.Helper()
	for _, a := range list {
		if a.Name == name {
			return a
		}
	}
	t.Fatalf("no asset %s", name)
	return assets.Asset{}
}
