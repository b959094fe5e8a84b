package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kapstan/kapstan/internal/channels"
	"github.com/kapstan/kapstan/internal/registry"
	"github.com/kapstan/kapstan/internal/store"
)

// kapstanCmd runs the command tree against a file state store in dir.
func kapstanCmd(t *testing.T, dir string) func(args ...string) (string, error) {
	t.Helper()
	state := "file://" + filepath.Join(dir, "state")
	return func(args ...string) (string, error) {
		var out bytes.Buffer
		root := NewRootCommand(IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &out},
			Environment{Getenv: func(string) string { return "" }, Version: "v0.0.1"})
		root.SetArgs(append([]string{"--state", state}, args...))
		err := root.ExecuteContext(context.Background())
		return out.String(), err
	}
}

// TestUpgradeCluster takes a cluster two minors behind the default: the
// proposal is the next minor only, with the add-on and image changes of
// the channel; skipping a minor and going down are refused; --yes writes
// a new revision with its reason and prints the next steps.
func TestUpgradeCluster(t *testing.T) {
	dir := t.TempDir()
	run := kapstanCmd(t, dir)
	if out, err := run("create", "cluster", "demo.k8s.local", "--zones", "us-east-1a", "--kubernetes-version", "1.34.5"); err != nil {
		t.Fatalf("create: %v\n%s", err, out)
	}
	out, err := run("upgrade", "cluster", "demo.k8s.local")
	if err != nil {
		t.Fatalf("upgrade: %v\n%s", err, out)
	}
	for _, want := range []string{
		`Upgrade cluster "demo.k8s.local" from Kubernetes 1.34.5 to 1.35.4 (channel stable):`,
		"addon coredns", "1.12.1", "1.12.4",
		"image cilium", "quay.io/cilium/cilium:v1.18.2", "quay.io/cilium/cilium:v1.18.5",
		"v1.34.5", "v1.35.4",
		"Run with --yes",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("proposal lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "1.36") {
		t.Errorf("proposal mentions 1.36, two minors ahead:\n%s", out)
	}

	for _, tc := range []struct{ to, want string }{
		{"1.36.3", "1.36.3 skips Kubernetes 1.35: upgrade one minor at a time, to 1.35 first"},
		{"1.33.8", "kapstan does not downgrade"},
		{"1.34.5", "already runs Kubernetes 1.34.5"},
	} {
		if out, err := run("upgrade", "cluster", "demo.k8s.local", "--to", tc.to, "--yes"); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("--to %s: got %v, want %q\n%s", tc.to, err, tc.want, out)
		}
	}

	out, err = run("upgrade", "cluster", "demo.k8s.local", "--yes")
	if err != nil {
		t.Fatalf("upgrade --yes: %v\n%s", err, out)
	}
	if !strings.Contains(out, "now specifies Kubernetes 1.35.4 (revision 2)") ||
		!strings.Contains(out, "Next: kapstan update cluster demo.k8s.local --yes, then kapstan rolling-update cluster demo.k8s.local --yes") {
		t.Errorf("upgrade --yes output:\n%s", out)
	}
	st, err := store.Open(context.Background(), "file://"+filepath.Join(dir, "state"))
	if err != nil {
		t.Fatal(err)
	}
	snap, err := registry.New(st).Get(context.Background(), "demo.k8s.local")
	if err != nil {
		t.Fatal(err)
	}
	if snap.Revision != 2 || snap.Reason != "upgrade cluster to 1.35.4" || snap.Manifests.Cluster.Spec.KubernetesVersion != "1.35.4" {
		t.Errorf("revision %d %q, version %s", snap.Revision, snap.Reason, snap.Manifests.Cluster.Spec.KubernetesVersion)
	}
	// Next time the proposal is 1.36.
	if out, err := run("upgrade", "cluster", "demo.k8s.local"); err != nil || !strings.Contains(out, "from Kubernetes 1.35.4 to 1.36.3") {
		t.Errorf("second proposal: %v\n%s", err, out)
	}
}

// TestUpgradeWithChannelFile follows a channel of one's own: its versions
// are offered and, after --yes, the cluster keeps following it.
func TestUpgradeWithChannelFile(t *testing.T) {
	dir := t.TempDir()
	run := kapstanCmd(t, dir)
	if out, err := run("create", "cluster", "demo.k8s.local", "--zones", "us-east-1a", "--kubernetes-version", "1.35.1"); err != nil {
		t.Fatalf("create: %v\n%s", err, out)
	}
	own := strings.Replace(string(channels.StableYAML()), "recommended: 1.36.3", "recommended: 1.36.2", 1)
	own = strings.Replace(own, "name: stable", "name: mine", 1)
	file := filepath.Join(dir, "mine.yaml")
	if err := os.WriteFile(file, []byte(own), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := run("upgrade", "cluster", "demo.k8s.local", "--channel", file, "--yes")
	if err != nil || !strings.Contains(out, "from Kubernetes 1.35.1 to 1.36.2 (channel mine)") {
		t.Fatalf("upgrade --channel: %v\n%s", err, out)
	}
	st, err := store.Open(context.Background(), "file://"+filepath.Join(dir, "state"))
	if err != nil {
		t.Fatal(err)
	}
	ch, err := channels.ForCluster(context.Background(), st, "demo.k8s.local")
	if err != nil || ch.Name() != "mine" {
		t.Fatalf("the cluster follows %v, %v", ch, err)
	}
	if out, err := run("upgrade", "cluster", "demo.k8s.local", "--channel", filepath.Join(dir, "nowhere.yaml")); err == nil {
		t.Errorf("a missing channel file was accepted:\n%s", out)
	}
}
