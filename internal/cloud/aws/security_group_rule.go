package aws

import (
	"fmt"

	"github.com/kapstan/kapstan/internal/engine"
)

// SecurityGroupRule lets traffic into Group: Protocol ("tcp", "udp",
// "icmp" or "-1" for all) on ports FromPort..ToPort, from CIDR or from
// SourceGroup (exactly one is set). Only ingress is managed; the egress
// rule AWS gives every new group (all traffic out) is kept. Rules are found
// inside their group, by content.
type SecurityGroupRule struct {
	Name        string
	ID          string
	Group       engine.Ref
	Protocol    string
	FromPort    int32
	ToPort      int32
	CIDR        string
	SourceGroup engine.Ref
	Description string
}

func (r *SecurityGroupRule) Address() engine.Address {
	return engine.Address{Kind: KindSecurityGroupRule, Name: r.Name}
}
func (r *SecurityGroupRule) Dependencies() []engine.Address {
	return deps(r.Group, r.SourceGroup)
}
func (r *SecurityGroupRule) CloudID() string { return r.ID }
func (r *SecurityGroupRule) Summary() string {
	from := r.CIDR
	if from == "" {
		from = r.SourceGroup.String()
	}
	ports := fmt.Sprintf("%d-%d", r.FromPort, r.ToPort)
	if r.FromPort == r.ToPort {
		ports = fmt.Sprint(r.FromPort)
	}
	if r.Protocol == "-1" {
		return "all traffic from " + from
	}
	return fmt.Sprintf("%s %s from %s", r.Protocol, ports, from)
}

// RuleName is the address name of a rule. A rule is found by content, so
// its name is made of its content: group, protocol, ports and source (a
// CIDR or the source group's address name). Changing any of these makes
// another rule; only the description can change in place.
func RuleName(group, protocol string, from, to int32, source string) string {
	if protocol == "-1" {
		protocol = "all"
	}
	return fmt.Sprintf("%s-ingress-%s-%d-%d-from-%s", group, protocol, from, to, source)
}
