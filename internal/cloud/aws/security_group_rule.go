package aws

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/kapstan/kapstan/internal/engine"
)

// SecurityGroupRule lets traffic into Group: Protocol ("tcp", "udp",
// "icmp" or "-1" for all) on ports FromPort..ToPort, from CIDR or from
// SourceGroup (exactly one is set). Only ingress is managed; the egress
// rule AWS gives every new group (all traffic out) is kept. Rules are found
// inside their group, by content.
//
// ID is AWS's rule id when known: AuthorizeSecurityGroupIngress returns it,
// but the DescribeSecurityGroups that finds rules does not, so rules read
// from AWS have none. Nothing refers to a rule by id.
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

// Address implements engine.Resource.
func (r *SecurityGroupRule) Address() engine.Address {
	return engine.Address{Kind: KindSecurityGroupRule, Name: r.Name}
}

// Dependencies implements engine.Resource.
func (r *SecurityGroupRule) Dependencies() []engine.Address {
	return deps(r.Group, r.SourceGroup)
}

// CloudID implements engine.Identified.
func (r *SecurityGroupRule) CloudID() string { return r.ID }

// Summary implements engine.Summarizer.
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

// securityRuleProtocol returns the protocol and ports as DescribeSecurityGroups
// would make them comparable: protocol numbers AWS accepts become the names
// it reports, and all traffic ("-1"), for which AWS ignores ports and
// reports none, -1/-1 or 0/0, always has ports 0/0.
func securityRuleProtocol(protocol string, from, to int32) (string, int32, int32) {
	p := strings.ToLower(protocol)
	switch p {
	case "6":
		p = "tcp"
	case "17":
		p = "udp"
	case "1":
		p = "icmp"
	case "all":
		p = "-1"
	}
	if p == "-1" {
		return p, 0, 0
	}
	return p, from, to
}

// expectedName is the name RuleName gives r's content. A rule with another
// name would be found under its own address and listed as an orphan under
// this one, and so deleted by the same plan that keeps it.
func (r *SecurityGroupRule) expectedName() (string, error) {
	if r.Group.Addr.IsZero() {
		return "", errors.New("its group must be one of the cluster's security groups, referred to by address")
	}
	source := r.CIDR
	switch {
	case r.CIDR != "" && !r.SourceGroup.IsZero():
		return "", errors.New("it sets both a CIDR and a source group")
	case r.CIDR == "" && !r.SourceGroup.Addr.IsZero():
		source = r.SourceGroup.Addr.Name
	case r.CIDR == "":
		source = r.SourceGroup.ID
	}
	if source == "" {
		return "", errors.New("it sets neither a CIDR nor a source group")
	}
	p, from, to := securityRuleProtocol(r.Protocol, r.FromPort, r.ToPort)
	return RuleName(r.Group.Addr.Name, p, from, to, source), nil
}

// Diff implements engine.Resource. A rule's content is its identity (AWS
// has no call to change it); only the description changes in place.
func (r *SecurityGroupRule) Diff(actual engine.Resource, refs engine.Refs) []engine.FieldDiff {
	a := actual.(*SecurityGroupRule)
	p, from, to := securityRuleProtocol(r.Protocol, r.FromPort, r.ToPort)
	var d engine.Differ
	d.Ref("group", a.Group.ID, r.Group, refs, true)
	d.Immutable("protocol", a.Protocol, p)
	d.Immutable("fromPort", fmt.Sprint(a.FromPort), fmt.Sprint(from))
	d.Immutable("toPort", fmt.Sprint(a.ToPort), fmt.Sprint(to))
	d.Immutable("cidr", a.CIDR, r.CIDR)
	if !r.SourceGroup.IsZero() || a.SourceGroup.ID != "" {
		d.Ref("sourceGroup", a.SourceGroup.ID, r.SourceGroup, refs, true)
	}
	d.String("description", a.Description, r.Description)
	return d.Diffs()
}

