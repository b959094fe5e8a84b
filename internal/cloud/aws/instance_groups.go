package aws

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

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
	// TagDetached marks an instance that rolling-update detached from its
	// Auto Scaling group (value: the group's name) so that the group
	// launches its replacement first. Outside the group the instance would
	// otherwise be forgotten; the tag is how an interrupted rolling update
	// finds it again, drains it and terminates it.
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
// its instances. It is read fresh on every call, never cached.
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
	// State is EC2's: pending, running, shutting-down, ...
	State string
	// Lifecycle is Auto Scaling's (Pending, InService, Terminating, ...);
	// "" for a detached instance.
	Lifecycle string
	// LaunchTemplateVersion is the version the instance was launched with.
	LaunchTemplateVersion string
}

// InstanceGroups reads every Auto Scaling group of the cluster and its
// instances: one DescribeAutoScalingGroups and one DescribeInstances (plus
// one DescribeLaunchTemplates when a group names "$Latest" or "$Default").
//
// An instance's launch-template version comes from the tag EC2 puts on it
// (aws:ec2launchtemplate:version), not from DescribeAutoScalingGroups'
// Instances[].LaunchTemplate.Version. On AWS the two agree; moto reports
// there the template's current default version for every instance, which
// would hide every instance that needs replacing.
func (c *Cloud) InstanceGroups(ctx context.Context) ([]GroupState, error) {
	var groups []GroupState
	byName := map[string]int{}
	p := autoscaling.NewDescribeAutoScalingGroupsPaginator(c.AutoScaling, &autoscaling.DescribeAutoScalingGroupsInput{
		Filters: []astypes.Filter{{Name: aws.String("tag:" + TagKubernetesCluster), Values: []string{c.Cluster}}},
	})
	templates := map[string]string{} // group name → template id, when its version must be resolved
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
	if err := c.addInstanceDetails(ctx, groups, byName); err != nil {
		return nil, err
	}
	slices.SortFunc(groups, func(a, b GroupState) int { return strings.Compare(a.InstanceGroup, b.InstanceGroup) })
	return groups, nil
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

// addInstanceDetails reads the cluster's live instances in one call and
// fills in the groups' members and detached instances.
func (c *Cloud) addInstanceDetails(ctx context.Context, groups []GroupState, byName map[string]int) error {
	p := ec2.NewDescribeInstancesPaginator(c.EC2, &ec2.DescribeInstancesInput{Filters: []ec2types.Filter{
		{Name: aws.String("tag:" + TagKubernetesCluster), Values: []string{c.Cluster}},
		{Name: aws.String("instance-state-name"), Values: []string{"pending", "running", "stopping", "stopped"}},
	}})
	details := map[string]InstanceState{}
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("listing instances of %s: %w", c.Cluster, err)
		}
		for _, r := range page.Reservations {
			for _, in := range r.Instances {
				tags := map[string]string{}
				for _, t := range in.Tags {
					tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
				}
				st := InstanceState{
					ID: aws.ToString(in.InstanceId), PrivateDNSName: aws.ToString(in.PrivateDnsName),
					LaunchTemplateVersion: tags[tagTemplateVersion],
				}
				if in.Placement != nil {
					st.Zone = aws.ToString(in.Placement.AvailabilityZone)
				}
				if in.State != nil {
					st.State = string(in.State.Name)
				}
				details[st.ID] = st
				if asg := tags[TagDetached]; asg != "" {
					if i, ok := byName[asg]; ok {
						groups[i].Detached = append(groups[i].Detached, st)
					}
				}
			}
		}
	}
	for gi := range groups {
		g := &groups[gi]
		kept := g.Instances[:0]
		for _, m := range g.Instances {
			d, ok := details[m.ID]
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
		// A detached instance that shows up as a member again (AWS lists
		// a detaching instance for a moment) is a member.
		g.Detached = slices.DeleteFunc(g.Detached, func(d InstanceState) bool {
			return slices.ContainsFunc(g.Instances, func(m InstanceState) bool { return m.ID == d.ID })
		})
		slices.SortFunc(g.Instances, func(a, b InstanceState) int { return strings.Compare(a.ID, b.ID) })
		slices.SortFunc(g.Detached, func(a, b InstanceState) int { return strings.Compare(a.ID, b.ID) })
	}
	return nil
}

// DetachInstances takes instances out of their Auto Scaling group without
// lowering its desired capacity, so the group launches their replacements
// at once while they keep running. They are tagged first, so that a run
// interrupted after the detach still finds them.
func (c *Cloud) DetachInstances(ctx context.Context, groupName string, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	if _, err := c.EC2.CreateTags(ctx, &ec2.CreateTagsInput{Resources: ids,
		Tags: []ec2types.Tag{{Key: aws.String(TagDetached), Value: aws.String(groupName)}}}); err != nil {
		return fmt.Errorf("tagging %s before detaching it from %s: %w", strings.Join(ids, ", "), groupName, err)
	}
	if _, err := c.rolling().DetachInstances(ctx, &autoscaling.DetachInstancesInput{
		AutoScalingGroupName: aws.String(groupName), InstanceIds: ids,
		ShouldDecrementDesiredCapacity: aws.Bool(false),
	}); err != nil {
		return fmt.Errorf("detaching %s from %s: %w", strings.Join(ids, ", "), groupName, err)
	}
	return nil
}

// TerminateInstance terminates an instance. A member of groupName is
// terminated through Auto Scaling without lowering the desired capacity,
// so the group replaces it; a detached instance (groupName "") through
// EC2, as its replacement already runs.
func (c *Cloud) TerminateInstance(ctx context.Context, groupName, id string) error {
	if groupName == "" {
		if _, err := c.EC2.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{id}}); err != nil && !isNotFound(err) {
			return fmt.Errorf("terminating instance %s: %w", id, err)
		}
		return nil
	}
	if _, err := c.rolling().TerminateInstanceInAutoScalingGroup(ctx, &autoscaling.TerminateInstanceInAutoScalingGroupInput{
		InstanceId: aws.String(id), ShouldDecrementDesiredCapacity: aws.Bool(false),
	}); err != nil {
		return fmt.Errorf("terminating instance %s of %s: %w", id, groupName, err)
	}
	return nil
}

func (c *Cloud) rolling() rollingAPI { return c.AutoScaling }
