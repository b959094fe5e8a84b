package aws

import "github.com/kapstan/kapstan/internal/engine"

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
}

func (r *DNSRecord) Address() engine.Address {
	return engine.Address{Kind: KindDNSRecord, Name: r.Name}
}
func (r *DNSRecord) Dependencies() []engine.Address { return deps(r.LoadBalancer) }
func (r *DNSRecord) CloudID() string                { return r.RecordName }
