package e2e

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kapstan/kapstan/internal/testing/faultproxy"
)

// TestEditInstanceGroup runs `edit instancegroup` with $EDITOR set to a
// script: a valid change is committed as revision 2, an invalid one that
// the editor keeps writing is abandoned, an untouched file cancels.
func TestEditInstanceGroup(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		editor        string // script body; "$1" is the file
		wantFail      bool
		wantOut       string // in stdout
		wantErr       string // in stderr
		wantMaxSize   int32
		wantRevisions []int
	}{
		{
			name:          "valid change",
			editor:        `sed -i 's/^  maxSize: 3$/  maxSize: 7/' "$1"`,
			wantOut:       `instance group "nodes" of cluster "demo.k8s.local" edited (revision 2)`,
			wantMaxSize:   7,
			wantRevisions: []int{1, 2},
		},
		{
			name:          "invalid change is abandoned",
			editor:        `sed -i 's/^  minSize: .*/  minSize: 9/' "$1"`, // above maxSize 3, every time
			wantFail:      true,
			wantErr:       "edit abandoned",
			wantMaxSize:   3,
			wantRevisions: []int{1},
		},
		{
			name:          "no change cancels",
			editor:        "true",
			wantOut:       "Edit cancelled",
			wantMaxSize:   3,
			wantRevisions: []int{1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, url := fileStore(t)
			env := newEnv(t, url)
			createDemo(t, env)
			before := mustRun(t, env, "", "get", "ig", "nodes", "--name", demoName, "-o", "yaml")

			editEnv := withEnv(env, "EDITOR="+writeScript(t, "editor.sh", tt.editor+"\n"))
			r := run(t, editEnv, "", "edit", "instancegroup", "nodes", "--name", demoName)
			if (r.code != 0) != tt.wantFail {
				t.Fatalf("edit: want failure %v, got %s", tt.wantFail, r)
			}
			if !strings.Contains(r.stdout, tt.wantOut) || !strings.Contains(r.stderr, tt.wantErr) {
				t.Errorf("edit: want %q in stdout and %q in stderr, got %s", tt.wantOut, tt.wantErr, r)
			}

			ig := instanceGroup(t, env, "nodes")
			if ig.Spec.MaxSize != tt.wantMaxSize {
				t.Errorf("nodes spec.maxSize = %d, want %d", ig.Spec.MaxSize, tt.wantMaxSize)
			}
			if len(tt.wantRevisions) == 1 {
				if after := mustRun(t, env, "", "get", "ig", "nodes", "--name", demoName, "-o", "yaml"); after != before {
					t.Errorf("nodes changed although nothing was committed (-before +after):\n%s", cmp.Diff(before, after))
				}
			}
			if diff := cmp.Diff(tt.wantRevisions, revisions(history(t, env, demoName))); diff != "" {
				t.Errorf("revisions (-want +got):\n%s", diff)
			}
		})
	}
}

// barrierEditor is an editor script that marks its arrival in dir, waits
// (up to 20 s) until two editors have arrived, then applies sedExpr.
func barrierEditor(dir, id, sedExpr string) string {
	return fmt.Sprintf(`touch %[1]q/%[2]s
n=0
while [ "$(ls %[1]q | wc -l)" -lt 2 ]; do
	n=$((n+1))
	if [ $n -gt 400 ]; then echo "editor %[2]s: the other editor never came" >&2; exit 1; fi
	sleep 0.05
done
sed -i %[3]q "$1"
`, dir, id, sedExpr)
}

