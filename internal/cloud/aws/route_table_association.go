package aws

import "github.com/kapstan/kapstan/internal/engine"

// RouteTableAssociation makes a subnet use a route table. It is found
// inside its route table, by subnet.
type RouteTableAssociation struct {
	Name       string
	ID         string
	RouteTable engine.Ref
	Subnet     engine.Ref
}

func (r *RouteTableAssociation) Address() engine.Address {
	return engine.Address{Kind: KindRouteTableAssociation, Name: r.Name}
}
func (r *RouteTableAssociation) Dependencies() []engine.Address {
	return deps(r.RouteTable, r.Subnet)
}
func (r *RouteTableAssociation) CloudID() string { return r.ID }

// AssociationName is the address name of a subnet's route table
// association: a subnet has exactly one.
func AssociationName(subnet string) string { return subnet }
