package cli

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestUpdateClusterValidate(t *testing.T) {
	cases := []struct {
		name    string
		opts    UpdateClusterOptions
		wantErr string
	}{
		{"direct", UpdateClusterOptions{Target: "direct"}, ""},
		{"terraform", UpdateClusterOptions{Target: "terraform", OutDir: "tf"}, ""},
		{"cloudformation, any case", UpdateClusterOptions{Target: "CloudFormation", OutDir: "cfn"}, ""},
		{"unknown target", UpdateClusterOptions{Target: "pulumi"}, `--target: target "pulumi": must be one of direct, terraform, cloudformation`},
		{"terraform without --out", UpdateClusterOptions{Target: "terraform"}, "--target terraform needs --out DIR"},
		{"--out with direct", UpdateClusterOptions{Target: "direct", OutDir: "x"}, "--out is for --target terraform or cloudformation"},
		{"--out-plan with terraform", UpdateClusterOptions{Target: "terraform", OutDir: "x", OutPlan: "p"}, "--out-plan and --detailed-exitcode are for --target direct"},
		{"--detailed-exitcode with cloudformation", UpdateClusterOptions{Target: "cloudformation", OutDir: "x", DetailedExitCode: true}, "--out-plan and --detailed-exitcode are for --target direct"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := tc.opts
			o.print = newPrintFlags(formatTable, formatTable, formatJSON)
			err := o.Validate()
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("got %v, want %q", err, tc.wantErr)
			}
		})
	}
}

// TestUpdateClusterTargets renders a cluster for Terraform through the
// command and checks that update --yes then refuses it, naming the
// target, before any cloud call (the environment has no AWS at all).
func TestUpdateClusterTargets(t *testing.T) {
	dir := t.TempDir()
	state := "file://" + filepath.Join(dir, "state")
	exec := func(args ...string) (string, error) {
		var out bytes.Buffer
		root := NewRootCommand(IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &out},
			Environment{Getenv: func(string) string { return "" }, Version: "v0.0.1"})
		root.SetArgs(append([]string{"--state", state}, args...))
		err := root.ExecuteContext(context.Background())
		return out.String(), err
	}
	if out, err := exec("create", "cluster", "demo.k8s.local", "--zones", "us-east-1a"); err != nil {
		t.Fatalf("create: %v\n%s", err, out)
	}
	seedMirror(t, exec, "demo.k8s.local")
	tf := filepath.Join(dir, "tf")
	out, err := exec("update", "cluster", "demo.k8s.local", "--target", "terraform", "--out", tf)
	if err != nil {
		t.Fatalf("render: %v\n%s", err, out)
	}
	if !strings.Contains(out, `Wrote terraform files for cluster "demo.k8s.local" (revision 1,`) {
		t.Errorf("render output:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(tf, "kubernetes.tf")); err != nil {
		t.Error(err)
	}
	out, err = exec("update", "cluster", "demo.k8s.local", "--yes")
	want := "cluster demo.k8s.local is managed by terraform (files in " + tf + ", rendered from revision 1); use terraform apply, or --force to apply directly"
	if err == nil || err.Error() != want {
		t.Errorf("update --yes: got %v\nwant %s\n%s", err, want, out)
	}
	out, err = exec("update", "cluster", "demo.k8s.local", "--target", "cloudformation", "--out", filepath.Join(dir, "cfn"), "-o", "json")
	if err == nil || !strings.Contains(err.Error(), "use --force to switch") {
		t.Errorf("switch without --force: %v\n%s", err, out)
	}
}

func TestMachineReadableStore(t *testing.T) {
	cases := []struct {
		url  string
		want string // a substring of the error; "" for none
	}{
		{"s3://state/clusters", ""},
		{"s3://state", ""},
		{"file:///home/me/state", "it is a folder on this computer, which machines in the cloud cannot reach"},
		{"memory://t", "it lives only in this process"},
	}
	for _, tc := range cases {
		t.Run(tc.url, func(t *testing.T) {
			err := machineReadableStore(tc.url, "demo.k8s.local")
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, ErrLocalStateStore) || !strings.Contains(err.Error(), tc.want) ||
				!strings.Contains(err.Error(), "state store "+tc.url+": the cluster's machines cannot read it: machines read their configuration from the state store when they boot") ||
				!strings.Contains(err.Error(), "--state s3://BUCKET/PREFIX") {
				t.Fatalf("got %v", err)
			}
		})
	}
}

// TestUpdateYesRefusesFileStore: update --yes with a file store is refused
// before any cloud call (the environment has no AWS at all).
func TestUpdateYesRefusesFileStore(t *testing.T) {
	_, run := haInFileStore(t)
	out, err := run("update", "cluster", "demo.k8s.local", "--yes")
	if !errors.Is(err, ErrLocalStateStore) {
		t.Fatalf("update --yes with a file store: got %v\n%s", err, out)
	}
}
