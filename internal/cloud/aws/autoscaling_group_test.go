package aws

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/smithy-go"

	"github.com/kapstan/kapstan/internal/engine"
)

func computeTestASG(c *Cloud, n computeTestNet) *AutoScalingGroup {
	g := &AutoScalingGroup{
		Name:           "nodes",
		GroupName:      "nodes." + c.Cluster,
		LaunchTemplate: engine.RefTo(KindLaunchTemplate, "nodes"),
		MinSize:        1,
		MaxSize:        2,
		Subnets:        []engine.Ref{engine.RefID(n.subnets[1]), engine.RefID(n.subnets[0])},
	}
	g.Tags = OwnedTags(c.Cluster, g.Address(), g.GroupName, nil)
	return g
}

// computeChange returns the change at addr, failing if there is none.
func computeChange(t *testing.T, p *engine.Plan, addr engine.Address) *engine.Change {
	t.Helper()
	for _, ch := range p.Changes {
		if ch.Address == addr {
			return ch
		}
	}
	t.Fatalf("no change for %s in plan:\n%s", addr, p)
	return nil
}

// computeFields renders a change's fields one per line.
func computeFields(ch *engine.Change) string {
	var s []string
	for _, f := range ch.Fields {
		s = append(s, f.String())
	}
	return strings.Join(s, "\n")
}

func computeDescribeASG(t *testing.T, c *Cloud, name string) []astypes.AutoScalingGroup {
	t.Helper()
	out, err := c.AutoScaling.DescribeAutoScalingGroups(context.Background(), &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{name}})
	if err != nil {
		t.Fatal(err)
	}
	return out.AutoScalingGroups
}

