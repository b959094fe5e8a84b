package aws

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/kapstan/kapstan/internal/engine"
)

// vpcAPI is the EC2 calls the VPC kind makes. CreateTags is shared by every
// network kind: it tags existing resources (shared ones, and owned ones
// whose tags drifted).
type vpcAPI interface {
	DescribeVpcs(ctx context.Context, params *ec2.DescribeVpcsInput, optFns ...func(*ec2.Options)) (*ec2.DescribeVpcsOutput, error)
	DescribeVpcAttribute(ctx context.Context, params *ec2.DescribeVpcAttributeInput, optFns ...func(*ec2.Options)) (*ec2.DescribeVpcAttributeOutput, error)
	CreateVpc(ctx context.Context, params *ec2.CreateVpcInput, optFns ...func(*ec2.Options)) (*ec2.CreateVpcOutput, error)
	ModifyVpcAttribute(ctx context.Context, params *ec2.ModifyVpcAttributeInput, optFns ...func(*ec2.Options)) (*ec2.ModifyVpcAttributeOutput, error)
	DeleteVpc(ctx context.Context, params *ec2.DeleteVpcInput, optFns ...func(*ec2.Options)) (*ec2.DeleteVpcOutput, error)
	CreateTags(ctx context.Context, params *ec2.CreateTagsInput, optFns ...func(*ec2.Options)) (*ec2.CreateTagsOutput, error)
}

// VPC is the cluster's network. When Shared, it is an existing VPC named
// in the spec: kapstan only adds the cluster's shared tag to it.
type VPC struct {
	Name string
	// ID is the VPC id: given for a shared VPC, read from AWS otherwise.
	ID                 string
	CIDR               string
	Shared             bool
	EnableDNSHostnames bool
	EnableDNSSupport   bool
	Tags               Tags
}

func (r *VPC) Address() engine.Address        { return engine.Address{Kind: KindVPC, Name: r.Name} }
func (r *VPC) Dependencies() []engine.Address { return nil }
func (r *VPC) CloudID() string                { return r.ID }
func (r *VPC) Summary() string {
	if r.Shared {
		return fmt.Sprintf("existing %s, tag as shared", r.ID)
	}
	return "cidr " + r.CIDR
}

// Diff compares the desired VPC with the one in AWS. A shared VPC is
// someone else's: only the cluster's shared tag is checked. An owned VPC's
// range cannot change in place.
func (r *VPC) Diff(actual engine.Resource, refs engine.Refs) []engine.FieldDiff {
	a := actual.(*VPC)
	var d engine.Differ
	if !r.Shared {
		d.Immutable("cidr", a.CIDR, r.CIDR)
		d.Bool("enableDnsHostnames", a.EnableDNSHostnames, r.EnableDNSHostnames)
		d.Bool("enableDnsSupport", a.EnableDNSSupport, r.EnableDNSSupport)
	}
	d.Tags(a.Tags, r.Tags)
	return d.Diffs()
}

// networkVPCs is the cluster's owned VPCs, read once per plan.
func (c *Cloud) networkVPCs(ctx context.Context) ([]ec2types.Vpc, error) {
	return cached(ctx, c, "network/vpcs", func(ctx context.Context) ([]ec2types.Vpc, error) {
		var out []ec2types.Vpc
		p := ec2.NewDescribeVpcsPaginator(c.EC2, &ec2.DescribeVpcsInput{Filters: c.ownedFilters(KindVPC)})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return nil, fmt.Errorf("describing VPCs: %w", err)
			}
			out = append(out, page.Vpcs...)
		}
		return out, nil
	})
}

// networkVPCIndex maps the ids of the cluster's owned VPCs to their
// addresses, so that actual resources inside them can refer to them by
// address (the order of deletes depends on it).
func (c *Cloud) networkVPCIndex(ctx context.Context) (map[string]engine.Address, error) {
	vpcs, err := c.networkVPCs(ctx)
	if err != nil {
		return nil, err
	}
	idx := map[string]engine.Address{}
	for _, v := range vpcs {
		if addr, ok := c.networkOwnedAddress(KindVPC, v.Tags); ok {
			idx[aws.ToString(v.VpcId)] = addr
		}
	}
	return idx, nil
}

