package aws

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"

	"github.com/kapstan/kapstan/internal/engine"
)

// autoScalingGroupAPI is the Auto Scaling calls kapstan makes.
type autoScalingGroupAPI interface {
	DescribeAutoScalingGroups(ctx context.Context, params *autoscaling.DescribeAutoScalingGroupsInput, optFns ...func(*autoscaling.Options)) (*autoscaling.DescribeAutoScalingGroupsOutput, error)
	CreateAutoScalingGroup(ctx context.Context, params *autoscaling.CreateAutoScalingGroupInput, optFns ...func(*autoscaling.Options)) (*autoscaling.CreateAutoScalingGroupOutput, error)
	UpdateAutoScalingGroup(ctx context.Context, params *autoscaling.UpdateAutoScalingGroupInput, optFns ...func(*autoscaling.Options)) (*autoscaling.UpdateAutoScalingGroupOutput, error)
	AttachLoadBalancerTargetGroups(ctx context.Context, params *autoscaling.AttachLoadBalancerTargetGroupsInput, optFns ...func(*autoscaling.Options)) (*autoscaling.AttachLoadBalancerTargetGroupsOutput, error)
	DetachLoadBalancerTargetGroups(ctx context.Context, params *autoscaling.DetachLoadBalancerTargetGroupsInput, optFns ...func(*autoscaling.Options)) (*autoscaling.DetachLoadBalancerTargetGroupsOutput, error)
	CreateOrUpdateTags(ctx context.Context, params *autoscaling.CreateOrUpdateTagsInput, optFns ...func(*autoscaling.Options)) (*autoscaling.CreateOrUpdateTagsOutput, error)
	DeleteAutoScalingGroup(ctx context.Context, params *autoscaling.DeleteAutoScalingGroupInput, optFns ...func(*autoscaling.Options)) (*autoscaling.DeleteAutoScalingGroupOutput, error)
}

// AutoScalingGroup runs the instances of one instance group.
type AutoScalingGroup struct {
	Name      string
	GroupName string
	ARN       string
	// LaunchTemplate is the template; on an actual group,
	// LaunchTemplateVersion is the version it names. A desired group
	// leaves it empty to name the template's newest version.
	LaunchTemplate        engine.Ref
	LaunchTemplateVersion string
	MinSize               int32
	MaxSize               int32
	Subnets               []engine.Ref
	TargetGroups          []engine.Ref
	MixedInstances        *MixedInstances
	// Tags are propagated to the instances at launch.
	Tags Tags

	// desiredCapacity is read from AWS; kapstan leaves it to the cluster
	// autoscaler unless it falls outside [MinSize, MaxSize].
	desiredCapacity int32
}

// MixedInstances mixes instance types and spot capacity.
type MixedInstances struct {
	InstanceTypes          []string
	OnDemandBase           int32
	OnDemandAboveBase      int32
	SpotAllocationStrategy string
}

// asgDefaultSpotAllocation is sent when the model names no strategy, so
// that the group reads back as written: AWS's own default (lowest-price)
// is the one it advises against.
const asgDefaultSpotAllocation = "price-capacity-optimized"

func (m *MixedInstances) strategy() string {
	if m.SpotAllocationStrategy == "" {
		return asgDefaultSpotAllocation
	}
	return m.SpotAllocationStrategy
}

// Address implements engine.Resource.
func (r *AutoScalingGroup) Address() engine.Address {
	return engine.Address{Kind: KindAutoScalingGroup, Name: r.Name}
}

// Dependencies implements engine.Resource.
func (r *AutoScalingGroup) Dependencies() []engine.Address {
	refs := append([]engine.Ref{r.LaunchTemplate}, r.Subnets...)
	return deps(append(refs, r.TargetGroups...)...)
}

// CloudID implements engine.Identified.
func (r *AutoScalingGroup) CloudID() string { return r.GroupName }

// Summary implements engine.Summarizer.
func (r *AutoScalingGroup) Summary() string {
	return fmt.Sprintf("%d-%d instances in %d subnets", r.MinSize, r.MaxSize, len(r.Subnets))
}