// TestAutoScalingGroupLifecycle converges a launch template and a group,
// changes the instance type (a new template version, which the group then
// names), resizes, and deletes the group then the template as orphans.
func TestAutoScalingGroupLifecycle(t *testing.T) {
	t.Parallel()
	c, counter := testCloud(t)
	n := computeTestPrereqs(t, c)
	lt, asg := computeTestLT(c, n), computeTestASG(c, n)

	plan := converge(t, c, lt, asg)
	if got := plan.Count()[engine.Create]; got != 2 {
		t.Fatalf("first plan creates %d, want 2:\n%s", got, plan)
	}
	assertInSync(t, c, counter, lt, asg)
	g := computeDescribeASG(t, c, asg.GroupName)[0]
	if v := aws.ToString(g.LaunchTemplate.Version); v != "1" {
		t.Errorf("group names version %q, want 1", v)
	}
	if got, want := aws.ToString(g.VPCZoneIdentifier), asgZoneIdentifier(n.subnets[:2]); got != want {
		t.Errorf("VPCZoneIdentifier = %q, want %q", got, want)
	}

	// Resizing comes first: moto 5.2.1 stores the user data of a version
	// made by CreateLaunchTemplateVersion unencoded and fails (HTTP 500,
	// an assertion in launch_templates.py) when it launches an instance
	// from it. AWS has no such problem; the version itself reads back
	// right, which is what kapstan relies on.
	steps := []struct {
		name   string
		change func(lt *LaunchTemplate, g *AutoScalingGroup)
		want   map[engine.Address]string
		check  func(t *testing.T)
	}{
		{
			name: "size, subnets and tags change in place",
			change: func(_ *LaunchTemplate, g *AutoScalingGroup) {
				g.MinSize, g.MaxSize = 2, 3
				g.Subnets = append(g.Subnets, engine.RefID(n.subnets[2]))
				g.Tags["team"] = "a"
			},
			want: map[engine.Address]string{
				asg.Address(): strings.Join([]string{
					"minSize: 1 → 2", "maxSize: 2 → 3",
					"subnets: " + asgZoneIdentifier(n.subnets[:2]) + " → " + asgZoneIdentifier(n.subnets),
					"tags[team]: (none) → a",
				}, "\n"),
			},
			check: func(t *testing.T) {
				g := computeDescribeASG(t, c, asg.GroupName)[0]
				if aws.ToInt32(g.MinSize) != 2 || aws.ToInt32(g.MaxSize) != 3 || aws.ToInt32(g.DesiredCapacity) != 2 {
					t.Errorf("sizes %d/%d/%d, want 2/2/3 (desired raised to the new min)",
						aws.ToInt32(g.MinSize), aws.ToInt32(g.DesiredCapacity), aws.ToInt32(g.MaxSize))
				}
			},
		},
		{
			name:   "instance type makes a new version the group follows",
			change: func(lt *LaunchTemplate, _ *AutoScalingGroup) { lt.InstanceType = "t3.large" },
			want: map[engine.Address]string{
				lt.Address():  "instanceType: t3.medium → t3.large",
				asg.Address(): "launchTemplate.version: 1 → (known after apply)",
			},
			check: func(t *testing.T) {
				g := computeDescribeASG(t, c, asg.GroupName)[0]
				if v := aws.ToString(g.LaunchTemplate.Version); v != "2" {
					t.Errorf("group names version %q, want 2", v)
				}
			},
		},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			st.change(lt, asg)
			plan := planOf(t, c, lt, asg)
			for _, ch := range plan.Changes {
				want, ok := st.want[ch.Address]
				switch {
				case !ok && ch.Action != engine.NoOp:
					t.Errorf("unexpected change %s %s", ch.Action, ch.Address)
				case ok && (ch.Action != engine.Update || computeFields(ch) != want):
					t.Errorf("%s: %s\n%s\nwant update:\n%s", ch.Address, ch.Action, computeFields(ch), want)
				}
			}
			converge(t, c, lt, asg)
			assertInSync(t, c, counter, lt, asg)
			st.check(t)
		})
	}

	t.Run("orphans: the group, then the template", func(t *testing.T) {
		plan := planOf(t, c, lt)
		if ch := computeChange(t, plan, asg.Address()); ch.Action != engine.Delete || plan.Count()[engine.Delete] != 1 {
			t.Fatalf("plan should delete only the group:\n%s", plan)
		}
		converge(t, c, lt)
		if gs := computeDescribeASG(t, c, asg.GroupName); len(gs) != 0 {
			t.Fatalf("group still there: %v", aws.ToString(gs[0].Status))
		}
		plan = planOf(t, c)
		if ch := computeChange(t, plan, lt.Address()); ch.Action != engine.Delete || plan.Count()[engine.Delete] != 1 {
			t.Fatalf("plan should delete only the template:\n%s", plan)
		}
		converge(t, c)
		out, err := c.EC2.DescribeLaunchTemplates(context.Background(), &ec2.DescribeLaunchTemplatesInput{})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.LaunchTemplates) != 0 {
			t.Fatalf("template still there")
		}
	})
}

// TestAutoScalingGroupOrphanOrder checks that orphans name what they sit
// on, so the engine deletes the group before its template, subnets and
// target groups.
func TestAutoScalingGroupOrphanOrder(t *testing.T) {
	t.Parallel()
	c, _ := testCloud(t)
	n := computeTestPrereqs(t, c)
	converge(t, c, computeTestLT(c, n), computeTestASG(c, n))
	// Tag a subnet as a kapstan subnet, as the network kinds do (after the
	// apply, which would otherwise delete it as an orphan).
	if _, err := c.EC2.(*ec2.Client).CreateTags(context.Background(), &ec2.CreateTagsInput{
		Resources: []string{n.subnets[0]}, Tags: ec2Tags(OwnedTags(c.Cluster, engine.Address{Kind: KindSubnet, Name: "us-east-1a"}, "", nil)),
	}); err != nil {
		t.Fatal(err)
	}
	owned, err := fresh(c).ownedAutoScalingGroups(context.Background())
	if err != nil || len(owned) != 1 {
		t.Fatalf("owned: %v, %v", owned, err)
	}
	got := owned[0].Dependencies()
	want := []engine.Address{{Kind: KindLaunchTemplate, Name: "nodes"}, {Kind: KindSubnet, Name: "us-east-1a"}}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("dependencies = %v, want %v", got, want)
	}
}

