package aws

import "github.com/kapstan/kapstan/internal/engine"

// InstanceProfile carries a role to instances. It holds exactly one role.
// Like a role, its address name is its IAM name; profiles cannot carry
// tags on moto (HTTP 500), so the path /kapstan/CLUSTER/ marks them.
type InstanceProfile struct {
	Name        string
	ProfileName string
	Role        engine.Ref
	ARN         string
}

func (r *InstanceProfile) Address() engine.Address {
	return engine.Address{Kind: KindInstanceProfile, Name: r.Name}
}
func (r *InstanceProfile) Dependencies() []engine.Address { return deps(r.Role) }
func (r *InstanceProfile) CloudID() string                { return r.ProfileName }
