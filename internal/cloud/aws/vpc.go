package aws

import (
	"fmt"

	"github.com/kapstan/kapstan/internal/engine"
)

// VPC is the cluster's network. When Shared, it is an existing VPC named
// in the spec: kapstan only adds the cluster's shared tag to it.
type VPC struct {
	Name string
	// ID is the VPC id: given for a shared VPC, read from AWS otherwise.
	ID                 string
	CIDR               string
	Shared             bool
	EnableDNSHostnames bool
	EnableDNSSupport   bool
	Tags               Tags
}

func (r *VPC) Address() engine.Address        { return engine.Address{Kind: KindVPC, Name: r.Name} }
func (r *VPC) Dependencies() []engine.Address { return nil }
func (r *VPC) CloudID() string                { return r.ID }
func (r *VPC) Summary() string {
	if r.Shared {
		return fmt.Sprintf("existing %s, tag as shared", r.ID)
	}
	return "cidr " + r.CIDR
}