// securityRulesOf expands a described group's ingress permissions into
// one rule per CIDR or source group, the unit kapstan manages. byID names
// the cluster's groups, so that a rule from one of them gets its address
// name; a rule from a foreign group keeps the group id in its name.
// Prefix-list sources are not managed and not listed.
func securityRulesOf(groupAddr engine.Address, g ec2types.SecurityGroup, byID map[string]engine.Address) []*SecurityGroupRule {
	group := engine.Ref{Addr: groupAddr, ID: aws.ToString(g.GroupId)}
	var out []*SecurityGroupRule
	for _, perm := range g.IpPermissions {
		p, from, to := securityRuleProtocol(aws.ToString(perm.IpProtocol), aws.ToInt32(perm.FromPort), aws.ToInt32(perm.ToPort))
		rule := func(source string, src engine.Ref, cidr, desc string) {
			out = append(out, &SecurityGroupRule{
				Name:        RuleName(groupAddr.Name, p, from, to, source),
				Group:       group,
				Protocol:    p,
				FromPort:    from,
				ToPort:      to,
				CIDR:        cidr,
				SourceGroup: src,
				Description: desc,
			})
		}
		for _, ip := range perm.IpRanges {
			cidr := aws.ToString(ip.CidrIp)
			rule(cidr, engine.Ref{}, cidr, aws.ToString(ip.Description))
		}
		for _, ip := range perm.Ipv6Ranges {
			cidr := aws.ToString(ip.CidrIpv6)
			rule(cidr, engine.Ref{}, cidr, aws.ToString(ip.Description))
		}
		for _, pair := range perm.UserIdGroupPairs {
			id := aws.ToString(pair.GroupId)
			src, source := engine.RefID(id), id
			if addr, ok := byID[id]; ok {
				src.Addr, source = addr, addr.Name
			}
			rule(source, src, "", aws.ToString(pair.Description))
		}
	}
	return out
}

// securityGroupIndex maps the cluster's group ids to their addresses.
func securityGroupIndex(groups []ec2types.SecurityGroup) map[string]engine.Address {
	byID := map[string]engine.Address{}
	for _, g := range groups {
		if addr, ok := addressOf(KindSecurityGroup, fromEC2Tags(g.Tags)); ok {
			byID[aws.ToString(g.GroupId)] = addr
		}
	}
	return byID
}

// find looks for the rule in its group's IpPermissions, read by the
// plan's one DescribeSecurityGroups: no call of its own.
func (r *SecurityGroupRule) find(ctx context.Context, c *Cloud, refs engine.Refs) (engine.Resource, error) {
	want, err := r.expectedName()
	if err != nil {
		return nil, fmt.Errorf("security group rule %s: %w", r.Name, err)
	}
	if want != r.Name {
		return nil, fmt.Errorf("security group rule %s: its name must be RuleName of its content, %q, or it would be found under one address and deleted as an orphan under the other", r.Name, want)
	}
	groupID := engine.ResolveID(refs, r.Group)
	if groupID == "" {
		return nil, nil // the group does not exist yet, nor can the rule
	}
	if r.CIDR == "" && engine.ResolveID(refs, r.SourceGroup) == "" {
		return nil, nil
	}
	groups, err := c.securitySGs(ctx)
	if err != nil {
		return nil, err
	}
	byID := securityGroupIndex(groups)
	for _, g := range groups {
		if aws.ToString(g.GroupId) != groupID {
			continue
		}
		for _, a := range securityRulesOf(byID[groupID], g, byID) {
			if a.Name == r.Name {
				return a, nil
			}
		}
		return nil, nil
	}
	return nil, fmt.Errorf("security group rule %s: group %s (%s) is not one of the cluster's security groups", r.Name, r.Group, groupID)
}

// permission is the rule as the one IpPermission that authorizes, revokes
// or describes it.
func (r *SecurityGroupRule) permission(sourceID string) ec2types.IpPermission {
	p, from, to := securityRuleProtocol(r.Protocol, r.FromPort, r.ToPort)
	perm := ec2types.IpPermission{IpProtocol: aws.String(p)}
	if p != "-1" {
		perm.FromPort, perm.ToPort = aws.Int32(from), aws.Int32(to)
	}
	var desc *string
	if r.Description != "" {
		desc = aws.String(r.Description)
	}
	switch {
	case strings.Contains(r.CIDR, ":"):
		perm.Ipv6Ranges = []ec2types.Ipv6Range{{CidrIpv6: aws.String(r.CIDR), Description: desc}}
	case r.CIDR != "":
		perm.IpRanges = []ec2types.IpRange{{CidrIp: aws.String(r.CIDR), Description: desc}}
	default:
		perm.UserIdGroupPairs = []ec2types.UserIdGroupPair{{GroupId: aws.String(sourceID), Description: desc}}
	}
	return perm
}

