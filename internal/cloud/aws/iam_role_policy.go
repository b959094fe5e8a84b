package aws

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/kapstan/kapstan/internal/engine"
)

// IAMRolePolicy is a role's inline policy: the least privilege its
// instances need.
type IAMRolePolicy struct {
	Name       string
	Role       engine.Ref
	PolicyName string
	Document   string // JSON
}

// Address implements engine.Resource.
func (r *IAMRolePolicy) Address() engine.Address {
	return engine.Address{Kind: KindIAMRolePolicy, Name: r.Name}
}

// Dependencies implements engine.Resource.
func (r *IAMRolePolicy) Dependencies() []engine.Address { return deps(r.Role) }

// CloudID implements engine.Identified.
func (r *IAMRolePolicy) CloudID() string { return r.PolicyName }

// RolePolicyName is the address name of a role's inline policy.
func RolePolicyName(roleName, policyName string) string { return roleName + ":" + policyName }

// Diff implements engine.Resource. The document is compared as a JSON
// value (see securityPolicyJSON); PutRolePolicy replaces it in place.
func (r *IAMRolePolicy) Diff(actual engine.Resource, refs engine.Refs) []engine.FieldDiff {
	a := actual.(*IAMRolePolicy)
	var d engine.Differ
	d.Ref("role", a.Role.ID, r.Role, refs, true)
	d.Immutable("policyName", a.PolicyName, r.PolicyName)
	d.String("document", securityPolicyJSON(a.Document), securityPolicyJSON(r.Document))
	return d.Diffs()
}

// securityRoleRef refers to a role of the cluster by its IAM name, which
// is also its address name.
func securityRoleRef(roleName string) engine.Ref {
	return engine.Ref{Addr: engine.Address{Kind: KindIAMRole, Name: roleName}, ID: roleName}
}

// find takes the policy from the plan's one read of IAM (iamRoleDetails).
func (r *IAMRolePolicy) find(ctx context.Context, c *Cloud, refs engine.Refs) (engine.Resource, error) {
	if r.Role.Addr.Kind != KindIAMRole {
		return nil, fmt.Errorf("%s: its role must be one of the cluster's roles, referred to by address", r.Address())
	}
	if want := RolePolicyName(r.Role.Addr.Name, r.PolicyName); r.Name != want {
		return nil, securityNameError(r.Address(), want)
	}
	role := engine.ResolveID(refs, r.Role)
	if role == "" {
		return nil, nil // the role does not exist yet, nor can its policy
	}
	detail, err := c.iamRoleDetail(ctx, role)
	if err != nil || detail == nil {
		return nil, err
	}
	for _, p := range detail.RolePolicyList {
		if aws.ToString(p.PolicyName) == r.PolicyName {
			return &IAMRolePolicy{
				Name:       r.Name,
				Role:       engine.Ref{Addr: r.Role.Addr, ID: role},
				PolicyName: r.PolicyName,
				Document:   securityPolicyJSON(aws.ToString(p.PolicyDocument)),
			}, nil
		}
	}
	return nil, nil
}

func (r *IAMRolePolicy) create(ctx context.Context, c *Cloud, refs engine.Refs) (engine.Resource, error) {
	return r.put(ctx, c, refs, "creating")
}

// update puts the whole document again: PutRolePolicy replaces it.
func (r *IAMRolePolicy) update(ctx context.Context, c *Cloud, actual engine.Resource, diffs []engine.FieldDiff, refs engine.Refs) (engine.Resource, error) {
	return r.put(ctx, c, refs, "updating")
}

// put creates or replaces the policy. A role made a moment ago may not be
// visible to IAM yet (NoSuchEntity): that is retried.
func (r *IAMRolePolicy) put(ctx context.Context, c *Cloud, refs engine.Refs, verb string) (engine.Resource, error) {
	role := engine.ResolveID(refs, r.Role)
	if role == "" {
		return nil, fmt.Errorf("%s IAM role policy %s: role %s not created yet", verb, r.Name, r.Role)
	}
	_, err := c.IAM.PutRolePolicy(ctx, &iam.PutRolePolicyInput{
		RoleName:       aws.String(role),
		PolicyName:     aws.String(r.PolicyName),
		PolicyDocument: aws.String(r.Document),
	})
	if err != nil {
		if isNotFound(err) {
			err = engine.Retryable(err)
		}
		return nil, fmt.Errorf("%s IAM role policy %s: %w", verb, r.Name, err)
	}
	return &IAMRolePolicy{Name: r.Name, Role: engine.Ref{Addr: r.Role.Addr, ID: role}, PolicyName: r.PolicyName, Document: r.Document}, nil
}

// delete removes the policy; a policy or role already gone is fine.
func (r *IAMRolePolicy) delete(ctx context.Context, c *Cloud) error {
	_, err := c.IAM.DeleteRolePolicy(ctx, &iam.DeleteRolePolicyInput{RoleName: aws.String(r.Role.ID), PolicyName: aws.String(r.PolicyName)})
	if err != nil && !isNotFound(err) {
		return fmt.Errorf("deleting IAM role policy %s: %w", r.Name, err)
	}
	return nil
}

// ownedRolePolicies lists the inline policies of the cluster's roles, from
// the plan's one read of IAM.
func (c *Cloud) ownedRolePolicies(ctx context.Context) ([]engine.Resource, error) {
	details, err := c.iamRoleDetails(ctx)
	if err != nil {
		return nil, err
	}
	var out []engine.Resource
	for _, d := range details {
		name := aws.ToString(d.RoleName)
		for _, p := range d.RolePolicyList {
			policy := aws.ToString(p.PolicyName)
			out = append(out, &IAMRolePolicy{
				Name:       RolePolicyName(name, policy),
				Role:       securityRoleRef(name),
				PolicyName: policy,
				Document:   securityPolicyJSON(aws.ToString(p.PolicyDocument)),
			})
		}
	}
	return out, nil
}
