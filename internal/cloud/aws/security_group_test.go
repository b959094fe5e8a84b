package aws

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"
	"github.com/google/go-cmp/cmp"

	"github.com/kapstan/kapstan/internal/engine"
)

// securityChanges lists a plan's changes other than no-ops, one string
// each ("update Kind/name: path,path"), sorted, for cmp.Diff.
func securityChanges(p *engine.Plan) []string {
	var out []string
	for _, c := range p.Changes {
		if c.Action == engine.NoOp {
			continue
		}
		s := c.Action.String() + " " + c.Address.String()
		if len(c.Fields) > 0 {
			var paths []string
			for _, f := range c.Fields {
				paths = append(paths, f.Path)
			}
			s += ": " + strings.Join(paths, ",")
		}
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

// securityAssertChanges fails unless plan holds exactly want (see
// securityChanges).
func securityAssertChanges(t *testing.T, plan *engine.Plan, want ...string) {
	t.Helper()
	slices.Sort(want)
	if diff := cmp.Diff(want, securityChanges(plan)); diff != "" {
		t.Fatalf("plan changes (-want +got):\n%s\nplan:\n%s", diff, plan)
	}
}

// securityReplacement plans desired, expects the plan to be refused for a
// change that cannot be made in place, and returns the refused fields'
// paths.
func securityReplacement(t *testing.T, c *Cloud, desired ...engine.Resource) []string {
	t.Helper()
	_, err := engine.MakePlan(context.Background(), fresh(c), c.Cluster, 1, desired)
	var re *engine.ReplacementError
	if !errors.As(err, &re) {
		t.Fatalf("plan: got error %v, want a ReplacementError", err)
	}
	var paths []string
	for _, ch := range re.Changes {
		for _, f := range ch.Fields {
			if f.ForcesReplacement {
				paths = append(paths, ch.Address.String()+": "+f.Path)
			}
		}
	}
	return paths
}

// securityVPC makes a VPC directly, outside the engine: the security
// group tests refer to it by id, as to an existing VPC, so that they do
// not depend on the VPC kind.
func securityVPC(t *testing.T, c *Cloud) string {
	t.Helper()
	out, err := securityEC2(t, c).CreateVpc(context.Background(), &ec2.CreateVpcInput{CidrBlock: aws.String("10.0.0.0/16")})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.Vpc.VpcId)
}

// securityEC2 is the real EC2 client behind c, for calls that set up a
// test outside the engine and are not in the narrow interfaces.
func securityEC2(t *testing.T, c *Cloud) *ec2.Client {
	t.Helper()
	client, ok := c.EC2.(*ec2.Client)
	if !ok {
		t.Fatalf("c.EC2 is a %T, not an *ec2.Client", c.EC2)
	}
	return client
}

func testSecurityGroup(c *Cloud, name, vpcID string) *SecurityGroup {
	addr := engine.Address{Kind: KindSecurityGroup, Name: name}
	return &SecurityGroup{
		Name:        name,
		GroupName:   name + "." + c.Cluster,
		VPC:         engine.RefID(vpcID),
		Description: "security group for " + name,
		Tags:        OwnedTags(c.Cluster, addr, name+"."+c.Cluster, nil),
	}
}

func TestSecurityGroupLifecycle(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c, counter := testCloud(t)
	vpc := securityVPC(t, c)
	nodes, masters := testSecurityGroup(c, "nodes", vpc), testSecurityGroup(c, "masters", vpc)

	converge(t, c, nodes, masters)
	assertInSync(t, c, counter, nodes, masters)
	if n := counter.Calls()["EC2.DescribeSecurityGroups"]; n != 1 {
		t.Errorf("a plan of 2 groups made %d DescribeSecurityGroups calls, want 1", n)
	}

	t.Run("tag changes in place", func(t *testing.T) {
		changed := *masters
		changed.Tags = mergeTags(masters.Tags, Tags{"team": "infra"})
		securityAssertChanges(t, planOf(t, c, nodes, &changed), "update SecurityGroup/masters: tags[team]")
		converge(t, c, nodes, &changed)
		assertInSync(t, c, counter, nodes, &changed)
		masters = &changed
	})

	t.Run("immutable fields refuse the plan", func(t *testing.T) {
		tests := []struct {
			name   string
			change func(g *SecurityGroup)
			want   string
		}{
			{"description", func(g *SecurityGroup) { g.Description = "other" }, "SecurityGroup/nodes: description"},
			{"group name", func(g *SecurityGroup) { g.GroupName = "other" }, "SecurityGroup/nodes: groupName"},
			{"vpc", func(g *SecurityGroup) { g.VPC = engine.RefID("vpc-other") }, "SecurityGroup/nodes: vpc"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				changed := *nodes
				tt.change(&changed)
				got := securityReplacement(t, c, &changed, masters)
				if diff := cmp.Diff([]string{tt.want}, got); diff != "" {
					t.Errorf("refused fields (-want +got):\n%s", diff)
				}
			})
		}
	})

	t.Run("orphan is deleted", func(t *testing.T) {
		securityAssertChanges(t, planOf(t, c, nodes), "delete SecurityGroup/masters")
		converge(t, c, nodes)
		assertInSync(t, c, counter, nodes)
		out, err := c.EC2.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{
			Filters: []ec2types.Filter{{Name: aws.String("group-name"), Values: []string{masters.GroupName}}},
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.SecurityGroups) != 0 {
			t.Errorf("security group %s still exists", masters.GroupName)
		}
	})
}