func (r *VPC) find(ctx context.Context, c *Cloud, refs engine.Refs) (engine.Resource, error) {
	if r.Shared {
		return r.findShared(ctx, c)
	}
	vpcs, err := c.networkVPCs(ctx)
	if err != nil {
		return nil, err
	}
	for _, v := range vpcs {
		if addr, ok := c.networkOwnedAddress(KindVPC, v.Tags); ok && addr == r.Address() {
			a := vpcFromEC2(r.Name, v)
			// Two calls per owned VPC (a cluster has one): DescribeVpcs
			// does not return the DNS attributes, and DescribeVpcAttribute
			// takes one attribute of one VPC.
			if a.EnableDNSHostnames, a.EnableDNSSupport, err = c.vpcDNSAttributes(ctx, a.ID); err != nil {
				return nil, err
			}
			return a, nil
		}
	}
	return nil, nil
}

// findShared reads the existing VPC the spec names by id. It must exist:
// kapstan never creates a shared VPC.
func (r *VPC) findShared(ctx context.Context, c *Cloud) (engine.Resource, error) {
	if r.ID == "" {
		return nil, fmt.Errorf("shared VPC %s has no id (spec.networkID)", r.Name)
	}
	vpcs, err := cached(ctx, c, "network/vpc/"+r.ID, func(ctx context.Context) ([]ec2types.Vpc, error) {
		out, err := c.EC2.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{VpcIds: []string{r.ID}})
		if err != nil {
			if isNotFound(err) {
				return nil, nil
			}
			return nil, fmt.Errorf("describing VPC %s: %w", r.ID, err)
		}
		return out.Vpcs, nil
	})
	if err != nil {
		return nil, err
	}
	if len(vpcs) == 0 {
		return nil, fmt.Errorf("spec.networkID: VPC %s not found in %s", r.ID, c.Region)
	}
	a := vpcFromEC2(r.Name, vpcs[0])
	a.Shared = true
	return a, nil
}

func vpcFromEC2(name string, v ec2types.Vpc) *VPC {
	return &VPC{
		Name: name,
		ID:   aws.ToString(v.VpcId),
		CIDR: aws.ToString(v.CidrBlock),
		Tags: fromEC2Tags(v.Tags),
	}
}

// vpcDNSAttributes reads the two DNS attributes of a VPC.
func (c *Cloud) vpcDNSAttributes(ctx context.Context, id string) (hostnames, support bool, err error) {
	get := func(attr ec2types.VpcAttributeName) (bool, error) {
		out, err := c.EC2.DescribeVpcAttribute(ctx, &ec2.DescribeVpcAttributeInput{VpcId: aws.String(id), Attribute: attr})
		if err != nil {
			return false, fmt.Errorf("describing VPC %s attribute %s: %w", id, attr, err)
		}
		switch attr {
		case ec2types.VpcAttributeNameEnableDnsHostnames:
			return out.EnableDnsHostnames != nil && aws.ToBool(out.EnableDnsHostnames.Value), nil
		default:
			return out.EnableDnsSupport != nil && aws.ToBool(out.EnableDnsSupport.Value), nil
		}
	}
	if hostnames, err = get(ec2types.VpcAttributeNameEnableDnsHostnames); err != nil {
		return false, false, err
	}
	if support, err = get(ec2types.VpcAttributeNameEnableDnsSupport); err != nil {
		return false, false, err
	}
	return hostnames, support, nil
}

