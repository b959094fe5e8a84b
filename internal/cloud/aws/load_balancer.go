package aws

import "github.com/kapstan/kapstan/internal/engine"

// LoadBalancer is the network load balancer in front of the API servers.
type LoadBalancer struct {
	Name   string
	LBName string
	ARN    string
	// Scheme is "internet-facing" or "internal".
	Scheme         string
	Subnets        []engine.Ref
	SecurityGroups []engine.Ref
	// DNSName and HostedZoneID are read from AWS, for DNS aliases.
	DNSName      string
	HostedZoneID string
	Tags         Tags
}

func (r *LoadBalancer) Address() engine.Address {
	return engine.Address{Kind: KindLoadBalancer, Name: r.Name}
}
func (r *LoadBalancer) Dependencies() []engine.Address {
	return deps(append(append([]engine.Ref{}, r.Subnets...), r.SecurityGroups...)...)
}
func (r *LoadBalancer) CloudID() string { return r.ARN }
