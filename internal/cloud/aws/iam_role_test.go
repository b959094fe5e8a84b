package aws

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/kapstan/kapstan/internal/engine"
)

// testTrustPolicy lets EC2 instances assume a role. It is indented and
// its keys are out of order on purpose: IAM returns it compact (and
// URL-encoded), and that must not show as a change.
const testTrustPolicy = `{
  "Statement": [
    {
      "Principal": {"Service": "ec2.amazonaws.com"},
      "Effect": "Allow",
      "Action": "sts:AssumeRole"
    }
  ],
  "Version": "2012-10-17"
}`

func testRole(c *Cloud, name string) *IAMRole {
	return &IAMRole{
		Name:             name,
		RoleName:         name,
		AssumeRolePolicy: testTrustPolicy,
		Tags:             OwnedTags(c.Cluster, engine.Address{Kind: KindIAMRole, Name: name}, "", nil),
	}
}

func TestIAMRoleLifecycle(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c, counter := testCloud(t)
	nodes, masters := testRole(c, "nodes.test.k8s.local"), testRole(c, "masters.test.k8s.local")

	converge(t, c, nodes, masters)
	assertInSync(t, c, counter, nodes, masters)
	calls := counter.Calls()
	if calls["IAM.GetAccountAuthorizationDetails"] != 1 || sumIAM(calls) != 1 {
		t.Errorf("a plan of 2 roles made %v, want 1 GetAccountAuthorizationDetails and no other IAM call", calls)
	}

	t.Run("trust policy and tags change in place", func(t *testing.T) {
		changed := *masters
		changed.AssumeRolePolicy = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":["ec2.amazonaws.com","ssm.amazonaws.com"]},"Action":"sts:AssumeRole"}]}`
		changed.Tags = mergeTags(masters.Tags, Tags{"team": "infra"})
		securityAssertChanges(t, planOf(t, c, nodes, &changed), "update IAMRole/masters.test.k8s.local: assumeRolePolicy,tags[team]")
		converge(t, c, nodes, &changed)
		assertInSync(t, c, counter, nodes, &changed)
		masters = &changed
	})

	t.Run("orphan is deleted", func(t *testing.T) {
		securityAssertChanges(t, planOf(t, c, nodes), "delete IAMRole/masters.test.k8s.local")
		converge(t, c, nodes)
		assertInSync(t, c, counter, nodes)
		_, err := c.IAM.(*iam.Client).GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(masters.RoleName)})
		if !isNotFound(err) {
			t.Errorf("GetRole after delete: got %v, want NoSuchEntity", err)
		}
	})
}

// TestIAMRoleDeleteConflictIsRetryable deletes a role that still has an
// inline policy. IAM refuses (DeleteConflict; moto too), and the error
// must be retryable, so that the engine tries again once the policy, which
// depends on the role and so is deleted first, is gone.
func TestIAMRoleDeleteConflictIsRetryable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c, _ := testCloud(t)
	role := testRole(c, "nodes.test.k8s.local")
	policy := testRolePolicy(role.Name, "nodes", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ec2:DescribeInstances","Resource":"*"}]}`)
	converge(t, c, role, policy)

	err := role.delete(ctx, c)
	if !engine.IsRetryable(err) || errorCode(err) != "DeleteConflict" {
		t.Fatalf("delete of a role with a policy: got %v, want a retryable DeleteConflict", err)
	}
	if err := (&IAMRolePolicy{Name: policy.Name, Role: securityRoleRef(role.Name), PolicyName: policy.PolicyName}).delete(ctx, c); err != nil {
		t.Fatal(err)
	}
	if err := role.delete(ctx, c); err != nil {
		t.Fatalf("delete once the policy is gone: %v", err)
	}
	if err := role.delete(ctx, c); err != nil {
		t.Errorf("delete of a role already gone: %v", err)
	}
}

func TestSecurityPolicyJSON(t *testing.T) {
	t.Parallel()
	compact := `{"Statement":[{"Action":"sts:AssumeRole","Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"}}],"Version":"2012-10-17"}`
	tests := []struct {
		name, doc, want string
	}{
		{"compact", compact, compact},
		{"indented, keys out of order", testTrustPolicy, compact},
		{"URL-encoded, as IAM returns it", "%7B%22Version%22%3A%20%222012-10-17%22%2C%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Principal%22%3A%7B%22Service%22%3A%22ec2.amazonaws.com%22%7D%2C%22Action%22%3A%22sts%3AAssumeRole%22%7D%5D%7D", compact},
		{"URL-encoded with + for spaces", "%7B+%22Version%22%3A+%222012-10-17%22%2C%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Principal%22%3A%7B%22Service%22%3A%22ec2.amazonaws.com%22%7D%2C%22Action%22%3A%22sts%3AAssumeRole%22%7D%5D%7D", compact},
		{"not JSON stays as it is", "not a policy", "not a policy"},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := securityPolicyJSON(tt.doc); got != tt.want {
				t.Errorf("got %s\nwant %s", got, tt.want)
			}
		})
	}
}

// TestIAMNamesMustMatch checks that IAM resources, found by IAM name, are
// refused before any AWS call when their address name is not the one the
// orphan listing gives them: the same plan would keep and delete them.
func TestIAMNamesMustMatch(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		r       awsResource
		wantErr string
	}{
		{"role", &IAMRole{Name: "nodes", RoleName: "nodes.test.k8s.local"}, `must be "nodes.test.k8s.local"`},
		{"instance profile", &InstanceProfile{Name: "nodes", ProfileName: "nodes.test.k8s.local"}, `must be "nodes.test.k8s.local"`},
		{"policy", &IAMRolePolicy{Name: "nodes", Role: engine.RefTo(KindIAMRole, "nodes.test.k8s.local"), PolicyName: "ec2"}, `must be "nodes.test.k8s.local:ec2"`},
		{"policy of a role known by name only", &IAMRolePolicy{Name: "nodes:ec2", Role: engine.RefID("nodes"), PolicyName: "ec2"}, "one of the cluster's roles"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A nil Cloud: the check must come before any AWS call.
			_, err := tt.r.find(context.Background(), nil, securityRefs{})
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("find: got %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}
