package cli

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/client-go/tools/clientcmd"

	"github.com/kapstan/kapstan/internal/newcluster"
	"github.com/kapstan/kapstan/internal/registry"
	"github.com/kapstan/kapstan/internal/store"
	"github.com/kapstan/kapstan/internal/testing/kubetest"
)

// TestApplyAddons runs apply addons against a real apiserver through a
// kubeconfig context named after the cluster: the first run creates the
// add-ons, the second changes nothing. Without such a context it says how
// to get one. apply PLANFILE still takes a file.
func TestApplyAddons(t *testing.T) {
	ctx := context.Background()
	kube, err := kubetest.Start(ctx, kubetest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = kube.Stop() })

	dir := t.TempDir()
	run := kapstanCmd(t, dir)
	st, err := store.Open(ctx, "file://"+filepath.Join(dir, "state"))
	if err != nil {
		t.Fatal(err)
	}
	const name = "addons.example.com"
	m, err := newcluster.Build(newcluster.Options{Name: name, Zones: []string{"us-east-1a"}})
	if err != nil {
		t.Fatal(err)
	}
	m.Cluster.Spec.ServiceClusterIPRange = "10.0.0.0/24" // the test apiserver's
	if _, err := registry.New(st).Create(ctx, m, "test"); err != nil {
		t.Fatal(err)
	}

	out, err := run("apply", "addons", name, "--kubeconfig", kube.Kubeconfig)
	if err == nil || !strings.Contains(err.Error(), `no context "addons.example.com"`) {
		t.Fatalf("without the cluster's context: %v\n%s", err, out)
	}

	cfg, err := clientcmd.LoadFromFile(kube.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Contexts[name] = cfg.Contexts[cfg.CurrentContext]
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, kubeconfig); err != nil {
		t.Fatal(err)
	}
	out, err = run("apply", "addons", name, "--kubeconfig", kubeconfig)
	if err != nil {
		t.Fatalf("apply addons: %v\n%s", err, out)
	}
	for _, want := range []string{"addon kube-proxy 1.36.3: 4 created", "addon coredns 1.13.1: 6 created", "addon aws-ebs-csi-driver 1.54.0:"} {
		if !strings.Contains(out, want) {
			t.Errorf("first apply lacks %q:\n%s", want, out)
		}
	}
	out, err = run("apply", "addons", name, "--kubeconfig", kubeconfig)
	if err != nil || strings.Contains(out, "created") || strings.Contains(out, "updated") ||
		!strings.Contains(out, `No changes: the add-ons of "addons.example.com" match their manifests.`) {
		t.Fatalf("second apply: %v\n%s", err, out)
	}
	if keys, err := st.List(ctx, name+"/addons/"); err != nil || len(keys) != 11 {
		t.Errorf("store holds %d add-on objects (index, 5 manifests, 5 records): %v %v", len(keys), keys, err)
	}

	if out, err := run("apply", filepath.Join(dir, "missing.plan")); err == nil || !strings.Contains(err.Error(), "reading plan") {
		t.Errorf("apply PLANFILE: %v\n%s", err, out)
	}
}
