package reconcile

import (
	"context"
	"errors"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"

	awscloud "github.com/kapstan/kapstan/internal/cloud/aws"
	"github.com/kapstan/kapstan/internal/kube"
)

// InstanceGroups is the cloud side of validate and rolling-update for a
// cluster in region: its Auto Scaling groups and their instances.
func InstanceGroups(cfg aws.Config, cluster, region string) kube.Cloud {
	cfg = cfg.Copy()
	cfg.Region = region
	c := awscloud.New(awscloud.NewClients(cfg), cluster, region)
	return &groupsCloud{c: c, r: awscloud.NewGroupReader(c)}
}

// groupsCloud adapts the AWS cloud to kube.Cloud.
type groupsCloud struct {
	c *awscloud.Cloud
	r *awscloud.GroupReader
}

var _ kube.Cloud = (*groupsCloud)(nil)

func (g *groupsCloud) Groups(ctx context.Context) ([]kube.Group, error) {
	states, err := g.r.InstanceGroups(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]kube.Group, len(states))
	for i, s := range states {
		out[i] = kube.Group{
			Name: s.InstanceGroup, CloudName: s.GroupName,
			Min: int(s.Min), Max: int(s.Max), Desired: int(s.Desired),
			LaunchTemplateVersion: s.LaunchTemplateVersion,
			Instances:             instances(s.Instances),
			Detached:              instances(s.Detached),
		}
	}
	return out, nil
}

func instances(in []awscloud.InstanceState) []kube.Instance {
	var out []kube.Instance
	for _, s := range in {
		out = append(out, kube.Instance{ID: s.ID, Zone: s.Zone, NodeName: s.PrivateDNSName, LaunchTemplateVersion: s.LaunchTemplateVersion})
	}
	return out
}

func (g *groupsCloud) Mark(ctx context.Context, grp *kube.Group, ids []string) error {
	return g.c.MarkForReplacement(ctx, grp.CloudName, ids)
}

func (g *groupsCloud) Detach(ctx context.Context, grp *kube.Group, ids []string) error {
	return g.c.DetachInstances(ctx, grp.CloudName, ids)
}

func (g *groupsCloud) Terminate(ctx context.Context, grp *kube.Group, ids []string, detached bool) error {
	if detached {
		return g.c.TerminateInstances(ctx, ids)
	}
	var wg sync.WaitGroup
	errs := make([]error, len(ids))
	for i, id := range ids {
		wg.Go(func() { errs[i] = g.c.TerminateGroupInstance(ctx, grp.CloudName, id) })
	}
	wg.Wait()
	return errors.Join(errs...)
}
