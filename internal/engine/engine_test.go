package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// res is a test resource: a name, dependencies and a value to diff.
type res struct {
	name  string
	deps  []string
	value string
	id    string
	fixed string // a field that cannot change in place
}

func (r *res) Address() Address { return Address{Kind: "Test", Name: r.name} }
func (r *res) Dependencies() []Address {
	var out []Address
	for _, d := range r.deps {
		out = append(out, Address{Kind: "Test", Name: d})
	}
	return out
}
func (r *res) CloudID() string { return r.id }
func (r *res) Diff(actual Resource, _ Refs) []FieldDiff {
	a := actual.(*res)
	var d Differ
	d.String("value", a.value, r.value)
	d.Immutable("fixed", a.fixed, r.fixed)
	return d.Diffs()
}

// fakeCloud keeps resources in a map and records what apply did. It is a
// fake of the engine's own interface, to test ordering and concurrency.
type fakeCloud struct {
	mu       sync.Mutex
	have     map[string]*res
	log      []string
	running  int32
	peak     int32
	delay    time.Duration
	failures map[string]error // name → error on create
	flaky    map[string]int   // name → retryable failures before success
	nextID   int
}

func newFake() *fakeCloud {
	return &fakeCloud{have: map[string]*res{}, failures: map[string]error{}, flaky: map[string]int{}}
}

func (f *fakeCloud) Find(_ context.Context, d Resource, _ Refs) (Resource, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r, ok := f.have[d.Address().Name]; ok {
		cp := *r
		return &cp, nil
	}
	return nil, nil
}

func (f *fakeCloud) Orphans(_ context.Context, desired map[Address]bool) ([]Resource, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []Resource
	for _, name := range sortedNames(f.have) {
		r := f.have[name]
		if !desired[r.Address()] {
			cp := *r
			out = append(out, &cp)
		}
	}
	return out, nil
}

func sortedNames(m map[string]*res) []string {
	var names []string
	for n := range m {
		names = append(names, n)
	}
	for i := range names {
		for j := i + 1; j < len(names); j++ {
			if names[j] < names[i] {
				names[i], names[j] = names[j], names[i]
			}
		}
	}
	return names
}

func (f *fakeCloud) work(ctx context.Context, op string, r *res) error {
	n := atomic.AddInt32(&f.running, 1)
	defer atomic.AddInt32(&f.running, -1)
	for {
		p := atomic.LoadInt32(&f.peak)
		if n <= p || atomic.CompareAndSwapInt32(&f.peak, p, n) {
			break
		}
	}
	select {
	case <-time.After(f.delay):
	case <-ctx.Done():
		return ctx.Err() // a call abandoned half way
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.flaky[r.name] > 0 {
		f.flaky[r.name]--
		return Retryable(errors.New("not yet visible"))
	}
	if err := f.failures[r.name]; err != nil && op == "create" {
		return err
	}
	f.log = append(f.log, op+" "+r.name)
	return nil
}

func (f *fakeCloud) Create(ctx context.Context, d Resource, refs Refs) (Resource, error) {
	r := d.(*res)
	for _, dep := range r.Dependencies() {
		if ResolveID(refs, Ref{Addr: dep}) == "" {
			return nil, fmt.Errorf("%s created before its dependency %s", r.name, dep)
		}
	}
	if err := f.work(ctx, "create", r); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.nextID++
	cp := *r
	cp.id = fmt.Sprintf("id-%d", f.nextID)
	f.have[r.name] = &cp
	out := cp
	return &out, nil
}

func (f *fakeCloud) Update(ctx context.Context, d, a Resource, _ []FieldDiff, _ Refs) (Resource, error) {
	r := d.(*res)
	if err := f.work(ctx, "update", r); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	cp := *r
	cp.id = a.(*res).id
	f.have[r.name] = &cp
	out := cp
	return &out, nil
}

func (f *fakeCloud) Delete(ctx context.Context, a Resource) error {
	r := a.(*res)
	for _, other := range f.snapshot() {
		for _, d := range other.deps {
			if d == r.name {
				return fmt.Errorf("%s deleted while %s depends on it", r.name, other.name)
			}
		}
	}
	if err := f.work(ctx, "delete", r); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.have, r.name)
	return nil
}

