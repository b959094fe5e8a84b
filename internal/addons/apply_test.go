package addons

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/kapstan/kapstan/internal/store"
	"github.com/kapstan/kapstan/internal/testing/kubetest"
	api "github.com/kapstan/kapstan/pkg/apis/kapstan/v1alpha1"
)

var kube *kubetest.Env

func TestMain(m *testing.M) {
	os.Exit(kubetest.RunMain(m, &kube, kubetest.Options{}))
}

// step renders the cluster's add-ons, writes them and applies them to the
// test apiserver, the way update --yes does.
func step(t *testing.T, st store.Store, m *api.Manifests) (*Result, time.Duration) {
	t.Helper()
	ctx := context.Background()
	if _, err := Write(ctx, st, m.Cluster.Metadata.Name, render(t, m, st)); err != nil {
		t.Fatal(err)
	}
	c, err := NewClient(kube.RESTConfig)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	res, err := c.Apply(ctx, st, m.Cluster.Metadata.Name)
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	return res, time.Since(start)
}

// actions maps "addon: Kind ns/name" to what the apply did.
func actions(res *Result) map[string]Action {
	out := map[string]Action{}
	for _, a := range res.Addons {
		for _, o := range a.Objects {
			out[a.Name+": "+o.Ref.String()] = o.Action
		}
	}
	return out
}

// live reads the resourceVersion of every object a result names.
func live(t *testing.T, res *Result) map[string]string {
	t.Helper()
	dyn := dynamic.NewForConfigOrDie(kube.RESTConfig)
	out := map[string]string{}
	for _, a := range res.Addons {
		for _, o := range a.Objects {
			if o.Action == Pruned {
				continue
			}
			var ri dynamic.ResourceInterface = dyn.Resource(o.Ref.gvr())
			if o.Ref.Namespace != "" {
				ri = dyn.Resource(o.Ref.gvr()).Namespace(o.Ref.Namespace)
			}
			u, err := ri.Get(context.Background(), o.Ref.Name, metav1.GetOptions{})
			if err != nil {
				t.Fatalf("%s: %v", o.Ref, err)
			}
			if u.GetLabels()[LabelAddon] != a.Name {
				t.Errorf("%s is labelled %q, want %s", o.Ref, u.GetLabels()[LabelAddon], a.Name)
			}
			if !slices.ContainsFunc(u.GetManagedFields(), func(f metav1.ManagedFieldsEntry) bool {
				return f.Manager == FieldManager && f.Operation == metav1.ManagedFieldsOperationApply
			}) {
				t.Errorf("%s has no fields applied by %s", o.Ref, FieldManager)
			}
			out[a.Name+": "+o.Ref.String()] = u.GetResourceVersion()
		}
	}
	return out
}

