package addons

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

// LabelAddon is the label every applied object carries: the add-on's name.
const LabelAddon = "kapstan.io/addon"

// ObjectRef names one applied object.
type ObjectRef struct {
	Group     string `json:"group,omitempty"`
	Version   string `json:"version"`
	Kind      string `json:"kind"`
	Resource  string `json:"resource"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
}

// id identifies the object whatever its API version.
func (r ObjectRef) id() string { return r.Group + "/" + r.Kind + "/" + r.Namespace + "/" + r.Name }

// String is e.g. "Deployment kube-system/coredns".
func (r ObjectRef) String() string {
	if r.Namespace == "" {
		return r.Kind + " " + r.Name
	}
	return r.Kind + " " + r.Namespace + "/" + r.Name
}

func (r ObjectRef) gvr() schema.GroupVersionResource {
	return schema.GroupVersionResource{Group: r.Group, Version: r.Version, Resource: r.Resource}
}

// Objects decodes the add-on's manifest. Empty documents are skipped;
// every other must have apiVersion, kind and metadata.name, and no object
// may appear twice.
func (a *Addon) Objects() ([]*unstructured.Unstructured, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(a.Manifest), 4096)
	var out []*unstructured.Unstructured
	seen := map[string]bool{}
	for i := 1; ; i++ {
		var m map[string]any
		err := dec.Decode(&m)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("add-on %s, document %d: %w", a.Name, i, err)
		}
		if len(m) == 0 {
			continue
		}
		u := &unstructured.Unstructured{Object: m}
		gvk := u.GroupVersionKind()
		switch {
		case gvk.Version == "" || gvk.Kind == "":
			return nil, fmt.Errorf("add-on %s, document %d: no apiVersion or kind", a.Name, i)
		case u.GetName() == "":
			return nil, fmt.Errorf("add-on %s, document %d (%s): no metadata.name", a.Name, i, gvk.Kind)
		}
		id := gvk.Group + "/" + gvk.Kind + "/" + u.GetNamespace() + "/" + u.GetName()
		if seen[id] {
			return nil, fmt.Errorf("add-on %s, document %d: %s %s appears twice", a.Name, i, gvk.Kind, u.GetName())
		}
		seen[id] = true
		out = append(out, u)
	}
	slices.SortStableFunc(out, func(x, y *unstructured.Unstructured) int {
		return kindRank(x.GetKind()) - kindRank(y.GetKind())
	})
	return out, nil
}

// applyOrder puts what other objects need first: definitions, namespaces,
// identities and permissions, configuration; workloads come last.
var applyOrder = []string{
	"CustomResourceDefinition", "Namespace", "PriorityClass", "ServiceAccount",
	"ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding",
	"ConfigMap", "Secret", "CSIDriver", "StorageClass", "Service",
}

func kindRank(kind string) int {
	if i := slices.Index(applyOrder, kind); i >= 0 {
		return i
	}
	return len(applyOrder)
}
