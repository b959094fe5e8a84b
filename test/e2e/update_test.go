package e2e

import (
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
	client, bucket, url := s3Store(t)
	proxy, err := faultproxy.Start(motoSrv.URL, faultproxy.Faults{Latency: 50 * time.Millisecond}, 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { proxy.Close() })
	env := withEnv(newEnv(t, url), "AWS_ENDPOINT_URL="+proxy.URL)
	mustRun(t, env, "", "create", "cluster", name, "--zones", "us-east-1a")
	seedMirror(t, env, name)

	first := exec.Command(kapstanBin, "update", "cluster", name, "--yes")
	first.Env = env
	var out strings.Builder
	first.Stdout, first.Stderr = &out, &out
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	lease := "state/" + name + "/lease"
	deadline := time.Now().Add(20 * time.Second)
	for {
		if objectExists(t, client, bucket, lease) {
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
	if objectExists(t, client, bucket, lease) {
		t.Fatal("the lease outlived its holder")
	}
	mustRun(t, env, "", "delete", "cluster", name, "--yes")
}

// TestSavedPlan saves a plan, applies it, then shows a saved plan is
// refused once the spec has moved on.
func TestSavedPlan(t *testing.T) {
	t.Parallel()
	const name = "plan.k8s.local"
	_, _, url := s3Store(t)
	env := newEnv(t, url)
	mustRun(t, env, "", "create", "cluster", name, "--zones", "us-east-1b")
	seedMirror(t, env, name)
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

// TestLocalStoreRefusedForMachines: with a file:// store a plan and the
// file targets only warn, while update --yes and apply PLANFILE, which
// would launch machines that cannot read the store, are refused before
// any change, saying why and what to use.
func TestLocalStoreRefusedForMachines(t *testing.T) {
	t.Parallel()
	const name = "local.k8s.local"
	_, url := fileStore(t)
	env := newEnv(t, url)
	mustRun(t, env, "", "create", "cluster", name, "--zones", "us-east-1c")
	// Without a mirror there is no agent to point machines at: the plan
	// says which mirror it read and how to fill it.
	if r := run(t, env, "", "update", "cluster", name); r.code == 0 || !strings.Contains(r.stderr, url+"/"+name+"/assets has no bill of materials") ||
		!strings.Contains(r.stderr, "kapstan get assets "+name+" --copy --from DIR") {
		t.Fatalf("plan without a mirror: want an error naming the mirror and the command that fills it:\n%s", r)
	}
	seedMirror(t, env, name)
	const why = "the cluster's machines cannot read it: machines read their configuration from the state store when they boot, and it is a folder on this computer"
	planFile := filepath.Join(t.TempDir(), "plan.json")
	plan := run(t, env, "", "update", "cluster", name, "--out-plan", planFile)
	if plan.code != 0 || !strings.Contains(plan.stderr, "Warning: state store "+url+": "+why) || !strings.Contains(plan.stderr, "--yes will refuse it") {
		t.Fatalf("plan with a file store: want a warning:\n%s", plan)
	}
	tf := run(t, env, "", "update", "cluster", name, "--target", "terraform", "--out", filepath.Join(t.TempDir(), "tf"))
	if tf.code != 0 || !strings.Contains(tf.stderr, "Warning: state store "+url) {
		t.Fatalf("terraform with a file store: want a warning:\n%s", tf)
	}
	for _, args := range [][]string{{"update", "cluster", name, "--yes", "--force"}, {"apply", planFile, "--force"}} {
		r := run(t, env, "", args...)
		if r.code == 0 || !strings.Contains(r.stderr, why) || !strings.Contains(r.stderr, "--state s3://BUCKET/PREFIX") {
			t.Errorf("kapstan %s: want a refusal that says why and what to use:\n%s", strings.Join(args, " "), r)
		}
	}
	if r := run(t, env, "", "update", "cluster", name, "--detailed-exitcode"); r.code != 2 {
		t.Fatalf("the refused runs changed the cloud: the plan now exits %d:\n%s", r.code, r)
	}
}