func (r *VPC) create(ctx context.Context, c *Cloud, refs engine.Refs) (engine.Resource, error) {
	if r.Shared {
		return nil, fmt.Errorf("spec.networkID: VPC %s not found; kapstan does not create a shared VPC", r.ID)
	}
	out, err := c.EC2.CreateVpc(ctx, &ec2.CreateVpcInput{
		CidrBlock:         aws.String(r.CIDR),
		TagSpecifications: ec2TagSpec(ec2types.ResourceTypeVpc, r.Tags),
	})
	if err != nil {
		return nil, fmt.Errorf("creating VPC %s: %w", r.Name, err)
	}
	a := vpcFromEC2(r.Name, *out.Vpc)
	a.Tags = maps.Clone(r.Tags) // some implementations omit tags from the response
	// A new VPC has DNS support on and DNS hostnames off. Should setting
	// them fail, the VPC is tagged already: the next run finds it and its
	// diff sets them.
	a.EnableDNSSupport, a.EnableDNSHostnames = true, false
	if err := a.setDNS(ctx, c, r.EnableDNSHostnames, r.EnableDNSSupport); err != nil {
		return nil, err
	}
	return a, nil
}

// setDNS sets the DNS attributes of the VPC a that differ, one call each
// (ModifyVpcAttribute takes one attribute at a time), and records them in a.
func (a *VPC) setDNS(ctx context.Context, c *Cloud, hostnames, support bool) error {
	set := func(in *ec2.ModifyVpcAttributeInput, what string) error {
		in.VpcId = aws.String(a.ID)
		err := networkRetryNotFound(ctx, func() error {
			_, err := c.EC2.ModifyVpcAttribute(ctx, in)
			return err
		})
		if err != nil {
			return fmt.Errorf("setting %s of VPC %s: %w", what, a.Name, err)
		}
		return nil
	}
	if support != a.EnableDNSSupport {
		if err := set(&ec2.ModifyVpcAttributeInput{EnableDnsSupport: &ec2types.AttributeBooleanValue{Value: aws.Bool(support)}}, "enableDnsSupport"); err != nil {
			return err
		}
		a.EnableDNSSupport = support
	}
	if hostnames != a.EnableDNSHostnames {
		if err := set(&ec2.ModifyVpcAttributeInput{EnableDnsHostnames: &ec2types.AttributeBooleanValue{Value: aws.Bool(hostnames)}}, "enableDnsHostnames"); err != nil {
			return err
		}
		a.EnableDNSHostnames = hostnames
	}
	return nil
}

func (r *VPC) update(ctx context.Context, c *Cloud, actual engine.Resource, diffs []engine.FieldDiff, refs engine.Refs) (engine.Resource, error) {
	a := *actual.(*VPC)
	if !r.Shared {
		if err := a.setDNS(ctx, c, r.EnableDNSHostnames, r.EnableDNSSupport); err != nil {
			return nil, err
		}
	}
	tags, err := networkAddTags(ctx, c, a.ID, a.Tags, r.Tags, diffs)
	if err != nil {
		return nil, fmt.Errorf("tagging VPC %s: %w", r.Name, err)
	}
	a.Tags = tags
	return &a, nil
}

func (r *VPC) delete(ctx context.Context, c *Cloud) error {
	if r.Shared {
		return fmt.Errorf("VPC %s (%s) is shared: kapstan never deletes it", r.Name, r.ID)
	}
	_, err := c.EC2.DeleteVpc(ctx, &ec2.DeleteVpcInput{VpcId: aws.String(r.ID)})
	if isDependencyViolation(err) {
		if left := c.vpcBlockers(ctx, r.ID); len(left) > 0 {
			err = fmt.Errorf("%w; it still holds %s", err, strings.Join(left, ", "))
		}
	}
	return networkDeleteErr(err, "VPC", r.Name)
}

// ownedVPCs lists the VPCs this cluster made. A shared VPC never carries
// the address tag, and is skipped even if it did. Their DNS attributes are
// not read: a VPC listed here is deleted, never compared.
func (c *Cloud) ownedVPCs(ctx context.Context) ([]engine.Resource, error) {
	vpcs, err := c.networkVPCs(ctx)
	if err != nil {
		return nil, err
	}
	var out []engine.Resource
	for _, v := range vpcs {
		if addr, ok := c.networkOwnedAddress(KindVPC, v.Tags); ok {
			out = append(out, vpcFromEC2(addr.Name, v))
		}
	}
	return out, nil
}

