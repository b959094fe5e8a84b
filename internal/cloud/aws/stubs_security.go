package aws

// Placeholders until the security resources are implemented; delete this file then.

import (
	"context"
	"errors"

	"github.com/kapstan/kapstan/internal/engine"
)

var _ = errors.New
var _ context.Context
var _ engine.Address

type securityGroupAPI interface{}
type iamAPI interface{}
type keyPairAPI interface{}
type volumeAPI interface{}

func (r *SecurityGroup) Diff(actual engine.Resource, refs engine.Refs) []engine.FieldDiff { return nil }
func (r *SecurityGroup) find(ctx context.Context, c *Cloud, refs engine.Refs) (engine.Resource, error) {
	return nil, errors.New("not implemented")
}
func (r *SecurityGroup) create(ctx context.Context, c *Cloud, refs engine.Refs) (engine.Resource, error) {
	return nil, errors.New("not implemented")
}
func (r *SecurityGroup) update(ctx context.Context, c *Cloud, actual engine.Resource, diffs []engine.FieldDiff, refs engine.Refs) (engine.Resource, error) {
	return nil, errors.New("not implemented")
}
func (r *SecurityGroup) delete(ctx context.Context, c *Cloud) error {
	return errors.New("not implemented")
}
func (c *Cloud) ownedSecurityGroups(ctx context.Context) ([]engine.Resource, error) { return nil, nil }

func (r *SecurityGroupRule) Diff(actual engine.Resource, refs engine.Refs) []engine.FieldDiff {
	return nil
}
func (r *SecurityGroupRule) find(ctx context.Context, c *Cloud, refs engine.Refs) (engine.Resource, error) {
	return nil, errors.New("not implemented")
}
func (r *SecurityGroupRule) create(ctx context.Context, c *Cloud, refs engine.Refs) (engine.Resource, error) {
	return nil, errors.New("not implemented")
}
func (r *SecurityGroupRule) update(ctx context.Context, c *Cloud, actual engine.Resource, diffs []engine.FieldDiff, refs engine.Refs) (engine.Resource, error) {
	return nil, errors.New("not implemented")
}
func (r *SecurityGroupRule) delete(ctx context.Context, c *Cloud) error {
	return errors.New("not implemented")
}
func (c *Cloud) ownedSecurityGroupRules(ctx context.Context) ([]engine.Resource, error) {
	return nil, nil
}

func (r *IAMRole) Diff(actual engine.Resource, refs engine.Refs) []engine.FieldDiff { return nil }
func (r *IAMRole) find(ctx context.Context, c *Cloud, refs engine.Refs) (engine.Resource, error) {
	return nil, errors.New("not implemented")
}
func (r *IAMRole) create(ctx context.Context, c *Cloud, refs engine.Refs) (engine.Resource, error) {
	return nil, errors.New("not implemented")
}
func (r *IAMRole) update(ctx context.Context, c *Cloud, actual engine.Resource, diffs []engine.FieldDiff, refs engine.Refs) (engine.Resource, error) {
	return nil, errors.New("not implemented")
}
func (r *IAMRole) delete(ctx context.Context, c *Cloud) error              { return errors.New("not implemented") }
func (c *Cloud) ownedRoles(ctx context.Context) ([]engine.Resource, error) { return nil, nil }

func (r *IAMRolePolicy) Diff(actual engine.Resource, refs engine.Refs) []engine.FieldDiff { return nil }
func (r *IAMRolePolicy) find(ctx context.Context, c *Cloud, refs engine.Refs) (engine.Resource, error) {
	return nil, errors.New("not implemented")
}
func (r *IAMRolePolicy) create(ctx context.Context, c *Cloud, refs engine.Refs) (engine.Resource, error) {
	return nil, errors.New("not implemented")
}
func (r *IAMRolePolicy) update(ctx context.Context, c *Cloud, actual engine.Resource, diffs []engine.FieldDiff, refs engine.Refs) (engine.Resource, error) {
	return nil, errors.New("not implemented")
}
func (r *IAMRolePolicy) delete(ctx context.Context, c *Cloud) error {
	return errors.New("not implemented")
}
func (c *Cloud) ownedRolePolicies(ctx context.Context) ([]engine.Resource, error) { return nil, nil }

func (r *InstanceProfile) Diff(actual engine.Resource, refs engine.Refs) []engine.FieldDiff {
	return nil
}
func (r *InstanceProfile) find(ctx context.Context, c *Cloud, refs engine.Refs) (engine.Resource, error) {
	return nil, errors.New("not implemented")
}
func (r *InstanceProfile) create(ctx context.Context, c *Cloud, refs engine.Refs) (engine.Resource, error) {
	return nil, errors.New("not implemented")
}
func (r *InstanceProfile) update(ctx context.Context, c *Cloud, actual engine.Resource, diffs []engine.FieldDiff, refs engine.Refs) (engine.Resource, error) {
	return nil, errors.New("not implemented")
}
func (r *InstanceProfile) delete(ctx context.Context, c *Cloud) error {
	return errors.New("not implemented")
}
func (c *Cloud) ownedInstanceProfiles(ctx context.Context) ([]engine.Resource, error) {
	return nil, nil
}

func (r *KeyPair) Diff(actual engine.Resource, refs engine.Refs) []engine.FieldDiff { return nil }
func (r *KeyPair) find(ctx context.Context, c *Cloud, refs engine.Refs) (engine.Resource, error) {
	return nil, errors.New("not implemented")
}
func (r *KeyPair) create(ctx context.Context, c *Cloud, refs engine.Refs) (engine.Resource, error) {
	return nil, errors.New("not implemented")
}
func (r *KeyPair) update(ctx context.Context, c *Cloud, actual engine.Resource, diffs []engine.FieldDiff, refs engine.Refs) (engine.Resource, error) {
	return nil, errors.New("not implemented")
}
func (r *KeyPair) delete(ctx context.Context, c *Cloud) error                 { return errors.New("not implemented") }
func (c *Cloud) ownedKeyPairs(ctx context.Context) ([]engine.Resource, error) { return nil, nil }

func (r *Volume) Diff(actual engine.Resource, refs engine.Refs) []engine.FieldDiff { return nil }
func (r *Volume) find(ctx context.Context, c *Cloud, refs engine.Refs) (engine.Resource, error) {
	return nil, errors.New("not implemented")
}
func (r *Volume) create(ctx context.Context, c *Cloud, refs engine.Refs) (engine.Resource, error) {
	return nil, errors.New("not implemented")
}
func (r *Volume) update(ctx context.Context, c *Cloud, actual engine.Resource, diffs []engine.FieldDiff, refs engine.Refs) (engine.Resource, error) {
	return nil, errors.New("not implemented")
}
func (r *Volume) delete(ctx context.Context, c *Cloud) error                 { return errors.New("not implemented") }
func (c *Cloud) ownedVolumes(ctx context.Context) ([]engine.Resource, error) { return nil, nil }
