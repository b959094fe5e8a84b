package cloudformation

import (
	"fmt"

	"github.com/kapstan/kapstan/internal/engine"
)

// MainFile is the template's file name.
const MainFile = "kubernetes.json"

// Options say what the template is for.
type Options struct {
	Cluster string
	Region  string
	// Revision is the spec revision rendered, written in the description.
	Revision int
}

// Render renders resources as one template, MainFile. Every resource must
// implement Renderable.
func Render(resources []engine.Resource, opts Options) (map[string][]byte, error) {
	t := newTemplate(opts)
	addrs := make([]engine.Address, 0, len(resources))
	for _, r := range resources {
		addrs = append(addrs, r.Address())
		if e, ok := r.(Existing); ok && e.ExistingID() != "" {
			t.Existing(r.Address(), e.ExistingID())
		}
	}
	t.nameAll(addrs)
	for _, r := range resources {
		rr, ok := r.(Renderable)
		if !ok {
			return nil, fmt.Errorf("%s: %T cannot be rendered to CloudFormation", r.Address(), r)
		}
		t.current = r.Address()
		if err := rr.RenderCloudFormation(t); err != nil {
			return nil, fmt.Errorf("%s: %w", r.Address(), err)
		}
	}
	t.current = engine.Address{}
	data, err := t.bytes()
	if err != nil {
		return nil, err
	}
	return map[string][]byte{MainFile: data}, nil
}
