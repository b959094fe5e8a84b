package aws

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/kapstan/kapstan/internal/engine"
)

// testRule builds a desired rule named as the model names it. from is a
// CIDR or a source group reference.
func testRule(group, protocol string, fromPort, toPort int32, cidr string, src engine.Ref, desc string) *SecurityGroupRule {
	source := cidr
	if source == "" {
		source = src.Addr.Name
		if source == "" {
			source = src.ID
		}
	}
	p, from, to := securityRuleProtocol(protocol, fromPort, toPort)
	return &SecurityGroupRule{
		Name:        RuleName(group, p, from, to, source),
		Group:       engine.RefTo(KindSecurityGroup, group),
		Protocol:    protocol,
		FromPort:    fromPort,
		ToPort:      toPort,
		CIDR:        cidr,
		SourceGroup: src,
		Description: desc,
	}
}

func TestSecurityGroupRuleLifecycle(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c, counter := testCloud(t)
	vpc := securityVPC(t, c)
	foreign, err := c.EC2.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{
		GroupName: aws.String("bastion-made-elsewhere"), Description: aws.String("not the cluster's"), VpcId: aws.String(vpc),
	})
	if err != nil {
		t.Fatal(err)
	}
	foreignID := aws.ToString(foreign.GroupId)
	nodes, masters := testSecurityGroup(c, "nodes", vpc), testSecurityGroup(c, "masters", vpc)
	nodesRef := engine.RefTo(KindSecurityGroup, "nodes")

	api := testRule("masters", "tcp", 443, 443, "0.0.0.0/0", engine.Ref{}, "kubernetes API")
	fromNodes := testRule("masters", "-1", 0, 0, "", nodesRef, "")
	self := testRule("nodes", "-1", 0, 0, "", nodesRef, "node to node")
	ssh6 := testRule("nodes", "tcp", 22, 22, "::/0", engine.Ref{}, "ssh")
	dns := testRule("nodes", "udp", 53, 53, "", engine.RefID(foreignID), "dns from a foreign group")
	icmp := testRule("nodes", "icmp", -1, -1, "10.0.0.0/8", engine.Ref{}, "")
	desired := []engine.Resource{nodes, masters, api, fromNodes, self, ssh6, dns, icmp}

	converge(t, c, desired...)
	assertInSync(t, c, counter, desired...)
	if n := counter.Calls()["EC2.DescribeSecurityGroups"]; n != 1 {
		t.Errorf("a plan of 2 groups and 6 rules made %d DescribeSecurityGroups calls, want 1", n)
	}

	t.Run("description changes in place", func(t *testing.T) {
		changed := *api
		changed.Description = "kubernetes API, from anywhere"
		desired := []engine.Resource{nodes, masters, &changed, fromNodes, self, ssh6, dns, icmp}
		securityAssertChanges(t, planOf(t, c, desired...), "update SecurityGroupRule/"+api.Name+": description")
		converge(t, c, desired...)
		assertInSync(t, c, counter, desired...)
	})

	t.Run("orphans are revoked", func(t *testing.T) {
		api := *api
		api.Description = "kubernetes API, from anywhere"
		desired := []engine.Resource{nodes, masters, &api, self, ssh6, icmp}
		securityAssertChanges(t, planOf(t, c, desired...),
			"delete SecurityGroupRule/"+fromNodes.Name,
			"delete SecurityGroupRule/"+dns.Name)
		converge(t, c, desired...)
		assertInSync(t, c, counter, desired...)

		out, err := c.EC2.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{Filters: c.ownedFilters(KindSecurityGroup)})
		if err != nil {
			t.Fatal(err)
		}
		for _, g := range out.SecurityGroups {
			for _, p := range g.IpPermissions {
				for _, pair := range p.UserIdGroupPairs {
					if aws.ToString(g.GroupName) == masters.GroupName || aws.ToString(pair.GroupId) == foreignID {
						t.Errorf("group %s still lets %s in from %s", aws.ToString(g.GroupName), aws.ToString(p.IpProtocol), aws.ToString(pair.GroupId))
					}
				}
			}
		}
	})
}

func TestSecurityRuleProtocol(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name             string
		protocol         string
		from, to         int32
		wantP            string
		wantFrom, wantTo int32
	}{
		{"tcp keeps its ports", "tcp", 443, 443, "tcp", 443, 443},
		{"protocol number", "6", 22, 22, "tcp", 22, 22},
		{"upper case", "UDP", 53, 53, "udp", 53, 53},
		{"all traffic as AWS reports it", "-1", -1, -1, "-1", 0, 0},
		{"all traffic as the model writes it", "-1", 0, 0, "-1", 0, 0},
		{"all traffic by name", "all", 0, 65535, "-1", 0, 0},
		{"icmp keeps -1 for all types", "icmp", -1, -1, "icmp", -1, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, from, to := securityRuleProtocol(tt.protocol, tt.from, tt.to)
			if p != tt.wantP || from != tt.wantFrom || to != tt.wantTo {
				t.Errorf("got %s %d-%d, want %s %d-%d", p, from, to, tt.wantP, tt.wantFrom, tt.wantTo)
			}
		})
	}
}

