package aws

import "github.com/kapstan/kapstan/internal/engine"

// IAMRole is the role instances of one kind assume, through an instance
// profile. Its address name is its IAM name: IAM lists roles by path (all
// of a cluster's under /kapstan/CLUSTER/) without their tags, so the name
// is what ties a role found in IAM to its address.
type IAMRole struct {
	Name             string
	RoleName         string
	AssumeRolePolicy string // JSON
	ARN              string
	Tags             Tags
}

func (r *IAMRole) Address() engine.Address        { return engine.Address{Kind: KindIAMRole, Name: r.Name} }
func (r *IAMRole) Dependencies() []engine.Address { return nil }
func (r *IAMRole) CloudID() string                { return r.RoleName }

// IAMPath is the IAM path of a cluster's roles and instance profiles.
func IAMPath(cluster string) string { return "/kapstan/" + cluster + "/" }