func TestASGZoneIdentifier(t *testing.T) {
	tests := []struct {
		name string
		ids  []string
		want string
	}{
		{"sorted whatever the model's order", []string{"subnet-c", "subnet-a", "subnet-b"}, "subnet-a,subnet-b,subnet-c"},
		{"every subnet listed once", []string{"subnet-b", "subnet-a", "subnet-b"}, "subnet-a,subnet-b"},
		{"one", []string{"subnet-a"}, "subnet-a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := asgZoneIdentifier(tt.ids); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// fakeASG answers Auto Scaling calls with recorded AWS behaviour.
type fakeASG struct {
	AutoScalingAPI
	createErr error
	deleteErr error
	// describes are the successive answers to DescribeAutoScalingGroups.
	describes [][]astypes.AutoScalingGroup
	calls     []string
}

func (f *fakeASG) CreateAutoScalingGroup(context.Context, *autoscaling.CreateAutoScalingGroupInput, ...func(*autoscaling.Options)) (*autoscaling.CreateAutoScalingGroupOutput, error) {
	f.calls = append(f.calls, "Create")
	return &autoscaling.CreateAutoScalingGroupOutput{}, f.createErr
}

func (f *fakeASG) UpdateAutoScalingGroup(context.Context, *autoscaling.UpdateAutoScalingGroupInput, ...func(*autoscaling.Options)) (*autoscaling.UpdateAutoScalingGroupOutput, error) {
	f.calls = append(f.calls, "Update")
	return &autoscaling.UpdateAutoScalingGroupOutput{}, nil
}

func (f *fakeASG) DeleteAutoScalingGroup(_ context.Context, in *autoscaling.DeleteAutoScalingGroupInput, _ ...func(*autoscaling.Options)) (*autoscaling.DeleteAutoScalingGroupOutput, error) {
	f.calls = append(f.calls, "Delete")
	if !aws.ToBool(in.ForceDelete) {
		// AWS refuses a group with instances; moto deletes it anyway.
		return nil, &smithy.GenericAPIError{Code: "ResourceInUse", Message: "You cannot delete an AutoScalingGroup while there are instances still in the group."}
	}
	return &autoscaling.DeleteAutoScalingGroupOutput{}, f.deleteErr
}

func (f *fakeASG) DescribeAutoScalingGroups(context.Context, *autoscaling.DescribeAutoScalingGroupsInput, ...func(*autoscaling.Options)) (*autoscaling.DescribeAutoScalingGroupsOutput, error) {
	f.calls = append(f.calls, "Describe")
	var out []astypes.AutoScalingGroup
	if len(f.describes) > 0 {
		out, f.describes = f.describes[0], f.describes[1:]
	}
	return &autoscaling.DescribeAutoScalingGroupsOutput{AutoScalingGroups: out}, nil
}

// computeRefs is a fixed engine.Refs for unit tests.
type computeRefs map[engine.Address]engine.Resource

func (r computeRefs) Actual(a engine.Address) (engine.Resource, bool) {
	v, ok := r[a]
	return v, ok
}

// TestAutoScalingGroupAWSBehaviour covers what moto does not do: IAM
// eventual consistency, min > max, force delete and waiting for "Delete
// in progress".
func TestAutoScalingGroupAWSBehaviour(t *testing.T) {
	refs := computeRefs{
		{Kind: KindLaunchTemplate, Name: "nodes"}: &LaunchTemplate{Name: "nodes", ID: "lt-1", Version: 3},
	}
	desired := func() *AutoScalingGroup {
		return &AutoScalingGroup{
			Name: "nodes", GroupName: "nodes.x", LaunchTemplate: engine.RefTo(KindLaunchTemplate, "nodes"),
			MinSize: 1, MaxSize: 2, Subnets: []engine.Ref{engine.RefID("subnet-a")},
		}
	}
	tests := []struct {
		name      string
		fake      *fakeASG
		run       func(c *Cloud) error
		retryable bool
		wantErr   string
		wantCalls string
	}{
		{
			name: "instance profile not yet visible to Auto Scaling is retried",
			fake: &fakeASG{createErr: &smithy.GenericAPIError{Code: "ValidationError", Message: "Invalid IamInstanceProfile: nodes"}},
			run: func(c *Cloud) error {
				_, err := desired().create(context.Background(), c, refs)
				return err
			},
			retryable: true, wantErr: "Invalid IamInstanceProfile", wantCalls: "Create",
		},
		{
			name: "other validation errors are not retried",
			fake: &fakeASG{createErr: &smithy.GenericAPIError{Code: "ValidationError", Message: "bad subnet"}},
			run: func(c *Cloud) error {
				_, err := desired().create(context.Background(), c, refs)
				return err
			},
			wantErr: "bad subnet", wantCalls: "Create",
		},
		{
			name: "min above max is refused before AWS is called",
			fake: &fakeASG{},
			run: func(c *Cloud) error {
				g := desired()
				g.MinSize = 3
				_, err := g.create(context.Background(), c, refs)
				return err
			},
			wantErr: "min size 3 must be between 0 and max size 2",
		},
		{
			name: "delete forces, then checks the group is gone",
			fake: &fakeASG{describes: [][]astypes.AutoScalingGroup{nil}},
			run: func(c *Cloud) error {
				return (&AutoScalingGroup{Name: "nodes", GroupName: "nodes.x"}).delete(context.Background(), c)
			},
			wantCalls: "Delete,Describe",
		},
		{
			name: "delete of a group already gone",
			fake: &fakeASG{deleteErr: &smithy.GenericAPIError{Code: "ValidationError", Message: "AutoScalingGroup name not found - AutoScalingGroup 'nodes.x' not found"}},
			run: func(c *Cloud) error {
				return (&AutoScalingGroup{Name: "nodes", GroupName: "nodes.x"}).delete(context.Background(), c)
			},
			wantCalls: "Delete",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := New(Clients{AutoScaling: tt.fake}, "x.k8s.local", "us-east-1")
			err := tt.run(c)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("error: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
			}
			if engine.IsRetryable(err) != tt.retryable {
				t.Errorf("retryable = %v, want %v", engine.IsRetryable(err), tt.retryable)
			}
			if got := strings.Join(tt.fake.calls, ","); got != tt.wantCalls {
				t.Errorf("calls %q, want %q", got, tt.wantCalls)
			}
		})
	}
}

// TestASGWaitGone covers AWS's "Delete in progress", which lasts while
// the instances terminate (moto deletes at once).
func TestASGWaitGone(t *testing.T) {
	inProgress := []astypes.AutoScalingGroup{{AutoScalingGroupName: aws.String("nodes.x"), Status: aws.String("Delete in progress")}}
	tests := []struct {
		name      string
		describes [][]astypes.AutoScalingGroup
		timeout   time.Duration
		wantErr   error
		wantCalls int
	}{
		{"gone after two polls", [][]astypes.AutoScalingGroup{inProgress, inProgress, nil}, time.Minute, nil, 3},
		{"still there at the deadline", [][]astypes.AutoScalingGroup{inProgress, inProgress, inProgress, inProgress}, 2 * time.Millisecond, errASGStillThere, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := &fakeASG{describes: tt.describes}
			err := asgWaitGone(context.Background(), fake, "nodes.x", time.Millisecond, tt.timeout)
			if !errors.Is(err, tt.wantErr) || (err != nil && !strings.Contains(err.Error(), "Delete in progress")) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if tt.wantCalls > 0 && len(fake.calls) != tt.wantCalls {
				t.Errorf("%d describes, want %d", len(fake.calls), tt.wantCalls)
			}
		})
	}
}

func TestAutoScalingGroupDiff(t *testing.T) {
	ltAddr := engine.Address{Kind: KindLaunchTemplate, Name: "nodes"}
	have := &AutoScalingGroup{
		Name: "nodes", GroupName: "nodes.x", LaunchTemplate: engine.RefID("lt-1"), LaunchTemplateVersion: "1",
		MinSize: 1, MaxSize: 2, Subnets: []engine.Ref{engine.RefID("subnet-b"), engine.RefID("subnet-a")},
		Tags: Tags{"a": "1"},
	}
	desired := func() *AutoScalingGroup {
		return &AutoScalingGroup{
			Name: "nodes", GroupName: "nodes.x", LaunchTemplate: engine.RefTo(KindLaunchTemplate, "nodes"),
			MinSize: 1, MaxSize: 2, Subnets: []engine.Ref{engine.RefID("subnet-a"), engine.RefID("subnet-b")},
			Tags: Tags{"a": "1"},
		}
	}
	tests := []struct {
		name string
		lt   *LaunchTemplate
		edit func(*AutoScalingGroup)
		want string
	}{
		{"in sync, subnet order ignored", &LaunchTemplate{ID: "lt-1", Version: 1}, nil, ""},
		{"template has a newer version", &LaunchTemplate{ID: "lt-1", Version: 2}, nil, "launchTemplate.version: 1 → 2"},
		{"template gets a version in this apply", &LaunchTemplate{ID: "lt-1", Version: 1, newVersionPlanned: true}, nil,
			"launchTemplate.version: 1 → (known after apply)"},
		{"template made in this apply", nil, nil,
			"launchTemplate: lt-1 → (LaunchTemplate/nodes, known after apply)\nlaunchTemplate.version: 1 → (known after apply)"},
		{"explicit version", &LaunchTemplate{ID: "lt-1", Version: 2}, func(g *AutoScalingGroup) { g.LaunchTemplateVersion = "1" }, ""},
		{"mixed instances added", &LaunchTemplate{ID: "lt-1", Version: 1},
			func(g *AutoScalingGroup) { g.MixedInstances = &MixedInstances{InstanceTypes: []string{"m5.large"}} },
			"mixedInstances: false → true"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			refs := computeRefs{}
			if tt.lt != nil {
				refs[ltAddr] = tt.lt
			}
			g := desired()
			if tt.edit != nil {
				tt.edit(g)
			}
			var got []string
			for _, f := range g.Diff(have, refs) {
				got = append(got, f.String())
			}
			if s := strings.Join(got, "\n"); s != tt.want {
				t.Errorf("diff:\n%s\nwant:\n%s", s, tt.want)
			}
		})
	}
}

