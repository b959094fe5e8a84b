package kube

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	api "github.com/kapstan/kapstan/pkg/apis/kapstan/v1alpha1"
)

// RollOptions tune a rolling update.
type RollOptions struct {
	Selection
	// ValidationTimeout bounds each wait for new instances to join and
	// the cluster to validate.
	ValidationTimeout time.Duration
	// DrainTimeout bounds the drain of one node.
	DrainTimeout time.Duration
	// Interval is how often the cloud and the API are looked at while
	// waiting.
	Interval time.Duration
	// EvictionRetryDelay is the time between evictions a disruption budget
	// refused.
	EvictionRetryDelay time.Duration
	// SkipPrevalidation starts without checking that the cluster is valid
	// first.
	SkipPrevalidation bool
	// Log receives one line per step.
	Log io.Writer
}

// RollError is a rolling update that stopped, with the group where it
// stopped. Running it again continues from there.
type RollError struct {
	Group string
	Err   error
}

func (e *RollError) Error() string {
	return fmt.Sprintf("rolling update of instance group %s stopped: %v", e.Group, e.Err)
}

func (e *RollError) Unwrap() error { return e.Err }

// RollingUpdate replaces the instances NeedsUpdate selects. Control-plane
// groups go first, one instance at a time, then bastions, then the node
// groups, in parallel with each other, each in batches as its Limits
// allow: detach (the group launches replacements), wait until the
// replacements are Ready nodes and the group validates, drain the old
// nodes through the Eviction API, terminate them.
//
// It stops at the first group that fails (a node that never turns Ready,
// a drain a disruption budget holds past the drain timeout); node groups
// already rolling finish their current batch first. Everything it does is
// visible in the cloud (detached instances are tagged), so running it
// again continues where it stopped.
//
// With a nil Client (cloud only) nothing is validated or drained: the
// waits are for the group's instance count only.
func (c *Cluster) RollingUpdate(ctx context.Context, o RollOptions) ([]GroupUpdate, error) {
	r := &roller{c: c, o: o, log: o.Log}
	if r.log == nil {
		r.log = io.Discard
	}
	// One look at the cloud and the API serves to choose what to replace,
	// to check the cluster is valid before touching it, and to start the
	// first batch.
	obs, err := c.Observe(ctx) // cloud only without a Client
	if err != nil {
		return nil, err
	}
	updates := NeedsUpdate(c.Spec, obs.Groups, o.Selection)
	var pending []GroupUpdate
	for _, u := range updates {
		if u.Pending() {
			pending = append(pending, u)
		}
	}
	if len(pending) == 0 {
		return updates, nil
	}
	if c.Client != nil && !o.SkipPrevalidation {
		if res := Validate(c.Spec, obs, nil); !res.Valid() {
			return updates, fmt.Errorf("not starting the rolling update: %w (fix it, or run with --cloudonly to replace instances without the API)",
				&InvalidError{Result: res})
		}
	}
	// The first look stays current for the groups that start at once:
	// all of them, unless the control plane or bastions roll first.
	var firstLook []Group
	if !slices.ContainsFunc(pending, func(u GroupUpdate) bool { return u.Role != api.RoleNode }) {
		firstLook = obs.Groups
	}
	var nodes []GroupUpdate
	for _, u := range pending {
		if u.Role != api.RoleNode {
			if err := r.rollGroup(ctx, u, nil); err != nil {
				return updates, err
			}
			continue
		}
		nodes = append(nodes, u)
	}
	// Node groups are independent: each keeps its own surge and
	// unavailability limits, so they roll side by side. When one fails,
	// the others stop after their current batch.
	var wg sync.WaitGroup
	errs := make([]error, len(nodes))
	for i, u := range nodes {
		wg.Go(func() { errs[i] = r.rollGroup(ctx, u, findGroup(firstLook, u.Name)) })
	}
	wg.Wait()
	return updates, errors.Join(errs...)
}

// roller is one rolling update's run.
type roller struct {
	c    *Cluster
	o    RollOptions
	log  io.Writer
	mu   sync.Mutex // serializes log lines
	stop atomic.Bool
}

func (r *roller) logf(group, format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	fmt.Fprintf(r.log, "%s: %s\n", group, fmt.Sprintf(format, args...))
}

