package kube

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/kubectl/pkg/drain"
)

// DrainOptions tune a drain.
type DrainOptions struct {
	// Timeout bounds the whole drain of a node; evictions a disruption
	// budget refuses are retried until then.
	Timeout time.Duration
	// RetryDelay is the time between evictions a budget refused.
	RetryDelay time.Duration
	// Log receives kubectl's drain messages (pods evicted, retries).
	Log io.Writer
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
// PodDisruptionBudgets are honoured, waiting until they are gone.
// DaemonSet pods and mirror pods stay (they go with the node); pods with
// emptyDir data and pods no controller owns are evicted too, as the node
// is about to be terminated. A node that does not exist is already
// drained.
func Drain(ctx context.Context, client kubernetes.Interface, nodeName string, o DrainOptions) error {
	node, err := client.CoreV1().Nodes().Get(ctx, nodeName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("draining node %s: %w", nodeName, err)
	}
	log := o.Log
	if log == nil {
		log = io.Discard
	}
	h := &drain.Helper{
		Ctx: ctx, Client: client,
		Force: true, IgnoreAllDaemonSets: true, DeleteEmptyDirData: true,
		GracePeriodSeconds:   -1,
		Timeout:              o.Timeout,
		EvictErrorRetryDelay: o.RetryDelay,
		Out:                  log, ErrOut: log,
	}
	if err := drain.RunCordonOrUncordon(h, node, true); err != nil {
		return fmt.Errorf("cordoning node %s: %w", nodeName, err)
	}
	if err := drain.RunNodeDrain(h, nodeName); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		// The helper's error says only that time ran out; say which pods
		// remain and which budget holds each.
		return &DrainError{Node: nodeName, Blocked: blockers(context.WithoutCancel(ctx), client, h, nodeName), Err: err}
	}
	return nil
}

// Cordon marks a node unschedulable, so no new pod lands on it while its
// replacement boots. A node that does not exist, or is already cordoned,
// is left as it is.
func Cordon(ctx context.Context, client kubernetes.Interface, nodeName string) error {
	node, err := client.CoreV1().Nodes().Get(ctx, nodeName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("cordoning node %s: %w", nodeName, err)
	}
	if err := drain.RunCordonOrUncordon(&drain.Helper{Ctx: ctx, Client: client}, node, true); err != nil {
		return fmt.Errorf("cordoning node %s: %w", nodeName, err)
	}
	return nil
}

// blockers describes the pods still to be evicted from a node: for each,
// the disruption budgets that select it, with their status.
func blockers(ctx context.Context, client kubernetes.Interface, h *drain.Helper, nodeName string) []string {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	h.Ctx = ctx
	list, errs := h.GetPodsForDeletion(nodeName)
	if len(errs) > 0 || list == nil {
		return nil
	}
	var out []string
	for _, p := range list.Pods() {
		pod := p
		desc := fmt.Sprintf("pod %s/%s is still running", pod.Namespace, pod.Name)
		pdbs, err := client.PolicyV1().PodDisruptionBudgets(pod.Namespace).List(ctx, metav1.ListOptions{})
		if err == nil {
			var names []string
			for _, b := range pdbs.Items {
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
