package kube

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/clock"

	api "github.com/kapstan/kapstan/pkg/apis/kapstan/v1alpha1"
)

// Cloud is what validate and rolling-update need from the cloud. Reads are
// never cached: each call shows the cloud as it is.
type Cloud interface {
	// Groups reads the cluster's Auto Scaling groups with their members
	// and detached instances.
	Groups(ctx context.Context) ([]Group, error)
	// Mark marks members of g that a rolling update is about to replace,
	// so that once detached they are still found as g's: by a later batch,
	// or by the next run if this one is interrupted.
	Mark(ctx context.Context, g *Group, ids []string) error
	// Detach takes marked instances out of group g without lowering its
	// desired capacity, so g launches replacements while they keep
	// running.
	Detach(ctx context.Context, g *Group, ids []string) error
	// Terminate terminates instances: members of g through the group,
	// which replaces them; detached ones directly.
	Terminate(ctx context.Context, g *Group, ids []string, detached bool) error
}

// Cluster is a running cluster: its spec, its cloud and, unless only the
// cloud is looked at, its API.
type Cluster struct {
	Spec  *api.Manifests
	Cloud Cloud
	// Client is the cluster's API; nil means cloud only (rolling-update
	// --cloudonly), where nothing is validated or drained.
	Client kubernetes.Interface
	// Clock is the time source of waits; nil means the real clock.
	Clock clock.WithTicker
}

func (c *Cluster) clock() clock.WithTicker {
	if c.Clock == nil {
		return clock.RealClock{}
	}
	return c.Clock
}

// Observe reads the cloud's groups, the nodes and the kube-system pods,
// all at once; only the groups without a Client.
func (c *Cluster) Observe(ctx context.Context) (Observation, error) {
	return c.observe(ctx, nil)
}

// observe is Observe, with the cloud's groups as given when groups is not
// nil.
func (c *Cluster) observe(ctx context.Context, groups []Group) (Observation, error) {
	var obs Observation
	var wg sync.WaitGroup
	var cloudErr, nodesErr, podsErr error
	if groups != nil {
		obs.Groups = groups
	} else {
		wg.Go(func() { obs.Groups, cloudErr = c.Cloud.Groups(ctx) })
	}
	if c.Client != nil {
		wg.Go(func() {
			nodes, err := c.Client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
			if err != nil {
				nodesErr = fmt.Errorf("listing nodes: %w", err)
				return
			}
			obs.Nodes = nodes.Items
		})
		wg.Go(func() {
			pods, err := c.Client.CoreV1().Pods(metav1.NamespaceSystem).List(ctx, metav1.ListOptions{})
			if err != nil {
				podsErr = fmt.Errorf("listing kube-system pods: %w", err)
				return
			}
			obs.SystemPods = pods.Items
		})
	}
	wg.Wait()
	if err := errors.Join(cloudErr, nodesErr, podsErr); err != nil {
		return Observation{}, err
	}
	return obs, nil
}

// Validate observes the cluster once and validates it.
func (c *Cluster) Validate(ctx context.Context, scope Scope) (Result, error) {
	obs, err := c.Observe(ctx)
	if err != nil {
		return Result{}, err
	}
	return Validate(c.Spec, obs, scope), nil
}

// WaitOptions say how long and how often to validate.
type WaitOptions struct {
	// Timeout is how long to try; 0 means validate once.
	Timeout time.Duration
	// Interval is the time between validations.
	Interval time.Duration
	// Successes is how many validations in a row must pass (at least 1):
	// a node that flaps between Ready and NotReady passes once but not
	// several times in a row.
	Successes int
	// OnResult, if set, sees every result.
	OnResult func(Result)
}

// InvalidError is a cluster that did not validate in time.
type InvalidError struct {
	// Result is the last validation.
	Result Result
	// Waited is how long it was tried.
	Waited time.Duration
}

func (e *InvalidError) Error() string {
	var b strings.Builder
	if e.Waited > 0 {
		fmt.Fprintf(&b, "cluster did not validate within %s; last failures:", e.Waited.Round(time.Millisecond))
	} else {
		b.WriteString("cluster is not valid:")
	}
	for _, f := range e.Result.Failures {
		b.WriteString("\n  ")
		b.WriteString(f.String())
	}
	return b.String()
}

