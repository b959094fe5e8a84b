package aws

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// Tags that validate and rolling-update read or write on instances.
const (
	// TagInstanceGroup names an instance's instance group; the model puts
	// it in every launch template's instance tags.
	TagInstanceGroup = "kapstan.io/instancegroup"
	// TagDetached marks an instance that rolling-update will replace
	// (value: its Auto Scaling group's name). It detaches such instances so
	// that the group launches their replacements first; outside the group
	// an instance would otherwise be forgotten, and the tag is how a later
	// batch, or the next run after an interrupted one, finds it again,
	// drains it and terminates it.
	TagDetached = "kapstan.io/detached"
	// tagTemplateVersion is set by EC2 on every instance launched from a
	// launch template: the version it was launched with.
	tagTemplateVersion = "aws:ec2launchtemplate:version"
	tagTemplateID      = "aws:ec2launchtemplate:id"
)

// rollingAPI is the calls of validate and rolling-update.
type rollingAPI interface {
	DescribeAutoScalingGroups(ctx context.Context, params *autoscaling.DescribeAutoScalingGroupsInput, optFns ...func(*autoscaling.Options)) (*autoscaling.DescribeAutoScalingGroupsOutput, error)
	DetachInstances(ctx context.Context, params *autoscaling.DetachInstancesInput, optFns ...func(*autoscaling.Options)) (*autoscaling.DetachInstancesOutput, error)
	TerminateInstanceInAutoScalingGroup(ctx context.Context, params *autoscaling.TerminateInstanceInAutoScalingGroupInput, optFns ...func(*autoscaling.Options)) (*autoscaling.TerminateInstanceInAutoScalingGroupOutput, error)
}

// GroupState is an instance group's Auto Scaling group as it is now, with
// its instances.
type GroupState struct {
	// InstanceGroup is the kapstan instance group; GroupName the Auto
	// Scaling group's AWS name.
	InstanceGroup string
	GroupName     string
	Min, Max      int32
	Desired       int32
	// LaunchTemplateVersion is the version the group launches now, as a
	// number ("$Latest" and "$Default" resolved).
	LaunchTemplateVersion string
	// Instances are the group's members, and Detached the instances
	// rolling-update detached from it that still run.
	Instances []InstanceState
	Detached  []InstanceState
}

// InstanceState is one instance of a group.
type InstanceState struct {
	ID   string
	Zone string
	// PrivateDNSName is the name its Node registers with.
	PrivateDNSName string
	// State is EC2's (pending, running, ...) when the instance was first read.
	State string
	// Lifecycle is Auto Scaling's (Pending, InService, Terminating, ...);
	// "" for a detached instance.
	Lifecycle string
	// LaunchTemplateVersion is the version the instance was launched with.
	LaunchTemplateVersion string

	detachedFrom string // the TagDetached value
}

// GroupReader reads a cluster's Auto Scaling groups and their instances
// again and again, as validate and rolling-update poll them. What never
// changes about an instance (its zone, DNS name, launch-template version)
// is read once and remembered, so a poll costs one DescribeAutoScalingGroups
// and one small DescribeInstances for detached instances, plus one for
// instances not seen before.
type GroupReader struct {
	c     *Cloud
	mu    sync.Mutex
	known map[string]InstanceState
}

// NewGroupReader makes a GroupReader for c's cluster.
func NewGroupReader(c *Cloud) *GroupReader {
	return &GroupReader{c: c, known: map[string]InstanceState{}}
}

