package aws

import (
	"fmt"

	"github.com/kapstan/kapstan/internal/engine"
)

// Listener forwards a load balancer port to a target group.
type Listener struct {
	Name         string
	ARN          string
	LoadBalancer engine.Ref
	TargetGroup  engine.Ref
	Port         int32
	Protocol     string
}

func (r *Listener) Address() engine.Address { return engine.Address{Kind: KindListener, Name: r.Name} }
func (r *Listener) Dependencies() []engine.Address {
	return deps(r.LoadBalancer, r.TargetGroup)
}
func (r *Listener) CloudID() string { return r.ARN }

// ListenerName is the address name of a load balancer's listener on port.
func ListenerName(loadBalancer string, port int32) string {
	return fmt.Sprintf("%s:%d", loadBalancer, port)
}
