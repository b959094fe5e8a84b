package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// Progress hears about each change as apply works through the plan.
// Implementations must be safe for concurrent use.
type Progress interface {
	Started(c *Change)
	// Retrying says a change failed with a retryable error and will be
	// tried again after wait.
	Retrying(c *Change, err error, wait time.Duration)
	Finished(c *Change, err error, took time.Duration)
}

// ApplyOptions tune Apply.
type ApplyOptions struct {
	// Concurrency bounds how many changes run at once; 1 applies serially.
	// Zero means DefaultConcurrency.
	Concurrency int
	// Progress, if set, hears about every change.
	Progress Progress
	// Backoff decides how long to wait before retrying; nil means
	// DefaultBackoff.
	Backoff *Backoff
	// GracePeriod is how long changes already running may take to finish
	// once ctx is cancelled; zero means DefaultGracePeriod.
	GracePeriod time.Duration
}

// DefaultGracePeriod bounds how long an interrupted apply waits for the
// calls it has in flight.
const DefaultGracePeriod = 30 * time.Second

// DefaultConcurrency is how many changes run at once by default. AWS
// accepts far more, but per-account rate limits make more of little use.
const DefaultConcurrency = 16

// ApplyError lists the changes that failed and those not attempted
// because something they depend on failed.
type ApplyError struct {
	Failed  map[Address]error
	Skipped []Address
	// Interrupted is the context's error when the apply was cancelled or
	// ran out of time; Skipped then also holds what was never started.
	Interrupted error
}

func (e *ApplyError) Error() string {
	msg := fmt.Sprintf("%d changes failed", len(e.Failed))
	if e.Interrupted != nil {
		msg = fmt.Sprintf("apply interrupted (%v): %d changes failed", e.Interrupted, len(e.Failed))
	}
	if len(e.Skipped) > 0 {
		msg += fmt.Sprintf(", %d not attempted", len(e.Skipped))
	}
	if len(e.Failed) == 0 {
		return msg
	}
	var errs []error
	for _, a := range sortedAddresses(e.Failed) {
		errs = append(errs, e.Failed[a])
	}
	return msg + ":\n" + errors.Join(errs...).Error()
}

// Unwrap returns the interruption, so errors.Is(err, context.Canceled)
// tells an interrupted apply.
func (e *ApplyError) Unwrap() error { return e.Interrupted }

func sortedAddresses(m map[Address]error) []Address {
	out := make([]Address, 0, len(m))
	for a := range m {
		out = append(out, a)
	}
	slices.SortFunc(out, func(a, b Address) int { return strings.Compare(a.String(), b.String()) })
	return out
}

// Apply carries out a plan made by MakePlan in this process. Changes run as
// soon as the changes they depend on have finished, at most
// opts.Concurrency at a time. A failed change stops only the changes that
// depend on it; the others go on, so a re-run has less to do. Apply
// returns an *ApplyError when any change failed, or ctx's error when it was
// cancelled.
//
// Cancelling ctx stops new changes from starting, but lets those already
// running finish, for up to opts.GracePeriod: a call abandoned half way may
// still reach the cloud and make a resource the next run cannot know about
// yet. An interrupted apply therefore knows exactly what it made.
func Apply(ctx context.Context, cloud Cloud, plan *Plan, opts ApplyOptions) error {
	if opts.Concurrency <= 0 {
		opts.Concurrency = DefaultConcurrency
	}
	if opts.GracePeriod <= 0 {
		opts.GracePeriod = DefaultGracePeriod
	}
	work, stopWork := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWork()
	stopAfterGrace := context.AfterFunc(ctx, func() { time.AfterFunc(opts.GracePeriod, stopWork) })
	defer stopAfterGrace()
	if opts.Backoff == nil {
		opts.Backoff = DefaultBackoff()
	}
	refs := newRefMap()
	nodes := make(map[Address]*node, len(plan.Changes))
	for _, c := range plan.Changes {
		if c.Action != Delete && c.actual != nil {
			refs.set(c.Address, c.actual)
		}
		nodes[c.Address] = &node{change: c, done: make(chan struct{})}
	}
	for _, c := range plan.Changes {
		if c.Action != NoOp && c.desired == nil && c.Action != Delete {
			return fmt.Errorf("plan change %s has no resource: apply plans made by MakePlan in this process", c.Address)
		}
	}

	sem := make(chan struct{}, opts.Concurrency)
	var wg sync.WaitGroup
	for _, n := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(n.done)
			for _, d := range n.change.DependsOn {
				dep, ok := nodes[d]
				if !ok {
					continue // a dependency with no change of its own
				}
				select {
				case <-dep.done:
				case <-ctx.Done():
					n.skipped = true
					return
				}
				if dep.err != nil || dep.skipped {
					n.skipped = true
					return
				}
			}
			if n.change.Action == NoOp {
				return
			}
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				n.skipped = true
				return
			}
			defer func() { <-sem }()
			if ctx.Err() != nil {
				n.skipped = true
				return
			}
			n.err = run(ctx, work, cloud, n.change, refs, opts)
		}()
	}
	wg.Wait()

	ae := &ApplyError{Failed: map[Address]error{}, Interrupted: ctx.Err()}
	for _, c := range plan.Changes {
		n := nodes[c.Address]
		switch {
		case n.err != nil:
			ae.Failed[c.Address] = n.err
		case n.skipped:
			ae.Skipped = append(ae.Skipped, c.Address)
		}
	}
	if len(ae.Failed) > 0 || len(ae.Skipped) > 0 || ae.Interrupted != nil {
		return ae
	}
	return nil
}

type node struct {
	change  *Change
	done    chan struct{}
	err     error
	skipped bool
}

// run carries out one change, retrying retryable errors. Calls run under
// work; retries stop when ctx ends.
func run(ctx, work context.Context, cloud Cloud, c *Change, refs *refMap, opts ApplyOptions) error {
	if opts.Progress != nil {
		opts.Progress.Started(c)
	}
	start := time.Now()
	err := opts.Backoff.Do(ctx, func() error {
		switch c.Action {
		case Create:
			actual, err := cloud.Create(work, c.desired, refs)
			if err == nil {
				refs.set(c.Address, actual)
				c.actual = actual // the plan now tells what was made
			}
			return err
		case Update:
			actual, err := cloud.Update(work, c.desired, c.actual, c.Fields, refs)
			if err == nil {
				refs.set(c.Address, actual)
				c.actual = actual
			}
			return err
		case Delete:
			return cloud.Delete(work, c.actual)
		}
		return nil
	}, func(err error, wait time.Duration) {
		if opts.Progress != nil {
			opts.Progress.Retrying(c, err, wait)
		}
	})
	if err != nil {
		err = fmt.Errorf("%s %s: %w", c.Action, c.Address, err)
	}
	if opts.Progress != nil {
		opts.Progress.Finished(c, err, time.Since(start))
	}
	return err
}
