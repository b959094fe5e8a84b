package kubetest_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/kapstan/kapstan/internal/testing/kubetest"
)

var kube *kubetest.Env

func TestMain(m *testing.M) {
	os.Exit(kubetest.RunMain(m, &kube, kubetest.Options{ControllerManager: true}))
}

const waitTimeout = 20 * time.Second

// eventually polls cond every 100 ms until it returns true or an error, or
// waitTimeout passes.
func eventually(t *testing.T, what string, cond func(ctx context.Context) (bool, error)) {
	t.Helper()
	err := wait.PollUntilContextTimeout(t.Context(), 100*time.Millisecond, waitTimeout, true, cond)
	if err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}

// namespace creates a namespace for the test. No namespace controller runs,
// so it is not deleted afterwards; the Env is thrown away.
func namespace(t *testing.T) string {
	t.Helper()
	ns, err := kube.Client.CoreV1().Namespaces().Create(t.Context(), &corev1.Namespace{
		ObjectMeta: metav1.ObjectMeta{GenerateName: strings.ToLower(t.Name()) + "-"},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return ns.Name
}

// replicaSetPods creates a ReplicaSet and n pods it controls on node, with
// labels app=name. No ReplicaSet controller runs, so the ReplicaSet adds or
// removes nothing; it only makes the pods look managed.
func replicaSetPods(t *testing.T, ns, name, node string, n int) []*corev1.Pod {
	t.Helper()
	ctx := t.Context()
	labels := map[string]string{"app": name}
	replicas := int32(n)
	tmpl := corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: labels},
		Spec: corev1.PodSpec{
			NodeName:   node,
			Containers: []corev1.Container{{Name: "app", Image: "registry.k8s.io/pause:3.10"}},
		},
	}
	rs, err := kube.Client.AppsV1().ReplicaSets(ns).Create(ctx, &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
		Spec: appsv1.ReplicaSetSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: tmpl,
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	owner := *metav1.NewControllerRef(rs, appsv1.SchemeGroupVersion.WithKind("ReplicaSet"))
	var pods []*corev1.Pod
	for range n {
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{
				GenerateName:    name + "-",
				Labels:          labels,
				OwnerReferences: []metav1.OwnerReference{owner},
			},
			Spec: tmpl.Spec,
		}
		pod, err := kube.Client.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		pods = append(pods, pod)
	}
	return pods
}

func waitPodRunningReady(t *testing.T, ns, name string) {
	t.Helper()
	eventually(t, "pod "+ns+"/"+name+" running and ready", func(ctx context.Context) (bool, error) {
		pod, err := kube.Client.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		if pod.Status.Phase != corev1.PodRunning {
			return false, nil
		}
		for _, c := range pod.Status.Conditions {
			if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
				return true, nil
			}
		}
		return false, nil
	})
}

func nodeReady(t *testing.T, name string) corev1.ConditionStatus {
	t.Helper()
	node, err := kube.Client.CoreV1().Nodes().Get(t.Context(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range node.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status
		}
	}
	return corev1.ConditionUnknown
}

func TestAPIServer(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	body, err := kube.Client.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
	if err != nil || string(body) != "ok" {
		t.Fatalf("/readyz = %q, %v; want ok", body, err)
	}
	v, err := kube.Client.Discovery().ServerVersion()
	if err != nil {
		t.Fatal(err)
	}
	if want := "v" + kubetest.K8sVersion; v.GitVersion != want {
		t.Errorf("server version %q, want %q", v.GitVersion, want)
	}
	nss, err := kube.Client.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]bool{}
	for _, ns := range nss.Items {
		found[ns.Name] = true
	}
	for _, want := range []string{"default", "kube-system"} {
		if !found[want] {
			t.Errorf("namespace %s missing from %v", want, found)
		}
	}
	if _, err := os.Stat(kube.Kubeconfig); err != nil {
		t.Errorf("kubeconfig: %v", err)
	}
	if !strings.HasPrefix(kube.APIServerURL, "https://127.0.0.1:") {
		t.Errorf("APIServerURL %q not on loopback", kube.APIServerURL)
	}
}

func TestRegisterNode(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	const name = "ip-10-0-1-10.ec2.internal"
	labels := map[string]string{"kapstan.io/instance-group": "nodes", "topology.kubernetes.io/zone": "us-east-1a"}
	if err := kube.RegisterNode(ctx, name, "aws:///us-east-1a/i-0123456789abcdef0", labels, true); err != nil {
		t.Fatal(err)
	}
	node, err := kube.Client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := node.Spec.ProviderID, "aws:///us-east-1a/i-0123456789abcdef0"; got != want {
		t.Errorf("providerID %q, want %q", got, want)
	}
	if got := node.Labels["kapstan.io/instance-group"]; got != "nodes" {
		t.Errorf("label kapstan.io/instance-group = %q, want nodes", got)
	}
	if got := nodeReady(t, name); got != corev1.ConditionTrue {
		t.Errorf("Ready = %s after RegisterNode(ready), want True", got)
	}

	if err := kube.SetNodeReady(ctx, name, false); err != nil {
		t.Fatal(err)
	}
	if got := nodeReady(t, name); got != corev1.ConditionFalse {
		t.Errorf("Ready = %s after SetNodeReady(false), want False", got)
	}
	if err := kube.SetNodeReady(ctx, name, true); err != nil {
		t.Fatal(err)
	}
	if got := nodeReady(t, name); got != corev1.ConditionTrue {
		t.Errorf("Ready = %s after SetNodeReady(true), want True", got)
	}
}

