package reconcile

import (
	"context"
	"fmt"

	awscloud "github.com/kapstan/kapstan/internal/cloud/aws"
	"github.com/kapstan/kapstan/internal/engine"
)

// Teardown is what deleting a cluster will do: the resources to delete, in
// a plan that orders them, and the shared resources to untag.
type Teardown struct {
	Cluster   string
	Discovery *awscloud.Discovery
	Plan      *engine.Plan
	cloud     *awscloud.Cloud
}

// Empty reports whether the cluster has nothing left in the cloud.
func (t *Teardown) Empty() bool {
	return len(t.Discovery.Delete) == 0 && len(t.Discovery.Untag) == 0
}

// Discover finds every resource of a cluster in region by its tags; the
// spec is not needed. It changes nothing.
func Discover(ctx context.Context, cluster, region string, opts Options) (*Teardown, error) {
	cfg := opts.AWS.Copy()
	cfg.Region = region
	cloud := awscloud.New(awscloud.NewClients(cfg), cluster, region)
	d, err := cloud.Discover(ctx)
	if err != nil {
		return nil, fmt.Errorf("finding the resources of cluster %q: %w", cluster, err)
	}
	return &Teardown{Cluster: cluster, Discovery: d, Plan: engine.DeletePlan(cluster, d.Delete), cloud: cloud}, nil
}

// Delete deletes what Discover found, each resource after those that
// depend on it, in parallel, retrying what AWS says is still in use until
// ctx ends; then it removes the cluster's tags from the shared resources.
// Nothing untagged or foreign is ever deleted: only what Discover found.
func Delete(ctx context.Context, t *Teardown, opts engine.ApplyOptions) error {
	if err := engine.Apply(ctx, t.cloud, t.Plan, opts); err != nil {
		return err
	}
	return t.cloud.Untag(ctx, t.Discovery.Untag)
}

// DeleteInstanceGroup deletes the Auto Scaling group and launch template
// of an instance group that is no longer in the spec; other resources it
// shared with the cluster stay.
func DeleteInstanceGroup(ctx context.Context, cluster, region, group string, opts Options, apply engine.ApplyOptions) (int, error) {
	cfg := opts.AWS.Copy()
	cfg.Region = region
	cloud := awscloud.New(awscloud.NewClients(cfg), cluster, region)
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
