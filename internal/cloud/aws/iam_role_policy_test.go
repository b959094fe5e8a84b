package aws

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/kapstan/kapstan/internal/engine"
)

func testRolePolicy(role, policy, doc string) *IAMRolePolicy {
	return &IAMRolePolicy{
		Name:       RolePolicyName(role, policy),
		Role:       engine.RefTo(KindIAMRole, role),
		PolicyName: policy,
		Document:   doc,
	}
}

func TestIAMRolePolicyLifecycle(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c, counter := testCloud(t)
	role := testRole(c, "nodes.test.k8s.local")
	// Indented on purpose: IAM returns documents compact and URL-encoded.
	ec2Read := testRolePolicy(role.Name, "ec2-read", `{
  "Version": "2012-10-17",
  "Statement": [{"Effect": "Allow", "Action": ["ec2:DescribeInstances", "ec2:DescribeRegions"], "Resource": "*"}]
}`)
	ecrRead := testRolePolicy(role.Name, "ecr-read", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ecr:GetAuthorizationToken","Resource":"*"}]}`)

	converge(t, c, role, ec2Read, ecrRead)
	assertInSync(t, c, counter, role, ec2Read, ecrRead)
	calls := counter.Calls()
	if calls["IAM.GetAccountAuthorizationDetails"] != 1 || len(calls) > 1 && calls["IAM.GetAccountAuthorizationDetails"] != sumIAM(calls) {
		t.Errorf("a plan of 1 role with 2 policies made %v, want 1 GetAccountAuthorizationDetails and no other IAM call", calls)
	}

	t.Run("document changes in place", func(t *testing.T) {
		changed := *ec2Read
		changed.Document = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ec2:Describe*","Resource":"*"}]}`
		securityAssertChanges(t, planOf(t, c, role, &changed, ecrRead), "update IAMRolePolicy/"+ec2Read.Name+": document")
		converge(t, c, role, &changed, ecrRead)
		assertInSync(t, c, counter, role, &changed, ecrRead)
		ec2Read = &changed
	})

	t.Run("orphan is deleted", func(t *testing.T) {
		securityAssertChanges(t, planOf(t, c, role, ec2Read), "delete IAMRolePolicy/"+ecrRead.Name)
		converge(t, c, role, ec2Read)
		assertInSync(t, c, counter, role, ec2Read)
		out, err := c.IAM.(*iam.Client).ListRolePolicies(ctx, &iam.ListRolePoliciesInput{RoleName: aws.String(role.RoleName)})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.PolicyNames) != 1 || out.PolicyNames[0] != ec2Read.PolicyName {
			t.Errorf("role has policies %v, want only %s", out.PolicyNames, ec2Read.PolicyName)
		}
	})

	t.Run("role and policy go together", func(t *testing.T) {
		// The engine deletes the policy first (it depends on the role):
		// IAM refuses to delete a role that still has one.
		securityAssertChanges(t, planOf(t, c), "delete IAMRole/"+role.Name, "delete IAMRolePolicy/"+ec2Read.Name)
		converge(t, c)
		assertInSync(t, c, counter)
	})
}

// sumIAM adds up the IAM calls in a call count.
func sumIAM(calls map[string]int) int {
	n := 0
	for op, k := range calls {
		if strings.HasPrefix(op, "IAM.") {
			n += k
		}
	}
	return n
}