// create authorizes the rule alone: one permission per call. AWS accepts
// several at once, but moto 5 then lists only one of them in
// SecurityGroupRules, and one call per rule keeps each rule its own change
// in the plan anyway.
func (r *SecurityGroupRule) create(ctx context.Context, c *Cloud, refs engine.Refs) (engine.Resource, error) {
	groupID := engine.ResolveID(refs, r.Group)
	if groupID == "" {
		return nil, fmt.Errorf("creating security group rule %s: security group %s not created yet", r.Name, r.Group)
	}
	sourceID := ""
	if r.CIDR == "" {
		if sourceID = engine.ResolveID(refs, r.SourceGroup); sourceID == "" {
			return nil, fmt.Errorf("creating security group rule %s: source security group %s not created yet", r.Name, r.SourceGroup)
		}
	}
	out, err := c.EC2.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{
		GroupId:       aws.String(groupID),
		IpPermissions: []ec2types.IpPermission{r.permission(sourceID)},
	})
	if err != nil {
		if isNotFound(err) { // a group made a moment ago may not be visible yet
			err = engine.Retryable(err)
		}
		return nil, fmt.Errorf("creating security group rule %s: %w", r.Name, err)
	}
	a := r.actual(groupID, sourceID)
	if len(out.SecurityGroupRules) == 1 {
		a.ID = aws.ToString(out.SecurityGroupRules[0].SecurityGroupRuleId)
	}
	return a, nil
}

// actual is r as AWS holds it once made, with ids resolved.
func (r *SecurityGroupRule) actual(groupID, sourceID string) *SecurityGroupRule {
	a := *r
	a.Protocol, a.FromPort, a.ToPort = securityRuleProtocol(r.Protocol, r.FromPort, r.ToPort)
	a.Group = engine.Ref{Addr: r.Group.Addr, ID: groupID}
	if sourceID != "" {
		a.SourceGroup = engine.Ref{Addr: r.SourceGroup.Addr, ID: sourceID}
	}
	return &a
}

// update changes the description, the only thing Diff lets through, by
// matching the rule's content. moto 5 silently ignores this call for a
// rule from a source group (it looks the rule up with its old description
// included, finds nothing and answers success), so only CIDR rules are
// checked on moto; TestSecurityGroupRuleUpdateSendsDescription checks the
// request for a source-group rule.
func (r *SecurityGroupRule) update(ctx context.Context, c *Cloud, actual engine.Resource, diffs []engine.FieldDiff, refs engine.Refs) (engine.Resource, error) {
	a := actual.(*SecurityGroupRule)
	_, err := c.EC2.UpdateSecurityGroupRuleDescriptionsIngress(ctx, &ec2.UpdateSecurityGroupRuleDescriptionsIngressInput{
		GroupId:       aws.String(a.Group.ID),
		IpPermissions: []ec2types.IpPermission{r.permission(a.SourceGroup.ID)},
	})
	if err != nil {
		return nil, fmt.Errorf("updating security group rule %s: %w", r.Name, err)
	}
	n := *a
	n.Description = r.Description
	return &n, nil
}

// delete revokes the rule's one permission; a rule or group already gone
// is fine (AWS then lists the permission in UnknownIpPermissions, or
// answers InvalidPermission.NotFound).
//
// The permission carries the rule's current description, as read from
// AWS. AWS matches a rule without it, but moto 5 compares a source-group
// rule's description too, and answers InvalidPermission.NotFound (which
// would pass for "already gone") when it differs.
func (r *SecurityGroupRule) delete(ctx context.Context, c *Cloud) error {
	_, err := c.EC2.RevokeSecurityGroupIngress(ctx, &ec2.RevokeSecurityGroupIngressInput{
		GroupId:       aws.String(r.Group.ID),
		IpPermissions: []ec2types.IpPermission{r.permission(r.SourceGroup.ID)},
	})
	if err != nil && !isNotFound(err) {
		return fmt.Errorf("deleting security group rule %s: %w", r.Name, err)
	}
	return nil
}

// ownedSecurityGroupRules lists the ingress rules of the cluster's groups,
// from the same DescribeSecurityGroups as the groups.
func (c *Cloud) ownedSecurityGroupRules(ctx context.Context) ([]engine.Resource, error) {
	groups, err := c.securitySGs(ctx)
	if err != nil {
		return nil, err
	}
	byID := securityGroupIndex(groups)
	var out []engine.Resource
	for _, g := range groups {
		addr, ok := byID[aws.ToString(g.GroupId)]
		if !ok {
			continue
		}
		for _, r := range securityRulesOf(addr, g, byID) {
			out = append(out, r)
		}
	}
	return out, nil
}