func (f *fakeCloud) snapshot() []*res {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*res
	for _, r := range f.have {
		out = append(out, r)
	}
	return out
}

func fastBackoff() *Backoff {
	return &Backoff{Initial: time.Millisecond, Max: 2 * time.Millisecond, MaxElapsed: time.Second}
}

// network is a small graph: vpc ← 3 subnets ← 3 instances, vpc ← sg ← instances.
func network(value string) []Resource {
	rs := []Resource{&res{name: "vpc", value: value}, &res{name: "sg", deps: []string{"vpc"}, value: value}}
	for _, z := range []string{"a", "b", "c"} {
		rs = append(rs, &res{name: "subnet-" + z, deps: []string{"vpc"}, value: value})
		rs = append(rs, &res{name: "vm-" + z, deps: []string{"subnet-" + z, "sg"}, value: value})
	}
	return rs
}

func TestOrder(t *testing.T) {
	cases := []struct {
		name    string
		in      []Resource
		want    string
		wantErr string
	}{
		{"dependencies first, input order otherwise", []Resource{
			&res{name: "c", deps: []string{"a"}}, &res{name: "b"}, &res{name: "a"},
		}, "b a c", ""},
		{"missing dependency", []Resource{&res{name: "a", deps: []string{"ghost"}}}, "", "depends on Test/ghost, which is not in the graph"},
		{"cycle", []Resource{&res{name: "a", deps: []string{"b"}}, &res{name: "b", deps: []string{"a"}}}, "", "cycle among Test/a, Test/b"},
		{"duplicate", []Resource{&res{name: "a"}, &res{name: "a"}}, "", "two resources at Test/a"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := order(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			var names []string
			for _, r := range got {
				names = append(names, r.Address().Name)
			}
			if strings.Join(names, " ") != tc.want {
				t.Fatalf("order %v, want %s", names, tc.want)
			}
		})
	}
}

func TestPlanApplyReplan(t *testing.T) {
	ctx := context.Background()
	cloud := newFake()
	plan, err := MakePlan(ctx, cloud, "c", 1, network("v1"))
	if err != nil {
		t.Fatal(err)
	}
	if n := plan.Count(); n[Create] != 8 || plan.HasChanges() == false {
		t.Fatalf("first plan: %s", plan.Summary())
	}
	if err := Apply(ctx, cloud, plan, ApplyOptions{Concurrency: 4, Backoff: fastBackoff()}); err != nil {
		t.Fatal(err)
	}
	again, err := MakePlan(ctx, cloud, "c", 1, network("v1"))
	if err != nil {
		t.Fatal(err)
	}
	if again.HasChanges() {
		t.Fatalf("second plan has changes:\n%s", again)
	}

	// One field changes on one resource: exactly that update.
	desired := network("v1")
	desired[4].(*res).value = "v2" // subnet-b
	upd, err := MakePlan(ctx, cloud, "c", 2, desired)
	if err != nil {
		t.Fatal(err)
	}
	var changed []string
	for _, c := range upd.Changes {
		if c.Action != NoOp {
			changed = append(changed, fmt.Sprintf("%s %s %v", c.Action, c.Address, c.Fields))
		}
	}
	if want := "update Test/subnet-b [value: v1 → v2]"; strings.Join(changed, "; ") != want {
		t.Fatalf("changes %q, want %q", changed, want)
	}

	// Dropping resources deletes them, dependents first.
	del, err := MakePlan(ctx, cloud, "c", 3, network("v1")[:2])
	if err != nil {
		t.Fatal(err)
	}
	if n := del.Count(); n[Delete] != 6 {
		t.Fatalf("delete plan: %s", del.Summary())
	}
	if err := Apply(ctx, cloud, del, ApplyOptions{Concurrency: 8, Backoff: fastBackoff()}); err != nil {
		t.Fatal(err)
	}
	if left := len(cloud.snapshot()); left != 2 {
		t.Fatalf("%d resources left, want 2", left)
	}
}

