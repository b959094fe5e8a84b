package aws

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/kapstan/kapstan/internal/engine"
)

// computeTestAPI is the API server's load balancing: an NLB, a target
// group, a listener and a control-plane group registered in the group.
type computeTestAPI struct {
	lb  *LoadBalancer
	tg  *TargetGroup
	ln  *Listener
	lt  *LaunchTemplate
	asg *AutoScalingGroup
}

func computeTestAPIStack(c *Cloud, n computeTestNet) *computeTestAPI {
	s := &computeTestAPI{
		lb: &LoadBalancer{
			Name: "api", LBName: "api-test", Scheme: "internet-facing",
			Subnets:        []engine.Ref{engine.RefID(n.subnets[0]), engine.RefID(n.subnets[1])},
			SecurityGroups: []engine.Ref{engine.RefID(n.sg)},
		},
		tg: &TargetGroup{Name: "api", TGName: "api-test", VPC: engine.RefID(n.vpc), Port: 443, Protocol: "TCP"},
		ln: &Listener{
			Name: ListenerName("api", 443), Port: 443, Protocol: "TCP",
			LoadBalancer: engine.RefTo(KindLoadBalancer, "api"), TargetGroup: engine.RefTo(KindTargetGroup, "api"),
		},
		lt:  computeTestLT(c, n),
		asg: computeTestASG(c, n),
	}
	s.lb.Tags = OwnedTags(c.Cluster, s.lb.Address(), s.lb.LBName, nil)
	s.tg.Tags = OwnedTags(c.Cluster, s.tg.Address(), s.tg.TGName, nil)
	s.asg.TargetGroups = []engine.Ref{engine.RefTo(KindTargetGroup, "api")}
	return s
}

func (s *computeTestAPI) all(extra ...engine.Resource) []engine.Resource {
	return append([]engine.Resource{s.lb, s.tg, s.ln, s.lt, s.asg}, extra...)
}

// computeCheckPlan fails unless plan holds exactly the non-no-op changes
// in want: address → action and, for updates, the fields.
func computeCheckPlan(t *testing.T, plan *engine.Plan, want map[engine.Address]string) {
	t.Helper()
	for _, ch := range plan.Changes {
		got := ch.Action.String()
		if ch.Action == engine.Update {
			got += ":\n" + computeFields(ch)
		}
		w, ok := want[ch.Address]
		switch {
		case !ok && ch.Action != engine.NoOp:
			t.Errorf("unexpected %s %s", got, ch.Address)
		case ok && got != w:
			t.Errorf("%s: %s\nwant %s", ch.Address, got, w)
		}
		delete(want, ch.Address)
	}
	for a := range want {
		t.Errorf("no change for %s", a)
	}
}

// TestLoadBalancerLifecycle converges the API load balancing, moves it to
// three subnets and a new target group, then deletes it all as orphans.
func TestLoadBalancerLifecycle(t *testing.T) {
	t.Parallel()
	c, counter := testCloud(t)
	ctx := context.Background()
	n := computeTestPrereqs(t, c)
	s := computeTestAPIStack(c, n)
	// A Service load balancer Kubernetes made: the cluster's tag, no
	// address. kapstan must never touch it.
	foreign, err := c.ELBv2.CreateLoadBalancer(ctx, &elb.CreateLoadBalancerInput{
		Name: aws.String("k8s-svc"), Type: elbtypes.LoadBalancerTypeEnumNetwork, Subnets: n.subnets[:2],
		Tags: []elbtypes.Tag{{Key: aws.String(TagKubernetesCluster), Value: aws.String(c.Cluster)}},
	})
	if err != nil {
		t.Fatal(err)
	}

	converge(t, c, s.all()...)
	assertInSync(t, c, counter, s.all()...)
	lb, err := s.lb.find(ctx, fresh(c), nil)
	if err != nil || lb == nil {
		t.Fatalf("find: %v %v", lb, err)
	}
	if a := lb.(*LoadBalancer); a.DNSName == "" || a.HostedZoneID == "" || a.lbType != lbTypeNetwork {
		t.Errorf("load balancer read as %+v", a)
	}
	tgARN := computeTGARN(t, c, s.tg.TGName)
	if g := computeDescribeASG(t, c, s.asg.GroupName)[0]; !slices.Equal(g.TargetGroupARNs, []string{tgARN}) {
		t.Errorf("group target groups %v, want [%s]", g.TargetGroupARNs, tgARN)
	}

	t.Run("a third subnet", func(t *testing.T) {
		s.lb.Subnets = append(s.lb.Subnets, engine.RefID(n.subnets[2]))
		computeCheckPlan(t, planOf(t, c, s.all()...), map[engine.Address]string{
			s.lb.Address(): "update:\nsubnets: " + asgZoneIdentifier(n.subnets[:2]) + " → " + asgZoneIdentifier(n.subnets),
		})
		converge(t, c, s.all()...)
		assertInSync(t, c, counter, s.all()...)
	})

	t.Run("a new target group", func(t *testing.T) {
		tg2 := &TargetGroup{Name: "api-2", TGName: "api-test-2", VPC: engine.RefID(n.vpc), Port: 443}
		tg2.Tags = OwnedTags(c.Cluster, tg2.Address(), tg2.TGName, nil)
		s.ln.TargetGroup = engine.RefTo(KindTargetGroup, "api-2")
		s.asg.TargetGroups = []engine.Ref{engine.RefTo(KindTargetGroup, "api-2")}
		desired := []engine.Resource{s.lb, tg2, s.ln, s.lt, s.asg}
		computeCheckPlan(t, planOf(t, c, desired...), map[engine.Address]string{
			tg2.Address():   "create",
			s.ln.Address():  "update:\ntargetGroup: " + tgARN + " → (TargetGroup/api-2, known after apply)",
			s.asg.Address(): "update:\ntargetGroups: " + tgARN + " → (TargetGroup/api-2, known after apply)",
			s.tg.Address():  "delete",
		})
		// The old group's delete races the listener's update: moto, like
		// AWS, refuses it while the listener forwards to it, and the
		// engine retries.
		converge(t, c, desired...)
		assertInSync(t, c, counter, desired...)
		tg2ARN := computeTGARN(t, c, tg2.TGName)
		if g := computeDescribeASG(t, c, s.asg.GroupName)[0]; !slices.Equal(g.TargetGroupARNs, []string{tg2ARN}) {
			t.Errorf("group target groups %v, want [%s]", g.TargetGroupARNs, tg2ARN)
		}
	})

	t.Run("everything is an orphan but the foreign load balancer", func(t *testing.T) {
		plan := planOf(t, c)
		if got := plan.Count()[engine.Delete]; got != 5 {
			t.Fatalf("plan deletes %d, want 5:\n%s", got, plan)
		}
		converge(t, c)
		out, err := c.ELBv2.DescribeLoadBalancers(ctx, &elb.DescribeLoadBalancersInput{})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.LoadBalancers) != 1 || aws.ToString(out.LoadBalancers[0].LoadBalancerArn) != aws.ToString(foreign.LoadBalancers[0].LoadBalancerArn) {
			t.Errorf("left load balancers %d, want only the foreign one", len(out.LoadBalancers))
		}
		tgs, err := c.ELBv2.DescribeTargetGroups(ctx, &elb.DescribeTargetGroupsInput{})
		if err != nil {
			t.Fatal(err)
		}
		if len(tgs.TargetGroups) != 0 {
			t.Errorf("%d target groups left", len(tgs.TargetGroups))
		}
	})
}

