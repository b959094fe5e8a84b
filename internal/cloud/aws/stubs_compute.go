package aws

// Placeholders until the compute resources are implemented; delete this file then.

import (
	"context"
	"errors"

	"github.com/kapstan/kapstan/internal/engine"
)

var _ = errors.New
var _ context.Context
var _ engine.Address

type launchTemplateAPI interface{}
type autoScalingGroupAPI interface{}
type loadBalancerAPI interface{}
type dnsAPI interface{}

func (r *LaunchTemplate) Diff(actual engine.Resource, refs engine.Refs) []engine.FieldDiff {
	return nil
}
func (r *LaunchTemplate) find(ctx context.Context, c *Cloud, refs engine.Refs) (engine.Resource, error) {
	return nil, errors.New("not implemented")
}
func (r *LaunchTemplate) create(ctx context.Context, c *Cloud, refs engine.Refs) (engine.Resource, error) {
	return nil, errors.New("not implemented")
}
func (r *LaunchTemplate) update(ctx context.Context, c *Cloud, actual engine.Resource, diffs []engine.FieldDiff, refs engine.Refs) (engine.Resource, error) {
	return nil, errors.New("not implemented")
}
func (r *LaunchTemplate) delete(ctx context.Context, c *Cloud) error {
	return errors.New("not implemented")
}
func (c *Cloud) ownedLaunchTemplates(ctx context.Context) ([]engine.Resource, error) { return nil, nil }

func (r *AutoScalingGroup) Diff(actual engine.Resource, refs engine.Refs) []engine.FieldDiff {
	return nil
}
func (r *AutoScalingGroup) find(ctx context.Context, c *Cloud, refs engine.Refs) (engine.Resource, error) {
	return nil, errors.New("not implemented")
}
func (r *AutoScalingGroup) create(ctx context.Context, c *Cloud, refs engine.Refs) (engine.Resource, error) {
	return nil, errors.New("not implemented")
}
func (r *AutoScalingGroup) update(ctx context.Context, c *Cloud, actual engine.Resource, diffs []engine.FieldDiff, refs engine.Refs) (engine.Resource, error) {
	return nil, errors.New("not implemented")
}
func (r *AutoScalingGroup) delete(ctx context.Context, c *Cloud) error {
	return errors.New("not implemented")
}
func (c *Cloud) ownedAutoScalingGroups(ctx context.Context) ([]engine.Resource, error) {
	return nil, nil
}

func (r *LoadBalancer) Diff(actual engine.Resource, refs engine.Refs) []engine.FieldDiff { return nil }
func (r *LoadBalancer) find(ctx context.Context, c *Cloud, refs engine.Refs) (engine.Resource, error) {
	return nil, errors.New("not implemented")
}
func (r *LoadBalancer) create(ctx context.Context, c *Cloud, refs engine.Refs) (engine.Resource, error) {
	return nil, errors.New("not implemented")
}
func (r *LoadBalancer) update(ctx context.Context, c *Cloud, actual engine.Resource, diffs []engine.FieldDiff, refs engine.Refs) (engine.Resource, error) {
	return nil, errors.New("not implemented")
}
func (r *LoadBalancer) delete(ctx context.Context, c *Cloud) error {
	return errors.New("not implemented")
}
func (c *Cloud) ownedLoadBalancers(ctx context.Context) ([]engine.Resource, error) { return nil, nil }

func (r *TargetGroup) Diff(actual engine.Resource, refs engine.Refs) []engine.FieldDiff { return nil }
func (r *TargetGroup) find(ctx context.Context, c *Cloud, refs engine.Refs) (engine.Resource, error) {
	return nil, errors.New("not implemented")
}
func (r *TargetGroup) create(ctx context.Context, c *Cloud, refs engine.Refs) (engine.Resource, error) {
	return nil, errors.New("not implemented")
}
func (r *TargetGroup) update(ctx context.Context, c *Cloud, actual engine.Resource, diffs []engine.FieldDiff, refs engine.Refs) (engine.Resource, error) {
	return nil, errors.New("not implemented")
}
func (r *TargetGroup) delete(ctx context.Context, c *Cloud) error {
	return errors.New("not implemented")
}
func (c *Cloud) ownedTargetGroups(ctx context.Context) ([]engine.Resource, error) { return nil, nil }

func (r *Listener) Diff(actual engine.Resource, refs engine.Refs) []engine.FieldDiff { return nil }
func (r *Listener) find(ctx context.Context, c *Cloud, refs engine.Refs) (engine.Resource, error) {
	return nil, errors.New("not implemented")
}
func (r *Listener) create(ctx context.Context, c *Cloud, refs engine.Refs) (engine.Resource, error) {
	return nil, errors.New("not implemented")
}
func (r *Listener) update(ctx context.Context, c *Cloud, actual engine.Resource, diffs []engine.FieldDiff, refs engine.Refs) (engine.Resource, error) {
	return nil, errors.New("not implemented")
}
func (r *Listener) delete(ctx context.Context, c *Cloud) error                 { return errors.New("not implemented") }
func (c *Cloud) ownedListeners(ctx context.Context) ([]engine.Resource, error) { return nil, nil }

func (r *DNSRecord) Diff(actual engine.Resource, refs engine.Refs) []engine.FieldDiff { return nil }
func (r *DNSRecord) find(ctx context.Context, c *Cloud, refs engine.Refs) (engine.Resource, error) {
	return nil, errors.New("not implemented")
}
func (r *DNSRecord) create(ctx context.Context, c *Cloud, refs engine.Refs) (engine.Resource, error) {
	return nil, errors.New("not implemented")
}
func (r *DNSRecord) update(ctx context.Context, c *Cloud, actual engine.Resource, diffs []engine.FieldDiff, refs engine.Refs) (engine.Resource, error) {
	return nil, errors.New("not implemented")
}
func (r *DNSRecord) delete(ctx context.Context, c *Cloud) error                 { return errors.New("not implemented") }
func (c *Cloud) ownedDNSRecords(ctx context.Context) ([]engine.Resource, error) { return nil, nil }
