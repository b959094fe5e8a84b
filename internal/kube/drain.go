package kube

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/clock"
)

// Defaults of DrainOptions.
const (
	// DefaultEvictionRetryDelay is the RetryDelay of DrainOptions that
	// leave it 0.
	DefaultEvictionRetryDelay = 5 * time.Second
	// drainPoll bounds the time between two looks at the pods still on a
	// node, so a drain ends soon after its last pod went even when
	// RetryDelay is long.
	drainPoll = time.Second
)

// DrainOptions tune a drain.
type DrainOptions struct {
	// Timeout bounds the whole drain of a node; evictions a disruption
	// budget refuses are retried until then. 0 means no bound but ctx.
	Timeout time.Duration
	// RetryDelay is the time between evictions a budget refused; 0 means
	// DefaultEvictionRetryDelay.
	RetryDelay time.Duration
	// Log receives the drain's messages (node cordoned, pods evicted,
	// evictions refused); nil discards them.
	Log io.Writer
	// Clock is the time source of the waits; nil means the real clock.
	Clock clock.WithTicker
}

// DrainError is a node that could not be drained in time, with the pods
// still on it and what keeps each there.
type DrainError struct {
	Node string
	// Blocked are the remaining pods, each with its reason.
	Blocked []string
	Err     error
}

func (e *DrainError) Error() string {
	if len(e.Blocked) == 0 {
		return fmt.Sprintf("draining node %s: %v", e.Node, e.Err)
	}
	return fmt.Sprintf("draining node %s: %s", e.Node, strings.Join(e.Blocked, "; "))
}

func (e *DrainError) Unwrap() error { return e.Err }

// Drain cordons the node and evicts its pods through the Eviction API, so
// PodDisruptionBudgets are honoured, waiting until they are gone: deleted,
// or replaced by a pod of the same name with another UID. An eviction a
// budget refuses (429 Too Many Requests) is tried again every
// o.RetryDelay; if pods remain after o.Timeout, Drain returns a
// *DrainError naming them and the budgets that hold them.
//
// DaemonSet pods and mirror pods stay (they go with the node); pods with
// emptyDir data and pods no controller owns are evicted too, as the node
// is about to be terminated. Pods that already finished (Succeeded or
// Failed) are deleted rather than evicted: they run nothing a budget
// protects, and deleting them leaves nothing of the node's behind. A node
// that does not exist is already drained.
func Drain(ctx context.Context, client kubernetes.Interface, nodeName string, o DrainOptions) error {
	exists, patched, err := cordon(ctx, client, nodeName)
	if err != nil {
		return err
	}
	if !exists {
		return nil
	}
	d := &drainer{client: client, node: nodeName, o: o, log: o.Log, clk: o.Clock}
	if d.log == nil {
		d.log = io.Discard
	}
	if d.clk == nil {
		d.clk = clock.RealClock{}
	}
	if d.o.RetryDelay <= 0 {
		d.o.RetryDelay = DefaultEvictionRetryDelay
	}
	if patched {
		d.logf("node %s cordoned", nodeName)
	} else {
		d.logf("node %s already cordoned", nodeName)
	}
	return d.run(ctx)
}

// Cordon marks a node unschedulable, so no new pod lands on it while its
// replacement boots. A node that does not exist, or is already cordoned,
// is left as it is.
func Cordon(ctx context.Context, client kubernetes.Interface, nodeName string) error {
	_, _, err := cordon(ctx, client, nodeName)
	return err
}

// cordon sets the node's spec.unschedulable, unless it is set already. It
// reports whether the node exists and whether it was patched.
func cordon(ctx context.Context, client kubernetes.Interface, nodeName string) (exists, patched bool, err error) {
	node, err := client.CoreV1().Nodes().Get(ctx, nodeName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return false, false, nil
	}
	if err != nil {
		return false, false, fmt.Errorf("cordoning node %s: %w", nodeName, err)
	}
	if node.Spec.Unschedulable {
		return true, false, nil
	}
	patch := []byte(`{"spec":{"unschedulable":true}}`)
	_, err = client.CoreV1().Nodes().Patch(ctx, nodeName, types.StrategicMergePatchType, patch, metav1.PatchOptions{})
	if apierrors.IsNotFound(err) {
		return false, false, nil
	}
	if err != nil {
		return false, false, fmt.Errorf("cordoning node %s: %w", nodeName, err)
	}
	return true, true, nil
}

// drainer is one drain of one node.
type drainer struct {
	client kubernetes.Interface
	node   string
	o      DrainOptions
	log    io.Writer
	clk    clock.WithTicker
}

// drainPod is a pod the drain waits for.
type drainPod struct {
	pod corev1.Pod
	// evicted is set once the API took its eviction (or deletion).
	evicted bool
	// next is when to try a refused eviction again.
	next time.Time
	// refused is the last error of a refused eviction.
	refused error
}

