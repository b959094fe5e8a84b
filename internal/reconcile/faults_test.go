package reconcile

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/google/go-cmp/cmp"

	awscloud "github.com/kapstan/kapstan/internal/cloud/aws"
	"github.com/kapstan/kapstan/internal/engine"
	"github.com/kapstan/kapstan/internal/newcluster"
	"github.com/kapstan/kapstan/internal/registry"
	"github.com/kapstan/kapstan/internal/store"
	"github.com/kapstan/kapstan/internal/testing/faultproxy"
	"github.com/kapstan/kapstan/internal/testing/moto"
)

// TestApplyAndDeleteThroughFaults applies and deletes a cluster through a
// proxy that throttles 10% of the calls (in each protocol's own error
// shape), fails 2% with 500/503 and drops 1% of the connections. The
// result must be exactly that of a clean run, and nothing may be left.
func TestApplyAndDeleteThroughFaults(t *testing.T) {
	ctx := context.Background()
	proxy, err := faultproxy.Start(motoSrv.URL, faultproxy.Faults{Throttle: 0.10, ServerError: 0.02, Drop: 0.01}, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	account := moto.NewAccountID()
	counter := awscloud.NewCallCounter()
	cfg, err := motoSrv.Config(ctx, moto.WithAccount(account), config.WithBaseEndpoint(proxy.URL),
		config.WithRetryer(NewRetryer), config.WithRetryMaxAttempts(MaxAttempts))
	if err != nil {
		t.Fatal(err)
	}
	cfg.APIOptions = append(cfg.APIOptions, counter.Middleware)
	// Checks go around the proxy: they must not be what fails.
	direct, err := motoSrv.Config(ctx, moto.WithAccount(account))
	if err != nil {
		t.Fatal(err)
	}
	e := &env{cfg: cfg, counter: counter, reg: registry.New(store.NewMemory("t"))}
	check := &env{cfg: direct, counter: awscloud.NewCallCounter(), reg: e.reg}

	snap := e.create(t, newcluster.Options{Name: "demo.k8s.local", Zones: zones, ControlPlaneCount: 3, NodeCount: 3})
	fast := engine.ApplyOptions{Backoff: &engine.Backoff{Initial: 10 * time.Millisecond, Max: 100 * time.Millisecond, MaxElapsed: time.Minute}}
	p, err := Plan(ctx, snap, e.opts())
	if err != nil {
		t.Fatalf("plan through faults: %v", err)
	}
	if err := Apply(ctx, p, fast); err != nil {
		t.Fatalf("apply through faults: %v", err)
	}
	if diff := cmp.Diff(publicCounts, check.owned(t, "demo.k8s.local")); diff != "" {
		t.Fatalf("resources after an apply through faults (-want +got):\n%s", diff)
	}
	check.assertConverged(t, snap)

	td, err := Discover(ctx, "demo.k8s.local", "us-east-1", e.opts(), awscloud.DiscoverOptions{})
	if err != nil {
		t.Fatalf("discover through faults: %v", err)
	}
	dctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := Delete(dctx, td, fast); err != nil {
		t.Fatalf("delete through faults: %v", err)
	}
	if left := check.owned(t, "demo.k8s.local"); len(left) > 0 {
		t.Fatalf("left after a delete through faults: %v", left)
	}
	// The seed is fixed, so the faults are the same run after run, give or
	// take the order of concurrent calls.
	if proxy.Injected.Throttled.Load() == 0 || proxy.Injected.ServerErrors.Load()+proxy.Injected.Dropped.Load() == 0 {
		t.Fatalf("the proxy injected too little to prove anything: %d throttled, %d 5xx, %d dropped of %d",
			proxy.Injected.Throttled.Load(), proxy.Injected.ServerErrors.Load(), proxy.Injected.Dropped.Load(), proxy.Injected.Forwarded.Load())
	}
	t.Logf("injected %d throttles, %d server errors, %d dropped connections; forwarded %d",
		proxy.Injected.Throttled.Load(), proxy.Injected.ServerErrors.Load(), proxy.Injected.Dropped.Load(), proxy.Injected.Forwarded.Load())
}
