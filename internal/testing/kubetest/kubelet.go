package kubetest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// RegisterNode creates a Node named name with spec.providerID providerID
// (for AWS "aws:///ZONE/INSTANCE-ID"), the labels, a Ready condition True
// or False, some capacity and kubelet version K8sVersion; the apiserver
// takes status on create. It also registers the node with the simulated
// kubelet of [Env.RunKubelet]. Nothing changes the node later: no
// node-lifecycle controller runs.
func (e *Env) RegisterNode(ctx context.Context, name, providerID string, labels map[string]string, ready bool) error {
	now := metav1.Now()
	capacity := corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse("2"),
		corev1.ResourceMemory: resource.MustParse("4Gi"),
		corev1.ResourcePods:   resource.MustParse("110"),
	}
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
		Spec:       corev1.NodeSpec{ProviderID: providerID},
		Status: corev1.NodeStatus{
			Capacity:    capacity,
			Allocatable: capacity,
			Conditions:  []corev1.NodeCondition{readyCondition(ready, now)},
			NodeInfo: corev1.NodeSystemInfo{
				KubeletVersion:  "v" + K8sVersion,
				OperatingSystem: "linux",
				Architecture:    "amd64",
			},
		},
	}
	if _, err := e.Client.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("node %s: create: %w", name, err)
	}
	e.mu.Lock()
	e.nodes[name] = true
	e.mu.Unlock()
	return nil
}

// DeregisterNode deletes a Node made by [Env.RegisterNode], as the cloud
// controller does when its instance is gone, and takes it from the
// simulated kubelet. A Node already gone is no error.
func (e *Env) DeregisterNode(ctx context.Context, name string) error {
	err := e.Client.CoreV1().Nodes().Delete(ctx, name, metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("node %s: delete: %w", name, err)
	}
	e.mu.Lock()
	delete(e.nodes, name)
	e.mu.Unlock()
	return nil
}

// SetNodeReady sets the node's Ready condition to True or False, through
// the status subresource.
func (e *Env) SetNodeReady(ctx context.Context, name string, ready bool) error {
	for {
		node, err := e.Client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("node %s: get: %w", name, err)
		}
		cond := readyCondition(ready, metav1.Now())
		found := false
		for i, c := range node.Status.Conditions {
			if c.Type != corev1.NodeReady {
				continue
			}
			if c.Status == cond.Status {
				cond.LastTransitionTime = c.LastTransitionTime
			}
			node.Status.Conditions[i] = cond
			found = true
		}
		if !found {
			node.Status.Conditions = append(node.Status.Conditions, cond)
		}
		_, err = e.Client.CoreV1().Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{})
		if apierrors.IsConflict(err) {
			continue
		}
		if err != nil {
			return fmt.Errorf("node %s: update status: %w", name, err)
		}
		return nil
	}
}

func readyCondition(ready bool, now metav1.Time) corev1.NodeCondition {
	c := corev1.NodeCondition{
		Type:               corev1.NodeReady,
		Status:             corev1.ConditionFalse,
		LastHeartbeatTime:  now,
		LastTransitionTime: now,
		Reason:             "KubeletNotReady",
		Message:            "kubetest: node set not ready",
	}
	if ready {
		c.Status, c.Reason, c.Message = corev1.ConditionTrue, "KubeletReady", "kubetest: simulated kubelet is posting ready status"
	}
	return c
}

