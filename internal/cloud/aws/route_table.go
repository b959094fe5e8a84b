package aws

import "github.com/kapstan/kapstan/internal/engine"

// RouteTable holds routes; subnets use it through associations.
type RouteTable struct {
	Name string
	ID   string
	VPC  engine.Ref
	Tags Tags
}

func (r *RouteTable) Address() engine.Address {
	return engine.Address{Kind: KindRouteTable, Name: r.Name}
}
func (r *RouteTable) Dependencies() []engine.Address { return deps(r.VPC) }
func (r *RouteTable) CloudID() string                { return r.ID }
