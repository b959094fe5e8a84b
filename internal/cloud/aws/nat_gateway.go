package aws

import "github.com/kapstan/kapstan/internal/engine"

// NATGateway gives a zone's private subnets their way out. When Shared, it
// exists already (spec.subnets[].egress) and kapstan only tags it.
type NATGateway struct {
	Name      string
	ID        string
	Subnet    engine.Ref
	ElasticIP engine.Ref
	Shared    bool
	Tags      Tags
}

func (r *NATGateway) Address() engine.Address {
	return engine.Address{Kind: KindNATGateway, Name: r.Name}
}
func (r *NATGateway) Dependencies() []engine.Address {
	return deps(r.Subnet, r.ElasticIP)
}
func (r *NATGateway) CloudID() string { return r.ID }
