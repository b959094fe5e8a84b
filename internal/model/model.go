// Package model turns a cluster's manifests into the AWS resources it
// needs, as a graph of typed resources with their dependencies. It is pure:
// no IO, no clock, no randomness. The same spec and facts always give the
// same resources, so plans are stable and targets render byte-identical
// files.
package model

import (
	"fmt"

	awscloud "github.com/kapstan/kapstan/internal/cloud/aws"
	"github.com/kapstan/kapstan/internal/engine"
	api "github.com/kapstan/kapstan/pkg/apis/kapstan/v1alpha1"
)

// Options are the inputs the spec does not hold.
type Options struct {
	// StateStore is the state store's URL; nodes read their configuration
	// from it.
	StateStore string
	// AgentURL is where nodes download the kapstan node agent, and
	// AgentSHA256 its hex SHA-256; a node's boot script needs both
	// (bootstrap.UserData refuses to render without them).
	AgentURL    string
	AgentSHA256 string
	// Facts are what preflight learned from the cloud (image ids). Empty
	// facts leave images as written in the spec.
	Facts awscloud.Facts
}

// builder accumulates resources and knows the cluster's names.
type builder struct {
	m         *api.Manifests
	opts      Options
	cluster   string
	resources []engine.Resource
}

// Build returns every resource of the cluster, in an order that respects
// dependencies.
func Build(m *api.Manifests, opts Options) ([]engine.Resource, error) {
	if m.Cluster == nil {
		return nil, fmt.Errorf("model: manifests hold no Cluster")
	}
	b := &builder{m: m, opts: opts, cluster: m.Cluster.Metadata.Name}
	n := b.network()
	sgs := b.securityGroups(n)
	iam := b.iam()
	key := b.keyPair()
	lb := b.loadBalancer(n, sgs)
	if err := b.instanceGroups(n, sgs, iam, key, lb); err != nil {
		return nil, err
	}
	if err := b.etcdVolumes(); err != nil {
		return nil, err
	}
	b.dns(lb)
	return b.resources, nil
}

func (b *builder) add(r engine.Resource) { b.resources = append(b.resources, r) }

// tags are the owned-resource tags for addr, with the spec's cloud labels.
func (b *builder) tags(addr engine.Address, name string, extra ...map[string]string) awscloud.Tags {
	labels := map[string]string{}
	for k, v := range b.m.Cluster.Spec.CloudLabels {
		labels[k] = v
	}
	for _, e := range extra {
		for k, v := range e {
			labels[k] = v
		}
	}
	return awscloud.OwnedTags(b.cluster, addr, name, labels)
}