// fakeSecurityEC2 answers the EC2 calls a unit test needs with recorded
// AWS responses; any other call panics on the nil EC2API.
type fakeSecurityEC2 struct {
	EC2API
	err     error
	updated *ec2.UpdateSecurityGroupRuleDescriptionsIngressInput
}

func (f *fakeSecurityEC2) UpdateSecurityGroupRuleDescriptionsIngress(_ context.Context, in *ec2.UpdateSecurityGroupRuleDescriptionsIngressInput, _ ...func(*ec2.Options)) (*ec2.UpdateSecurityGroupRuleDescriptionsIngressOutput, error) {
	f.updated = in
	return &ec2.UpdateSecurityGroupRuleDescriptionsIngressOutput{}, f.err
}

func (f *fakeSecurityEC2) DeleteSecurityGroup(context.Context, *ec2.DeleteSecurityGroupInput, ...func(*ec2.Options)) (*ec2.DeleteSecurityGroupOutput, error) {
	return nil, f.err
}

func (f *fakeSecurityEC2) DeleteVolume(context.Context, *ec2.DeleteVolumeInput, ...func(*ec2.Options)) (*ec2.DeleteVolumeOutput, error) {
	return nil, f.err
}

// TestSecurityGroupDeleteInUseIsRetryable covers what moto does not: AWS
// refuses to delete a group an instance or another group's rule still uses.
func TestSecurityGroupDeleteInUseIsRetryable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		err       error
		wantErr   bool
		retryable bool
	}{
		{
			name: "in use",
			// Recorded from AWS: DeleteSecurityGroup on a group an ENI uses.
			err:     &smithy.GenericAPIError{Code: "DependencyViolation", Message: "resource sg-0123456789abcdef0 has a dependent object"},
			wantErr: true, retryable: true,
		},
		{
			name:    "already gone",
			err:     &smithy.GenericAPIError{Code: "InvalidGroup.NotFound", Message: "The security group 'sg-0123456789abcdef0' does not exist"},
			wantErr: false,
		},
		{
			name:    "denied",
			err:     &smithy.GenericAPIError{Code: "UnauthorizedOperation", Message: "You are not authorized to perform this operation."},
			wantErr: true, retryable: false,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := New(Clients{EC2: &fakeSecurityEC2{err: tt.err}}, "test.k8s.local", "us-east-1")
			err := (&SecurityGroup{Name: "nodes", ID: "sg-0123456789abcdef0"}).delete(context.Background(), c)
			if (err != nil) != tt.wantErr {
				t.Fatalf("delete: got %v, want error %v", err, tt.wantErr)
			}
			if got := engine.IsRetryable(err); got != tt.retryable {
				t.Errorf("retryable: got %v, want %v (err %v)", got, tt.retryable, err)
			}
			if tt.wantErr && errorCode(err) != tt.err.(*smithy.GenericAPIError).Code {
				t.Errorf("error %v lost its AWS code", err)
			}
		})
	}
}
