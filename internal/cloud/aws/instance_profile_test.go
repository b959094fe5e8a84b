package aws

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/kapstan/kapstan/internal/engine"
)

func testInstanceProfile(name, role string) *InstanceProfile {
	return &InstanceProfile{Name: name, ProfileName: name, Role: engine.RefTo(KindIAMRole, role)}
}

func TestInstanceProfileLifecycle(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c, counter := testCloud(t)
	nodesRole, mastersRole := testRole(c, "nodes.test.k8s.local"), testRole(c, "masters.test.k8s.local")
	nodes := testInstanceProfile("nodes.test.k8s.local", nodesRole.Name)
	masters := testInstanceProfile("masters.test.k8s.local", mastersRole.Name)

	converge(t, c, nodesRole, mastersRole, nodes, masters)
	assertInSync(t, c, counter, nodesRole, mastersRole, nodes, masters)
	if n := sumIAM(counter.Calls()); n != 1 {
		t.Errorf("a plan of 2 instance profiles made %d IAM calls, want 1", n)
	}

	t.Run("role changes in place", func(t *testing.T) {
		changed := testInstanceProfile(masters.Name, nodesRole.Name)
		securityAssertChanges(t, planOf(t, c, nodesRole, mastersRole, nodes, changed), "update InstanceProfile/"+masters.Name+": role")
		converge(t, c, nodesRole, mastersRole, nodes, changed)
		assertInSync(t, c, counter, nodesRole, mastersRole, nodes, changed)
		out, err := c.IAM.GetInstanceProfile(ctx, &iam.GetInstanceProfileInput{InstanceProfileName: aws.String(masters.ProfileName)})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.InstanceProfile.Roles) != 1 || aws.ToString(out.InstanceProfile.Roles[0].RoleName) != nodesRole.RoleName {
			t.Errorf("profile holds %+v, want only role %s", out.InstanceProfile.Roles, nodesRole.RoleName)
		}
		masters = changed
	})

	t.Run("orphan profile and its role are deleted", func(t *testing.T) {
		// Deleting the profile takes the nodes role out of it first; the
		// nodes role stays.
		securityAssertChanges(t, planOf(t, c, nodesRole, nodes),
			"delete IAMRole/"+mastersRole.Name,
			"delete InstanceProfile/"+masters.Name)
		converge(t, c, nodesRole, nodes)
		assertInSync(t, c, counter, nodesRole, nodes)
		_, err := c.IAM.GetInstanceProfile(ctx, &iam.GetInstanceProfileInput{InstanceProfileName: aws.String(masters.ProfileName)})
		if !isNotFound(err) {
			t.Errorf("GetInstanceProfile after delete: got %v, want NoSuchEntity", err)
		}
	})

	t.Run("create resumes after an interrupted create", func(t *testing.T) {
		// A create that made the profile but failed to add the role (IAM
		// had not seen the new role yet) is retried: the retry must not
		// fail on the profile it made the first time.
		_, err := c.IAM.CreateInstanceProfile(ctx, &iam.CreateInstanceProfileInput{
			InstanceProfileName: aws.String("bastion.test.k8s.local"), Path: aws.String(IAMPath(c.Cluster)),
		})
		if err != nil {
			t.Fatal(err)
		}
		bastion := testInstanceProfile("bastion.test.k8s.local", nodesRole.Name)
		refs := securityRefs{nodesRole.Address(): &IAMRole{RoleName: nodesRole.RoleName}}
		got, err := bastion.create(ctx, c, refs)
		if err != nil {
			t.Fatalf("create over a half-made profile: %v", err)
		}
		if a := got.(*InstanceProfile); a.ARN == "" || a.Role.ID != nodesRole.RoleName {
			t.Errorf("create returned %+v, want an ARN and role %s", a, nodesRole.RoleName)
		}
		assertInSync(t, c, counter, nodesRole, nodes, bastion)
	})
}
