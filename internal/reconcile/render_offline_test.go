package reconcile

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kapstan/kapstan/internal/assets"
	"github.com/kapstan/kapstan/internal/assets/mirror"
	"github.com/kapstan/kapstan/internal/registry"
	"github.com/kapstan/kapstan/internal/render"
	"github.com/kapstan/kapstan/internal/store"
	"github.com/kapstan/kapstan/internal/testing/standin"
)

// countingListener accepts connections on a loopback port, counts them and
// closes them at once.
type countingListener struct {
	ln net.Listener
	n  atomic.Int64
}

func listenCounting(t *testing.T) *countingListener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := &countingListener{ln: ln}
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			c.n.Add(1)
			conn.Close()
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return c
}

// buildKapstan builds the binary under test.
func buildKapstan(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("go not found on PATH: this test builds the kapstan binary: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "kapstan")
	out, err := exec.Command(goBin, "build", "-o", bin, "github.com/kapstan/kapstan/cmd/kapstan").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestRenderOffline runs the kapstan binary with no AWS credentials, no
// AWS configuration and every AWS endpoint (the API's and the instance
// metadata service's, where the SDK would look for credentials) pointed
// at a loopback port that counts connections. Both targets must succeed
// and the port must see no connection; then a direct plan, which does
// talk to AWS, must reach the port, which shows it would have seen any.
func TestRenderOffline(t *testing.T) {
	bin := buildKapstan(t)
	lis := listenCounting(t)
	endpoint := "http://" + lis.ln.Addr().String()
	home := t.TempDir()
	state := "file://" + filepath.Join(home, "state")
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + home,
		"XDG_CONFIG_HOME=" + filepath.Join(home, ".config"),
		"AWS_ENDPOINT_URL=" + endpoint,
		"AWS_EC2_METADATA_SERVICE_ENDPOINT=" + endpoint,
		"AWS_CONFIG_FILE=/dev/null",
		"AWS_SHARED_CREDENTIALS_FILE=/dev/null",
		"KAPSTAN_STATE_STORE=" + state,
	}
	run := func(args ...string) (string, error) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	must := func(args ...string) string {
		t.Helper()
		out, err := run(args...)
		if err != nil {
			t.Fatalf("kapstan %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}

	const name = "demo.k8s.local"
	must("create", "cluster", name, "--zones", "us-east-1a,us-east-1b,us-east-1c", "--control-plane-count", "3", "--node-count", "3")
	// Rendering takes the node agent from the cluster's mirror (here the
	// file:// folder STORE/NAME/assets), so fill it first, with stand-ins:
	// nothing boots.
	var list assets.BOM
	if err := json.Unmarshal([]byte(must("get", "assets", name, "-o", "json")), &list); err != nil {
		t.Fatal(err)
	}
	from := t.TempDir()
	if _, err := standin.Fill(from, list.Assets, nil); err != nil {
		t.Fatal(err)
	}
	must("get", "assets", name, "--copy", "--from", from)
	tfDir, cfnDir := filepath.Join(home, "tf"), filepath.Join(home, "cfn")
	out := must("update", "cluster", name, "--target", "terraform", "--out", tfDir)
	if !strings.Contains(out, "Wrote terraform files") || !strings.Contains(out, "terraform -chdir="+tfDir+" init") {
		t.Errorf("terraform output:\n%s", out)
	}
	first, err := os.ReadFile(filepath.Join(tfDir, "kubernetes.tf"))
	if err != nil {
		t.Fatal(err)
	}
	must("update", "cluster", name, "--target", "terraform", "--out", tfDir)
	if again, _ := os.ReadFile(filepath.Join(tfDir, "kubernetes.tf")); !bytes.Equal(first, again) {
		t.Error("rendering twice gave different kubernetes.tf")
	}
	if out, err := run("update", "cluster", name, "--target", "cloudformation", "--out", cfnDir); err == nil || !strings.Contains(out, "managed by terraform") {
		t.Errorf("switching to cloudformation without --force: %v\n%s", err, out)
	}
	must("update", "cluster", name, "--target", "cloudformation", "--out", cfnDir, "--force")

	// The binary's files are RenderFiles' for the same spec.
	s, err := store.Open(context.Background(), state)
	if err != nil {
		t.Fatal(err)
	}
	snap, err := registry.New(s).Get(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	agent, err := mirror.ReadAgent(context.Background(), state+"/"+name+"/assets", "us-east-1", name)
	if err != nil {
		t.Fatal(err)
	}
	opts := RenderOptions{StateStore: state, AgentURL: agent.URL, AgentSHA256: agent.SHA256}
	for target, dir := range map[render.Target]string{render.Terraform: tfDir, render.CloudFormation: cfnDir} {
		files, _, err := RenderFiles(snap.Manifests, snap.Revision, target, opts)
		if err != nil {
			t.Fatal(err)
		}
		for rel, want := range files {
			if got, err := os.ReadFile(filepath.Join(dir, rel)); err != nil || !bytes.Equal(got, want) {
				t.Errorf("%s/%s: the binary wrote other bytes than RenderFiles (%v)", target, rel, err)
			}
		}
	}

	out, err = run("update", "cluster", name, "--yes")
	if err == nil || !strings.Contains(out, "cluster "+name+" is managed by cloudformation (files in "+cfnDir+", rendered from revision 1)") {
		t.Errorf("update --yes of a cloudformation cluster: %v\n%s", err, out)
	}
	if n := lis.n.Load(); n != 0 {
		t.Fatalf("rendering made %d connections to the AWS endpoints; want none", n)
	}
	t.Logf("rendering both targets and the refused --yes: %d connections", lis.n.Load())

	// The control: a direct plan goes to AWS, so the port sees it. (A
	// direct apply would not: it refuses the file:// store first.)
	out, err = run("update", "cluster", name)
	if err == nil {
		t.Fatalf("update (a direct plan) without AWS succeeded:\n%s", out)
	}
	if lis.n.Load() == 0 {
		t.Fatalf("a direct plan made no connection to the counting port: the test cannot see AWS calls\n%s", out)
	}
	t.Logf("a direct plan: %d connections", lis.n.Load())
}
