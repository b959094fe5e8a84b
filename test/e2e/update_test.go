package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kapstan/kapstan/internal/testing/faultproxy"
)

// TestConcurrentUpdatesAreSerialized starts a slow `update cluster --yes`
// (every AWS call 50 ms late), waits until it holds the cluster's lease,
// and starts a second one: the second is refused with who holds the lock;
// the first completes.
func TestConcurrentUpdatesAreSerialized(t *testing.T) {
	t.Parallel()
	const name = "lock.k8s.local"
	dir, url := fileStore(t)
	proxy, err := faultproxy.Start(motoSrv.URL, faultproxy.Faults{Latency: 50 * time.Millisecond}, 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { proxy.Close() })
	env := withEnv(newEnv(t, url), "AWS_ENDPOINT_URL="+proxy.URL)
	mustRun(t, env, "", "create", "cluster", name, "--zones", "us-east-1a")

	first := exec.Command(kapstanBin, "update", "cluster", name, "--yes")
	first.Env = env
	var out strings.Builder
	first.Stdout, first.Stderr = &out, &out
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	lease := filepath.Join(dir, name, "lease")
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := os.Stat(lease); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the first update never took the lease")
		}
		time.Sleep(20 * time.Millisecond)
	}
	second := run(t, env, "", "update", "cluster", name, "--yes")
	if second.code == 0 || !strings.Contains(second.stderr, `is locked by "update cluster --yes"`) {
		t.Fatalf("second update while the first runs: want a lock refusal:\n%s", second)
	}
	if err := first.Wait(); err != nil {
		t.Fatalf("first update: %v\n%s", err, out.String())
	}
	if _, err := os.Stat(lease); !os.IsNotExist(err) {
		t.Fatalf("the lease outlived its holder: %v", err)
	}
	mustRun(t, env, "", "delete", "cluster", name, "--yes")
}

// TestSavedPlan saves a plan, applies it, then shows a saved plan is
// refused once the spec has moved on.
func TestSavedPlan(t *testing.T) {
	t.Parallel()
	const name = "plan.k8s.local"
	_, url := fileStore(t)
	env := newEnv(t, url)
	mustRun(t, env, "", "create", "cluster", name, "--zones", "us-east-1b")
	planFile := filepath.Join(t.TempDir(), "plan.json")
	mustRun(t, env, "", "update", "cluster", name, "--out-plan", planFile)
	out := mustRun(t, env, "", "apply", planFile)
	if !strings.Contains(out, "updated") {
		t.Fatalf("apply of a fresh plan:\n%s", out)
	}
	// The plan is now stale: the cloud holds what it meant to create.
	if r := run(t, env, "", "apply", planFile); r.code == 0 || !strings.Contains(r.stderr, "stale") {
		t.Fatalf("apply of a used plan: want it refused as stale:\n%s", r)
	}
	mustRun(t, env, "", "update", "cluster", name, "--out-plan", planFile)
	editor := writeScript(t, "edit.sh", `sed -i 's/^  maxSize: 1$/  maxSize: 2/' "$1"`)
	mustRun(t, withEnv(env, "EDITOR="+editor), "", "edit", "ig", "nodes", "--name", name)
	if r := run(t, env, "", "apply", planFile); r.code == 0 || !strings.Contains(r.stderr, "spec revision") {
		t.Fatalf("apply of a plan older than the spec: want it refused:\n%s", r)
	}
	mustRun(t, env, "", "delete", "cluster", name, "--yes")
}