func (p *drainPod) String() string { return p.pod.Namespace + "/" + p.pod.Name }

// run evicts the node's pods and waits until they are gone.
func (d *drainer) run(ctx context.Context) error {
	start := d.clk.Now()
	pods, err := d.podsToEvict(ctx)
	if err != nil {
		return err
	}
	// lastRefused is the last eviction refused or busy answer, for the
	// error if time runs out.
	var lastRefused error
	for {
		now := d.clk.Now()
		for _, p := range pods {
			if p.evicted || now.Before(p.next) {
				continue
			}
			if err := d.evict(ctx, p); err != nil {
				return err
			}
			if p.refused != nil {
				lastRefused = p.refused
				p.next = now.Add(d.o.RetryDelay)
			}
		}
		left, err := d.remaining(ctx, pods)
		switch {
		case err == nil:
			pods = left
		case ctx.Err() != nil:
			return fmt.Errorf("draining node %s: %w", d.node, ctx.Err())
		case retryableEviction(err):
			// The API is busy for a moment: look again at the next tick.
			lastRefused = err
		default:
			return err
		}
		if len(pods) == 0 {
			return nil
		}
		waited := d.clk.Since(start)
		if d.o.Timeout > 0 && waited >= d.o.Timeout {
			return d.timedOut(ctx, pods, lastRefused)
		}
		wait := min(d.o.RetryDelay, drainPoll)
		if d.o.Timeout > 0 {
			wait = min(wait, d.o.Timeout-waited)
		}
		t := d.clk.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("draining node %s: %w", d.node, ctx.Err())
		case <-t.C():
		}
	}
}

// podsToEvict lists the node's pods and picks those to evict, logging the
// ones left in place.
func (d *drainer) podsToEvict(ctx context.Context) ([]*drainPod, error) {
	list, err := d.listPods(ctx)
	if err != nil {
		return nil, err
	}
	var out []*drainPod
	var stay []string
	for _, pod := range list {
		switch {
		case isMirrorPod(&pod):
			stay = append(stay, "mirror pod "+pod.Namespace+"/"+pod.Name)
		case isDaemonSetPod(&pod):
			stay = append(stay, "DaemonSet pod "+pod.Namespace+"/"+pod.Name)
		default:
			out = append(out, &drainPod{pod: pod})
		}
	}
	if len(stay) > 0 {
		d.logf("node %s: leaving %s", d.node, strings.Join(stay, ", "))
	}
	return out, nil
}

// listPods lists the pods bound to the node.
func (d *drainer) listPods(ctx context.Context) ([]corev1.Pod, error) {
	list, err := d.client.CoreV1().Pods(metav1.NamespaceAll).List(ctx, metav1.ListOptions{
		FieldSelector: fields.OneTermEqualSelector("spec.nodeName", d.node).String(),
	})
	if err != nil {
		return nil, fmt.Errorf("draining node %s: listing its pods: %w", d.node, err)
	}
	// The field selector is the server's; keep the filter here too, so a
	// client that ignores it cannot make the drain evict other nodes' pods.
	return slices.DeleteFunc(list.Items, func(p corev1.Pod) bool { return p.Spec.NodeName != d.node }), nil
}

// evict asks the API to evict p (to delete it, if it finished), with a
// UID precondition so a replacement of the same name is never touched.
// A refusal that time may lift is recorded in p.refused; any other
// failure is returned, as a *DrainError.
func (d *drainer) evict(ctx context.Context, p *drainPod) error {
	pod := &p.pod
	if pod.DeletionTimestamp != nil {
		p.evicted = true // already going: only wait
		return nil
	}
	opts := &metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &pod.UID}}
	var err error
	verb := "evicting"
	if finished(pod) {
		verb = "deleting finished"
		err = d.client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, *opts)
	} else {
		err = d.client.PolicyV1().Evictions(pod.Namespace).Evict(ctx, &policyv1.Eviction{
			ObjectMeta:    metav1.ObjectMeta{Name: pod.Name, Namespace: pod.Namespace},
			DeleteOptions: opts,
		})
	}
	switch {
	case err == nil:
		d.logf("node %s: %s pod %s", d.node, verb, p)
		p.evicted, p.refused = true, nil
		return nil
	case apierrors.IsNotFound(err), apierrors.IsConflict(err):
		// Gone already, or replaced by another pod of that name.
		p.evicted, p.refused = true, nil
		return nil
	case retryableEviction(err):
		// Say it once, and again only if the reason changes.
		if p.refused == nil || p.refused.Error() != err.Error() {
			d.logf("node %s: %s pod %s refused, trying again every %s: %v", d.node, verb, p, d.o.RetryDelay, err)
		}
		p.refused = err
		return nil
	}
	if ctx.Err() != nil {
		return fmt.Errorf("draining node %s: %w", d.node, ctx.Err())
	}
	return &DrainError{Node: d.node, Err: fmt.Errorf("%s pod %s: %w", verb, p, err)}
}

