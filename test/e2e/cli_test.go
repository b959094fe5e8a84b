package e2e

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// TestCompletion checks the shell completion script and the dynamic
// completions of cluster and instance group names from the store.
func TestCompletion(t *testing.T) {
	t.Parallel()
	_, url := fileStore(t)
	env := newEnv(t, url)
	createDemo(t, env)
	mustRun(t, env, "", "create", "cluster", "a.k8s.local", "--zones", "us-east-1a")
	igs := []string{"control-plane-us-east-1a", "control-plane-us-east-1b", "control-plane-us-east-1c", "nodes"}

	tests := []struct {
		name string
		args []string
		want []string // completions, before the ":directive" line
	}{
		{"cluster names", []string{"get", "cluster", ""}, []string{"a.k8s.local", "demo.k8s.local"}},
		{"cluster argument", []string{"get", "history", ""}, []string{"a.k8s.local", "demo.k8s.local"}},
		{"nothing after the cluster argument", []string{"edit", "cluster", demoName, ""}, nil},
		{"--name flag", []string{"get", "ig", "--name", ""}, []string{"a.k8s.local", "demo.k8s.local"}},
		{"instance group names", []string{"get", "ig", "--name", demoName, ""}, igs},
		{"instance group to edit", []string{"edit", "ig", "--name", demoName, ""}, igs},
		{"instance groups of another cluster", []string{"delete", "ig", "--name", "a.k8s.local", ""},
			[]string{"control-plane-us-east-1a", "nodes"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			out := mustRun(t, env, "", append([]string{"__complete"}, tt.args...)...)
			lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
			if len(lines) == 0 || !strings.HasPrefix(lines[len(lines)-1], ":") {
				t.Fatalf("__complete %q: no directive line:\n%s", tt.args, out)
			}
			if diff := cmp.Diff(tt.want, lines[:len(lines)-1], cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("__complete %q (-want +got):\n%s", tt.args, diff)
			}
		})
	}

	t.Run("bash script", func(t *testing.T) {
		t.Parallel()
		out := mustRun(t, env, "", "completion", "bash")
		for _, want := range []string{"bash completion", "__start_kapstan", "complete -o default"} {
			if !strings.Contains(out, want) {
				t.Errorf("completion bash: no %q in the script:\n%.500s", want, out)
			}
		}
	})
}

func TestVersion(t *testing.T) {
	t.Parallel()
	out := mustRun(t, newEnv(t, ""), "", "version")
	if !strings.HasPrefix(out, "kapstan ") {
		t.Errorf("version: got %q, want it to start with %q", out, "kapstan ")
	}
}
