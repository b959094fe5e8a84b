package aws

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/kapstan/kapstan/internal/engine"
)

// iamAPI is the IAM calls for roles, their inline policies and instance
// profiles.
type iamAPI interface {
	iamDetailsAPI
	CreateRole(ctx context.Context, params *iam.CreateRoleInput, optFns ...func(*iam.Options)) (*iam.CreateRoleOutput, error)
	UpdateAssumeRolePolicy(ctx context.Context, params *iam.UpdateAssumeRolePolicyInput, optFns ...func(*iam.Options)) (*iam.UpdateAssumeRolePolicyOutput, error)
	TagRole(ctx context.Context, params *iam.TagRoleInput, optFns ...func(*iam.Options)) (*iam.TagRoleOutput, error)
	DeleteRole(ctx context.Context, params *iam.DeleteRoleInput, optFns ...func(*iam.Options)) (*iam.DeleteRoleOutput, error)

	PutRolePolicy(ctx context.Context, params *iam.PutRolePolicyInput, optFns ...func(*iam.Options)) (*iam.PutRolePolicyOutput, error)
	DeleteRolePolicy(ctx context.Context, params *iam.DeleteRolePolicyInput, optFns ...func(*iam.Options)) (*iam.DeleteRolePolicyOutput, error)
	DetachRolePolicy(ctx context.Context, params *iam.DetachRolePolicyInput, optFns ...func(*iam.Options)) (*iam.DetachRolePolicyOutput, error)

	GetInstanceProfile(ctx context.Context, params *iam.GetInstanceProfileInput, optFns ...func(*iam.Options)) (*iam.GetInstanceProfileOutput, error)
	CreateInstanceProfile(ctx context.Context, params *iam.CreateInstanceProfileInput, optFns ...func(*iam.Options)) (*iam.CreateInstanceProfileOutput, error)
	AddRoleToInstanceProfile(ctx context.Context, params *iam.AddRoleToInstanceProfileInput, optFns ...func(*iam.Options)) (*iam.AddRoleToInstanceProfileOutput, error)
	RemoveRoleFromInstanceProfile(ctx context.Context, params *iam.RemoveRoleFromInstanceProfileInput, optFns ...func(*iam.Options)) (*iam.RemoveRoleFromInstanceProfileOutput, error)
	DeleteInstanceProfile(ctx context.Context, params *iam.DeleteInstanceProfileInput, optFns ...func(*iam.Options)) (*iam.DeleteInstanceProfileOutput, error)
}

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

	// inlineFirst and detachFirst are the inline policies to delete and
	// the managed policies to detach before the role, for a role another
	// tool made: AWS refuses to delete a role that has either. kapstan's
	// own inline policies are resources of their own.
	inlineFirst, detachFirst []string
}

// Address implements engine.Resource.
func (r *IAMRole) Address() engine.Address { return engine.Address{Kind: KindIAMRole, Name: r.Name} }

// Dependencies implements engine.Resource.
func (r *IAMRole) Dependencies() []engine.Address { return nil }

// CloudID implements engine.Identified: IAM refers to roles by name.
func (r *IAMRole) CloudID() string { return r.RoleName }

// IAMPath is the IAM path of a cluster's roles and instance profiles.
func IAMPath(cluster string) string { return "/kapstan/" + cluster + "/" }

// Diff implements engine.Resource. Policies are compared as JSON values,
// so that AWS's reformatting (it URL-encodes and may reorder or re-space
// a document) is not a change.
func (r *IAMRole) Diff(actual engine.Resource, refs engine.Refs) []engine.FieldDiff {
	a := actual.(*IAMRole)
	var d engine.Differ
	d.Immutable("roleName", a.RoleName, r.RoleName)
	d.String("assumeRolePolicy", securityPolicyJSON(a.AssumeRolePolicy), securityPolicyJSON(r.AssumeRolePolicy))
	d.Tags(a.Tags, r.Tags)
	return d.Diffs()
}

// securityPolicyJSON returns a policy document in one canonical form:
// URL-decoded (IAM returns documents percent-encoded) and re-marshalled,
// which drops whitespace and sorts keys. Two documents are the same policy
// when their canonical forms are equal. A document that is not JSON is
// returned as it is, so that it still shows as a difference.
func securityPolicyJSON(doc string) string {
	s := strings.TrimSpace(doc)
	if s != "" && !strings.HasPrefix(s, "{") {
		if dec, err := url.QueryUnescape(s); err == nil {
			s = dec
		}
	}
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		return doc
	}
	b, err := json.Marshal(v)
	if err != nil {
		return doc
	}
	return string(b)
}

// securityIAMRoles lists the roles under the cluster's IAM path, from the
// plan's one read of IAM (see iamRoleDetails), with their tags.
func (c *Cloud) securityIAMRoles(ctx context.Context) ([]iamtypes.Role, error) {
	details, err := c.iamRoleDetails(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]iamtypes.Role, 0, len(details))
	for _, d := range details {
		out = append(out, iamtypes.Role{RoleName: d.RoleName, Arn: d.Arn, Path: d.Path, RoleId: d.RoleId,
			AssumeRolePolicyDocument: d.AssumeRolePolicyDocument, Tags: d.Tags})
	}
	return out, nil
}

// securityRoleFrom converts a listed role to an actual resource, without tags.
func securityRoleFrom(role iamtypes.Role) *IAMRole {
	name := aws.ToString(role.RoleName)
	return &IAMRole{
		Name:             name,
		RoleName:         name,
		AssumeRolePolicy: securityPolicyJSON(aws.ToString(role.AssumeRolePolicyDocument)),
		ARN:              aws.ToString(role.Arn),
	}
}

