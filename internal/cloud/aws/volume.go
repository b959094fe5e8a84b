package aws

import (
	"fmt"

	"github.com/kapstan/kapstan/internal/engine"
)

// Volume is an etcd member's EBS volume. Its tags name the etcd cluster
// and member, so that the node running the member finds and attaches it.
type Volume struct {
	Name      string
	ID        string
	Zone      string
	Size      int32
	Type      string
	Encrypted bool
	Tags      Tags
}

func (r *Volume) Address() engine.Address        { return engine.Address{Kind: KindVolume, Name: r.Name} }
func (r *Volume) Dependencies() []engine.Address { return nil }
func (r *Volume) CloudID() string                { return r.ID }
func (r *Volume) Summary() string {
	return fmt.Sprintf("%d GiB %s in %s", r.Size, r.Type, r.Zone)
}
