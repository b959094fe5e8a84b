package aws

import "github.com/kapstan/kapstan/internal/engine"

// ElasticIP is the public address of a NAT gateway. ID is the allocation
// id.
type ElasticIP struct {
	Name     string
	ID       string
	PublicIP string
	Tags     Tags
}

func (r *ElasticIP) Address() engine.Address {
	return engine.Address{Kind: KindElasticIP, Name: r.Name}
}
func (r *ElasticIP) Dependencies() []engine.Address { return nil }
func (r *ElasticIP) CloudID() string                { return r.ID }
