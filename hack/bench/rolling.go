package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/kapstan/kapstan/internal/engine"
	"github.com/kapstan/kapstan/internal/kube"
	"github.com/kapstan/kapstan/internal/newcluster"
	"github.com/kapstan/kapstan/internal/reconcile"
	"github.com/kapstan/kapstan/internal/registry"
	"github.com/kapstan/kapstan/internal/store"
	"github.com/kapstan/kapstan/internal/testing/kubetest"
	"github.com/kapstan/kapstan/internal/testing/moto"
	api "github.com/kapstan/kapstan/pkg/apis/kapstan/v1alpha1"
)

// The rolling-update benchmark: one node group of rollNodes instances on
// moto, a real kube-apiserver, and nodes that register rollBootDelay after
// their instance runs. The ideal makespan with a surge of s is
// ceil(rollNodes/s) boot delays: everything else (detach, validate, drain,
// terminate, the polls between) is overhead.
const (
	rollNodes     = 12
	rollBootDelay = 300 * time.Millisecond
	rollInterval  = 10 * time.Millisecond
	// rollPoll is how often the rolling update looks again while it
	// waits; it also wakes up on every node change, which is what the
	// makespan rides on.
	rollPoll = 250 * time.Millisecond
)

// log receives the rolling updates' progress lines (-v).
func rollingMetrics(ctx context.Context, srv *moto.Server, r map[string]float64, log io.Writer) error {
	if _, err := kubetest.FindBinaries(); err != nil {
		return fmt.Errorf("rolling-update benchmark: %w", err)
	}
	r["rolling_nodes"] = rollNodes
	// 300 ms is the boot delay; against moto's ~25 ms per call the
	// fixed cost of a batch (a handful of calls) weighs more than it does
	// against a real boot of a minute, so the ratio is also measured with
	// a 1 s boot.
	for _, boot := range []time.Duration{rollBootDelay, time.Second} {
		suffix := ""
		if boot != rollBootDelay {
			suffix = fmt.Sprintf("_boot%dms", boot.Milliseconds())
		}
		for _, surge := range []int{1, 3, 6} {
			took, err := rollOnce(ctx, srv, surge, boot, log)
			if err != nil {
				return fmt.Errorf("rolling-update benchmark, surge %d: %w", surge, err)
			}
			batches := int(math.Ceil(float64(rollNodes) / float64(surge)))
			ideal := time.Duration(batches) * boot
			r[fmt.Sprintf("rolling_makespan_ms_surge%d%s", surge, suffix)] = ms(took)
			r[fmt.Sprintf("rolling_makespan_vs_ideal_surge%d%s", surge, suffix)] = float64(took) / float64(ideal)
			r[fmt.Sprintf("rolling_overhead_ms_per_batch_surge%d%s", surge, suffix)] = ms((took - ideal) / time.Duration(batches))
		}
	}
	r["rolling_boot_delay_ms"] = ms(rollBootDelay)
	return nil
}

// rollOnce makes a cluster, changes its nodes' instance type and times the
// rolling update that replaces them.
func rollOnce(ctx context.Context, srv *moto.Server, surge int, boot time.Duration, log io.Writer) (time.Duration, error) {
	cfg, err := srv.Config(ctx, moto.WithAccount(moto.NewAccountID()))
	if err != nil {
		return 0, err
	}
	name := fmt.Sprintf("roll%d-%d.k8s.local", surge, boot.Milliseconds())
	m, err := newcluster.Build(newcluster.Options{Name: name, Zones: []string{"us-east-1a"}, NodeCount: rollNodes})
	if err != nil {
		return 0, err
	}
	s := intstr.FromInt(surge)
	m.InstanceGroup("nodes").Spec.RollingUpdate = &api.RollingUpdateSpec{MaxSurge: &s}
	reg := registry.New(store.NewMemory("bench"))
	snap, err := reg.Create(ctx, m, "bench")
	if err != nil {
		return 0, err
	}
	opts := reconcile.Options{AWS: cfg, StateStore: "s3://bench-state", AgentURL: benchAgentURL, AgentSHA256: benchAgentSHA256}
	apply := func(snap *registry.Snapshot) error {
		p, err := reconcile.Plan(ctx, snap, opts)
		if err != nil {
			return err
		}
		return reconcile.Apply(ctx, p, engine.ApplyOptions{})
	}
	if err := apply(snap); err != nil {
		return 0, err
	}

	env, err := kubetest.Start(ctx, kubetest.Options{})
	if err != nil {
		return 0, err
	}
	defer env.Stop()
	simCtx, stop := context.WithCancel(ctx)
	wait := env.RunCloudNodes(simCtx, kubetest.CloudNodes{EC2: ec2.NewFromConfig(cfg), Cluster: name,
		BootDelay: boot, Interval: rollInterval})
	env.RunKubelet(simCtx, 50*time.Millisecond)
	defer func() { stop(); wait() }()

	c := &kube.Cluster{Spec: m, Cloud: reconcile.InstanceGroups(cfg, name, "us-east-1"), Client: env.Client}
	if _, err := c.WaitValid(ctx, nil, kube.WaitOptions{Timeout: time.Minute, Interval: rollInterval}); err != nil {
		return 0, err
	}
	next := snap.Manifests.DeepCopy()
	next.InstanceGroup("nodes").Spec.MachineType = "t3.large"
	if snap, err = reg.Update(ctx, snap, next, "bench: new instance type"); err != nil {
		return 0, err
	}
	if err := apply(snap); err != nil {
		return 0, err
	}
	c.Spec = snap.Manifests
	start := time.Now()
	updates, err := c.RollingUpdate(ctx, kube.RollOptions{Selection: kube.Selection{InstanceGroups: []string{"nodes"}},
		ValidationTimeout: time.Minute, DrainTimeout: time.Minute, Interval: rollPoll, EvictionRetryDelay: time.Second, Log: log})
	took := time.Since(start)
	if err != nil {
		return 0, err
	}
	if n := len(updates[0].Replace); n != rollNodes {
		return 0, fmt.Errorf("replaced %d instances, want %d", n, rollNodes)
	}
	return took, nil
}
