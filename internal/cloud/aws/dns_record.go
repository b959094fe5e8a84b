package aws

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	r53types "github.com/aws/aws-sdk-go-v2/service/route53/types"

	"github.com/kapstan/kapstan/internal/engine"
)

// dnsAPI is the Route 53 calls kapstan makes.
type dnsAPI interface {
	ListHostedZonesByName(ctx context.Context, params *route53.ListHostedZonesByNameInput, optFns ...func(*route53.Options)) (*route53.ListHostedZonesByNameOutput, error)
	ListResourceRecordSets(ctx context.Context, params *route53.ListResourceRecordSetsInput, optFns ...func(*route53.Options)) (*route53.ListResourceRecordSetsOutput, error)
	ChangeResourceRecordSets(ctx context.Context, params *route53.ChangeResourceRecordSetsInput, optFns ...func(*route53.Options)) (*route53.ChangeResourceRecordSetsOutput, error)
}

// DNSRecord is an alias A record in an existing Route 53 zone pointing at
// the API load balancer. Records cannot be tagged: its address name is the
// record name without the final dot, and the records a cluster owns are
// api.CLUSTER and api.internal.CLUSTER.
type DNSRecord struct {
	Name string
	// ZoneName is the hosted zone's name, e.g. "example.com"; the zone is
	// found by name (it is the user's, not the cluster's).
	ZoneName     string
	RecordName   string
	LoadBalancer engine.Ref

	// Read from AWS: the zone, the alias target and the record exactly as
	// Route 53 holds it, which a DELETE must repeat.
	zoneID       string
	aliasDNSName string
	aliasZoneID  string
	record       *r53types.ResourceRecordSet
}

// Address implements engine.Resource.
func (r *DNSRecord) Address() engine.Address {
	return engine.Address{Kind: KindDNSRecord, Name: r.Name}
}

// Dependencies implements engine.Resource.
func (r *DNSRecord) Dependencies() []engine.Address { return deps(r.LoadBalancer) }

// CloudID implements engine.Identified.
func (r *DNSRecord) CloudID() string { return r.RecordName }

// dnsName normalizes a DNS name for comparison: Route 53 returns names
// lower-cased with a final dot, and may prefix an ELB alias target with
// "dualstack.".
func dnsName(s string) string {
	return strings.TrimSuffix(strings.ToLower(s), ".")
}

func dnsAliasName(s string) string {
	return strings.TrimPrefix(dnsName(s), "dualstack.")
}

// target is the load balancer the record should point at, from refs, or
// nil when it does not exist yet.
func (r *DNSRecord) target(refs engine.Refs) *LoadBalancer {
	if refs == nil || r.LoadBalancer.Addr.IsZero() {
		return nil
	}
	a, ok := refs.Actual(r.LoadBalancer.Addr)
	if !ok {
		return nil
	}
	lb, _ := a.(*LoadBalancer)
	if lb == nil || lb.DNSName == "" {
		return nil
	}
	return lb
}

// Diff implements engine.Resource: the alias must name the load
// balancer's DNS name and zone.
func (r *DNSRecord) Diff(actual engine.Resource, refs engine.Refs) []engine.FieldDiff {
	a := actual.(*DNSRecord)
	var d engine.Differ
	unknown := "(" + r.LoadBalancer.String() + ", known after apply)"
	wantName, wantZone := unknown, unknown
	if lb := r.target(refs); lb != nil {
		wantName, wantZone = dnsAliasName(lb.DNSName), lb.HostedZoneID
	}
	d.String("alias.dnsName", a.aliasDNSName, wantName)
	d.String("alias.hostedZoneId", a.aliasZoneID, wantZone)
	return d.Diffs()
}

// dnsZone is a hosted zone found by name.
type dnsZone struct {
	id, name string
}

// hostedZones returns the zones named name, once per plan. Public and
// private zones may share a name, so there can be several.
func hostedZones(ctx context.Context, c *Cloud, name string) ([]dnsZone, error) {
	name = dnsName(name)
	return cached(ctx, c, "compute:zones:"+name, func(ctx context.Context) ([]dnsZone, error) {
		// Zones come in name order from DNSName on: those named name
		// come first.
		out, err := c.Route53.ListHostedZonesByName(ctx, &route53.ListHostedZonesByNameInput{
			DNSName: aws.String(name), MaxItems: aws.Int32(100),
		})
		if err != nil {
			return nil, fmt.Errorf("looking up hosted zone %s: %w", name, err)
		}
		var zones []dnsZone
		for _, z := range out.HostedZones {
			if dnsName(aws.ToString(z.Name)) == name {
				zones = append(zones, dnsZone{id: aws.ToString(z.Id), name: name})
			}
		}
		return zones, nil
	})
}