// rollGroup replaces the chosen instances of one group, batch by batch.
// seen, if not nil, is the group as it is now.
func (r *roller) rollGroup(ctx context.Context, u GroupUpdate, seen *Group) (err error) {
	defer func() {
		if err != nil {
			r.stop.Store(true)
			if !errors.As(err, new(*RollError)) {
				err = &RollError{Group: u.Name, Err: err}
			}
		}
	}()
	ig := r.c.Spec.InstanceGroup(u.Name)
	limits, err := GroupLimits(ig, max(u.Instances, u.Min))
	if err != nil {
		return err
	}
	replace := map[string]bool{}
	for _, id := range slices.Concat(u.Replace, u.Detached) {
		replace[id] = true
	}
	r.logf(u.Name, "replacing %d of %d instances, %d at a time (surge %d, unavailable %d)",
		len(replace), u.Instances, limits.Surge+limits.Unavailable, limits.Surge, limits.Unavailable)
	if seen == nil {
		if seen, err = r.group(ctx, u.Name); err != nil {
			return err
		}
	}
	if len(u.Replace) > 0 && limits.Surge > 0 {
		if err := r.c.Cloud.Mark(ctx, seen, u.Replace); err != nil {
			return err
		}
	}
	start := time.Now()
	waitFirst := false
	// seen is the group as the last look saw it, less what was terminated
	// since: the next batch is chosen from it without reading the group
	// again. nodes are the nodes of that look, by instance ID.
	var nodes map[string]string
	for done := 0; ; {
		if waitFirst {
			if seen, nodes, err = r.waitGroup(ctx, u.Name); err != nil {
				return err
			}
			waitFirst = false
		}
		if r.stop.Load() {
			return fmt.Errorf("stopped after %d of %d instances because another group failed", done, len(replace))
		}
		g := seen
		if g == nil {
			if g, err = r.group(ctx, u.Name); err != nil {
				return err
			}
		}
		seen = nil
		b := NextBatch(g, replace, limits)
		if b.Empty() {
			r.logf(u.Name, "done: %d instances replaced in %s", done, time.Since(start).Round(time.Millisecond))
			return nil
		}
		if len(b.Detach) > 0 {
			if err := r.c.Cloud.Detach(ctx, g, b.Detach); err != nil {
				return err
			}
			r.logf(u.Name, "detached %s; the group launches their replacements", strings.Join(b.Detach, ", "))
		}
		if len(b.Drain) > len(b.Direct) {
			// Replacements of detached instances must be up before
			// their old instances go. Meanwhile the old nodes are
			// cordoned: nothing new should land there.
			cordoned := r.cordonAll(ctx, b.Drain, nodes)
			seen, nodes, err = r.waitGroup(ctx, u.Name)
			<-cordoned // a node it could not cordon, the drain cordons
			if err != nil {
				return err
			}
		}
		if err := r.drainAll(ctx, u.Name, b.Drain, nodes); err != nil {
			return err
		}
		// Terminated before the next batch is detached: the old
		// instances must be on their way out before more replacements
		// launch, or more than maxSurge extra instances would run.
		if err := r.terminateAll(ctx, g, b); err != nil {
			return err
		}
		done += len(b.Drain)
		if seen != nil {
			seen.forget(b.Drain)
		}
		// Members terminated through the group are replaced only once
		// terminated: wait for them before the next batch (or the end).
		waitFirst = len(b.Direct) > 0
		if waitFirst && done >= len(replace) {
			if _, _, err := r.waitGroup(ctx, u.Name); err != nil {
				return err
			}
			waitFirst = false
		}
	}
}

// group reads one group from the cloud.
func (r *roller) group(ctx context.Context, name string) (*Group, error) {
	groups, err := r.c.Cloud.Groups(ctx)
	if err != nil {
		return nil, err
	}
	if g := findGroup(groups, name); g != nil {
		return g, nil
	}
	return nil, fmt.Errorf("its Auto Scaling group is gone")
}

// findGroup returns a copy of the group named name, or nil.
func findGroup(groups []Group, name string) *Group {
	for _, g := range groups {
		if g.Name == name {
			return &g
		}
	}
	return nil
}

// waitGroup waits until the group's replacements are in: with the API,
// until the group validates (its instances are Ready nodes, the control
// plane is whole, critical pods run); cloud only, until it runs as many
// instances as it wants. It returns the group as it saw it last, and the
// names of the nodes then by instance ID.
func (r *roller) waitGroup(ctx context.Context, name string) (*Group, map[string]string, error) {
	start := time.Now()
	if r.c.Client == nil {
		g, err := r.waitInstances(ctx, name)
		return g, nil, err
	}
	_, obs, err := r.c.waitValid(ctx, Scope{name: true}, WaitOptions{Timeout: r.o.ValidationTimeout, Interval: r.o.Interval, Successes: 1})
	if err != nil {
		return nil, nil, fmt.Errorf("the new instances did not validate: %w", err)
	}
	r.logf(name, "new instances joined and the group validates (%s)", time.Since(start).Round(time.Millisecond))
	return findGroup(obs.Groups, name), nodeNamesByInstance(obs.Nodes), nil
}

