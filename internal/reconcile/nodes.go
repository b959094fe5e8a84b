package reconcile

import (
	"context"
	"fmt"

	awscloud "github.com/kapstan/kapstan/internal/cloud/aws"
	"github.com/kapstan/kapstan/internal/engine"
	"github.com/kapstan/kapstan/internal/nodeup"
	"github.com/kapstan/kapstan/internal/pki"
	"github.com/kapstan/kapstan/internal/store"
	api "github.com/kapstan/kapstan/pkg/apis/kapstan/v1alpha1"
)

// PrepareNodes makes what instances read when they boot, in the state
// store: the cluster's keys and certificates (created once, never
// replaced; the API server's certificate is re-signed when the load
// balancer's name becomes known) and each instance group's node
// configuration. It makes no cloud call. lbDNSName is the API load
// balancer's DNS name, or "" while it does not exist.
func PrepareNodes(ctx context.Context, st store.Store, m *api.Manifests, lbDNSName string) error {
	if _, err := pki.Ensure(ctx, st, m, lbDNSName); err != nil {
		return fmt.Errorf("preparing the cluster's keys and certificates: %w", err)
	}
	ks := pki.NewKeystore(st, m.Cluster.Metadata.Name)
	if _, err := nodeup.WriteConfigs(ctx, st, m, ks, lbDNSName); err != nil {
		return fmt.Errorf("writing the node configurations: %w", err)
	}
	return nil
}

// LoadBalancerDNS is the API load balancer's DNS name as the plan knows
// it: from the cloud when it existed before, or from the apply that made
// it. It is "" when it does not exist yet.
func LoadBalancerDNS(p *engine.Plan) string {
	for _, c := range p.Changes {
		if lb, ok := c.Actual().(*awscloud.LoadBalancer); ok && c.Address.Name == "api" && lb != nil {
			return lb.DNSName
		}
	}
	return ""
}