// zone returns the one zone a desired record goes in.
func (r *DNSRecord) zone(ctx context.Context, c *Cloud) (dnsZone, error) {
	zones, err := hostedZones(ctx, c, r.ZoneName)
	if err != nil {
		return dnsZone{}, err
	}
	switch len(zones) {
	case 0:
		return dnsZone{}, fmt.Errorf("DNS record %s: no Route 53 hosted zone named %q (spec.dnsZone): create it or fix spec.dnsZone", r.Name, r.ZoneName)
	case 1:
		return zones[0], nil
	}
	return dnsZone{}, fmt.Errorf("DNS record %s: %d Route 53 hosted zones are named %q (spec.dnsZone); kapstan cannot tell which to use", r.Name, len(zones), r.ZoneName)
}

// lookupRecord reads the A record named name in zone, or nil: the first
// record at or after (name, A) in Route 53's order, checked for an exact
// match.
func lookupRecord(ctx context.Context, c *Cloud, zoneID, name string) (*r53types.ResourceRecordSet, error) {
	out, err := c.Route53.ListResourceRecordSets(ctx, &route53.ListResourceRecordSetsInput{
		HostedZoneId:    aws.String(zoneID),
		StartRecordName: aws.String(dnsName(name)),
		StartRecordType: r53types.RRTypeA,
		MaxItems:        aws.Int32(1),
	})
	if err != nil {
		return nil, fmt.Errorf("reading DNS record %s: %w", name, err)
	}
	if len(out.ResourceRecordSets) == 0 {
		return nil, nil
	}
	rs := out.ResourceRecordSets[0]
	if dnsName(aws.ToString(rs.Name)) != dnsName(name) || rs.Type != r53types.RRTypeA {
		return nil, nil
	}
	return &rs, nil
}

func cachedRecord(ctx context.Context, c *Cloud, zoneID, name string) (*r53types.ResourceRecordSet, error) {
	return cached(ctx, c, "compute:record:"+zoneID+":"+dnsName(name), func(ctx context.Context) (*r53types.ResourceRecordSet, error) {
		return lookupRecord(ctx, c, zoneID, name)
	})
}

// recordFromAWS is the actual record; its load balancer ref is filled by
// the caller.
func recordFromAWS(name string, z dnsZone, rs *r53types.ResourceRecordSet) *DNSRecord {
	a := &DNSRecord{
		Name:       name,
		ZoneName:   z.name,
		RecordName: dnsName(aws.ToString(rs.Name)),
		zoneID:     z.id,
		record:     rs,
	}
	if at := rs.AliasTarget; at != nil {
		a.aliasDNSName = dnsAliasName(aws.ToString(at.DNSName))
		a.aliasZoneID = aws.ToString(at.HostedZoneId)
	}
	return a
}

func (r *DNSRecord) find(ctx context.Context, c *Cloud, refs engine.Refs) (engine.Resource, error) {
	z, err := r.zone(ctx, c)
	if err != nil {
		return nil, err
	}
	rs, err := cachedRecord(ctx, c, z.id, r.RecordName)
	if err != nil || rs == nil {
		return nil, err
	}
	a := recordFromAWS(r.Name, z, rs)
	if lb := r.target(refs); lb != nil && dnsAliasName(lb.DNSName) == a.aliasDNSName {
		a.LoadBalancer = engine.Ref{Addr: r.LoadBalancer.Addr, ID: lb.ARN}
	}
	return a, nil
}

// upsert points the record at the load balancer. UPSERT, not CREATE: a
// record left by an interrupted run, or by hand, is taken over rather
// than failing the apply (moto's CREATE of an existing record succeeds
// anyway, AWS's fails).
func (r *DNSRecord) upsert(ctx context.Context, c *Cloud, refs engine.Refs, verb string) (engine.Resource, error) {
	lb := r.target(refs)
	if lb == nil {
		return nil, fmt.Errorf("%s DNS record %s: load balancer %s not created yet", verb, r.Name, r.LoadBalancer)
	}
	z, err := r.zone(ctx, c)
	if err != nil {
		return nil, err
	}
	rs := &r53types.ResourceRecordSet{
		Name: aws.String(dnsName(r.RecordName) + "."),
		Type: r53types.RRTypeA,
		AliasTarget: &r53types.AliasTarget{
			DNSName:              aws.String(lb.DNSName),
			HostedZoneId:         aws.String(lb.HostedZoneID),
			EvaluateTargetHealth: false,
		},
	}
	if _, err := c.Route53.ChangeResourceRecordSets(ctx, &route53.ChangeResourceRecordSetsInput{
		HostedZoneId: aws.String(z.id),
		ChangeBatch: &r53types.ChangeBatch{
			Comment: aws.String("kapstan: " + c.Cluster),
			Changes: []r53types.Change{{Action: r53types.ChangeActionUpsert, ResourceRecordSet: rs}},
		},
	}); err != nil {
		return nil, fmt.Errorf("%s DNS record %s: %w", verb, r.Name, err)
	}
	a := recordFromAWS(r.Name, z, rs)
	a.LoadBalancer = engine.Ref{Addr: r.LoadBalancer.Addr, ID: lb.ARN}
	return a, nil
}