// wantVersion is the template version the group should name, for Diff:
// the explicit one, else the newest version of a managed template, else
// "(known after apply)" when the template is created or gets a new
// version in this apply, else $Default for a template kapstan does not
// manage.
func (r *AutoScalingGroup) wantVersion(refs engine.Refs) string {
	if r.LaunchTemplateVersion != "" {
		return r.LaunchTemplateVersion
	}
	if r.LaunchTemplate.Addr.IsZero() {
		return "$Default"
	}
	if refs != nil {
		if a, ok := refs.Actual(r.LaunchTemplate.Addr); ok {
			if lt, ok := a.(*LaunchTemplate); ok && !lt.newVersionPlanned {
				return strconv.FormatInt(lt.Version, 10)
			}
		}
	}
	return "(known after apply)"
}

// versionToApply is the version to write at create or update time, when
// the template's change, if any, is done: refs then hold the template as
// the apply left it.
func (r *AutoScalingGroup) versionToApply(refs engine.Refs) (string, error) {
	v := r.wantVersion(refs)
	if strings.HasPrefix(v, "(") {
		return "", fmt.Errorf("launch template %s has no version yet", r.LaunchTemplate)
	}
	return v, nil
}

// Diff implements engine.Resource.
func (r *AutoScalingGroup) Diff(actual engine.Resource, refs engine.Refs) []engine.FieldDiff {
	a := actual.(*AutoScalingGroup)
	var d engine.Differ
	d.Immutable("groupName", a.GroupName, r.GroupName)
	d.Ref("launchTemplate", a.LaunchTemplate.ID, r.LaunchTemplate, refs, false)
	d.String("launchTemplate.version", a.LaunchTemplateVersion, r.wantVersion(refs))
	d.Int("minSize", int64(a.MinSize), int64(r.MinSize))
	d.Int("maxSize", int64(a.MaxSize), int64(r.MaxSize))
	d.Set("subnets", computeIDs(a.Subnets), computeWantIDs(r.Subnets, refs))
	d.Set("targetGroups", computeIDs(a.TargetGroups), computeWantIDs(r.TargetGroups, refs))
	d.Bool("mixedInstances", a.MixedInstances != nil, r.MixedInstances != nil)
	if a.MixedInstances != nil && r.MixedInstances != nil {
		am, rm := a.MixedInstances, r.MixedInstances
		// Order matters: with a prioritized strategy the first type wins.
		d.String("mixedInstances.instanceTypes", strings.Join(am.InstanceTypes, ","), strings.Join(rm.InstanceTypes, ","))
		d.Int("mixedInstances.onDemandBase", int64(am.OnDemandBase), int64(rm.OnDemandBase))
		d.Int("mixedInstances.onDemandAboveBase", int64(am.OnDemandAboveBase), int64(rm.OnDemandAboveBase))
		d.String("mixedInstances.spotAllocationStrategy", am.SpotAllocationStrategy, rm.strategy())
	}
	d.Tags(a.Tags, r.Tags)
	return d.Diffs()
}

// asgActuals are the cluster's groups by address.
type asgActuals struct {
	byAddr map[engine.Address]*AutoScalingGroup
}

func autoScalingGroups(ctx context.Context, c *Cloud) (*asgActuals, error) {
	return cached(ctx, c, "compute:autoScalingGroups", func(ctx context.Context) (*asgActuals, error) {
		out := &asgActuals{byAddr: map[engine.Address]*AutoScalingGroup{}}
		p := autoscaling.NewDescribeAutoScalingGroupsPaginator(c.AutoScaling, &autoscaling.DescribeAutoScalingGroupsInput{
			Filters: []astypes.Filter{
				{Name: aws.String("tag-key"), Values: []string{TagAddress}},
				{Name: aws.String("tag:" + TagKubernetesCluster), Values: []string{c.Cluster}},
			},
		})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return nil, fmt.Errorf("listing auto scaling groups: %w", err)
			}
			for _, g := range page.AutoScalingGroups {
				a := asgFromAWS(g)
				addr, ok, err := addOwned(c, KindAutoScalingGroup, "auto scaling groups", out.byAddr, a.Tags, a,
					func(g *AutoScalingGroup) string { return g.GroupName })
				if err != nil {
					return nil, err
				}
				if ok {
					a.Name = addr.Name
				}
			}
		}
		return out, nil
	})
}

