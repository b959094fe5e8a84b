package reconcile

import (
	"context"
	"errors"
	"testing"

	"github.com/kapstan/kapstan/internal/engine"
	"github.com/kapstan/kapstan/internal/store"
)

func TestJournal(t *testing.T) {
	ctx := context.Background()
	st := store.NewMemory("t")
	if prev, err := PreviousJournal(ctx, st, "c"); err != nil || prev != nil {
		t.Fatalf("journal of a cluster never applied: %v, %v", prev, err)
	}
	plan := &engine.Plan{Cluster: "c", SpecRevision: 4, Changes: []*engine.Change{
		{Address: engine.Address{Kind: "VPC", Name: "c"}, Action: engine.Create},
		{Address: engine.Address{Kind: "Subnet", Name: "a"}, Action: engine.Create},
	}}
	j, err := StartJournal(ctx, st, plan, nil)
	if err != nil {
		t.Fatal(err)
	}
	j.Finished(plan.Changes[0], nil, 0)
	// An interrupted apply leaves its journal: the next run reads it.
	if err := j.Finish(ctx, errors.New("interrupted")); err != nil {
		t.Fatal(err)
	}
	prev, err := PreviousJournal(ctx, st, "c")
	if err != nil || prev == nil || prev.Total != 2 || len(prev.Done) != 1 || prev.Revision != 4 {
		t.Fatalf("journal after an interrupted apply: %+v, %v", prev, err)
	}
	// A successful apply removes it.
	j, err = StartJournal(ctx, st, plan, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Finish(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if prev, _ := PreviousJournal(ctx, st, "c"); prev != nil {
		t.Fatalf("journal left after a successful apply: %+v", prev)
	}
}
