package aws

import "github.com/kapstan/kapstan/internal/engine"

// Route sends Destination through an internet gateway or a NAT gateway
// (exactly one is set). Routes have no tags and no id of their own: they
// are found inside their route table, by destination.
type Route struct {
	Name            string
	RouteTable      engine.Ref
	Destination     string
	InternetGateway engine.Ref
	NATGateway      engine.Ref
}

func (r *Route) Address() engine.Address { return engine.Address{Kind: KindRoute, Name: r.Name} }
func (r *Route) Dependencies() []engine.Address {
	return deps(r.RouteTable, r.InternetGateway, r.NATGateway)
}
func (r *Route) Summary() string {
	if !r.NATGateway.IsZero() {
		return r.Destination + " via " + r.NATGateway.String()
	}
	return r.Destination + " via " + r.InternetGateway.String()
}

// RouteName is the address name of the route to destination in a route
// table. Routes are found by content, so the model and the cloud must name
// them alike.
func RouteName(routeTable, destination string) string {
	return routeTable + ":" + destination
}