// asgFromAWS reads a group; refs carry ids only.
func asgFromAWS(g astypes.AutoScalingGroup) *AutoScalingGroup {
	a := &AutoScalingGroup{
		GroupName:       aws.ToString(g.AutoScalingGroupName),
		ARN:             aws.ToString(g.AutoScalingGroupARN),
		MinSize:         aws.ToInt32(g.MinSize),
		MaxSize:         aws.ToInt32(g.MaxSize),
		desiredCapacity: aws.ToInt32(g.DesiredCapacity),
		Tags:            Tags{},
	}
	lt := g.LaunchTemplate
	if mip := g.MixedInstancesPolicy; mip != nil {
		m := &MixedInstances{}
		if mip.LaunchTemplate != nil {
			lt = mip.LaunchTemplate.LaunchTemplateSpecification
			for _, o := range mip.LaunchTemplate.Overrides {
				if t := aws.ToString(o.InstanceType); t != "" {
					m.InstanceTypes = append(m.InstanceTypes, t)
				}
			}
		}
		if dist := mip.InstancesDistribution; dist != nil {
			m.OnDemandBase = aws.ToInt32(dist.OnDemandBaseCapacity)
			m.OnDemandAboveBase = aws.ToInt32(dist.OnDemandPercentageAboveBaseCapacity)
			m.SpotAllocationStrategy = aws.ToString(dist.SpotAllocationStrategy)
		}
		a.MixedInstances = m
	}
	if lt != nil {
		a.LaunchTemplate = engine.RefID(aws.ToString(lt.LaunchTemplateId))
		a.LaunchTemplateVersion = aws.ToString(lt.Version)
	}
	for _, id := range strings.Split(aws.ToString(g.VPCZoneIdentifier), ",") {
		if id = strings.TrimSpace(id); id != "" {
			a.Subnets = append(a.Subnets, engine.RefID(id))
		}
	}
	for _, arn := range g.TargetGroupARNs {
		a.TargetGroups = append(a.TargetGroups, engine.RefID(arn))
	}
	for _, t := range g.Tags {
		a.Tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return a
}

func (r *AutoScalingGroup) find(ctx context.Context, c *Cloud, refs engine.Refs) (engine.Resource, error) {
	all, err := autoScalingGroups(ctx, c)
	if err != nil {
		return nil, err
	}
	found, ok := all.byAddr[r.Address()]
	if !ok {
		return nil, nil
	}
	a := *found
	a.Tags = maps.Clone(found.Tags)
	a.LaunchTemplate = computeActualRef(found.LaunchTemplate.ID, r.LaunchTemplate, refs)
	a.Subnets = computeActualRefs(computeIDs(found.Subnets), r.Subnets, refs, nil)
	a.TargetGroups = computeActualRefs(computeIDs(found.TargetGroups), r.TargetGroups, refs, nil)
	return &a, nil
}

// checkSizes enforces what AWS enforces and moto does not (moto accepts
// min > max): failing before the call keeps the error the same on both.
func (r *AutoScalingGroup) checkSizes() error {
	if r.MinSize < 0 || r.MinSize > r.MaxSize {
		return fmt.Errorf("auto scaling group %s: min size %d must be between 0 and max size %d", r.Name, r.MinSize, r.MaxSize)
	}
	return nil
}

// asgZoneIdentifier joins subnet ids in sorted order: the string AWS
// stores does not change with the model's order, and it names every
// subnet, so AWS spreads instances across all their zones (moto puts every
// instance in the first subnet; see TestASGZoneIdentifier).
func asgZoneIdentifier(ids []string) string {
	s := slices.Clone(ids)
	slices.Sort(s)
	return strings.Join(slices.Compact(s), ",")
}

func resolveAll(refs engine.Refs, rs []engine.Ref, what string) ([]string, error) {
	var out []string
	for _, r := range rs {
		id := engine.ResolveID(refs, r)
		if id == "" {
			return nil, fmt.Errorf("%s %s not created yet", what, r)
		}
		out = append(out, id)
	}
	return out, nil
}

// launchSpec is the template part of a create or update: a plain
// LaunchTemplate, or a MixedInstancesPolicy holding it.
func (r *AutoScalingGroup) launchSpec(refs engine.Refs) (*astypes.LaunchTemplateSpecification, *astypes.MixedInstancesPolicy, error) {
	ltID := engine.ResolveID(refs, r.LaunchTemplate)
	if ltID == "" {
		return nil, nil, fmt.Errorf("launch template %s not created yet", r.LaunchTemplate)
	}
	version, err := r.versionToApply(refs)
	if err != nil {
		return nil, nil, err
	}
	spec := &astypes.LaunchTemplateSpecification{LaunchTemplateId: aws.String(ltID), Version: aws.String(version)}
	if r.MixedInstances == nil {
		return spec, nil, nil
	}
	m := r.MixedInstances
	// moto ignores the overrides (instances use the template's type) and
	// launches no spot: only what is sent and read back is tested there.
	mip := &astypes.MixedInstancesPolicy{
		LaunchTemplate: &astypes.LaunchTemplate{LaunchTemplateSpecification: spec},
		InstancesDistribution: &astypes.InstancesDistribution{
			OnDemandBaseCapacity:                aws.Int32(m.OnDemandBase),
			OnDemandPercentageAboveBaseCapacity: aws.Int32(m.OnDemandAboveBase),
			SpotAllocationStrategy:              aws.String(m.strategy()),
		},
	}
	for _, t := range m.InstanceTypes {
		mip.LaunchTemplate.Overrides = append(mip.LaunchTemplate.Overrides, astypes.LaunchTemplateOverrides{InstanceType: aws.String(t)})
	}
	return nil, mip, nil
}

// propagates says whether a group's tag goes on its instances: all but the
// address, which names the group and would make every instance look like
// it.
func propagates(key string) bool { return key != TagAddress }

func (r *AutoScalingGroup) asgTags(t Tags) []astypes.Tag {
	out := make([]astypes.Tag, 0, len(t))
	for _, k := range sortedKeys(t) {
		out = append(out, astypes.Tag{
			Key: aws.String(k), Value: aws.String(t[k]), PropagateAtLaunch: aws.Bool(propagates(k)),
			ResourceId: aws.String(r.GroupName), ResourceType: aws.String("auto-scaling-group"),
		})
	}
	return out
}

// asgRetryable marks the errors a just-made dependency causes: IAM
// instance profiles take seconds to become usable by Auto Scaling
// ("ValidationError: Invalid IamInstanceProfile").
func asgRetryable(err error) error {
	if hasCode(err, "ValidationError") && strings.Contains(err.Error(), "Invalid IamInstanceProfile") {
		return engine.Retryable(err)
	}
	if hasCode(err, "ScalingActivityInProgress", "ResourceContention") {
		return engine.Retryable(err)
	}
	return err
}

// actualFrom is the group as kapstan just wrote it.
func (r *AutoScalingGroup) actualFrom(refs engine.Refs, version string, subnets, tgs []string, desired int32) *AutoScalingGroup {
	a := *r
	a.Tags = maps.Clone(r.Tags)
	a.LaunchTemplate = engine.Ref{Addr: r.LaunchTemplate.Addr, ID: engine.ResolveID(refs, r.LaunchTemplate)}
	a.LaunchTemplateVersion = version
	a.Subnets = computeActualRefs(subnets, r.Subnets, refs, nil)
	a.TargetGroups = computeActualRefs(tgs, r.TargetGroups, refs, nil)
	if m := r.MixedInstances; m != nil {
		mc := *m
		mc.InstanceTypes = slices.Clone(m.InstanceTypes)
		mc.SpotAllocationStrategy = m.strategy()
		a.MixedInstances = &mc
	}
	a.desiredCapacity = desired
	return &a
}

func (r *AutoScalingGroup) create(ctx context.Context, c *Cloud, refs engine.Refs) (engine.Resource, error) {
	if err := r.checkSizes(); err != nil {
		return nil, err
	}
	spec, mip, err := r.launchSpec(refs)
	if err != nil {
		return nil, fmt.Errorf("creating auto scaling group %s: %w", r.Name, err)
	}
	subnets, err := resolveAll(refs, r.Subnets, "subnet")
	if err != nil {
		return nil, fmt.Errorf("creating auto scaling group %s: %w", r.Name, err)
	}
	tgs, err := resolveAll(refs, r.TargetGroups, "target group")
	if err != nil {
		return nil, fmt.Errorf("creating auto scaling group %s: %w", r.Name, err)
	}
	_, err = c.AutoScaling.CreateAutoScalingGroup(ctx, &autoscaling.CreateAutoScalingGroupInput{
		AutoScalingGroupName: aws.String(r.GroupName),
		MinSize:              aws.Int32(r.MinSize),
		MaxSize:              aws.Int32(r.MaxSize),
		DesiredCapacity:      aws.Int32(r.MinSize),
		LaunchTemplate:       spec,
		MixedInstancesPolicy: mip,
		VPCZoneIdentifier:    aws.String(asgZoneIdentifier(subnets)),
		TargetGroupARNs:      tgs,
		Tags:                 r.asgTags(r.Tags),
	})
	if err != nil {
		return nil, asgRetryable(fmt.Errorf("creating auto scaling group %s: %w", r.Name, err))
	}
	version := ""
	if spec != nil {
		version = aws.ToString(spec.Version)
	} else {
		version = aws.ToString(mip.LaunchTemplate.LaunchTemplateSpecification.Version)
	}
	return r.actualFrom(refs, version, subnets, tgs, r.MinSize), nil
}

// asgUpdateFields are the diffs UpdateAutoScalingGroup applies.
func asgUpdateField(f engine.FieldDiff) bool {
	for _, p := range []string{"launchTemplate", "minSize", "maxSize", "subnets", "mixedInstances"} {
		if f.Path == p || strings.HasPrefix(f.Path, p+".") {
			return true
		}
	}
	return false
}

func (r *AutoScalingGroup) update(ctx context.Context, c *Cloud, actual engine.Resource, diffs []engine.FieldDiff, refs engine.Refs) (engine.Resource, error) {
	a := actual.(*AutoScalingGroup)
	if err := r.checkSizes(); err != nil {
		return nil, err
	}
	wrap := func(err error) error { return fmt.Errorf("updating auto scaling group %s: %w", r.Name, err) }
	subnets, err := resolveAll(refs, r.Subnets, "subnet")
	if err != nil {
		return nil, wrap(err)
	}
	tgs, err := resolveAll(refs, r.TargetGroups, "target group")
	if err != nil {
		return nil, wrap(err)
	}
	version := a.LaunchTemplateVersion
	desired := a.desiredCapacity
	if slices.ContainsFunc(diffs, asgUpdateField) {
		spec, mip, err := r.launchSpec(refs)
		if err != nil {
			return nil, wrap(err)
		}
		// The template part is always sent: moto drops a group's
		// MixedInstancesPolicy on an update that omits it (AWS keeps it).
		in := &autoscaling.UpdateAutoScalingGroupInput{
			AutoScalingGroupName: aws.String(r.GroupName),
			MinSize:              aws.Int32(r.MinSize),
			MaxSize:              aws.Int32(r.MaxSize),
			LaunchTemplate:       spec,
			MixedInstancesPolicy: mip,
			VPCZoneIdentifier:    aws.String(asgZoneIdentifier(subnets)),
		}
		// The cluster autoscaler owns the desired capacity; it is moved
		// only when the new bounds exclude it.
		if clamped := min(max(desired, r.MinSize), r.MaxSize); clamped != desired {
			in.DesiredCapacity = aws.Int32(clamped)
			desired = clamped
		}
		if _, err := c.AutoScaling.UpdateAutoScalingGroup(ctx, in); err != nil {
			return nil, asgRetryable(wrap(err))
		}
		if spec != nil {
			version = aws.ToString(spec.Version)
		} else {
			version = aws.ToString(mip.LaunchTemplate.LaunchTemplateSpecification.Version)
		}
	}
	have := computeIDs(a.TargetGroups)
	var attach, detach []string
	for _, arn := range tgs {
		if !slices.Contains(have, arn) {
			attach = append(attach, arn)
		}
	}
	for _, arn := range have {
		if !slices.Contains(tgs, arn) {
			detach = append(detach, arn)
		}
	}
	// Both calls take at most 10 target groups.
	for chunk := range slices.Chunk(attach, 10) {
		if _, err := c.AutoScaling.AttachLoadBalancerTargetGroups(ctx, &autoscaling.AttachLoadBalancerTargetGroupsInput{
			AutoScalingGroupName: aws.String(r.GroupName), TargetGroupARNs: chunk,
		}); err != nil {
			return nil, wrap(fmt.Errorf("attaching target groups: %w", err))
		}
	}
	for chunk := range slices.Chunk(detach, 10) {
		if _, err := c.AutoScaling.DetachLoadBalancerTargetGroups(ctx, &autoscaling.DetachLoadBalancerTargetGroupsInput{
			AutoScalingGroupName: aws.String(r.GroupName), TargetGroupARNs: chunk,
		}); err != nil {
			return nil, wrap(fmt.Errorf("detaching target groups: %w", err))
		}
	}
	if add := tagsToAdd(a.Tags, r.Tags); len(add) > 0 {
		if _, err := c.AutoScaling.CreateOrUpdateTags(ctx, &autoscaling.CreateOrUpdateTagsInput{Tags: r.asgTags(add)}); err != nil {
			return nil, wrap(fmt.Errorf("tagging: %w", err))
		}
	}
	out := r.actualFrom(refs, version, subnets, tgs, desired)
	out.ARN = a.ARN
	return out, nil
}

// asgDeletePoll is how often delete checks whether AWS has finished;
// asgDeleteTimeout bounds the wait. Terminating the instances takes AWS
// minutes.
const (
	asgDeletePoll    = 10 * time.Second
	asgDeleteTimeout = 20 * time.Minute
)

// asgGone reports whether err says the group does not exist: Auto
// Scaling answers with a ValidationError, not a NotFound code.
func asgGone(err error) bool {
	return hasCode(err, "ValidationError") && strings.Contains(err.Error(), "not found")
}

// delete removes the group and its instances (ForceDelete: without it AWS
// refuses a group with instances, while moto deletes it anyway), then
// waits until the group is gone, because AWS keeps it "Delete in
// progress" while the instances terminate and the subnets, security
// groups and template it uses cannot go before. moto deletes at once.
func (r *AutoScalingGroup) delete(ctx context.Context, c *Cloud) error {
	_, err := c.AutoScaling.DeleteAutoScalingGroup(ctx, &autoscaling.DeleteAutoScalingGroupInput{
		AutoScalingGroupName: aws.String(r.GroupName),
		ForceDelete:          aws.Bool(true),
	})
	switch {
	case err == nil:
	case asgGone(err):
		return nil
	case isDependencyViolation(err) || hasCode(err, "ScalingActivityInProgress"):
		return engine.Retryable(fmt.Errorf("deleting auto scaling group %s: %w", r.Name, err))
	default:
		return fmt.Errorf("deleting auto scaling group %s: %w", r.Name, err)
	}
	return asgWaitGone(ctx, c.AutoScaling, r.GroupName, asgDeletePoll, asgDeleteTimeout)
}

// errASGStillThere is returned when a deleted group outlives the timeout.
var errASGStillThere = errors.New("still being deleted")

func asgWaitGone(ctx context.Context, api autoScalingGroupAPI, name string, poll, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		out, err := api.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{name}})
		if err != nil {
			return fmt.Errorf("waiting for auto scaling group %s to go: %w", name, err)
		}
		if len(out.AutoScalingGroups) == 0 {
			return nil
		}
		if time.Now().Add(poll).After(deadline) {
			status := aws.ToString(out.AutoScalingGroups[0].Status)
			return fmt.Errorf("auto scaling group %s (%s): %w after %s", name, status, errASGStillThere, timeout)
		}
		t := time.NewTimer(poll)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

func (c *Cloud) ownedAutoScalingGroups(ctx context.Context) ([]engine.Resource, error) {
	all, err := autoScalingGroups(ctx, c)
	if err != nil || len(all.byAddr) == 0 {
		return nil, err
	}
	lts, err := launchTemplates(ctx, c)
	if err != nil {
		return nil, err
	}
	tgs, err := targetGroups(ctx, c)
	if err != nil {
		return nil, err
	}
	ec2Addrs, err := computeEC2Addresses(ctx, c)
	if err != nil {
		return nil, err
	}
	var out []engine.Resource
	for _, addr := range computeSortedAddrs(all.byAddr) {
		a := *all.byAddr[addr]
		a.LaunchTemplate = engine.Ref{Addr: lts.addrByID[a.LaunchTemplate.ID], ID: a.LaunchTemplate.ID}
		a.Subnets = computeActualRefs(computeIDs(a.Subnets), nil, nil, ec2Addrs)
		a.TargetGroups = computeActualRefs(computeIDs(a.TargetGroups), nil, nil, tgs.addrByARN)
		out = append(out, &a)
	}
	return out, nil
}