// TestEditConcurrent starts two edit processes of the same instance group
// whose editors wait for each other, so both read revision 1. Exactly one
// commits; the other fails with a conflict naming what the winner changed,
// and writes nothing.
func TestEditConcurrent(t *testing.T) {
	t.Parallel()
	stores := []struct {
		name  string
		store func(t *testing.T) string
	}{
		{"file", func(t *testing.T) string { _, url := fileStore(t); return url }},
		{"s3", func(t *testing.T) string { _, bucket := newBucket(t); return "s3://" + bucket + "/clusters" }},
	}
	type editor struct {
		sed   string // the edit
		field string // the field path it changes
		line  string // the line it writes
	}
	editors := map[string]editor{
		"max-size":     {`s/^  maxSize: 3$/  maxSize: 5/`, "spec.maxSize", "  maxSize: 5\n"},
		"machine-type": {`s/^  machineType: t3.medium$/  machineType: t3.large/`, "spec.machineType", "  machineType: t3.large\n"},
	}
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			env := newEnv(t, st.store(t))
			if st.name == "s3" {
				// moto checks a conditional write and then writes, in a
				// threaded server, where S3 does both at once; the processes
				// reach it through a proxy that forwards one write at a time.
				proxy, err := faultproxy.Start(motoSrv.URL, faultproxy.Faults{SerializeWrites: true}, 1)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { proxy.Close() })
				env = withEnv(env, "AWS_ENDPOINT_URL="+proxy.URL)
			}
			createDemo(t, env)
			barrier := t.TempDir()

			results := map[string]result{}
			var mu sync.Mutex
			var wg sync.WaitGroup
			for id, ed := range editors {
				script := writeScript(t, id+".sh", barrierEditor(barrier, id, ed.sed))
				wg.Go(func() {
					r := run(t, withEnv(env, "EDITOR="+script), "", "edit", "ig", "nodes", "--name", demoName)
					mu.Lock()
					results[id] = r
					mu.Unlock()
				})
			}
			wg.Wait()

			var winners, losers []string
			for id, r := range results {
				if r.code == 0 {
					winners = append(winners, id)
				} else {
					losers = append(losers, id)
				}
			}
			if len(winners) != 1 || len(losers) != 1 {
				t.Fatalf("want exactly one edit to succeed; winners %q, losers %q\n%s", winners, losers, describe(results))
			}
			win, lose := winners[0], losers[0]
			if want := "edited (revision 2)"; !strings.Contains(results[win].stdout, want) {
				t.Errorf("the winning edit (%s) does not say %q: %s", win, want, results[win])
			}
			msg := results[lose].stderr
			t.Logf("the losing edit (%s) says:\n%s", lose, msg)
			for _, want := range []string{"conflict", editors[win].field, "revision 1", "revision 2"} {
				if !strings.Contains(msg, want) {
					t.Errorf("the losing edit (%s) does not say %q:\n%s", lose, want, msg)
				}
			}
			if diff := cmp.Diff([]int{1, 2}, revisions(history(t, env, demoName))); diff != "" {
				t.Errorf("revisions (-want +got):\n%s", diff)
			}
			nodes := mustRun(t, env, "", "get", "ig", "nodes", "--name", demoName, "-o", "yaml")
			if !strings.Contains(nodes, editors[win].line) {
				t.Errorf("the winner's change (%q) is lost:\n%s", editors[win].line, nodes)
			}
			if strings.Contains(nodes, editors[lose].line) {
				t.Errorf("the loser's change (%q) was written:\n%s", editors[lose].line, nodes)
			}
		})
	}
}

func describe(results map[string]result) string {
	var b strings.Builder
	for id, r := range results {
		fmt.Fprintf(&b, "=== %s: %s\n", id, r)
	}
	return b.String()
}

// TestRollbackCluster edits a cluster, rolls it back to revision 1 and
// checks the old spec comes back as revision 3.
func TestRollbackCluster(t *testing.T) {
	t.Parallel()
	_, url := fileStore(t)
	env := newEnv(t, url)
	createDemo(t, env)
	original := decode(t, mustRun(t, env, "", "get", "cluster", demoName, "-o", "yaml"))

	editor := writeScript(t, "editor.sh", `sed -i 's/^  maxSize: 3$/  maxSize: 7/' "$1"`+"\n")
	mustRun(t, withEnv(env, "EDITOR="+editor), "", "edit", "ig", "nodes", "--name", demoName)
	if got := instanceGroup(t, env, "nodes").Spec.MaxSize; got != 7 {
		t.Fatalf("after the edit, maxSize = %d, want 7", got)
	}

	out := mustRun(t, env, "", "rollback", "cluster", demoName, "--to", "1")
	if want := "now revision 3"; !strings.Contains(out, want) {
		t.Errorf("rollback: stdout does not say %q:\n%s", want, out)
	}
	if got := instanceGroup(t, env, "nodes").Spec.MaxSize; got != 3 {
		t.Errorf("after the rollback, maxSize = %d, want 3", got)
	}
	restored := decode(t, mustRun(t, env, "", "get", "cluster", demoName, "-o", "yaml"))
	// Generations say when each object last changed, so nodes moves to 3.
	restored.InstanceGroup("nodes").Metadata.Generation = 1
	if diff := cmp.Diff(original, restored); diff != "" {
		t.Errorf("rolled-back spec differs from revision 1 (-want +got):\n%s", diff)
	}

	entries := history(t, env, demoName)
	if diff := cmp.Diff([]int{1, 2, 3}, revisions(entries)); diff != "" {
		t.Fatalf("revisions (-want +got):\n%s", diff)
	}
	last := entries[2]
	if last.Reason != "rollback to revision 1" {
		t.Errorf("revision 3 reason = %q, want %q", last.Reason, "rollback to revision 1")
	}
	if diff := cmp.Diff([]string{`InstanceGroup "nodes": spec.maxSize`}, last.Changes); diff != "" {
		t.Errorf("revision 3 changes (-want +got):\n%s", diff)
	}

	r := run(t, env, "", "rollback", "cluster", demoName, "--to", "9")
	if r.code == 0 || !strings.Contains(r.stderr, "no revision 9") {
		t.Errorf("rollback --to 9: want a failure saying there is no revision 9, got %s", r)
	}
}
