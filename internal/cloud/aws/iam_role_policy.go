package aws

import "github.com/kapstan/kapstan/internal/engine"

// IAMRolePolicy is a role's inline policy: the least privilege its
// instances need.
type IAMRolePolicy struct {
	Name       string
	Role       engine.Ref
	PolicyName string
	Document   string // JSON
}

func (r *IAMRolePolicy) Address() engine.Address {
	return engine.Address{Kind: KindIAMRolePolicy, Name: r.Name}
}
func (r *IAMRolePolicy) Dependencies() []engine.Address { return deps(r.Role) }
func (r *IAMRolePolicy) CloudID() string                { return r.PolicyName }

// RolePolicyName is the address name of a role's inline policy.
func RolePolicyName(roleName, policyName string) string { return roleName + ":" + policyName }