func (r *DNSRecord) create(ctx context.Context, c *Cloud, refs engine.Refs) (engine.Resource, error) {
	return r.upsert(ctx, c, refs, "creating")
}

func (r *DNSRecord) update(ctx context.Context, c *Cloud, actual engine.Resource, diffs []engine.FieldDiff, refs engine.Refs) (engine.Resource, error) {
	return r.upsert(ctx, c, refs, "updating")
}

// delete removes the record as Route 53 holds it: a DELETE must repeat
// the record exactly. A DELETE that matches nothing fails with
// InvalidChangeBatch on AWS and InvalidInput on moto; either means "already
// gone" only if a fresh read finds no record, since both also cover a
// record that changed since it was read.
func (r *DNSRecord) delete(ctx context.Context, c *Cloud) error {
	rs := r.record
	if rs == nil {
		rs = &r53types.ResourceRecordSet{
			Name: aws.String(dnsName(r.RecordName) + "."),
			Type: r53types.RRTypeA,
			AliasTarget: &r53types.AliasTarget{
				DNSName: aws.String(r.aliasDNSName), HostedZoneId: aws.String(r.aliasZoneID),
			},
		}
	}
	_, err := c.Route53.ChangeResourceRecordSets(ctx, &route53.ChangeResourceRecordSetsInput{
		HostedZoneId: aws.String(r.zoneID),
		ChangeBatch: &r53types.ChangeBatch{
			Comment: aws.String("kapstan: " + c.Cluster),
			Changes: []r53types.Change{{Action: r53types.ChangeActionDelete, ResourceRecordSet: rs}},
		},
	})
	switch {
	case err == nil:
		return nil
	case isNotFound(err): // the zone itself is gone
		return nil
	case hasCode(err, "InvalidChangeBatch", "InvalidInput"):
		still, rerr := lookupRecord(ctx, c, r.zoneID, r.RecordName)
		if rerr == nil && still == nil {
			return nil
		}
	}
	return fmt.Errorf("deleting DNS record %s: %w", r.Name, err)
}

// dnsOwnedNames are the records a cluster makes.
func dnsOwnedNames(cluster string) []string {
	return []string{"api." + cluster, "api.internal." + cluster}
}

// dnsZoneCandidates are the names a zone holding the cluster's records
// may have: the cluster name and its parents with at least two labels,
// longest first. A gossip cluster (*.k8s.local) has no DNS.
func dnsZoneCandidates(cluster string) []string {
	cluster = dnsName(cluster)
	if cluster == "k8s.local" || strings.HasSuffix(cluster, ".k8s.local") {
		return nil
	}
	var out []string
	for name := cluster; strings.Contains(name, "."); {
		out = append(out, name)
		_, name, _ = strings.Cut(name, ".")
	}
	return out
}

// ownedDNSRecords finds api.CLUSTER and api.internal.CLUSTER in the
// hosted zones named like the cluster or one of its parents: one
// ListHostedZonesByName per candidate name and one ListResourceRecordSets
// per record and zone found, shared with find through the cache. When a
// name is in two zones (example.com and a delegated demo.example.com), the
// longest zone, which resolvers use, wins.
func (c *Cloud) ownedDNSRecords(ctx context.Context) ([]engine.Resource, error) {
	var out []engine.Resource
	seen := map[string]bool{}
	var lbs *lbActuals
	for _, zname := range dnsZoneCandidates(c.Cluster) {
		zones, err := hostedZones(ctx, c, zname)
		if err != nil {
			return nil, err
		}
		for _, z := range zones {
			for _, name := range dnsOwnedNames(dnsName(c.Cluster)) {
				if seen[name] {
					continue
				}
				rs, err := cachedRecord(ctx, c, z.id, name)
				if err != nil {
					return nil, err
				}
				if rs == nil {
					continue
				}
				seen[name] = true
				a := recordFromAWS(name, z, rs)
				a.ZoneName = z.name
				if lbs == nil {
					if lbs, err = loadBalancers(ctx, c); err != nil {
						return nil, err
					}
				}
				for _, addr := range computeSortedAddrs(lbs.byAddr) {
					if lb := lbs.byAddr[addr]; dnsAliasName(lb.DNSName) == a.aliasDNSName {
						a.LoadBalancer = engine.Ref{Addr: addr, ID: lb.ARN}
					}
				}
				out = append(out, a)
			}
		}
	}
	slices.SortFunc(out, func(a, b engine.Resource) int { return strings.Compare(a.Address().Name, b.Address().Name) })
	return out, nil
}
