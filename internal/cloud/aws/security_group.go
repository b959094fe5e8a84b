package aws

import "github.com/kapstan/kapstan/internal/engine"

// SecurityGroup holds the rules of one role (control plane, nodes,
// bastion, API load balancer). Its rules are SecurityGroupRule resources.
type SecurityGroup struct {
	Name        string
	ID          string
	GroupName   string
	VPC         engine.Ref
	Description string
	Tags        Tags
}

func (r *SecurityGroup) Address() engine.Address {
	return engine.Address{Kind: KindSecurityGroup, Name: r.Name}
}
func (r *SecurityGroup) Dependencies() []engine.Address { return deps(r.VPC) }
func (r *SecurityGroup) CloudID() string                { return r.ID }