// RunKubelet starts a simulated kubelet for the nodes made by
// [Env.RegisterNode], Ready or not, and returns. Until ctx ends, every
// interval it lists all pods and, for those bound to a registered node:
//   - a pod that is not terminating and not Succeeded or Failed is marked
//     Running, with every condition and container Ready (status
//     subresource);
//   - a pod bound to no node is bound to a Ready, uncordoned registered
//     node (round-robin), as the scheduler would;
//   - a pod with a deletionTimestamp (a graceful deletion, e.g. after an
//     eviction) is deleted with GracePeriodSeconds=0 and a UID
//     precondition, as a kubelet does once the containers stopped.
//
// Errors, such as conflicts with other writers, are retried at the next
// tick. Start one per test, with the test's context.
func (e *Env) RunKubelet(ctx context.Context, interval time.Duration) {
	go func() {
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			e.kubeletSync(ctx)
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
}

// kubeletSync is one pass of RunKubelet.
func (e *Env) kubeletSync(ctx context.Context) {
	pods, err := e.Client.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return
	}
	e.mu.Lock()
	nodes := make(map[string]bool, len(e.nodes))
	for n := range e.nodes {
		nodes[n] = true
	}
	e.mu.Unlock()

	schedulable := e.schedulableNodes(ctx, nodes)
	for i := range pods.Items {
		pod := &pods.Items[i]
		if pod.Spec.NodeName == "" && pod.DeletionTimestamp == nil {
			// Play the scheduler: round-robin over the Ready, uncordoned
			// simulated nodes that match the pod's nodeSelector.
			var fit []string
			for _, n := range schedulable {
				if labels.SelectorFromSet(pod.Spec.NodeSelector).Matches(labels.Set(n.Labels)) {
					fit = append(fit, n.Name)
				}
			}
			if len(fit) == 0 {
				continue
			}
			e.bound++
			node := fit[e.bound%len(fit)]
			_ = e.Client.CoreV1().Pods(pod.Namespace).Bind(ctx, &corev1.Binding{
				ObjectMeta: metav1.ObjectMeta{Name: pod.Name, Namespace: pod.Namespace, UID: pod.UID},
				Target:     corev1.ObjectReference{Kind: "Node", Name: node},
			}, metav1.CreateOptions{}) // a conflict is retried at the next tick
			continue
		}
		if !nodes[pod.Spec.NodeName] {
			continue
		}
		switch {
		case pod.DeletionTimestamp != nil:
			zero := int64(0)
			err := e.Client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{
				GracePeriodSeconds: &zero,
				Preconditions:      &metav1.Preconditions{UID: &pod.UID},
			})
			_ = err // NotFound or Conflict: already gone or replaced
		case pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed:
		case !podRunningReady(pod):
			setPodRunning(pod)
			_, err := e.Client.CoreV1().Pods(pod.Namespace).UpdateStatus(ctx, pod, metav1.UpdateOptions{})
			_ = err // a conflict is retried at the next tick
		}
	}
}

// schedulableNodes are the simulated nodes that are Ready and not
// cordoned, by name.
func (e *Env) schedulableNodes(ctx context.Context, simulated map[string]bool) []*corev1.Node {
	list, err := e.Client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil
	}
	var out []*corev1.Node
	for i := range list.Items {
		n := &list.Items[i]
		if !simulated[n.Name] || n.Spec.Unschedulable {
			continue
		}
		for _, c := range n.Status.Conditions {
			if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
				out = append(out, n)
			}
		}
	}
	slices.SortFunc(out, func(a, b *corev1.Node) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// podRunningReady reports whether the pod is Running with Ready=True.
func podRunningReady(pod *corev1.Pod) bool {
	if pod.Status.Phase != corev1.PodRunning {
		return false
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// setPodRunning sets the status a kubelet reports for a pod whose
// containers all started and pass their probes.
func setPodRunning(pod *corev1.Pod) {
	now := metav1.Now()
	st := &pod.Status
	st.Phase = corev1.PodRunning
	if st.StartTime == nil {
		st.StartTime = &now
	}
	st.Conditions = nil
	for _, t := range []corev1.PodConditionType{
		corev1.PodScheduled, corev1.PodInitialized, corev1.ContainersReady, corev1.PodReady,
	} {
		st.Conditions = append(st.Conditions, corev1.PodCondition{
			Type: t, Status: corev1.ConditionTrue, LastTransitionTime: now,
		})
	}
	st.ContainerStatuses = nil
	for _, c := range pod.Spec.Containers {
		started := true
		st.ContainerStatuses = append(st.ContainerStatuses, corev1.ContainerStatus{
			Name:    c.Name,
			Image:   c.Image,
			ImageID: "kubetest://" + c.Image,
			Ready:   true,
			Started: &started,
			State:   corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}},
		})
	}
}
