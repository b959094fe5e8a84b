package aws

import (
	"fmt"

	"github.com/kapstan/kapstan/internal/engine"
)

// LaunchTemplate describes the instances of one instance group. A change
// makes a new version, which becomes the default; the Auto Scaling group
// then names that version and rolling-update replaces the instances.
type LaunchTemplate struct {
	Name         string
	TemplateName string
	ID           string
	// Version is, on an actual template, its newest version.
	Version         int64
	ImageID         string
	InstanceType    string
	SecurityGroups  []engine.Ref
	InstanceProfile engine.Ref
	KeyPair         engine.Ref
	// UserData is the boot script, in plain text.
	UserData            string
	RootDeviceName      string
	RootVolumeSize      int32
	RootVolumeType      string
	RootVolumeEncrypted bool
	// SpotMaxPrice, when set, asks for spot instances at up to this price.
	SpotMaxPrice string
	// Tags are the template's own tags; InstanceTags go on the instances
	// and volumes it launches.
	Tags         Tags
	InstanceTags Tags
}

func (r *LaunchTemplate) Address() engine.Address {
	return engine.Address{Kind: KindLaunchTemplate, Name: r.Name}
}
func (r *LaunchTemplate) Dependencies() []engine.Address {
	return deps(append(append([]engine.Ref{}, r.SecurityGroups...), r.InstanceProfile, r.KeyPair)...)
}
func (r *LaunchTemplate) CloudID() string { return r.ID }
func (r *LaunchTemplate) Summary() string {
	return fmt.Sprintf("%s, %s", r.InstanceType, r.ImageID)
}
