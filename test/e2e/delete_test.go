package e2e

import (
	"strings"
	"testing"
)

// TestApplyAndDeleteCluster runs the whole life of a cluster on moto
// through the binary: plan, apply, re-plan, drop an instance group, preview
// the delete, delete, and delete again.
func TestApplyAndDeleteCluster(t *testing.T) {
	t.Parallel()
	const name = "life.k8s.local" // a name of its own: e2e tests share one moto account
	client, bucket, url := s3Store(t)
	env := newEnv(t, url)
	mustRun(t, env, "", "create", "cluster", name, "--zones", "us-east-1a,us-east-1b", "--node-count", "2")
	seedMirror(t, env, name)
	mustRun(t, env, "", "create", "instancegroup", "spot", "--name", name, "--role", "Node", "--min", "1", "--max", "2")

	if r := run(t, env, "", "update", "cluster", name, "--detailed-exitcode"); r.code != 2 || !strings.Contains(r.stdout, "+ VPC/"+name) {
		t.Fatalf("plan of a new cluster: want exit 2 and a VPC to create:\n%s", r)
	}
	mustRun(t, env, "", "update", "cluster", name, "--yes")
	if r := run(t, env, "", "update", "cluster", name, "--detailed-exitcode"); r.code != 0 {
		t.Fatalf("plan after apply: want exit 0:\n%s", r)
	}

	// Removing a group from the spec deletes its Auto Scaling group and
	// launch template, and nothing else: the next plan is empty.
	out := mustRun(t, env, "", "delete", "instancegroup", "spot", "--name", name, "--yes")
	if !strings.Contains(out, "deleted its Auto Scaling group and launch template") {
		t.Fatalf("delete instancegroup --yes:\n%s", out)
	}
	// The nodes' role may no longer read the group's node configuration:
	// that, and nothing else, is left to update.
	if r := run(t, env, "", "update", "cluster", name, "--detailed-exitcode"); r.code != 2 ||
		!strings.Contains(r.stdout, "0 to create, 1 to update, 0 to delete") || !strings.Contains(r.stdout, "~ IAMRolePolicy/nodes."+name) {
		t.Fatalf("plan after deleting the group: want only the nodes' policy to update:\n%s", r)
	}
	mustRun(t, env, "", "update", "cluster", name, "--yes")
	if r := run(t, env, "", "update", "cluster", name, "--detailed-exitcode"); r.code != 0 {
		t.Fatalf("plan after deleting the group and updating: want exit 0:\n%s", r)
	}

	preview := mustRun(t, env, "", "delete", "cluster", name)
	for _, want := range []string{"TYPE", "VPC", "AutoScalingGroup", "control-plane-us-east-1a", "Instance", "Run again with --yes"} {
		if !strings.Contains(preview, want) {
			t.Errorf("preview lacks %q:\n%s", want, preview)
		}
	}
	if strings.Contains(preview, "AutoScalingGroup   spot") {
		t.Errorf("preview lists the deleted group:\n%s", preview)
	}
	if len(bucketKeys(t, client, bucket)) == 0 {
		t.Fatal("the preview removed the state")
	}

	out = mustRun(t, env, "", "delete", "cluster", name, "--yes")
	if !strings.Contains(out, "Removed the state of cluster") {
		t.Fatalf("delete --yes:\n%s", out)
	}
	if files := bucketKeys(t, client, bucket); len(files) != 0 {
		t.Fatalf("the store still holds %v", files)
	}
	// The spec is gone: a second delete finds by tags alone, finds nothing,
	// and succeeds.
	if r := run(t, env, "", "delete", "cluster", name, "--yes"); r.code == 0 || !strings.Contains(r.stderr, "--region") {
		t.Fatalf("delete without spec or region: want an error asking for --region:\n%s", r)
	}
	out = mustRun(t, env, "", "delete", "cluster", name, "--region", "us-east-1", "--yes")
	if !strings.Contains(out, "has no resources") {
		t.Fatalf("second delete:\n%s", out)
	}
}

func TestDeleteUnregister(t *testing.T) {
	t.Parallel()
	dir, url := fileStore(t)
	env := newEnv(t, url)
	createDemo(t, env)
	mustRun(t, env, "", "delete", "cluster", demoName, "--unregister", "--yes")
	if files := storeFiles(t, dir); len(files) != 0 {
		t.Fatalf("the store still holds %v", files)
	}
}
