package e2e

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/kapstan/kapstan/internal/kube"
	"github.com/kapstan/kapstan/internal/testing/kubetest"
)

// TestValidateAndRollingUpdate runs validate and rolling-update through
// the binary, against moto and a real kube-apiserver whose nodes follow
// the cluster's instances: the cluster validates, an instance-type edit
// and an update make the nodes out of date, the preview says so, the roll
// replaces them, and a NotReady node fails validate with exit 1.
func TestValidateAndRollingUpdate(t *testing.T) {
	t.Parallel()
	const name = "roll.k8s.local"
	_, _, url := s3Store(t)
	env := newEnv(t, url)
	mustRun(t, env, "", "create", "cluster", name, "--zones", "us-east-1a", "--node-count", "2")
	seedMirror(t, env, name)
	mustRun(t, env, "", "update", "cluster", name, "--yes")

	ctx := t.Context()
	cfg, err := motoSrv.Config(ctx)
	if err != nil {
		t.Fatal(err)
	}
	kenv, err := kubetest.Start(ctx, kubetest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = kenv.Stop() })
	simCtx, stop := context.WithCancel(context.Background())
	wait := kenv.RunCloudNodes(simCtx, kubetest.CloudNodes{EC2: ec2.NewFromConfig(cfg), Cluster: name,
		BootDelay: 100 * time.Millisecond, Interval: 25 * time.Millisecond})
	kenv.RunKubelet(simCtx, 50*time.Millisecond)
	t.Cleanup(func() { stop(); wait() })
	kubeconfig := "--kubeconfig=" + kenv.Kubeconfig

	out := mustRun(t, env, "", "validate", "cluster", name, "--wait", "20s", "--interval", "100ms", "--count", "2", kubeconfig)
	if !strings.Contains(out, "Your cluster roll.k8s.local is ready.") {
		t.Fatalf("validate:\n%s", out)
	}
	var res kube.Result
	if err := json.Unmarshal([]byte(mustRun(t, env, "", "validate", "cluster", name, "-o", "json", kubeconfig)), &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Nodes) != 3 || len(res.Failures) != 0 {
		t.Fatalf("validate -o json: %d nodes, failures %v; want 3 nodes, none", len(res.Nodes), res.Failures)
	}

	editor := writeScript(t, "editor.sh", `sed -i 's/machineType: t3.medium/machineType: t3.large/' "$1"`+"\n")
	mustRun(t, withEnv(env, "EDITOR="+editor), "", "edit", "instancegroup", "nodes", "--name", name)
	mustRun(t, env, "", "update", "cluster", name, "--yes")

	preview := mustRun(t, env, "", "rolling-update", "cluster", name)
	if !strings.Contains(preview, "NeedsUpdate") || !strings.Contains(preview, "Must specify --yes") {
		t.Fatalf("rolling-update preview does not list the nodes:\n%s", preview)
	}
	roll := mustRun(t, env, "", "rolling-update", "cluster", name, "--yes", "--interval", "100ms", "--validation-timeout", "20s", kubeconfig)
	if !strings.Contains(roll, "2 instances replaced") {
		t.Fatalf("rolling-update --yes:\n%s", roll)
	}
	if again := mustRun(t, env, "", "rolling-update", "cluster", name); !strings.Contains(again, "No instance needs replacing.") {
		t.Fatalf("after the roll:\n%s", again)
	}
	mustRun(t, env, "", "validate", "cluster", name, "--wait", "20s", "--interval", "100ms", "--count", "1", kubeconfig)

	// One node NotReady: validate lists it and exits 1.
	if err := json.Unmarshal([]byte(mustRun(t, env, "", "validate", "cluster", name, "-o", "json", kubeconfig)), &res); err != nil {
		t.Fatal(err)
	}
	node := res.Nodes[0].Name
	if err := kenv.SetNodeReady(ctx, node, false); err != nil {
		t.Fatal(err)
	}
	r := run(t, env, "", "validate", "cluster", name, kubeconfig)
	if r.code != 1 || !strings.Contains(r.stdout, node) || !strings.Contains(r.stdout, "is not Ready") {
		t.Fatalf("validate with %s NotReady: want exit 1 naming it, got %s", node, r)
	}
}