// WaitValid validates until o.Successes validations in a row pass, or
// o.Timeout passes (then an *InvalidError with the last result). It looks
// again every o.Interval, and, while the cluster fails, as soon as a node
// changes. Errors reading the cloud or the API count as failed
// validations while time is left: an API server being replaced does not
// answer for a moment.
func (c *Cluster) WaitValid(ctx context.Context, scope Scope, o WaitOptions) (Result, error) {
	r, _, err := c.waitValid(ctx, scope, o)
	return r, err
}

// waitValid is WaitValid, also returning the observation that passed.
func (c *Cluster) waitValid(ctx context.Context, scope Scope, o WaitOptions) (Result, Observation, error) {
	clk := c.clock()
	need := max(o.Successes, 1)
	start := clk.Now()
	var last Result
	var lastObs Observation
	var lastErr error
	streak := 0
	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	nodeChanged := c.watchNodes(watchCtx)
	// A look woken by a node's change takes the cloud's groups from the
	// last look if that is less than an interval old: the node is what
	// changed, and reading the groups is the slow part.
	var cloud []Group
	var cloudAt time.Time
	wokeByNode := false
	for {
		var reuse []Group
		if wokeByNode && cloud != nil && clk.Since(cloudAt) < o.Interval {
			reuse = cloud
		}
		obs, err := c.observe(ctx, reuse)
		if err == nil && reuse == nil {
			cloud, cloudAt = obs.Groups, clk.Now()
		}
		var r Result
		if err == nil {
			r = Validate(c.Spec, obs, scope)
		}
		switch {
		case err != nil:
			lastErr, streak = err, 0
			if ctx.Err() != nil {
				return last, lastObs, ctx.Err()
			}
		default:
			lastErr, last, lastObs = nil, r, obs
			if o.OnResult != nil {
				o.OnResult(r)
			}
			if r.Valid() {
				streak++
			} else {
				streak = 0
			}
		}
		if streak >= need {
			return last, lastObs, nil
		}
		waited := clk.Since(start)
		if waited >= o.Timeout {
			if lastErr != nil {
				return last, lastObs, fmt.Errorf("cluster did not validate within %s: %w", o.Timeout, lastErr)
			}
			return last, lastObs, &InvalidError{Result: last, Waited: o.Timeout}
		}
		// While it fails, a node's change is worth a look at once; passes
		// in a row are counted an interval apart, so a flap shows.
		wake := nodeChanged
		if streak > 0 {
			wake = nil
		}
		t := clk.NewTimer(min(o.Interval, o.Timeout-waited))
		wokeByNode = false
		select {
		case <-ctx.Done():
			t.Stop()
			return last, lastObs, ctx.Err()
		case <-t.C():
		case <-wake:
			t.Stop()
			wokeByNode = true
		}
	}
}

// watchNodes returns a channel that receives when a node is added,
// changed or deleted, until ctx ends, so a wait wakes up when a node
// turns Ready rather than at its next poll. It returns nil (a channel that
// never receives) if the watch cannot start; the wait then only polls.
func (c *Cluster) watchNodes(ctx context.Context) <-chan struct{} {
	if c.Client == nil {
		return nil
	}
	w, err := c.Client.CoreV1().Nodes().Watch(ctx, metav1.ListOptions{})
	if err != nil {
		return nil
	}
	changed := make(chan struct{}, 1)
	go func() {
		defer w.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case _, ok := <-w.ResultChan():
				if !ok {
					return // the wait goes on polling
				}
				select {
				case changed <- struct{}{}:
				default: // one wake-up pending is enough
				}
			}
		}
	}()
	return changed
}

// nodeNames are the names of the nodes of instances ids, by instance ID,
// as the API shows them now.
func (c *Cluster) nodeNames(ctx context.Context, ids []string) (map[string]string, error) {
	nodes, err := c.Client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing nodes: %w", err)
	}
	all := nodeNamesByInstance(nodes.Items)
	out := map[string]string{}
	for _, id := range ids {
		if name, ok := all[id]; ok {
			out[id] = name
		}
	}
	return out, nil
}

// nodeNamesByInstance maps the instance ID in each node's provider ID to
// the node's name.
func nodeNamesByInstance(nodes []corev1.Node) map[string]string {
	out := map[string]string{}
	for i := range nodes {
		if id := InstanceID(nodes[i].Spec.ProviderID); id != "" {
			out[id] = nodes[i].Name
		}
	}
	return out
}
