package e2e

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestInstanceGroupLifecycle creates, deletes and replaces instance groups
// of one cluster, step by step; each step says what the cluster's groups
// (name → maxSize) and newest revision must be afterwards.
func TestInstanceGroupLifecycle(t *testing.T) {
	t.Parallel()
	_, url := fileStore(t)
	env := newEnv(t, url)
	createDemo(t, env)
	base := map[string]int32{
		"control-plane-us-east-1a": 1, "control-plane-us-east-1b": 1, "control-plane-us-east-1c": 1, "nodes": 3,
	}
	with := func(more map[string]int32) map[string]int32 {
		out := map[string]int32{}
		for k, v := range base {
			out[k] = v
		}
		for k, v := range more {
			out[k] = v
		}
		return out
	}
	// spotWith is what `get ig spot -o yaml` prints, with the line old
	// replaced by new.
	spotWith := func(t *testing.T, old, new string) string {
		t.Helper()
		out := mustRun(t, env, "", "get", "ig", "spot", "--name", demoName, "-o", "yaml")
		if !strings.Contains(out, "\n"+old+"\n") {
			t.Fatalf("get ig spot -o yaml has no line %q:\n%s", old, out)
		}
		return strings.Replace(out, "\n"+old+"\n", "\n"+new+"\n", 1)
	}
	// ghost is the spot group renamed to one the cluster lacks.
	ghost := func(t *testing.T) string { return spotWith(t, "  name: spot", "  name: ghost") }

	steps := []struct {
		name         string
		args         []string
		stdin        func(t *testing.T) string
		wantFail     bool
		wantOut      string
		wantErr      string
		wantGroups   map[string]int32
		wantRevision int
	}{
		{
			name:         "create",
			args:         []string{"create", "instancegroup", "spot", "--name", demoName, "--role", "Node", "--min", "0", "--max", "5"},
			wantOut:      `instance group "spot" created in cluster "demo.k8s.local" (revision 2)`,
			wantGroups:   with(map[string]int32{"spot": 5}),
			wantRevision: 2,
		},
		{
			name:         "delete without --yes changes nothing",
			args:         []string{"delete", "instancegroup", "spot", "--name", demoName},
			wantOut:      "Run again with --yes",
			wantGroups:   with(map[string]int32{"spot": 5}),
			wantRevision: 2,
		},
		{
			name:         "replace an edited group",
			args:         []string{"replace", "-f", "-", "--name", demoName},
			stdin:        func(t *testing.T) string { return spotWith(t, "  maxSize: 5", "  maxSize: 8") },
			wantOut:      "replaced (revision 3)",
			wantGroups:   with(map[string]int32{"spot": 8}),
			wantRevision: 3,
		},
		{
			name:         "replace a missing group fails",
			args:         []string{"replace", "-f", "-", "--name", demoName},
			stdin:        ghost,
			wantFail:     true,
			wantErr:      `instance group "ghost" does not exist in cluster "demo.k8s.local" (use --force to create it)`,
			wantGroups:   with(map[string]int32{"spot": 8}),
			wantRevision: 3,
		},
		{
			name:         "replace --force creates a missing group",
			args:         []string{"replace", "-f", "-", "--name", demoName, "--force"},
			stdin:        ghost,
			wantOut:      "replaced (revision 4)",
			wantGroups:   with(map[string]int32{"spot": 8, "ghost": 8}),
			wantRevision: 4,
		},
		{
			name:         "delete --yes",
			args:         []string{"delete", "instancegroup", "spot", "--name", demoName, "--yes"},
			wantOut:      `instance group "spot" removed from cluster "demo.k8s.local" (revision 5)`,
			wantGroups:   with(map[string]int32{"ghost": 8}),
			wantRevision: 5,
		},
	}
	for _, s := range steps {
		// Steps build on each other: stop at the first that fails.
		ok := t.Run(s.name, func(t *testing.T) {
			stdin := ""
			if s.stdin != nil {
				stdin = s.stdin(t)
			}
			r := run(t, env, stdin, s.args...)
			if (r.code != 0) != s.wantFail {
				t.Fatalf("kapstan %s: want failure %v, got %s", strings.Join(s.args, " "), s.wantFail, r)
			}
			if !strings.Contains(r.stdout, s.wantOut) || !strings.Contains(r.stderr, s.wantErr) {
				t.Errorf("want %q in stdout and %q in stderr, got %s", s.wantOut, s.wantErr, r)
			}
			m := decode(t, mustRun(t, env, "", "get", "ig", "--name", demoName, "-o", "yaml"))
			got := map[string]int32{}
			for _, ig := range m.InstanceGroups {
				got[ig.Metadata.Name] = ig.Spec.MaxSize
			}
			if diff := cmp.Diff(s.wantGroups, got); diff != "" {
				t.Errorf("instance groups → maxSize (-want +got):\n%s", diff)
			}
			h := history(t, env, demoName)
			if got := h[len(h)-1].Revision; got != s.wantRevision {
				t.Errorf("newest revision = %d, want %d", got, s.wantRevision)
			}
		})
		if !ok {
			return
		}
	}

	// The table view lists the groups too.
	table := mustRun(t, env, "", "get", "ig", "--name", demoName)
	for _, want := range []string{"NAME", "ghost", "nodes"} {
		if !strings.Contains(table, want) {
			t.Errorf("get ig --name %s does not list %q:\n%s", demoName, want, table)
		}
	}
	if strings.Contains(table, "spot") {
		t.Errorf("get ig --name %s still lists the deleted spot group:\n%s", demoName, table)
	}
}
