package aws

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/kapstan/kapstan/internal/engine"
)

// securityGroupAPI is the EC2 calls for security groups and their rules.
type securityGroupAPI interface {
	DescribeSecurityGroups(ctx context.Context, params *ec2.DescribeSecurityGroupsInput, optFns ...func(*ec2.Options)) (*ec2.DescribeSecurityGroupsOutput, error)
	CreateSecurityGroup(ctx context.Context, params *ec2.CreateSecurityGroupInput, optFns ...func(*ec2.Options)) (*ec2.CreateSecurityGroupOutput, error)
	DeleteSecurityGroup(ctx context.Context, params *ec2.DeleteSecurityGroupInput, optFns ...func(*ec2.Options)) (*ec2.DeleteSecurityGroupOutput, error)
	CreateTags(ctx context.Context, params *ec2.CreateTagsInput, optFns ...func(*ec2.Options)) (*ec2.CreateTagsOutput, error)
	AuthorizeSecurityGroupIngress(ctx context.Context, params *ec2.AuthorizeSecurityGroupIngressInput, optFns ...func(*ec2.Options)) (*ec2.AuthorizeSecurityGroupIngressOutput, error)
	RevokeSecurityGroupIngress(ctx context.Context, params *ec2.RevokeSecurityGroupIngressInput, optFns ...func(*ec2.Options)) (*ec2.RevokeSecurityGroupIngressOutput, error)
	RevokeSecurityGroupEgress(ctx context.Context, params *ec2.RevokeSecurityGroupEgressInput, optFns ...func(*ec2.Options)) (*ec2.RevokeSecurityGroupEgressOutput, error)
	UpdateSecurityGroupRuleDescriptionsIngress(ctx context.Context, params *ec2.UpdateSecurityGroupRuleDescriptionsIngressInput, optFns ...func(*ec2.Options)) (*ec2.UpdateSecurityGroupRuleDescriptionsIngressOutput, error)
}

// SecurityGroup holds the rules of one role (control plane, nodes,
// bastion, API load balancer). Its rules are SecurityGroupRule resources.
type SecurityGroup struct {
	Name        string
	ID          string
	GroupName   string
	VPC         engine.Ref
	Description string
	Tags        Tags

	// revokeFirst and revokeEgressFirst are rules naming other groups that
	// a delete revokes before the group, for groups another tool made:
	// AWS refuses to delete a group another group's rule names, and two
	// groups naming each other could never go. kapstan's own rules are
	// resources of their own, deleted before their groups.
	revokeFirst, revokeEgressFirst []ec2types.IpPermission
}

// Address implements engine.Resource.
func (r *SecurityGroup) Address() engine.Address {
	return engine.Address{Kind: KindSecurityGroup, Name: r.Name}
}

// Dependencies implements engine.Resource.
func (r *SecurityGroup) Dependencies() []engine.Address { return deps(r.VPC) }

// CloudID implements engine.Identified.
func (r *SecurityGroup) CloudID() string { return r.ID }

// Diff implements engine.Resource. A group's name, description and VPC are
// fixed at creation by AWS; only its tags change in place.
func (r *SecurityGroup) Diff(actual engine.Resource, refs engine.Refs) []engine.FieldDiff {
	a := actual.(*SecurityGroup)
	var d engine.Differ
	d.Immutable("groupName", a.GroupName, r.GroupName)
	d.Immutable("description", a.Description, r.Description)
	d.Ref("vpc", a.VPC.ID, r.VPC, refs, true)
	d.Tags(a.Tags, r.Tags)
	return d.Diffs()
}

// securitySGsKey caches the one DescribeSecurityGroups of a plan; rules
// are read from it too.
const securitySGsKey = "security/securityGroups"

// securitySGs lists the groups this cluster made, with their rules, in
// one paginated DescribeSecurityGroups filtered by the cluster's tags.
func (c *Cloud) securitySGs(ctx context.Context) ([]ec2types.SecurityGroup, error) {
	return cached(ctx, c, securitySGsKey, func(ctx context.Context) ([]ec2types.SecurityGroup, error) {
		var out []ec2types.SecurityGroup
		p := ec2.NewDescribeSecurityGroupsPaginator(c.EC2, &ec2.DescribeSecurityGroupsInput{Filters: c.ownedFilters(KindSecurityGroup)})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return nil, fmt.Errorf("listing security groups: %w", err)
			}
			out = append(out, page.SecurityGroups...)
		}
		return out, nil
	})
}

// securityGroupFrom converts a described group to an actual resource.
func securityGroupFrom(addr engine.Address, g ec2types.SecurityGroup) *SecurityGroup {
	return &SecurityGroup{
		Name:        addr.Name,
		ID:          aws.ToString(g.GroupId),
		GroupName:   aws.ToString(g.GroupName),
		VPC:         engine.RefID(aws.ToString(g.VpcId)),
		Description: aws.ToString(g.Description),
		Tags:        fromEC2Tags(g.Tags),
	}
}

