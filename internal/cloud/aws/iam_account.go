package aws

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/kapstan/kapstan/internal/engine"
)

// iamDetailsAPI is the one IAM read a plan makes.
type iamDetailsAPI interface {
	GetAccountAuthorizationDetails(ctx context.Context, params *iam.GetAccountAuthorizationDetailsInput, optFns ...func(*iam.Options)) (*iam.GetAccountAuthorizationDetailsOutput, error)
}

const iamDetailsKey = "iam/roleDetails"

// iamRoleDetails reads every role under the cluster's IAM path with its
// tags, inline policy documents and instance profiles, in one paginated
// GetAccountAuthorizationDetails call filtered to roles. Listing roles by
// path instead would cost, per role, a ListRoleTags, a GetRolePolicy per
// policy and a ListRolePolicies: 7 calls for a two-role cluster where this
// is 1 (up to 1,000 roles a page). The cost grows with the account's
// roles rather than the cluster's, which is the better trade for all but
// accounts with many thousands of roles.
func (c *Cloud) iamRoleDetails(ctx context.Context) ([]iamtypes.RoleDetail, error) {
	all, err := c.iamAccountRoles(ctx)
	if err != nil {
		return nil, err
	}
	var out []iamtypes.RoleDetail
	for _, r := range all {
		// Keep the exact path: /kapstan/a/ is a prefix of /kapstan/a/b/.
		if aws.ToString(r.Path) == IAMPath(c.Cluster) {
			out = append(out, r)
		}
	}
	return out, nil
}

// iamAccountRoles is every role of the account with its details, read
// once: the cluster's own, and for a delete, those other tools tagged for
// the cluster.
func (c *Cloud) iamAccountRoles(ctx context.Context) ([]iamtypes.RoleDetail, error) {
	return cached(ctx, c, iamDetailsKey, func(ctx context.Context) ([]iamtypes.RoleDetail, error) {
		var out []iamtypes.RoleDetail
		in := &iam.GetAccountAuthorizationDetailsInput{Filter: []iamtypes.EntityType{iamtypes.EntityTypeRole}, MaxItems: aws.Int32(1000)}
		for p := iam.NewGetAccountAuthorizationDetailsPaginator(c.IAM, in); p.HasMorePages(); {
			page, err := p.NextPage(ctx)
			if err != nil {
				return nil, fmt.Errorf("reading IAM roles: %w", err)
			}
			out = append(out, page.RoleDetailList...)
		}
		return out, nil
	})
}

// taggedRoles lists the roles tagged for the cluster outside its IAM path:
// roles another tool made (kops names them masters.NAME and nodes.NAME).
// Their inline policies and managed policy attachments go with them, and
// so do their instance profiles that are provably the cluster's: tagged
// for it, or named as the role, as the tools of the family name them. A
// profile that is neither keeps the role, whose delete then fails and
// says so.
func (c *Cloud) taggedRoles(ctx context.Context) ([]tagged, error) {
	all, err := c.iamAccountRoles(ctx)
	if err != nil {
		return nil, err
	}
	var out []tagged
	for _, d := range all {
		tags := securityFromIAMTags(d.Tags)
		if aws.ToString(d.Path) == IAMPath(c.Cluster) || !c.taggedForCluster(tags) {
			continue
		}
		name := aws.ToString(d.RoleName)
		r := &IAMRole{Name: name, RoleName: name, ARN: aws.ToString(d.Arn), Tags: tags}
		for _, p := range d.RolePolicyList {
			r.inlineFirst = append(r.inlineFirst, aws.ToString(p.PolicyName))
		}
		for _, p := range d.AttachedManagedPolicies {
			r.detachFirst = append(r.detachFirst, aws.ToString(p.PolicyArn))
		}
		t := tagged{res: r, tags: tags}
		for _, ip := range d.InstanceProfileList {
			pname := aws.ToString(ip.InstanceProfileName)
			ptags := securityFromIAMTags(ip.Tags)
			if pname == name || c.taggedForCluster(ptags) {
				t.children = append(t.children, &InstanceProfile{Name: pname, ProfileName: pname, Role: engine.RefID(name), ARN: aws.ToString(ip.Arn)})
			}
		}
		out = append(out, t)
	}
	return out, nil
}

// iamRoleDetail returns the detail of one of the cluster's roles.
func (c *Cloud) iamRoleDetail(ctx context.Context, roleName string) (*iamtypes.RoleDetail, error) {
	details, err := c.iamRoleDetails(ctx)
	if err != nil {
		return nil, err
	}
	for i := range details {
		if aws.ToString(details[i].RoleName) == roleName {
			return &details[i], nil
		}
	}
	return nil, nil
}