// retryableEviction reports whether an eviction's failure may pass with
// time: a disruption budget refusing (429), the API being busy or
// slow, or a namespace being deleted (its pods go with it).
func retryableEviction(err error) bool {
	return apierrors.IsTooManyRequests(err) ||
		apierrors.IsServerTimeout(err) || apierrors.IsTimeout(err) ||
		apierrors.IsServiceUnavailable(err) ||
		(apierrors.IsForbidden(err) && apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause))
}

// remaining returns the pods of pods still on the node: those whose UID
// is still listed there.
func (d *drainer) remaining(ctx context.Context, pods []*drainPod) ([]*drainPod, error) {
	list, err := d.listPods(ctx)
	if err != nil {
		return nil, err
	}
	present := make(map[types.UID]bool, len(list))
	for _, p := range list {
		present[p.UID] = true
	}
	return slices.DeleteFunc(pods, func(p *drainPod) bool {
		if present[p.pod.UID] {
			return false
		}
		if p.evicted {
			d.logf("node %s: pod %s is gone", d.node, p)
		}
		return true
	}), nil
}

// timedOut is the *DrainError of a drain whose time ran out with pods
// left.
func (d *drainer) timedOut(ctx context.Context, pods []*drainPod, lastRefused error) error {
	err := fmt.Errorf("%d pods still on the node after %s", len(pods), d.o.Timeout)
	if lastRefused != nil {
		err = fmt.Errorf("%d pods still on the node after %s; last refusal: %w", len(pods), d.o.Timeout, lastRefused)
	}
	left := make([]corev1.Pod, len(pods))
	for i, p := range pods {
		left[i] = p.pod
	}
	return &DrainError{Node: d.node, Blocked: blockers(context.WithoutCancel(ctx), d.client, left), Err: err}
}

func (d *drainer) logf(format string, args ...any) {
	fmt.Fprintf(d.log, format+"\n", args...)
}

// isMirrorPod reports whether the pod is the API's copy of a static pod,
// which the kubelet runs from a file and eviction cannot remove.
func isMirrorPod(pod *corev1.Pod) bool {
	_, ok := pod.Annotations[corev1.MirrorPodAnnotationKey]
	return ok
}

// isDaemonSetPod reports whether a DaemonSet controls the pod; it would
// only be recreated on the same node.
func isDaemonSetPod(pod *corev1.Pod) bool {
	ref := metav1.GetControllerOf(pod)
	return ref != nil && ref.Kind == "DaemonSet" && strings.HasPrefix(ref.APIVersion, "apps/")
}

// finished reports whether all of the pod's containers ended for good.
func finished(pod *corev1.Pod) bool {
	return pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed
}

// blockers describes pods still to be evicted from a node: for each, the
// disruption budgets that select it, with their status.
func blockers(ctx context.Context, client kubernetes.Interface, pods []corev1.Pod) []string {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	budgets := map[string][]policyv1.PodDisruptionBudget{} // by namespace
	var out []string
	for _, pod := range pods {
		state := "is still running"
		if pod.DeletionTimestamp != nil {
			state = "is still terminating"
		}
		desc := fmt.Sprintf("pod %s/%s %s", pod.Namespace, pod.Name, state)
		pdbs, ok := budgets[pod.Namespace]
		if !ok {
			list, err := client.PolicyV1().PodDisruptionBudgets(pod.Namespace).List(ctx, metav1.ListOptions{})
			if err == nil {
				pdbs = list.Items
			}
			budgets[pod.Namespace] = pdbs
		}
		var names []string
		for _, b := range pdbs {
			sel, err := metav1.LabelSelectorAsSelector(b.Spec.Selector)
			if err != nil || sel.Empty() || !sel.Matches(labels.Set(pod.Labels)) {
				continue
			}
			names = append(names, fmt.Sprintf("PodDisruptionBudget %s/%s (%s; %d of %d pods healthy, %d disruptions allowed)",
				b.Namespace, b.Name, budgetRule(b.Spec.MinAvailable, b.Spec.MaxUnavailable),
				b.Status.CurrentHealthy, b.Status.ExpectedPods, b.Status.DisruptionsAllowed))
		}
		if len(names) > 0 {
			desc += ": eviction blocked by " + strings.Join(names, ", ")
		}
		out = append(out, desc)
	}
	return out
}

func budgetRule(minAvailable, maxUnavailable *intstr.IntOrString) string {
	switch {
	case minAvailable != nil:
		return "minAvailable " + minAvailable.String()
	case maxUnavailable != nil:
		return "maxUnavailable " + maxUnavailable.String()
	}
	return "no limit"
}
