package aws

import (
	"context"
	"errors"

	"github.com/kapstan/kapstan/internal/engine"
)

// errNotManaged is returned by the IO kapstan never does on kinds it only
// deletes.
var errNotManaged = errors.New("kapstan does not create or change this kind of resource; it only deletes it with the cluster")

// deleteOnly is embedded by the kinds kapstan never makes but deletes
// with a cluster (instances, network interfaces, classic load balancers,
// DHCP options, VPC endpoints, queues, event rules): it has no fields to
// compare and refuses every IO but delete, which each kind writes.
type deleteOnly struct{}

func (deleteOnly) Diff(engine.Resource, engine.Refs) []engine.FieldDiff { return nil }
func (deleteOnly) find(context.Context, *Cloud, engine.Refs) (engine.Resource, error) {
	return nil, errNotManaged
}
func (deleteOnly) create(context.Context, *Cloud, engine.Refs) (engine.Resource, error) {
	return nil, errNotManaged
}
func (deleteOnly) update(context.Context, *Cloud, engine.Resource, []engine.FieldDiff, engine.Refs) (engine.Resource, error) {
	return nil, errNotManaged
}
