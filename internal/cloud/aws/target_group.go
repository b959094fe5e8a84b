package aws

import "github.com/kapstan/kapstan/internal/engine"

// TargetGroup is the set of API servers behind the load balancer; the
// control-plane Auto Scaling groups register their instances in it.
type TargetGroup struct {
	Name     string
	TGName   string
	ARN      string
	VPC      engine.Ref
	Port     int32
	Protocol string
	Tags     Tags
}

func (r *TargetGroup) Address() engine.Address {
	return engine.Address{Kind: KindTargetGroup, Name: r.Name}
}
func (r *TargetGroup) Dependencies() []engine.Address { return deps(r.VPC) }
func (r *TargetGroup) CloudID() string                { return r.ARN }