func TestApplyRespectsConcurrencyAndOrder(t *testing.T) {
	for _, conc := range []int{1, 2, 8} {
		t.Run(fmt.Sprint(conc), func(t *testing.T) {
			ctx := context.Background()
			cloud := newFake()
			cloud.delay = 5 * time.Millisecond
			plan, err := MakePlan(ctx, cloud, "c", 1, network("v"))
			if err != nil {
				t.Fatal(err)
			}
			if err := Apply(ctx, cloud, plan, ApplyOptions{Concurrency: conc, Backoff: fastBackoff()}); err != nil {
				t.Fatal(err) // the fake fails a create that runs before its dependencies
			}
			if peak := atomic.LoadInt32(&cloud.peak); peak > int32(conc) {
				t.Fatalf("%d changes ran at once, bound %d", peak, conc)
			}
			if conc >= 3 && atomic.LoadInt32(&cloud.peak) < 2 {
				t.Fatalf("independent changes never ran in parallel (peak %d)", cloud.peak)
			}
		})
	}
}

func TestApplyFailureStopsOnlyDependents(t *testing.T) {
	ctx := context.Background()
	cloud := newFake()
	cloud.failures["subnet-a"] = errors.New("InsufficientAddresses")
	cloud.flaky["subnet-b"] = 2
	plan, err := MakePlan(ctx, cloud, "c", 1, network("v"))
	if err != nil {
		t.Fatal(err)
	}
	var retries atomic.Int32
	err = Apply(ctx, cloud, plan, ApplyOptions{Backoff: fastBackoff(), Progress: progressFunc(func() { retries.Add(1) })})
	var ae *ApplyError
	if !errors.As(err, &ae) {
		t.Fatalf("got %v, want an *ApplyError", err)
	}
	if _, ok := ae.Failed[Address{"Test", "subnet-a"}]; !ok || len(ae.Failed) != 1 {
		t.Fatalf("failed: %v", ae.Failed)
	}
	if len(ae.Skipped) != 1 || ae.Skipped[0].Name != "vm-a" {
		t.Fatalf("skipped: %v, want vm-a only", ae.Skipped)
	}
	if retries.Load() != 2 {
		t.Fatalf("%d retries of the flaky subnet, want 2", retries.Load())
	}
	// Everything independent of subnet-a exists; a re-run finishes the rest.
	if n := len(cloud.snapshot()); n != 6 {
		t.Fatalf("%d resources exist after the failed apply, want 6", n)
	}
	delete(cloud.failures, "subnet-a")
	rerun, err := MakePlan(ctx, cloud, "c", 1, network("v"))
	if err != nil {
		t.Fatal(err)
	}
	if n := rerun.Count(); n[Create] != 2 {
		t.Fatalf("re-run plan: %s, want 2 creates", rerun.Summary())
	}
}