func (r *SecurityGroup) find(ctx context.Context, c *Cloud, refs engine.Refs) (engine.Resource, error) {
	groups, err := c.securitySGs(ctx)
	if err != nil {
		return nil, err
	}
	for _, g := range groups {
		if addr, ok := addressOf(KindSecurityGroup, fromEC2Tags(g.Tags)); ok && addr == r.Address() {
			a := securityGroupFrom(addr, g)
			if a.VPC.ID == engine.ResolveID(refs, r.VPC) {
				a.VPC.Addr = r.VPC.Addr
			}
			return a, nil
		}
	}
	return nil, nil
}

func (r *SecurityGroup) create(ctx context.Context, c *Cloud, refs engine.Refs) (engine.Resource, error) {
	vpcID := engine.ResolveID(refs, r.VPC)
	if vpcID == "" {
		return nil, fmt.Errorf("creating security group %s: VPC %s not created yet", r.Name, r.VPC)
	}
	out, err := c.EC2.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{
		GroupName:         aws.String(r.GroupName),
		Description:       aws.String(r.Description),
		VpcId:             aws.String(vpcID),
		TagSpecifications: ec2TagSpec(ec2types.ResourceTypeSecurityGroup, r.Tags),
	})
	if err != nil {
		if isNotFound(err) { // a VPC made a moment ago may not be visible yet
			err = engine.Retryable(err)
		}
		return nil, fmt.Errorf("creating security group %s: %w", r.Name, err)
	}
	return &SecurityGroup{
		Name:        r.Name,
		ID:          aws.ToString(out.GroupId),
		GroupName:   r.GroupName,
		VPC:         engine.Ref{Addr: r.VPC.Addr, ID: vpcID},
		Description: r.Description,
		Tags:        r.Tags,
	}, nil
}

// update changes tags, the only thing Diff lets through.
func (r *SecurityGroup) update(ctx context.Context, c *Cloud, actual engine.Resource, diffs []engine.FieldDiff, refs engine.Refs) (engine.Resource, error) {
	a := *actual.(*SecurityGroup)
	if err := tagEC2(ctx, c, a.ID, a.Tags, r.Tags); err != nil {
		return nil, fmt.Errorf("tagging security group %s: %w", r.Name, err)
	}
	a.Tags = mergeTags(a.Tags, r.Tags)
	return &a, nil
}

// delete removes the group. AWS refuses while an instance, a load balancer
// or another group's rule still uses it (DependencyViolation); the engine
// deletes rules and users first, and retries what is left while AWS
// catches up. moto 5 does not refuse (it deletes a group in use or
// referenced), so TestSecurityGroupDeleteInUseIsRetryable covers this with
// a fake returning AWS's error.
func (r *SecurityGroup) delete(ctx context.Context, c *Cloud) error {
	if len(r.revokeFirst) > 0 {
		_, err := c.EC2.RevokeSecurityGroupIngress(ctx, &ec2.RevokeSecurityGroupIngressInput{GroupId: aws.String(r.ID), IpPermissions: r.revokeFirst})
		if err != nil && !isNotFound(err) {
			return fmt.Errorf("revoking the rules of security group %s (%s) that name other groups: %w", r.Name, r.ID, err)
		}
	}
	if len(r.revokeEgressFirst) > 0 {
		_, err := c.EC2.RevokeSecurityGroupEgress(ctx, &ec2.RevokeSecurityGroupEgressInput{GroupId: aws.String(r.ID), IpPermissions: r.revokeEgressFirst})
		if err != nil && !isNotFound(err) {
			return fmt.Errorf("revoking the egress rules of security group %s (%s) that name other groups: %w", r.Name, r.ID, err)
		}
	}
	_, err := c.EC2.DeleteSecurityGroup(ctx, &ec2.DeleteSecurityGroupInput{GroupId: aws.String(r.ID)})
	return deleteResult(err, fmt.Sprintf("security group %s (%s)", r.Name, r.ID))
}

// ownedSecurityGroups lists the groups carrying this cluster's address tag
// for the kind.
func (c *Cloud) ownedSecurityGroups(ctx context.Context) ([]engine.Resource, error) {
	groups, err := c.securitySGs(ctx)
	if err != nil {
		return nil, err
	}
	var out []engine.Resource
	for _, g := range groups {
		if addr, ok := addressOf(KindSecurityGroup, fromEC2Tags(g.Tags)); ok {
			out = append(out, securityGroupFrom(addr, g))
		}
	}
	return out, nil
}
