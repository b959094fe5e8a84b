package addons

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"

	"github.com/kapstan/kapstan/internal/store"
)

// FieldManager is the server-side apply field manager of every object
// kapstan applies.
const FieldManager = "kapstan"

// crdWait bounds how long a kind defined by a CustomResourceDefinition
// applied just before may take to be served.
const crdWait = 30 * time.Second

// Client applies objects to one cluster.
type Client struct {
	dyn    dynamic.Interface
	mapper *restmapper.DeferredDiscoveryRESTMapper
	now    func() time.Time
}

// NewClient makes a client for the cluster cfg points at. It makes no
// request until used.
func NewClient(cfg *rest.Config) (*Client, error) {
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	return &Client{dyn: dyn, mapper: restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc)), now: time.Now}, nil
}

// Action is what an apply did to one object.
type Action string

// Actions.
const (
	Created   Action = "created"
	Updated   Action = "updated"
	Unchanged Action = "unchanged"
	Pruned    Action = "pruned"
)

// ObjectResult is one object's outcome.
type ObjectResult struct {
	Ref    ObjectRef `json:"ref"`
	Action Action    `json:"action"`
}

// AddonResult is what applying one add-on did.
type AddonResult struct {
	Name    string         `json:"name"`
	Version string         `json:"version,omitempty"`
	Objects []ObjectResult `json:"objects"`
}

// Count is how many objects got action a.
func (r *AddonResult) Count(a Action) int {
	n := 0
	for _, o := range r.Objects {
		if o.Action == a {
			n++
		}
	}
	return n
}

// Changed reports whether the apply changed any object of the add-on.
func (r *AddonResult) Changed() bool { return r.Count(Unchanged) != len(r.Objects) }

// Summary is e.g. "coredns 1.12.1: 1 updated, 5 unchanged".
func (r *AddonResult) Summary() string {
	var parts []string
	for _, a := range []Action{Created, Updated, Pruned, Unchanged} {
		if n := r.Count(a); n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, a))
		}
	}
	name := r.Name
	if r.Version != "" {
		name += " " + r.Version
	}
	if len(parts) == 0 {
		return name + ": no objects"
	}
	return name + ": " + strings.Join(parts, ", ")
}

// Result is what Apply did, add-on by add-on.
type Result struct {
	Addons []*AddonResult `json:"addons"`
}

// Changed reports whether any object was created, updated or deleted.
func (r *Result) Changed() bool {
	return slices.ContainsFunc(r.Addons, (*AddonResult).Changed)
}

// Apply applies the add-ons stored for cluster (see Write), in order, and
// deletes the objects a previous apply made that they no longer hold, and
// those of add-ons no longer in the set. An object is only deleted while it
// still carries the add-on's label. Applying the same add-ons again changes
// nothing.
func (c *Client) Apply(ctx context.Context, st store.Store, cluster string) (*Result, error) {
	set, err := Load(ctx, st, cluster)
	if err != nil {
		return nil, err
	}
	records, err := readRecords(ctx, st, cluster)
	if err != nil {
		return nil, err
	}
	res := &Result{}
	for _, a := range set.Addons {
		r, err := c.applyAddon(ctx, st, cluster, a, records[a.Name])
		if r != nil {
			res.Addons = append(res.Addons, r)
		}
		if err != nil {
			return res, err
		}
	}
	// Add-ons dropped from the set: delete all they made, newest kinds
	// first, then forget them.
	var gone []string
	for name := range records {
		if !slices.Contains(set.Names(), name) {
			gone = append(gone, name)
		}
	}
	slices.Sort(gone)
	for _, name := range gone {
		r := &AddonResult{Name: name}
		res.Addons = append(res.Addons, r)
		if err := c.prune(ctx, name, records[name].Objects, nil, r); err != nil {
			return res, err
		}
		if err := st.Delete(ctx, appliedKey(cluster, name), store.Unconditionally()); err != nil {
			return res, fmt.Errorf("forgetting add-on %s: %w", name, err)
		}
	}
	return res, nil
}

// applyAddon applies one add-on and prunes what its previous apply made
// that it no longer holds. The record written afterwards names exactly
// what the add-on has in the cluster; after a failure it also keeps the
// previous objects, so a later apply still prunes them.
func (c *Client) applyAddon(ctx context.Context, st store.Store, cluster string, a *Addon, prev *record) (*AddonResult, error) {
	objs, err := a.Objects()
	if err != nil {
		return nil, err
	}
	r := &AddonResult{Name: a.Name, Version: a.Version}
	var applied []ObjectRef
	fail := func(err error) (*AddonResult, error) {
		rec := &record{Hash: a.Hash(), Version: a.Version, Applied: c.now().UTC(), Objects: applied}
		if prev != nil {
			rec.Objects = mergeRefs(prev.Objects, applied)
		}
		if werr := writeRecord(ctx, st, cluster, a.Name, rec); werr != nil {
			err = errors.Join(err, werr)
		}
		return r, fmt.Errorf("add-on %s: %w", a.Name, err)
	}
	for _, obj := range objs {
		ref, action, err := c.applyObject(ctx, a.Name, obj)
		if err != nil {
			return fail(err)
		}
		applied = append(applied, ref)
		r.Objects = append(r.Objects, ObjectResult{Ref: ref, Action: action})
	}
	if prev != nil {
		if err := c.prune(ctx, a.Name, prev.Objects, applied, r); err != nil {
			return fail(err)
		}
	}
	if err := writeRecord(ctx, st, cluster, a.Name, &record{Version: a.Version, Hash: a.Hash(), Applied: c.now().UTC(), Objects: applied}); err != nil {
		return r, err
	}
	return r, nil
}

