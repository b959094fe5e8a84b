package aws

import "github.com/kapstan/kapstan/internal/engine"

// InternetGateway gives public subnets their route to the internet; it is
// attached to VPC when created.
type InternetGateway struct {
	Name string
	ID   string
	VPC  engine.Ref
	Tags Tags
}

func (r *InternetGateway) Address() engine.Address {
	return engine.Address{Kind: KindInternetGateway, Name: r.Name}
}
func (r *InternetGateway) Dependencies() []engine.Address { return deps(r.VPC) }
func (r *InternetGateway) CloudID() string                { return r.ID }
