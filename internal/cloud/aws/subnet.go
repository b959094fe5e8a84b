package aws

import (
	"fmt"

	"github.com/kapstan/kapstan/internal/engine"
)

// Subnet is one subnet of the cluster. When Shared, it exists already and
// kapstan only tags it.
type Subnet struct {
	Name   string
	ID     string
	VPC    engine.Ref
	CIDR   string
	Zone   string
	Shared bool
	// MapPublicIP gives instances launched here a public address.
	MapPublicIP bool
	Tags        Tags
}

func (r *Subnet) Address() engine.Address        { return engine.Address{Kind: KindSubnet, Name: r.Name} }
func (r *Subnet) Dependencies() []engine.Address { return deps(r.VPC) }
func (r *Subnet) CloudID() string                { return r.ID }
func (r *Subnet) Summary() string {
	if r.Shared {
		return fmt.Sprintf("existing %s, tag as shared", r.ID)
	}
	return fmt.Sprintf("%s in %s", r.CIDR, r.Zone)
}