func TestApplyCancelled(t *testing.T) {
	cloud := newFake()
	cloud.delay = 20 * time.Millisecond
	plan, err := MakePlan(context.Background(), cloud, "c", 1, network("v"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	err = Apply(ctx, cloud, plan, ApplyOptions{Concurrency: 1, Backoff: fastBackoff()})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want the context's error", err)
	}
	if n := len(cloud.snapshot()); n == 0 || n == 8 {
		t.Fatalf("%d resources made; want some but not all", n)
	}
	// Every change that started finished: the log of completed calls is
	// what exists, nothing was abandoned half way.
	if len(cloud.log) != len(cloud.snapshot()) {
		t.Fatalf("%d calls completed but %d resources exist", len(cloud.log), len(cloud.snapshot()))
	}
}

func TestApplyGracePeriodEnds(t *testing.T) {
	cloud := newFake()
	cloud.delay = time.Second
	plan, err := MakePlan(context.Background(), cloud, "c", 1, network("v")[:1])
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = Apply(ctx, cloud, plan, ApplyOptions{Backoff: fastBackoff(), GracePeriod: 20 * time.Millisecond})
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 500*time.Millisecond {
		t.Fatalf("apply returned %v after %s; want the context's error once the grace period ended", err, time.Since(start))
	}
}

func TestReplacementIsRefused(t *testing.T) {
	ctx := context.Background()
	cloud := newFake()
	cloud.have["vpc"] = &res{name: "vpc", fixed: "10.0.0.0/16", id: "vpc-1"}
	_, err := MakePlan(ctx, cloud, "c", 1, []Resource{&res{name: "vpc", fixed: "10.1.0.0/16"}})
	var re *ReplacementError
	if !errors.As(err, &re) || !strings.Contains(err.Error(), "Test/vpc (vpc-1): fixed: 10.0.0.0/16 → 10.1.0.0/16 (forces replacement)") {
		t.Fatalf("got %v", err)
	}
}

func TestSavedPlan(t *testing.T) {
	ctx := context.Background()
	cloud := newFake()
	plan, err := MakePlan(ctx, cloud, "c", 4, network("v"))
	if err != nil {
		t.Fatal(err)
	}
	data, err := plan.Save()
	if err != nil {
		t.Fatal(err)
	}
	saved, err := LoadSavedPlan(data)
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckSaved(saved, plan); err != nil {
		t.Fatalf("fresh plan refused: %v", err)
	}
	if saved.Plan.Changes[0].Action != Create {
		t.Fatalf("action lost in the file: %v", saved.Plan.Changes[0].Action)
	}
	// The cloud moves: someone made the VPC meanwhile.
	cloud.have["vpc"] = &res{name: "vpc", value: "v", id: "vpc-9"}
	moved, _ := MakePlan(ctx, cloud, "c", 4, network("v"))
	if err := CheckSaved(saved, moved); !errors.Is(err, ErrStalePlan) || !strings.Contains(err.Error(), "the cloud changed") {
		t.Fatalf("stale cloud: %v", err)
	}
	// The spec moves.
	later, _ := MakePlan(ctx, newFake(), "c", 5, network("v"))
	if err := CheckSaved(saved, later); !errors.Is(err, ErrStalePlan) || !strings.Contains(err.Error(), "revision 4") {
		t.Fatalf("stale spec: %v", err)
	}
	if _, err := LoadSavedPlan([]byte(`{"format":"other"}`)); err == nil {
		t.Fatal("a foreign file loaded as a plan")
	}
}

type progressFunc func()

func (progressFunc) Started(*Change)                          {}
func (f progressFunc) Retrying(*Change, error, time.Duration) { f() }
func (progressFunc) Finished(*Change, error, time.Duration)   {}

// FuzzSavedPlan feeds arbitrary bytes to the plan-file reader and the
// stale-plan check: neither may panic, and a plan that loads must survive
// a save and load unchanged.
func FuzzSavedPlan(f *testing.F) {
	plan, err := MakePlan(context.Background(), newFake(), "c", 3, network("v"))
	if err != nil {
		f.Fatal(err)
	}
	data, err := plan.Save()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Add([]byte(`{"format":"kapstan.io/plan/v1","plan":{"cluster":"c","changes":[{"address":{"kind":"A","name":"b"},"action":"delete"}]}}`))
	f.Add([]byte(`{"format":"kapstan.io/plan/v1","plan":{"changes":[{"action":"explode"}]}}`))
	f.Add([]byte(`not json`))
	f.Fuzz(func(t *testing.T, data []byte) {
		saved, err := LoadSavedPlan(data)
		if err != nil {
			return
		}
		_ = CheckSaved(saved, plan)
		_ = saved.Plan.String()
		again, err := saved.Plan.Save()
		if err != nil {
			t.Fatalf("a loaded plan does not save: %v", err)
		}
		back, err := LoadSavedPlan(again)
		if err != nil || back.Plan.Fingerprint() != saved.Plan.Fingerprint() {
			t.Fatalf("save/load changed the plan: %v", err)
		}
	})
}

// FuzzDiff checks the field differ on arbitrary values: equal inputs never
// differ, and a difference always names its path.
func FuzzDiff(f *testing.F) {
	f.Add("a", "b", int64(1), int64(2), "x,y", "y,x")
	f.Add("", "", int64(0), int64(0), "", "")
	f.Fuzz(func(t *testing.T, s1, s2 string, n1, n2 int64, l1, l2 string) {
		var d Differ
		d.String("s", s1, s2)
		d.Int("n", n1, n2)
		d.Set("l", strings.Split(l1, ","), strings.Split(l2, ","))
		d.Tags(map[string]string{"k": s1}, map[string]string{"k": s2})
		for _, f := range d.Diffs() {
			if f.Path == "" || f.Before == f.After {
				t.Fatalf("a difference without a path or change: %+v", f)
			}
		}
		var same Differ
		same.String("s", s1, s1)
		same.Int("n", n1, n1)
		same.Set("l", strings.Split(l1, ","), strings.Split(l1, ","))
		if len(same.Diffs()) != 0 {
			t.Fatalf("equal values differ: %v", same.Diffs())
		}
	})
}