func TestKubeletRunsPods(t *testing.T) {
	t.Parallel()
	ns := namespace(t)
	const node = "ip-10-0-2-20.ec2.internal"
	if err := kube.RegisterNode(t.Context(), node, "aws:///us-east-1b/i-0aaaaaaaaaaaaaaa1", nil, true); err != nil {
		t.Fatal(err)
	}
	pods := replicaSetPods(t, ns, "web", node, 1)
	kube.RunKubelet(t.Context(), 100*time.Millisecond)
	waitPodRunningReady(t, ns, pods[0].Name)

	pod, err := kube.Client.CoreV1().Pods(ns).Get(t.Context(), pods[0].Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(pod.Status.ContainerStatuses) != 1 || !pod.Status.ContainerStatuses[0].Ready {
		t.Errorf("container statuses %+v, want one ready", pod.Status.ContainerStatuses)
	}
}

// TestPDBEviction: KCM's disruption controller gives the PDB real status,
// the apiserver enforces it on evictions, and the simulated kubelet
// completes the graceful deletion an eviction starts.
func TestPDBEviction(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	ns := namespace(t)
	const node = "ip-10-0-3-30.ec2.internal"
	if err := kube.RegisterNode(ctx, node, "aws:///us-east-1c/i-0bbbbbbbbbbbbbbb2", nil, true); err != nil {
		t.Fatal(err)
	}
	pods := replicaSetPods(t, ns, "api", node, 2)
	minAvailable := intstr.FromInt32(1)
	if _, err := kube.Client.PolicyV1().PodDisruptionBudgets(ns).Create(ctx, &policyv1.PodDisruptionBudget{
		ObjectMeta: metav1.ObjectMeta{Name: "api"},
		Spec: policyv1.PodDisruptionBudgetSpec{
			MinAvailable: &minAvailable,
			Selector:     &metav1.LabelSelector{MatchLabels: map[string]string{"app": "api"}},
		},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	kube.RunKubelet(ctx, 100*time.Millisecond)
	for _, p := range pods {
		waitPodRunningReady(t, ns, p.Name)
	}
	eventually(t, "PDB status from the disruption controller", func(ctx context.Context) (bool, error) {
		pdb, err := kube.Client.PolicyV1().PodDisruptionBudgets(ns).Get(ctx, "api", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		s := pdb.Status
		return s.ObservedGeneration == pdb.Generation && s.ExpectedPods == 2 &&
			s.CurrentHealthy == 2 && s.DisruptionsAllowed > 0, nil
	})

	evict := func(name string) error {
		return kube.Client.CoreV1().Pods(ns).EvictV1(ctx, &policyv1.Eviction{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		})
	}
	if err := evict(pods[0].Name); err != nil {
		t.Fatalf("evicting %s: %v", pods[0].Name, err)
	}
	eventually(t, "evicted pod deleted", func(ctx context.Context) (bool, error) {
		_, err := kube.Client.CoreV1().Pods(ns).Get(ctx, pods[0].Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		return false, err
	})
	// One healthy pod left and minAvailable 1: the budget refuses.
	if err := evict(pods[1].Name); !apierrors.IsTooManyRequests(err) {
		t.Fatalf("evicting the last pod: %v; want 429 TooManyRequests", err)
	}
}

// TestStop starts a second Env and checks Stop leaves no process and no
// dir behind.
func TestStop(t *testing.T) {
	t.Parallel()
	env, err := kubetest.Start(t.Context(), kubetest.Options{ControllerManager: true})
	if err != nil {
		t.Fatal(err)
	}
	pids := env.PIDs()
	if len(pids) != 3 {
		t.Errorf("PIDs() = %v, want etcd, kube-apiserver and kube-controller-manager", pids)
	}
	if err := env.Exited(); err != nil {
		t.Errorf("after Start: %v", err)
	}
	if err := env.Stop(); err != nil {
		t.Fatal(err)
	}
	for name, pid := range pids {
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("%s (pid %d) still exists after Stop: kill 0 = %v", name, pid, err)
		}
	}
	if _, err := os.Stat(env.Dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("dir %s after Stop: %v, want it removed", env.Dir, err)
	}
	if err := env.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
}
