package aws

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
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
	return cached(ctx, c, iamDetailsKey, func(ctx context.Context) ([]iamtypes.RoleDetail, error) {
		var out []iamtypes.RoleDetail
		in := &iam.GetAccountAuthorizationDetailsInput{Filter: []iamtypes.EntityType{iamtypes.EntityTypeRole}, MaxItems: aws.Int32(1000)}
		for p := iam.NewGetAccountAuthorizationDetailsPaginator(c.IAM, in); p.HasMorePages(); {
			page, err := p.NextPage(ctx)
			if err != nil {
				return nil, fmt.Errorf("reading IAM roles: %w", err)
			}
			for _, r := range page.RoleDetailList {
				// Keep the exact path: /kapstan/a/ is a prefix of /kapstan/a/b/.
				if aws.ToString(r.Path) == IAMPath(c.Cluster) {
					out = append(out, r)
				}
			}
		}
		return out, nil
	})
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
