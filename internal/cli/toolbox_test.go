package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestToolboxTemplate renders the toolbox sample through the command into
// a file create -f takes; a missing value and an invalid result are
// errors that write nothing.
func TestToolboxTemplate(t *testing.T) {
	dir := t.TempDir()
	run := kapstanCmd(t, dir)
	tmpl := filepath.Join("..", "toolbox", "testdata", "cluster.tmpl.yaml")
	values := filepath.Join("..", "toolbox", "testdata", "values.yaml")
	out := filepath.Join(dir, "demo.yaml")

	cases := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"missing value", []string{"--template", tmpl, "--set", "name=demo.k8s.local"}, `cluster.tmpl.yaml:6: value "kubernetesVersion" is not set`},
		{"invalid result", []string{"--template", tmpl, "--values", values, "--set", "kubernetesVersion=1.20.0"}, `spec.kubernetesVersion: Invalid value: "1.20.0"`},
		{"no template", []string{"--values", values}, "--template FILE is required"},
		{"bad --set", []string{"--template", tmpl, "--values", values, "--set", "nodes"}, `--set "nodes": want KEY=VALUE`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := run(append([]string{"toolbox", "template", "--output", out}, tc.args...)...)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("got %v, want %q\n%s", err, tc.wantErr, got)
			}
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Fatalf("%s was written", out)
			}
		})
	}

	if got, err := run("toolbox", "template", "--template", tmpl, "--values", values, "--set", "nodes.count=4", "--output", out); err != nil {
		t.Fatalf("template: %v\n%s", err, got)
	}
	got, err := run("create", "-f", out)
	if err != nil || !strings.Contains(got, `cluster "demo.k8s.local" created (revision 1) with 4 instance groups`) {
		t.Fatalf("create -f: %v\n%s", err, got)
	}
}