func computeTGARN(t *testing.T, c *Cloud, name string) string {
	t.Helper()
	out, err := c.ELBv2.DescribeTargetGroups(context.Background(), &elb.DescribeTargetGroupsInput{Names: []string{name}})
	if err != nil || len(out.TargetGroups) != 1 {
		t.Fatalf("target group %s: %v", name, err)
	}
	return aws.ToString(out.TargetGroups[0].TargetGroupArn)
}

// TestListenerOrphansAndTargetGroupInUse checks the names orphan
// listeners get, and that deleting a target group a listener uses is a
// retryable error (moto enforces ResourceInUse like AWS).
func TestListenerOrphansAndTargetGroupInUse(t *testing.T) {
	t.Parallel()
	c, _ := testCloud(t)
	n := computeTestPrereqs(t, c)
	s := computeTestAPIStack(c, n)
	converge(t, c, s.lb, s.tg, s.ln)

	owned, err := fresh(c).ownedListeners(context.Background())
	if err != nil || len(owned) != 1 {
		t.Fatalf("owned listeners: %v, %v", owned, err)
	}
	l := owned[0].(*Listener)
	if l.Name != "api:443" || !slices.Equal(l.Dependencies(), []engine.Address{s.lb.Address(), s.tg.Address()}) {
		t.Errorf("orphan listener %s depends on %v", l.Name, l.Dependencies())
	}
	tgs, err := fresh(c).ownedTargetGroups(context.Background())
	if err != nil || len(tgs) != 1 {
		t.Fatalf("owned target groups: %v, %v", tgs, err)
	}
	err = tgs[0].(*TargetGroup).delete(context.Background(), c)
	if !engine.IsRetryable(err) || !strings.Contains(err.Error(), "ResourceInUse") {
		t.Fatalf("delete of a target group in use: %v, want a retryable ResourceInUse", err)
	}
}

func TestLoadBalancerDiff(t *testing.T) {
	have := func() *LoadBalancer {
		return &LoadBalancer{
			Name: "api", LBName: "api", Scheme: "internal", lbType: lbTypeNetwork,
			// moto's ARN for a network load balancer says /app/.
			ARN:     "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/api/1",
			Subnets: []engine.Ref{engine.RefID("subnet-a")}, Tags: Tags{},
		}
	}
	want := func() *LoadBalancer {
		return &LoadBalancer{Name: "api", LBName: "api", Scheme: "internal", Subnets: []engine.Ref{engine.RefID("subnet-a")}}
	}
	tests := []struct {
		name string
		edit func(want, have *LoadBalancer)
		diff string
	}{
		{"type comes from the Type field, not the ARN", func(*LoadBalancer, *LoadBalancer) {}, ""},
		{"an application load balancer at the address", func(_, h *LoadBalancer) { h.lbType = "application" },
			"type: application → network (forces replacement)"},
		{"security groups on an NLB made without them",
			func(w, _ *LoadBalancer) { w.SecurityGroups = []engine.Ref{engine.RefID("sg-1")} },
			"securityGroups: (none) → sg-1 (forces replacement)"},
		{"security groups changed on an NLB made with them",
			func(w, h *LoadBalancer) {
				h.SecurityGroups = []engine.Ref{engine.RefID("sg-1")}
				w.SecurityGroups = []engine.Ref{engine.RefID("sg-2")}
			},
			"securityGroups: sg-1 → sg-2"},
		{"scheme", func(w, _ *LoadBalancer) { w.Scheme = "internet-facing" },
			"scheme: internal → internet-facing (forces replacement)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, h := want(), have()
			tt.edit(w, h)
			var got []string
			for _, f := range w.Diff(h, nil) {
				got = append(got, f.String())
			}
			if s := strings.Join(got, "\n"); s != tt.diff {
				t.Errorf("diff:\n%s\nwant:\n%s", s, tt.diff)
			}
		})
	}
}
