package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kapstan/kapstan/internal/testing/awscheck"
)

// crashCounts is what the crash tests' cluster holds in AWS: one zone, one
// control-plane group and a node group of two.
var crashCounts = awscheck.Counts{
	"ec2:vpc": 1, "ec2:internet-gateway": 1, "ec2:subnet": 1, "ec2:route-table": 1, "ec2:route": 1,
	"ec2:route-table-association": 1, "ec2:security-group": 3, "ec2:security-group-rule": 10,
	"ec2:volume": 2, "ec2:launch-template": 2, "ec2:instance": 3,
	"autoscaling:group": 2, "elbv2:load-balancer": 1, "elbv2:target-group": 1, "iam:role": 2, "iam:instance-profile": 2,
}

// TestCrashedApplyConverges kills `update cluster --yes` with SIGKILL at a
// random moment (20 seeds), runs it again, and checks that the cluster
// converges with exactly the resources of a clean run; then deletes it and
// checks nothing is left.
func TestCrashedApplyConverges(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cfg, err := motoSrv.Config(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for seed := range uint64(20) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			t.Parallel()
			name := fmt.Sprintf("crash-%d.k8s.local", seed) // e2e tests share one moto account
			_, _, url := s3Store(t)
			env := newEnv(t, url)
			mustRun(t, env, "", "create", "cluster", name, "--zones", "us-east-1a", "--node-count", "2")
			seedMirror(t, env, name)

			cmd := exec.Command(kapstanBin, "update", "cluster", name, "--yes")
			cmd.Env = env
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			delay := time.Duration(rand.New(rand.NewPCG(seed, 99)).IntN(1500)) * time.Millisecond
			time.Sleep(delay)
			_ = cmd.Process.Signal(syscall.SIGKILL)
			_ = cmd.Wait()

			// The killed run's lease names a dead process, so the next run
			// takes it over at once. A request the killed process had in
			// flight can still land after the next run looked: then that run
			// makes a duplicate, and the run after it removes it.
			converged := false
			for range 3 {
				mustRun(t, env, "", "update", "cluster", name, "--yes")
				if r := run(t, env, "", "update", "cluster", name, "--detailed-exitcode"); r.code == 0 {
					converged = true
					break
				}
			}
			if !converged {
				t.Fatalf("killed after %s: three more runs did not converge", delay)
			}
			got, err := awscheck.Owned(ctx, cfg, name)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(crashCounts, got); diff != "" {
				t.Fatalf("killed after %s, then re-run (-want +got):\n%s", delay, diff)
			}
			mustRun(t, env, "", "delete", "cluster", name, "--yes")
			left, err := awscheck.Owned(ctx, cfg, name)
			if err != nil {
				t.Fatal(err)
			}
			if len(left) > 0 {
				t.Fatalf("left after delete: %v", left)
			}
		})
	}
}