// changedObjects lists, as in actions, the objects whose rendered content
// differs between two sets: what an upgrade from one to the other must
// update, and nothing else.
func changedObjects(t *testing.T, from, to *Set) []string {
	t.Helper()
	index := func(s *Set) map[string]string {
		out := map[string]string{}
		for _, a := range s.Addons {
			objs, err := a.Objects()
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range objs {
				data, _ := o.MarshalJSON()
				ns := o.GetNamespace()
				ref := ObjectRef{Kind: o.GetKind(), Namespace: ns, Name: o.GetName()}
				out[a.Name+": "+ref.String()] = string(data)
			}
		}
		return out
	}
	a, b := index(from), index(to)
	var out []string
	for k, v := range b {
		if old, ok := a[k]; ok && old != v {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

func withAction(m map[string]Action, want Action) []string {
	var out []string
	for k, a := range m {
		if a == want {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// TestApplyBuiltinsIdempotentAndUpgrade applies kapstan's add-ons to a
// real apiserver, applies them again (nothing may change: every
// resourceVersion stays), then moves the cluster to the next minor, whose
// channel release changes images: exactly the objects whose manifest
// changed are updated.
func TestApplyBuiltinsIdempotentAndUpgrade(t *testing.T) {
	st := store.NewMemory("t")
	m := cluster(t, "builtins.example.com", "1.35.4")

	first, firstTook := step(t, st, m)
	if got := withAction(actions(first), Created); len(got) != len(actions(first)) {
		t.Fatalf("first apply did not create everything: %v", actions(first))
	}
	if len(first.Addons) != 5 || !first.Changed() {
		t.Fatalf("first apply: %d add-ons", len(first.Addons))
	}
	before := live(t, first)

	second, secondTook := step(t, st, m)
	if second.Changed() {
		t.Fatalf("second apply changed objects: %v", actions(second))
	}
	if d := cmp.Diff(before, live(t, second)); d != "" {
		t.Fatalf("resourceVersions moved on a second apply (-before +after):\n%s", d)
	}
	t.Logf("first apply %s, second %s (ratio %.2f), %d objects", firstTook, secondTook, float64(secondTook)/float64(firstTook), len(before))

	oldSet, err := Load(context.Background(), st, m.Cluster.Metadata.Name)
	if err != nil {
		t.Fatal(err)
	}
	m.Cluster.Spec.KubernetesVersion = "1.36.3"
	want := changedObjects(t, oldSet, render(t, m, st))
	if len(want) == 0 {
		t.Fatal("the next release changes nothing: the test would prove nothing")
	}
	t.Logf("objects the upgrade changes: %v", want)
	third, _ := step(t, st, m)
	got := actions(third)
	if d := cmp.Diff(want, withAction(got, Updated)); d != "" {
		t.Errorf("updated objects (-want +got):\n%s", d)
	}
	if n := len(withAction(got, Unchanged)); n+len(want) != len(got) {
		t.Errorf("besides the updates, objects were created or pruned: %v", got)
	}
	after := live(t, third)
	for k, rv := range before {
		if moved := after[k] != rv; moved != slices.Contains(want, k) {
			t.Errorf("%s: resourceVersion moved=%v, but the manifest changed=%v", k, moved, !moved)
		}
	}
}

// TestApplyUserAddonPrunes applies a user's add-on from the state store,
// with a CRD and an object of its kind, then a new version of it that
// changes one object, adds one and drops two: the unchanged object keeps
// its resourceVersion, the dropped one is deleted, and a dropped object
// someone else has taken over (label removed) is left alone. Removing the
// add-on from the spec deletes what is left of it.
func TestApplyUserAddonPrunes(t *testing.T) {
	ctx := context.Background()
	st := store.NewMemory("t")
	m := cluster(t, "user.example.com", "1.36.3")
	m.Cluster.Spec.Addons = []api.AddonSpec{{Name: "extras", Manifest: "store:manifests/extras.yaml"}}
	put := func(manifest string) {
		t.Helper()
		if _, err := st.Put(ctx, "manifests/extras.yaml", []byte(manifest), store.Unconditionally()); err != nil {
			t.Fatal(err)
		}
	}
	const crd = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.kapstan.io}
spec:
  group: example.kapstan.io
  scope: Namespaced
  names: {kind: Widget, plural: widgets, singular: widget, listKind: WidgetList}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        x-kubernetes-preserve-unknown-fields: true
---
apiVersion: v1
kind: Namespace
metadata: {name: extras}
---
apiVersion: example.kapstan.io/v1
kind: Widget
metadata: {name: w, namespace: extras}
spec: {size: 3}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: a, namespace: extras}
data: {k: "1"}
`
	put(crd + `---
apiVersion: v1
kind: ConfigMap
metadata: {name: b, namespace: extras}
data: {k: "1"}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: c, namespace: extras}
data: {k: "1"}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: taken, namespace: extras}
data: {k: "1"}
`)
	first, _ := step(t, st, m)
	extras := first.Addons[len(first.Addons)-1]
	if extras.Name != "extras" || extras.Count(Created) != 7 {
		t.Fatalf("first apply of extras: %s", extras.Summary())
	}
	// Someone takes "taken" over: it loses the add-on's label.
	cm, err := kube.Client.CoreV1().ConfigMaps("extras").Get(ctx, "taken", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	delete(cm.Labels, LabelAddon)
	if _, err := kube.Client.CoreV1().ConfigMaps("extras").Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}

	put(crd + `---
apiVersion: v1
kind: ConfigMap
metadata: {name: b, namespace: extras}
data: {k: "2"}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: d, namespace: extras}
data: {k: "1"}
`)
	second, _ := step(t, st, m)
	got := map[string]Action{}
	for k, a := range actions(second) {
		if len(k) > 8 && k[:8] == "extras: " {
			got[k[8:]] = a
		}
	}
	want := map[string]Action{
		"CustomResourceDefinition widgets.example.kapstan.io": Unchanged,
		"Namespace extras":   Unchanged,
		"Widget extras/w":    Unchanged,
		"ConfigMap extras/a": Unchanged,
		"ConfigMap extras/b": Updated,
		"ConfigMap extras/d": Created,
		"ConfigMap extras/c": Pruned,
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("second apply of extras (-want +got):\n%s", d)
	}
	for _, c := range second.Addons[:len(second.Addons)-1] {
		if c.Changed() {
			t.Errorf("%s changed: %s", c.Name, c.Summary())
		}
	}
	if _, err := kube.Client.CoreV1().ConfigMaps("extras").Get(ctx, "c", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("pruned ConfigMap c is still there: %v", err)
	}
	if _, err := kube.Client.CoreV1().ConfigMaps("extras").Get(ctx, "taken", metav1.GetOptions{}); err != nil {
		t.Errorf("the ConfigMap someone took over was deleted: %v", err)
	}

	m.Cluster.Spec.Addons = nil
	third, _ := step(t, st, m)
	gone := third.Addons[len(third.Addons)-1]
	if gone.Name != "extras" || gone.Count(Pruned) != 6 || len(gone.Objects) != 6 {
		t.Fatalf("removing the add-on: %s", gone.Summary())
	}
	for _, name := range []string{"a", "b", "d"} {
		if _, err := kube.Client.CoreV1().ConfigMaps("extras").Get(ctx, name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("ConfigMap %s of the removed add-on: %v", name, err)
		}
	}
	if _, err := st.Get(ctx, appliedKey("user.example.com", "extras")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the removed add-on's record is still there: %v", err)
	}
	if keys, _ := st.List(ctx, Prefix("user.example.com")+"extras/"); len(keys) != 0 {
		t.Errorf("keys of the removed add-on left: %v", keys)
	}
}

// TestAccess finds the cluster's context in a kubeconfig, waits for its
// API, and tells a missing context and an API that does not answer apart.
func TestAccess(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	cfg, err := clientcmd.LoadFromFile(kube.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	// Rename the context as export kubeconfig names it: after the cluster.
	cfg.Contexts["demo.example.com"] = cfg.Contexts[cfg.CurrentContext]
	cfg.Clusters["dead"] = &clientcmdapi.Cluster{Server: "https://127.0.0.1:1", InsecureSkipTLSVerify: true}
	cfg.Contexts["dead.example.com"] = &clientcmdapi.Context{Cluster: "dead", AuthInfo: cfg.Contexts[cfg.CurrentContext].AuthInfo}
	path := filepath.Join(dir, "config")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}

	rc, err := Access{Paths: []string{filepath.Join(dir, "missing"), path}, Context: "demo.example.com"}.RESTConfig()
	if err != nil {
		t.Fatal(err)
	}
	if err := WaitReady(ctx, rc, 10*time.Second, 100*time.Millisecond); err != nil {
		t.Fatalf("live API: %v", err)
	}

	if _, err := (Access{Kubeconfig: path, Context: "other.example.com"}).RESTConfig(); !errors.Is(err, ErrNoContext) {
		t.Fatalf("missing context: got %v", err)
	}

	rc, err = Access{Kubeconfig: path, Context: "dead.example.com"}.RESTConfig()
	if err != nil {
		t.Fatal(err)
	}
	if err := WaitReady(ctx, rc, 300*time.Millisecond, 100*time.Millisecond); !errors.Is(err, ErrUnreachable) {
		t.Fatalf("dead API: got %v", err)
	}
}
