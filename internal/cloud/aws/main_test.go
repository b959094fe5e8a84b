package aws

import (
	"context"
	"os"
	"testing"

	"github.com/kapstan/kapstan/internal/engine"
	"github.com/kapstan/kapstan/internal/testing/moto"
)

var motoSrv *moto.Server

func TestMain(m *testing.M) { os.Exit(moto.RunMain(m, &motoSrv)) }

// testCloud returns a Cloud for cluster "test.k8s.local" in a fresh moto
// account, with a counter of the calls it makes.
func testCloud(t *testing.T) (*Cloud, *CallCounter) {
	t.Helper()
	counter := NewCallCounter()
	cfg, err := motoSrv.Config(context.Background(), moto.WithAccount(moto.NewAccountID()))
	if err != nil {
		t.Fatal(err)
	}
	cfg.APIOptions = append(cfg.APIOptions, counter.Middleware)
	return New(NewClients(cfg), "test.k8s.local", "us-east-1"), counter
}

// fresh returns a Cloud on the same account as c with an empty read cache,
// as the next kapstan run has.
func fresh(c *Cloud) *Cloud { return New(c.Clients, c.Cluster, c.Region) }

// converge plans desired against the cloud, applies the plan and returns
// it. Each call uses a fresh read cache.
func converge(t *testing.T, c *Cloud, desired ...engine.Resource) *engine.Plan {
	t.Helper()
	ctx := context.Background()
	plan, err := engine.MakePlan(ctx, fresh(c), c.Cluster, 1, desired)
	if err != nil {
		t.Fatalf("plan: %v", err)
	}
	if err := engine.Apply(ctx, fresh(c), plan, engine.ApplyOptions{}); err != nil {
		t.Fatalf("apply:\n%s\n%v", plan, err)
	}
	return plan
}

// planOf plans desired against the cloud without applying.
func planOf(t *testing.T, c *Cloud, desired ...engine.Resource) *engine.Plan {
	t.Helper()
	plan, err := engine.MakePlan(context.Background(), fresh(c), c.Cluster, 1, desired)
	if err != nil {
		t.Fatalf("plan: %v", err)
	}
	return plan
}

// assertInSync fails unless a fresh plan of desired has no changes and
// making it issued no mutating call.
func assertInSync(t *testing.T, c *Cloud, counter *CallCounter, desired ...engine.Resource) {
	t.Helper()
	counter.Reset()
	plan := planOf(t, c, desired...)
	if plan.HasChanges() {
		t.Fatalf("plan after apply is not empty:\n%s", plan)
	}
	if m := counter.Mutating(); len(m) > 0 {
		t.Fatalf("planning made mutating calls: %v", m)
	}
}