// TestAutoScalingGroupMixedInstances reads back a mixed instances policy
// and keeps it through a resize. moto ignores the overrides when it
// launches (instances get the template's type, none are spot), so only
// what kapstan writes and reads is checked; it also drops the policy on
// an update that leaves it out, which kapstan never does.
func TestAutoScalingGroupMixedInstances(t *testing.T) {
	t.Parallel()
	c, counter := testCloud(t)
	n := computeTestPrereqs(t, c)
	lt, asg := computeTestLT(c, n), computeTestASG(c, n)
	asg.MixedInstances = &MixedInstances{InstanceTypes: []string{"m5.large", "m5a.large"}, OnDemandBase: 1, OnDemandAboveBase: 25}
	converge(t, c, lt, asg)
	assertInSync(t, c, counter, lt, asg)

	asg.MaxSize = 4
	computeCheckPlan(t, planOf(t, c, lt, asg), map[engine.Address]string{asg.Address(): "update:\nmaxSize: 2 → 4"})
	converge(t, c, lt, asg)
	assertInSync(t, c, counter, lt, asg)
	g := computeDescribeASG(t, c, asg.GroupName)[0]
	if g.MixedInstancesPolicy == nil || aws.ToString(g.MixedInstancesPolicy.InstancesDistribution.SpotAllocationStrategy) != asgDefaultSpotAllocation {
		t.Errorf("mixed instances policy after resize: %+v", g.MixedInstancesPolicy)
	}
}