// find matches the role by name in the plan's one read of IAM, which
// carries the tags the role's Diff compares.
func (r *IAMRole) find(ctx context.Context, c *Cloud, refs engine.Refs) (engine.Resource, error) {
	if r.Name != r.RoleName {
		return nil, securityNameError(r.Address(), r.RoleName)
	}
	roles, err := c.securityIAMRoles(ctx)
	if err != nil {
		return nil, err
	}
	for _, role := range roles {
		if aws.ToString(role.RoleName) != r.RoleName {
			continue
		}
		a := securityRoleFrom(role)
		a.Name = r.Name
		a.Tags = securityFromIAMTags(role.Tags)
		return a, nil
	}
	return nil, nil
}

func (r *IAMRole) create(ctx context.Context, c *Cloud, refs engine.Refs) (engine.Resource, error) {
	out, err := c.IAM.CreateRole(ctx, &iam.CreateRoleInput{
		RoleName:                 aws.String(r.RoleName),
		Path:                     aws.String(IAMPath(c.Cluster)),
		AssumeRolePolicyDocument: aws.String(r.AssumeRolePolicy),
		Tags:                     securityIAMTags(r.Tags),
	})
	if err != nil {
		return nil, fmt.Errorf("creating IAM role %s: %w", r.Name, err)
	}
	return &IAMRole{
		Name:             r.Name,
		RoleName:         r.RoleName,
		AssumeRolePolicy: r.AssumeRolePolicy,
		ARN:              aws.ToString(out.Role.Arn),
		Tags:             r.Tags,
	}, nil
}

// update replaces the trust policy and adds tags, as diffs say.
func (r *IAMRole) update(ctx context.Context, c *Cloud, actual engine.Resource, diffs []engine.FieldDiff, refs engine.Refs) (engine.Resource, error) {
	a := *actual.(*IAMRole)
	if securityHasDiff(diffs, "assumeRolePolicy") {
		_, err := c.IAM.UpdateAssumeRolePolicy(ctx, &iam.UpdateAssumeRolePolicyInput{
			RoleName:       aws.String(a.RoleName),
			PolicyDocument: aws.String(r.AssumeRolePolicy),
		})
		if err != nil {
			return nil, fmt.Errorf("updating trust policy of IAM role %s: %w", r.Name, err)
		}
		a.AssumeRolePolicy = r.AssumeRolePolicy
	}
	if add := tagsToAdd(a.Tags, r.Tags); len(add) > 0 {
		if _, err := c.IAM.TagRole(ctx, &iam.TagRoleInput{RoleName: aws.String(a.RoleName), Tags: securityIAMTags(add)}); err != nil {
			return nil, fmt.Errorf("tagging IAM role %s: %w", r.Name, err)
		}
		a.Tags = mergeTags(a.Tags, r.Tags)
	}
	return &a, nil
}

// delete removes the role. IAM refuses while the role still has inline
// policies or sits in an instance profile (DeleteConflict; moto enforces
// this too); the engine deletes those first, as they depend on the role,
// and retries a conflict while IAM catches up.
func (r *IAMRole) delete(ctx context.Context, c *Cloud) error {
	for _, p := range r.inlineFirst {
		_, err := c.IAM.DeleteRolePolicy(ctx, &iam.DeleteRolePolicyInput{RoleName: aws.String(r.RoleName), PolicyName: aws.String(p)})
		if err != nil && !isNotFound(err) {
			return fmt.Errorf("deleting inline policy %s of IAM role %s: %w", p, r.RoleName, err)
		}
	}
	for _, arn := range r.detachFirst {
		_, err := c.IAM.DetachRolePolicy(ctx, &iam.DetachRolePolicyInput{RoleName: aws.String(r.RoleName), PolicyArn: aws.String(arn)})
		if err != nil && !isNotFound(err) {
			return fmt.Errorf("detaching policy %s from IAM role %s: %w", arn, r.RoleName, err)
		}
	}
	_, err := c.IAM.DeleteRole(ctx, &iam.DeleteRoleInput{RoleName: aws.String(r.RoleName)})
	return deleteResult(err, "IAM role "+r.Name)
}

// ownedRoles lists the roles under the cluster's IAM path.
func (c *Cloud) ownedRoles(ctx context.Context) ([]engine.Resource, error) {
	roles, err := c.securityIAMRoles(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]engine.Resource, 0, len(roles))
	for _, role := range roles {
		out = append(out, securityRoleFrom(role))
	}
	return out, nil
}

// securityIAMTags converts tags for IAM calls, in key order.
func securityIAMTags(t Tags) []iamtypes.Tag {
	out := make([]iamtypes.Tag, 0, len(t))
	for _, k := range sortedKeys(t) {
		out = append(out, iamtypes.Tag{Key: aws.String(k), Value: aws.String(t[k])})
	}
	return out
}

// securityFromIAMTags converts IAM tags to a map.
func securityFromIAMTags(tags []iamtypes.Tag) Tags {
	out := Tags{}
	for _, t := range tags {
		out[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return out
}

// securityNameError says that a resource found by name must have the
// address name the owned listing gives it: otherwise one plan would find
// it under its address and delete it as an orphan under the other.
func securityNameError(addr engine.Address, want string) error {
	return fmt.Errorf("%s: its address name must be %q, or it would be found under one address and deleted as an orphan under the other", addr, want)
}

// securityHasDiff reports whether diffs name the field at path.
func securityHasDiff(diffs []engine.FieldDiff, path string) bool {
	for _, d := range diffs {
		if d.Path == path {
			return true
		}
	}
	return false
}
