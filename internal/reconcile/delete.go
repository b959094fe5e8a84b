package reconcile

import (
	"context"
	"fmt"
	"slices"
	"strings"

	awscloud "github.com/kapstan/kapstan/internal/cloud/aws"
	"github.com/kapstan/kapstan/internal/engine"
)

// Teardown is what deleting a cluster will do: the resources to delete, in
// a plan that orders them, the shared resources to untag, and what is
// tagged for the cluster but left alone (foreign, or kept).
type Teardown struct {
	Cluster   string
	Region    string
	Discovery *awscloud.Discovery
	Plan      *engine.Plan
	opts      awscloud.DiscoverOptions
	cloud     *awscloud.Cloud
	aws       Options
}

// Empty reports whether the cluster has nothing left in the cloud: nothing
// to delete or untag, and nothing tagged for it that is left alone.
func (t *Teardown) Empty() bool {
	d := t.Discovery
	return len(d.Delete) == 0 && len(d.Untag) == 0 && len(d.Foreign) == 0 && len(d.Unknown) == 0
}

// Discover finds every resource tagged for a cluster in region and decides
// who made each; the spec is not needed. It changes nothing.
func Discover(ctx context.Context, cluster, region string, opts Options, dopts awscloud.DiscoverOptions) (*Teardown, error) {
	cloud := newCloud(cluster, region, opts)
	d, err := cloud.Discover(ctx, dopts)
	if err != nil {
		return nil, fmt.Errorf("finding the resources of cluster %q: %w", cluster, err)
	}
	return &Teardown{Cluster: cluster, Region: region, Discovery: d, Plan: engine.DeletePlan(cluster, d.Delete),
		opts: dopts, cloud: cloud, aws: opts}, nil
}

func newCloud(cluster, region string, opts Options) *awscloud.Cloud {
	cfg := opts.AWS.Copy()
	cfg.Region = region
	return awscloud.New(awscloud.NewClients(cfg), cluster, region)
}

// LeftError is a delete that finished its plan but did not leave the
// cloud clean of the cluster: resources of the cluster are still there
// (or came back), or resources tagged for it that it may not delete are.
type LeftError struct {
	Cluster string
	// Left are the cluster's own resources still there after the delete,
	// each described.
	Left []string
	// Foreign are the resources tagged for the cluster that another tool
	// made, left alone; Kept those left because deleting them alone would
	// be undone (an instance of a surviving Auto Scaling group); Unknown
	// are EC2 ids of kinds kapstan cannot delete.
	Foreign, Kept, Unknown []string
}

func (e *LeftError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "cluster %q is not gone from the cloud", e.Cluster)
	section := func(title string, items []string) {
		if len(items) == 0 {
			return
		}
		fmt.Fprintf(&b, "\n%s:", title)
		for _, it := range items {
			fmt.Fprintf(&b, "\n  * %s", it)
		}
	}
	section("still there after the delete, or back", e.Left)
	section("kept, as deleting them alone would be undone", e.Kept)
	section("tagged for this cluster, made by another tool, not deleted (--include-foreign deletes them)", e.Foreign)
	section("tagged for this cluster, of a kind kapstan does not delete", e.Unknown)
	return b.String()
}

// OnlyForeign reports whether everything left is foreign (or unknown):
// the cluster's own resources are gone.
func (e *LeftError) OnlyForeign() bool { return len(e.Left) == 0 && len(e.Kept) == 0 }

// Delete deletes what Discover found, each resource after those that
// depend on it, in parallel, retrying what AWS says is still in use until
// ctx ends; then it removes the cluster's tags from the shared resources.
// Nothing shared or foreign is deleted unless Discover was told to include
// foreign resources.
//
// Then it looks again: anything of the cluster still there, or come back
// (an instance a surviving group relaunched), and anything foreign or kept
// that was left, is a *LeftError naming each. A delete never reports
// success while something tagged for the cluster remains.
func Delete(ctx context.Context, t *Teardown, opts engine.ApplyOptions) error {
	if err := engine.Apply(ctx, t.cloud, t.Plan, opts); err != nil {
		return err
	}
	if err := t.cloud.Untag(ctx, t.Discovery.Untag); err != nil {
		return err
	}
	after, err := newCloud(t.Cluster, t.Region, t.aws).Discover(ctx, t.opts)
	if err != nil {
		return fmt.Errorf("looking again for the resources of cluster %q: %w", t.Cluster, err)
	}
	return leftAfter(t.Cluster, after)
}

// leftAfter turns what a discovery after the delete finds into an error,
// or nil when nothing tagged for the cluster is left but shared
// resources, whose tags are the user's to keep (Untag removed the
// cluster's).
func leftAfter(cluster string, d *awscloud.Discovery) error {
	e := &LeftError{Cluster: cluster, Unknown: d.Unknown}
	for _, r := range d.Delete {
		e.Left = append(e.Left, describe(d, r))
	}
	for _, r := range d.Foreign {
		if why, ok := d.Kept[r.Address()]; ok {
			e.Kept = append(e.Kept, describe(d, r)+": "+why)
			continue
		}
		e.Foreign = append(e.Foreign, describe(d, r))
	}
	if len(e.Left)+len(e.Foreign)+len(e.Kept)+len(e.Unknown) == 0 {
		return nil
	}
	slices.Sort(e.Left)
	slices.Sort(e.Foreign)
	slices.Sort(e.Kept)
	return e
}

// describe names a discovered resource: kind, id, who made it.
func describe(d *awscloud.Discovery, r engine.Resource) string {
	s := r.Address().String()
	if id, ok := r.(engine.Identified); ok && id.CloudID() != "" && id.CloudID() != r.Address().Name {
		s += " " + id.CloudID()
	}
	if why := d.Why(r); why != "" {
		s += " (" + why + ")"
	}
	return s
}

// DeleteInstanceGroup deletes the Auto Scaling group and launch template
// of an instance group that is no longer in the spec; other resources it
// shared with the cluster stay.
func DeleteInstanceGroup(ctx context.Context, cluster, region, group string, opts Options, apply engine.ApplyOptions) (int, error) {
	cloud := newCloud(cluster, region, opts)
	found, err := cloud.OwnedAt(ctx,
		engine.Address{Kind: awscloud.KindAutoScalingGroup, Name: group},
		engine.Address{Kind: awscloud.KindLaunchTemplate, Name: group})
	if err != nil {
		return 0, fmt.Errorf("finding instance group %s in the cloud: %w", group, err)
	}
	if len(found) == 0 {
		return 0, nil
	}
	return len(found), engine.Apply(ctx, cloud, engine.DeletePlan(cluster, found), apply)
}