// mergeRefs is a then the refs of b not in a.
func mergeRefs(a, b []ObjectRef) []ObjectRef {
	out := slices.Clone(a)
	for _, ref := range b {
		if !slices.ContainsFunc(out, func(x ObjectRef) bool { return x.id() == ref.id() }) {
			out = append(out, ref)
		}
	}
	return out
}

// applyObject server-side applies one object, labelled with its add-on,
// and says whether that created, changed or left it. The apiserver keeps
// an object's resourceVersion when an apply changes nothing, so comparing
// it before and after tells.
func (c *Client) applyObject(ctx context.Context, addon string, obj *unstructured.Unstructured) (ObjectRef, Action, error) {
	obj = obj.DeepCopy()
	labels := obj.GetLabels()
	if labels == nil {
		labels = map[string]string{}
	}
	labels[LabelAddon] = addon
	obj.SetLabels(labels)
	gvk := obj.GroupVersionKind()
	mapping, err := c.mapping(ctx, obj)
	if err != nil {
		return ObjectRef{}, "", err
	}
	ref := ObjectRef{Group: gvk.Group, Version: gvk.Version, Kind: gvk.Kind, Resource: mapping.Resource.Resource, Name: obj.GetName()}
	var ri dynamic.ResourceInterface = c.dyn.Resource(mapping.Resource)
	if mapping.Scope.Name() == meta.RESTScopeNameNamespace {
		if obj.GetNamespace() == "" {
			obj.SetNamespace(metav1.NamespaceDefault)
		}
		ref.Namespace = obj.GetNamespace()
		ri = c.dyn.Resource(mapping.Resource).Namespace(ref.Namespace)
	} else {
		obj.SetNamespace("")
	}
	before, err := ri.Get(ctx, ref.Name, metav1.GetOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return ref, "", fmt.Errorf("%s: %w", ref, err)
	}
	existed := err == nil
	after, err := ri.Apply(ctx, ref.Name, obj, metav1.ApplyOptions{FieldManager: FieldManager, Force: true})
	if err != nil {
		return ref, "", fmt.Errorf("applying %s: %w", ref, err)
	}
	switch {
	case !existed:
		return ref, Created, nil
	case before.GetResourceVersion() == after.GetResourceVersion():
		return ref, Unchanged, nil
	default:
		return ref, Updated, nil
	}
}

// mapping finds the resource of obj's kind. A kind a CustomResourceDefinition
// of the same apply defines is served a moment after the definition is
// created, so a kind not found is looked up again, with fresh discovery,
// for a while.
func (c *Client) mapping(ctx context.Context, obj *unstructured.Unstructured) (*meta.RESTMapping, error) {
	gvk := obj.GroupVersionKind()
	m, err := c.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err == nil || !meta.IsNoMatchError(err) {
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", gvk.Kind, obj.GetName(), err)
		}
		return m, nil
	}
	werr := wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, crdWait, true, func(context.Context) (bool, error) {
		c.mapper.Reset()
		m, err = c.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil && !meta.IsNoMatchError(err) {
			return false, err
		}
		return err == nil, nil
	})
	if werr != nil {
		return nil, fmt.Errorf("%s %s: the cluster does not serve %s (%v)", gvk.Kind, obj.GetName(), gvk.GroupVersion(), err)
	}
	return m, nil
}

// prune deletes the objects of prev that keep is without, workloads
// before what they use, and adds them to r.
func (c *Client) prune(ctx context.Context, addon string, prev, keep []ObjectRef, r *AddonResult) error {
	var doomed []ObjectRef
	for _, ref := range prev {
		if !slices.ContainsFunc(keep, func(k ObjectRef) bool { return k.id() == ref.id() }) {
			doomed = append(doomed, ref)
		}
	}
	slices.SortStableFunc(doomed, func(x, y ObjectRef) int { return kindRank(y.Kind) - kindRank(x.Kind) })
	for _, ref := range doomed {
		deleted, err := c.deleteObject(ctx, addon, ref)
		if err != nil {
			return err
		}
		if deleted {
			r.Objects = append(r.Objects, ObjectResult{Ref: ref, Action: Pruned})
		}
	}
	return nil
}

// deleteObject deletes one object if it still exists and still belongs to
// the add-on; the UID precondition makes sure it is the one just read.
func (c *Client) deleteObject(ctx context.Context, addon string, ref ObjectRef) (bool, error) {
	var ri dynamic.ResourceInterface = c.dyn.Resource(ref.gvr())
	if ref.Namespace != "" {
		ri = c.dyn.Resource(ref.gvr()).Namespace(ref.Namespace)
	}
	live, err := ri.Get(ctx, ref.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("pruning %s: %w", ref, err)
	}
	if live.GetLabels()[LabelAddon] != addon {
		return false, nil // someone took it over; it is not ours to delete
	}
	uid := live.GetUID()
	policy := metav1.DeletePropagationBackground
	err = ri.Delete(ctx, ref.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}, PropagationPolicy: &policy})
	if err != nil && !apierrors.IsNotFound(err) {
		return false, fmt.Errorf("pruning %s: %w", ref, err)
	}
	return err == nil, nil
}