// TestSecurityGroupRuleAllTrafficMatches checks that an all-traffic rule
// read back with ports -1/-1 (or none) is in sync with a desired one with
// ports 0/0.
func TestSecurityGroupRuleAllTrafficMatches(t *testing.T) {
	t.Parallel()
	desired := testRule("nodes", "-1", 0, 0, "", engine.RefTo(KindSecurityGroup, "nodes"), "")
	for _, ports := range [][2]*int32{{aws.Int32(-1), aws.Int32(-1)}, {nil, nil}, {aws.Int32(0), aws.Int32(0)}} {
		g := ec2types.SecurityGroup{GroupId: aws.String("sg-1"), IpPermissions: []ec2types.IpPermission{{
			IpProtocol: aws.String("-1"), FromPort: ports[0], ToPort: ports[1],
			UserIdGroupPairs: []ec2types.UserIdGroupPair{{GroupId: aws.String("sg-1")}},
		}}}
		addr := engine.Address{Kind: KindSecurityGroup, Name: "nodes"}
		rules := securityRulesOf(addr, g, map[string]engine.Address{"sg-1": addr})
		if len(rules) != 1 || rules[0].Name != desired.Name {
			t.Fatalf("ports %v: read %+v, want one rule named %s", ports, rules, desired.Name)
		}
		refs := securityRefs{desired.Group.Addr: &SecurityGroup{ID: "sg-1"}}
		if d := desired.Diff(rules[0], refs); len(d) != 0 {
			t.Errorf("ports %v: diffs %v, want none", ports, d)
		}
	}
}

// securityRefs is a fixed engine.Refs for pure tests.
type securityRefs map[engine.Address]engine.Resource

func (r securityRefs) Actual(a engine.Address) (engine.Resource, bool) {
	res, ok := r[a]
	return res, ok
}

// TestSecurityGroupRuleNameMustMatchContent checks that a rule whose name
// is not RuleName of its content is refused before any AWS call, since it
// would be found under its own name and deleted as an orphan under the
// other in the same plan.
func TestSecurityGroupRuleNameMustMatchContent(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		rule    *SecurityGroupRule
		wantErr string
	}{
		{"wrong name", func() *SecurityGroupRule {
			r := testRule("nodes", "tcp", 22, 22, "10.0.0.0/8", engine.Ref{}, "")
			r.Name = "ssh"
			return r
		}(), "its name must be RuleName"},
		{"all traffic named with -1 ports", func() *SecurityGroupRule {
			r := testRule("nodes", "-1", -1, -1, "10.0.0.0/8", engine.Ref{}, "")
			r.Name = RuleName("nodes", "-1", -1, -1, "10.0.0.0/8")
			return r
		}(), "nodes-ingress-all-0-0-from-10.0.0.0/8"},
		{"foreign group", func() *SecurityGroupRule {
			r := testRule("nodes", "tcp", 22, 22, "10.0.0.0/8", engine.Ref{}, "")
			r.Group = engine.RefID("sg-1")
			return r
		}(), "one of the cluster's security groups"},
		{"no source", testRule("nodes", "tcp", 22, 22, "", engine.Ref{}, ""), "neither a CIDR nor a source group"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A nil Cloud: the check must come before any AWS call.
			_, err := tt.rule.find(context.Background(), nil, securityRefs{})
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("find: got %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

// TestSecurityGroupRuleUpdateSendsDescription checks the request that
// changes a source-group rule's description, which moto 5 accepts and
// ignores: the rule's one permission, matched by content, with the new
// description.
func TestSecurityGroupRuleUpdateSendsDescription(t *testing.T) {
	t.Parallel()
	fake := &fakeSecurityEC2{}
	c := New(Clients{EC2: fake}, "test.k8s.local", "us-east-1")
	nodes := engine.Ref{Addr: engine.Address{Kind: KindSecurityGroup, Name: "nodes"}, ID: "sg-1"}
	actual := testRule("masters", "-1", 0, 0, "", nodes, "old")
	actual.Group.ID = "sg-2"
	desired := testRule("masters", "-1", 0, 0, "", engine.RefTo(KindSecurityGroup, "nodes"), "new")
	got, err := desired.update(context.Background(), c, actual, []engine.FieldDiff{{Path: "description"}}, securityRefs{})
	if err != nil {
		t.Fatal(err)
	}
	if got.(*SecurityGroupRule).Description != "new" {
		t.Errorf("update returned %+v, want description new", got)
	}
	want := &ec2.UpdateSecurityGroupRuleDescriptionsIngressInput{
		GroupId: aws.String("sg-2"),
		IpPermissions: []ec2types.IpPermission{{
			IpProtocol:       aws.String("-1"),
			UserIdGroupPairs: []ec2types.UserIdGroupPair{{GroupId: aws.String("sg-1"), Description: aws.String("new")}},
		}},
	}
	if diff := cmp.Diff(want, fake.updated, cmpopts.IgnoreUnexported(ec2.UpdateSecurityGroupRuleDescriptionsIngressInput{}, ec2types.IpPermission{}, ec2types.UserIdGroupPair{})); diff != "" {
		t.Errorf("request (-want +got):\n%s", diff)
	}
}