// waitInstances waits until the group runs its desired number of
// instances, and returns it.
func (r *roller) waitInstances(ctx context.Context, name string) (*Group, error) {
	clk := r.c.clock()
	deadline := clk.Now().Add(r.o.ValidationTimeout)
	for {
		g, err := r.group(ctx, name)
		if err != nil {
			return nil, err
		}
		if len(g.Instances) >= g.Desired {
			return g, nil
		}
		if !clk.Now().Before(deadline) {
			return nil, fmt.Errorf("the group runs %d of its %d instances after %s", len(g.Instances), g.Desired, r.o.ValidationTimeout)
		}
		t := clk.NewTimer(r.o.Interval)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C():
		}
	}
}

// drainAll drains the nodes of a batch's instances, in parallel. names
// are the nodes by instance ID as the last look saw them; the API is asked
// when an instance is not there.
func (r *roller) drainAll(ctx context.Context, group string, batch []Instance, names map[string]string) error {
	if r.c.Client == nil {
		return nil
	}
	names, err := r.nodesOf(ctx, batch, names)
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	errs := make([]error, len(batch))
	for i, in := range batch {
		node, ok := names[in.ID]
		if !ok {
			continue // never joined: nothing to drain
		}
		wg.Go(func() {
			t := time.Now()
			errs[i] = Drain(ctx, r.c.Client, node, DrainOptions{Timeout: r.o.DrainTimeout, RetryDelay: r.o.EvictionRetryDelay, Clock: r.c.clock()})
			if errs[i] == nil {
				r.logf(group, "drained node %s (%s) in %s", node, in.ID, time.Since(t).Round(time.Millisecond))
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// nodesOf are the node names of a batch's instances by instance ID: from
// names (the last look) where it has them, else from the API.
func (r *roller) nodesOf(ctx context.Context, batch []Instance, names map[string]string) (map[string]string, error) {
	var ids []string
	for _, in := range batch {
		if _, ok := names[in.ID]; !ok {
			ids = append(ids, in.ID)
		}
	}
	if len(ids) == 0 {
		return names, nil
	}
	more, err := r.c.nodeNames(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := maps.Clone(names)
	if out == nil {
		out = map[string]string{}
	}
	maps.Copy(out, more)
	return out, nil
}

// cordonAll cordons the nodes of a batch's instances, in the background;
// the channel is closed when it is done. names are as for drainAll.
func (r *roller) cordonAll(ctx context.Context, batch []Instance, names map[string]string) <-chan struct{} {
	done := make(chan struct{})
	if r.c.Client == nil {
		close(done)
		return done
	}
	go func() {
		defer close(done)
		names, err := r.nodesOf(ctx, batch, names)
		if err != nil {
			return
		}
		var wg sync.WaitGroup
		for _, in := range batch {
			if node, ok := names[in.ID]; ok {
				wg.Go(func() { _ = Cordon(ctx, r.c.Client, node) })
			}
		}
		wg.Wait()
	}()
	return done
}

// terminateAll terminates a batch's instances: the detached ones in one
// call, the members through their group.
func (r *roller) terminateAll(ctx context.Context, g *Group, b Batch) error {
	var detached []string
	for _, in := range b.Drain {
		if !slices.Contains(b.Direct, in.ID) {
			detached = append(detached, in.ID)
		}
	}
	var wg sync.WaitGroup
	var errDetached, errDirect error
	if len(detached) > 0 {
		wg.Go(func() { errDetached = r.c.Cloud.Terminate(ctx, g, detached, true) })
	}
	if len(b.Direct) > 0 {
		wg.Go(func() { errDirect = r.c.Cloud.Terminate(ctx, g, b.Direct, false) })
	}
	wg.Wait()
	if err := errors.Join(errDetached, errDirect); err != nil {
		return err
	}
	r.logf(g.Name, "terminated %s", strings.Join(slices.Concat(detached, b.Direct), ", "))
	return nil
}

// forget takes terminated instances out of the group.
func (g *Group) forget(gone []Instance) {
	isGone := func(in Instance) bool {
		return slices.ContainsFunc(gone, func(x Instance) bool { return x.ID == in.ID })
	}
	g.Instances = slices.DeleteFunc(g.Instances, isGone)
	g.Detached = slices.DeleteFunc(g.Detached, isGone)
}
