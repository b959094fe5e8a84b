package aws

import (
	"fmt"

	"github.com/kapstan/kapstan/internal/engine"
)

// AutoScalingGroup runs the instances of one instance group.
type AutoScalingGroup struct {
	Name      string
	GroupName string
	ARN       string
	// LaunchTemplate is the template; on an actual group,
	// LaunchTemplateVersion is the version it names. A desired group always
	// names the template's newest version.
	LaunchTemplate        engine.Ref
	LaunchTemplateVersion string
	MinSize               int32
	MaxSize               int32
	Subnets               []engine.Ref
	TargetGroups          []engine.Ref
	MixedInstances        *MixedInstances
	// Tags are propagated to the instances at launch.
	Tags Tags
}

// MixedInstances mixes instance types and spot capacity.
type MixedInstances struct {
	InstanceTypes          []string
	OnDemandBase           int32
	OnDemandAboveBase      int32
	SpotAllocationStrategy string
}

func (r *AutoScalingGroup) Address() engine.Address {
	return engine.Address{Kind: KindAutoScalingGroup, Name: r.Name}
}
func (r *AutoScalingGroup) Dependencies() []engine.Address {
	refs := append([]engine.Ref{r.LaunchTemplate}, r.Subnets...)
	return deps(append(refs, r.TargetGroups...)...)
}
func (r *AutoScalingGroup) CloudID() string { return r.GroupName }
func (r *AutoScalingGroup) Summary() string {
	return fmt.Sprintf("%d-%d instances in %d subnets", r.MinSize, r.MaxSize, len(r.Subnets))
}
