package reconcile

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/kapstan/kapstan/internal/addons"
	"github.com/kapstan/kapstan/internal/channels"
	"github.com/kapstan/kapstan/internal/pki"
	"github.com/kapstan/kapstan/internal/store"
	api "github.com/kapstan/kapstan/pkg/apis/kapstan/v1alpha1"
)

// WriteAddons renders the cluster's add-ons, at the versions of the
// channel it follows for its Kubernetes minor, and writes them to the
// state store for ApplyAddons. It makes no cloud or cluster call.
// lbDNSName is the API load balancer's name ("" while it does not exist).
func WriteAddons(ctx context.Context, st store.Store, m *api.Manifests, lbDNSName string) (*addons.Set, error) {
	name := m.Cluster.Metadata.Name
	ch, err := channels.ForCluster(ctx, st, name)
	if err != nil {
		return nil, err
	}
	set, err := addons.Render(ctx, m, addons.Options{Channel: ch, LoadBalancerDNS: lbDNSName, Store: st})
	if err != nil {
		return nil, err
	}
	if _, err := addons.Write(ctx, st, name, set); err != nil {
		return nil, fmt.Errorf("writing the add-ons of %s: %w", name, err)
	}
	return set, nil
}

// ApplyAddons applies the add-ons stored for a cluster with server-side
// apply once its API answers, waiting at most wait. When the kubeconfig
// has no context for the cluster, or the API does not answer in time, the
// error wraps addons.ErrNoContext or addons.ErrUnreachable and nothing is
// applied.
func ApplyAddons(ctx context.Context, st store.Store, cluster string, access addons.Access, wait time.Duration) (*addons.Result, error) {
	cfg, err := access.RESTConfig()
	if err != nil {
		return nil, err
	}
	if err := addons.WaitReady(ctx, cfg, wait, 2*time.Second); err != nil {
		return nil, err
	}
	c, err := addons.NewClient(cfg)
	if err != nil {
		return nil, err
	}
	return c.Apply(ctx, st, cluster)
}

// KnownLoadBalancerDNS is the API load balancer's name as the cluster's
// keys know it: the API server certificate names it once an update has
// seen it. It is "" before that. It makes no cloud call.
func KnownLoadBalancerDNS(ctx context.Context, st store.Store, c *api.Cluster) (string, error) {
	cert, err := pki.NewKeystore(st, c.Metadata.Name).Certificate(ctx, pki.APIServer)
	if errors.Is(err, pki.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return pki.LoadBalancerName(c, cert), nil
}