// InstanceGroups reads every Auto Scaling group of the cluster, with its
// members and the instances rolling-update detached from it.
//
// An instance's launch-template version comes from the tag EC2 puts on it
// (aws:ec2launchtemplate:version), not from DescribeAutoScalingGroups'
// Instances[].LaunchTemplate.Version. On AWS the two agree; moto reports
// there the template's current default version for every instance, which
// would hide every instance that needs replacing.
func (r *GroupReader) InstanceGroups(ctx context.Context) ([]GroupState, error) {
	var groups []GroupState
	var detached []InstanceState
	var asgErr, detErr error
	var wg sync.WaitGroup
	wg.Go(func() { groups, asgErr = r.autoScalingGroups(ctx) })
	wg.Go(func() { detached, detErr = r.describe(ctx, nil, true) })
	wg.Wait()
	if err := errors.Join(asgErr, detErr); err != nil {
		return nil, err
	}
	byName := map[string]int{}
	for i, g := range groups {
		byName[g.GroupName] = i
	}
	var unknown []string
	r.mu.Lock()
	for _, g := range groups {
		for _, m := range g.Instances {
			if _, ok := r.known[m.ID]; !ok {
				unknown = append(unknown, m.ID)
			}
		}
	}
	r.mu.Unlock()
	if len(unknown) > 0 {
		if _, err := r.describe(ctx, unknown, false); err != nil {
			return nil, err
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for gi := range groups {
		g := &groups[gi]
		kept := g.Instances[:0]
		for _, m := range g.Instances {
			d, ok := r.known[m.ID]
			if !ok {
				continue // terminated since the group was read
			}
			d.Lifecycle = m.Lifecycle
			if d.Zone == "" {
				d.Zone = m.Zone
			}
			kept = append(kept, d)
		}
		g.Instances = kept
		slices.SortFunc(g.Instances, func(a, b InstanceState) int { return strings.Compare(a.ID, b.ID) })
	}
	for _, d := range detached {
		i, ok := byName[d.detachedFrom]
		if !ok {
			continue
		}
		g := &groups[i]
		// AWS may list a detaching instance as a member for a moment:
		// then it is a member.
		if !slices.ContainsFunc(g.Instances, func(m InstanceState) bool { return m.ID == d.ID }) {
			g.Detached = append(g.Detached, d)
		}
	}
	for gi := range groups {
		slices.SortFunc(groups[gi].Detached, func(a, b InstanceState) int { return strings.Compare(a.ID, b.ID) })
	}
	slices.SortFunc(groups, func(a, b GroupState) int { return strings.Compare(a.InstanceGroup, b.InstanceGroup) })
	return groups, nil
}

// autoScalingGroups reads the cluster's groups and their members' IDs.
func (r *GroupReader) autoScalingGroups(ctx context.Context) ([]GroupState, error) {
	c := r.c
	var groups []GroupState
	p := autoscaling.NewDescribeAutoScalingGroupsPaginator(c.AutoScaling, &autoscaling.DescribeAutoScalingGroupsInput{
		Filters: []astypes.Filter{{Name: aws.String("tag:" + TagKubernetesCluster), Values: []string{c.Cluster}}},
	})
	templates := map[string]string{} // group name → template id, when its version must be resolved
	byName := map[string]int{}
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("listing auto scaling groups of %s: %w", c.Cluster, err)
		}
		for _, g := range page.AutoScalingGroups {
			tags := map[string]string{}
			for _, t := range g.Tags {
				tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
			}
			if tags[TagKubernetesCluster] != c.Cluster || tags[TagInstanceGroup] == "" {
				continue
			}
			gs := GroupState{
				InstanceGroup: tags[TagInstanceGroup], GroupName: aws.ToString(g.AutoScalingGroupName),
				Min: aws.ToInt32(g.MinSize), Max: aws.ToInt32(g.MaxSize), Desired: aws.ToInt32(g.DesiredCapacity),
			}
			if spec := groupTemplate(g); spec != nil {
				gs.LaunchTemplateVersion = aws.ToString(spec.Version)
				if _, err := strconv.Atoi(gs.LaunchTemplateVersion); err != nil {
					templates[gs.GroupName] = aws.ToString(spec.LaunchTemplateId)
				}
			}
			for _, in := range g.Instances {
				gs.Instances = append(gs.Instances, InstanceState{ID: aws.ToString(in.InstanceId),
					Zone: aws.ToString(in.AvailabilityZone), Lifecycle: string(in.LifecycleState)})
			}
			byName[gs.GroupName] = len(groups)
			groups = append(groups, gs)
		}
	}
	if err := c.resolveVersions(ctx, groups, byName, templates); err != nil {
		return nil, err
	}
	return groups, nil
}

// describe reads instances: those with ids (remembering them), or, with
// detached, the cluster's live instances that rolling-update detached.
func (r *GroupReader) describe(ctx context.Context, ids []string, detached bool) ([]InstanceState, error) {
	in := &ec2.DescribeInstancesInput{Filters: []ec2types.Filter{
		{Name: aws.String("tag:" + TagKubernetesCluster), Values: []string{r.c.Cluster}},
		{Name: aws.String("instance-state-name"), Values: []string{"pending", "running", "stopping", "stopped"}},
	}}
	if detached {
		in.Filters = append(in.Filters, ec2types.Filter{Name: aws.String("tag-key"), Values: []string{TagDetached}})
	} else {
		in.InstanceIds = ids
	}
	var out []InstanceState
	p := ec2.NewDescribeInstancesPaginator(r.c.EC2, in)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			if !detached && isNotFound(err) {
				return nil, nil // one of them was terminated meanwhile: read it next time
			}
			return nil, fmt.Errorf("listing instances of %s: %w", r.c.Cluster, err)
		}
		for _, res := range page.Reservations {
			for _, inst := range res.Instances {
				tags := map[string]string{}
				for _, t := range inst.Tags {
					tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
				}
				st := InstanceState{
					ID: aws.ToString(inst.InstanceId), PrivateDNSName: aws.ToString(inst.PrivateDnsName),
					LaunchTemplateVersion: tags[tagTemplateVersion], detachedFrom: tags[TagDetached],
				}
				if inst.Placement != nil {
					st.Zone = aws.ToString(inst.Placement.AvailabilityZone)
				}
				if inst.State != nil {
					st.State = string(inst.State.Name)
				}
				out = append(out, st)
			}
		}
	}
	if !detached {
		r.mu.Lock()
		for _, st := range out {
			r.known[st.ID] = st
		}
		r.mu.Unlock()
	}
	return out, nil
}