// Helpers shared by the network kinds (VPC, subnets, gateways, routing).

// networkOwnedAddress returns the address of a resource of kind that this
// cluster owns: it carries an address tag for kind and is not marked
// shared.
func (c *Cloud) networkOwnedAddress(kind string, tags []ec2types.Tag) (engine.Address, bool) {
	t := fromEC2Tags(tags)
	if t[TagClusterPrefix+c.Cluster] == "shared" || t[TagKubernetesCluster] != c.Cluster {
		return engine.Address{}, false
	}
	return addressOf(kind, t)
}

// networkSorted lists resources by address, so that plans (and their
// fingerprints) do not depend on map order.
func networkSorted[T engine.Resource](m map[engine.Address]T) []engine.Resource {
	out := make([]engine.Resource, 0, len(m))
	for _, addr := range slices.SortedFunc(maps.Keys(m), func(a, b engine.Address) int {
		return strings.Compare(a.String(), b.String())
	}) {
		out = append(out, m[addr])
	}
	return out
}

// networkRef is an actual reference: the id, and the address when the
// resource is one of the cluster's own.
func networkRef(id string, index map[string]engine.Address) engine.Ref {
	if id == "" {
		return engine.Ref{}
	}
	return engine.Ref{ID: id, Addr: index[id]}
}

// networkOptional is s for an API field, or nil (not sent) when empty.
func networkOptional(s string) *string {
	if s == "" {
		return nil
	}
	return aws.String(s)
}

// networkRefDiff is Differ.Ref that also accepts a desired reference to
// nothing (a route through a NAT gateway has no internet gateway).
func networkRefDiff(d *engine.Differ, path, actualID string, desired engine.Ref, refs engine.Refs, immutable bool) {
	if desired.IsZero() {
		if immutable {
			d.Immutable(path, actualID, "")
		} else {
			d.String(path, actualID, "")
		}
		return
	}
	d.Ref(path, actualID, desired, refs, immutable)
}

// networkHasDiff reports whether diffs name path, or a path under it when
// path ends with "[" (as in "tags[").
func networkHasDiff(diffs []engine.FieldDiff, path string) bool {
	for _, f := range diffs {
		if f.Path == path || (strings.HasSuffix(path, "[") && strings.HasPrefix(f.Path, path)) {
			return true
		}
	}
	return false
}

// networkAddTags adds the desired tags that are missing or different on
// resource id, when the diffs name a tag, and returns the tags it now has.
// Extra tags are left alone, as Differ.Tags ignores them.
func networkAddTags(ctx context.Context, c *Cloud, id string, have, want Tags, diffs []engine.FieldDiff) (Tags, error) {
	if !networkHasDiff(diffs, "tags[") {
		return mergeTags(have, nil), nil
	}
	if err := tagEC2(ctx, c, id, have, want); err != nil {
		return nil, err
	}
	return mergeTags(have, want), nil
}

// networkDeleteErr turns the error of a delete call into what the engine
// expects: nil when the resource is gone already, retryable when
// something still uses it.
func networkDeleteErr(err error, kind, name string) error {
	return deleteResult(err, kind+" "+name)
}

// networkNotFoundWaits are the pauses before retrying a call that names a
// resource created a moment ago: EC2 is eventually consistent, and a new
// id can be unknown to the next call for a few seconds.
var networkNotFoundWaits = []time.Duration{
	250 * time.Millisecond, 500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second,
}

// networkRetryNotFound runs f, the step of a create that follows the
// create call itself, and retries it while AWS says an id is not found.
// It cannot leave that to the engine: a retried create would make a
// second resource.
func networkRetryNotFound(ctx context.Context, f func() error) error {
	err := f()
	for _, wait := range networkNotFoundWaits {
		if err == nil || !isNotFound(err) {
			return err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return errors.Join(err, ctx.Err())
		case <-t.C:
		}
		err = f()
	}
	return err
}
