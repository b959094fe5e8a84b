package reconcile

import (
	"context"
	"fmt"
	"maps"
	"path/filepath"
	"slices"

	"github.com/kapstan/kapstan/internal/model"
	"github.com/kapstan/kapstan/internal/registry"
	"github.com/kapstan/kapstan/internal/render"
	api "github.com/kapstan/kapstan/pkg/apis/kapstan/v1alpha1"
)

// RenderOptions are what rendering needs besides the spec. There is no AWS
// configuration: rendering never talks to AWS.
type RenderOptions struct {
	// StateStore is the store's URL, which nodes read from.
	StateStore string
	// AgentURL is where nodes download the node agent, and AgentSHA256
	// its hex SHA-256, from the cluster's asset mirror (see
	// mirror.Agent); every node's boot script needs both.
	AgentURL    string
	AgentSHA256 string
	// Force renders for a target other than the one the cluster is
	// marked for.
	Force bool
}

// Rendered says what Render wrote.
type Rendered struct {
	Cluster  string        `json:"cluster"`
	Target   render.Target `json:"target"`
	Revision int           `json:"revision"`
	// Dir is the absolute output folder; Files are relative to it.
	Dir   string   `json:"dir"`
	Files []string `json:"files"`
	// Resources counts the cluster's resources rendered (shared ones
	// included, though they render as ids).
	Resources int `json:"resources"`
}

// RenderFiles builds the cluster's resources from the spec alone, with no
// cloud facts (images stay as the spec writes them, for Terraform or
// CloudFormation to resolve), and renders them for target. It does no IO:
// benchmarks and tests call it directly. It returns the files by relative
// path and the number of resources.
func RenderFiles(m *api.Manifests, revision int, target render.Target, opts RenderOptions) (map[string][]byte, int, error) {
	c := m.Cluster
	if c == nil {
		return nil, 0, fmt.Errorf("rendering: the manifests hold no Cluster")
	}
	desired, err := model.Build(m, model.Options{StateStore: opts.StateStore, AgentURL: opts.AgentURL, AgentSHA256: opts.AgentSHA256})
	if err != nil {
		return nil, 0, err
	}
	files, err := render.Files(target, desired, render.Options{Cluster: c.Metadata.Name, Region: c.Spec.Region, Revision: revision})
	if err != nil {
		return nil, 0, fmt.Errorf("rendering cluster %q for %s: %w", c.Metadata.Name, target, err)
	}
	return files, len(desired), nil
}

// Render writes the snapshot's resources as files for target into outDir
// and marks the cluster in the store as managed by that target, so that a
// later direct apply refuses (see CheckDirect). Switching a marked cluster
// to another file target needs opts.Force. No AWS configuration is loaded
// and no network call is made, beyond the state store's.
func Render(ctx context.Context, reg *registry.Registry, snap *registry.Snapshot, target render.Target, outDir string, opts RenderOptions) (*Rendered, error) {
	if !target.Files() {
		return nil, fmt.Errorf("target %q renders no files", target)
	}
	name := snap.Manifests.Cluster.Metadata.Name
	mark, err := reg.Target(ctx, name)
	if err != nil {
		return nil, err
	}
	if mark != nil && mark.Target != string(target) && !opts.Force {
		return nil, fmt.Errorf("cluster %s is managed by %s (files in %s, rendered from revision %d); rendering it for %s too would manage its resources twice; use --force to switch",
			name, mark.Target, mark.Out, mark.Revision, target)
	}
	files, n, err := RenderFiles(snap.Manifests, snap.Revision, target, opts)
	if err != nil {
		return nil, err
	}
	// The instances Terraform or CloudFormation launch read their keys and
	// node configuration from the store, as directly applied ones do. The
	// load balancer's name is not known offline; a .k8s.local cluster
	// needs it written later (an update once the stack exists).
	if err := PrepareNodes(ctx, reg.Store(), snap.Manifests, ""); err != nil {
		return nil, err
	}
	dir, err := filepath.Abs(outDir)
	if err != nil {
		return nil, fmt.Errorf("output folder %s: %w", outDir, err)
	}
	if err := render.WriteDir(dir, files); err != nil {
		return nil, err
	}
	if err := reg.SetTarget(ctx, name, registry.TargetMark{Target: string(target), Revision: snap.Revision, Out: dir}); err != nil {
		return nil, err
	}
	return &Rendered{Cluster: name, Target: target, Revision: snap.Revision, Dir: dir,
		Files: slices.Sorted(maps.Keys(files)), Resources: n}, nil
}

// ManagedElsewhereError refuses a direct apply of a cluster whose
// resources another tool manages.
type ManagedElsewhereError struct {
	Cluster string
	Mark    registry.TargetMark
}

func (e *ManagedElsewhereError) Error() string {
	use := "terraform apply"
	if e.Mark.Target == string(render.CloudFormation) {
		use = "aws cloudformation deploy"
	}
	return fmt.Sprintf("cluster %s is managed by %s (files in %s, rendered from revision %d); use %s, or --force to apply directly",
		e.Cluster, e.Mark.Target, e.Mark.Out, e.Mark.Revision, use)
}

// CheckDirect returns a *ManagedElsewhereError when the cluster is marked
// as managed by a file target, unless force is set. It returns the mark,
// if any, so the caller can say it was overridden.
func CheckDirect(ctx context.Context, reg *registry.Registry, name string, force bool) (*registry.TargetMark, error) {
	mark, err := reg.Target(ctx, name)
	if err != nil || mark == nil {
		return nil, err
	}
	if !force {
		return mark, &ManagedElsewhereError{Cluster: name, Mark: *mark}
	}
	return mark, nil
}