// groupTemplate is the launch template a group launches from.
func groupTemplate(g astypes.AutoScalingGroup) *astypes.LaunchTemplateSpecification {
	if g.LaunchTemplate != nil {
		return g.LaunchTemplate
	}
	if mip := g.MixedInstancesPolicy; mip != nil && mip.LaunchTemplate != nil {
		return mip.LaunchTemplate.LaunchTemplateSpecification
	}
	return nil
}

// resolveVersions turns "$Latest" and "$Default" into version numbers.
func (c *Cloud) resolveVersions(ctx context.Context, groups []GroupState, byName map[string]int, templates map[string]string) error {
	if len(templates) == 0 {
		return nil
	}
	var ids []string
	for _, id := range templates {
		if !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	out, err := c.EC2.DescribeLaunchTemplates(ctx, &ec2.DescribeLaunchTemplatesInput{LaunchTemplateIds: ids})
	if err != nil {
		return fmt.Errorf("reading launch templates %s: %w", strings.Join(ids, ", "), err)
	}
	for name, id := range templates {
		g := &groups[byName[name]]
		for _, lt := range out.LaunchTemplates {
			if aws.ToString(lt.LaunchTemplateId) != id {
				continue
			}
			switch g.LaunchTemplateVersion {
			case "$Latest":
				g.LaunchTemplateVersion = strconv.FormatInt(aws.ToInt64(lt.LatestVersionNumber), 10)
			case "$Default", "":
				g.LaunchTemplateVersion = strconv.FormatInt(aws.ToInt64(lt.DefaultVersionNumber), 10)
			}
		}
	}
	return nil
}

// MarkForReplacement tags members of groupName that a rolling update will
// replace. Tagged and outside the group, an instance is one rolling-update
// detached and has not terminated yet: that is how a later batch or an
// interrupted run's next run finds it. Tagged and still a member, it is
// only about to be replaced. One call for all of them.
func (c *Cloud) MarkForReplacement(ctx context.Context, groupName string, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	if _, err := c.EC2.CreateTags(ctx, &ec2.CreateTagsInput{Resources: ids,
		Tags: []ec2types.Tag{{Key: aws.String(TagDetached), Value: aws.String(groupName)}}}); err != nil {
		return fmt.Errorf("tagging %s for replacement in %s: %w", strings.Join(ids, ", "), groupName, err)
	}
	return nil
}

// DetachInstances takes instances out of their Auto Scaling group without
// lowering its desired capacity, so the group launches their replacements
// at once while they keep running. Mark them first (MarkForReplacement).
func (c *Cloud) DetachInstances(ctx context.Context, groupName string, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	if _, err := c.rolling().DetachInstances(ctx, &autoscaling.DetachInstancesInput{
		AutoScalingGroupName: aws.String(groupName), InstanceIds: ids,
		ShouldDecrementDesiredCapacity: aws.Bool(false),
	}); err != nil {
		return fmt.Errorf("detaching %s from %s: %w", strings.Join(ids, ", "), groupName, err)
	}
	return nil
}

// TerminateInstances terminates instances outside any group (detached
// ones: their replacements already run), in one call.
func (c *Cloud) TerminateInstances(ctx context.Context, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	if _, err := c.EC2.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: ids}); err != nil && !isNotFound(err) {
		return fmt.Errorf("terminating instances %s: %w", strings.Join(ids, ", "), err)
	}
	return nil
}

// TerminateGroupInstance terminates a member of groupName through Auto
// Scaling without lowering the desired capacity, so the group replaces it.
func (c *Cloud) TerminateGroupInstance(ctx context.Context, groupName, id string) error {
	if _, err := c.rolling().TerminateInstanceInAutoScalingGroup(ctx, &autoscaling.TerminateInstanceInAutoScalingGroupInput{
		InstanceId: aws.String(id), ShouldDecrementDesiredCapacity: aws.Bool(false),
	}); err != nil {
		return fmt.Errorf("terminating instance %s of %s: %w", id, groupName, err)
	}
	return nil
}

func (c *Cloud) rolling() rollingAPI { return c.AutoScaling }
