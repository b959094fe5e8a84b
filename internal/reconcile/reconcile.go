// Package reconcile brings a cluster's cloud resources to its spec: it
// runs preflight, builds the model, plans with the engine and applies the
// plan. It is the seam between the commands, which only parse and print,
// and the packages that do the work.
package reconcile

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"

	awscloud "github.com/kapstan/kapstan/internal/cloud/aws"
	"github.com/kapstan/kapstan/internal/engine"
	"github.com/kapstan/kapstan/internal/model"
	"github.com/kapstan/kapstan/internal/registry"
	api "github.com/kapstan/kapstan/pkg/apis/kapstan/v1alpha1"
)

// Options are what a reconcile needs besides the spec.
type Options struct {
	// AWS is the SDK configuration; its region is replaced by the spec's.
	AWS aws.Config
	// StateStore is the store's URL, which nodes read from.
	StateStore string
	// AgentURL is where nodes download the node agent, and AgentSHA256
	// its hex SHA-256, from the cluster's asset mirror (see
	// mirror.Agent); every node's boot script needs both.
	AgentURL    string
	AgentSHA256 string
}

// MaxAttempts is how many times the SDK tries a call that AWS throttled,
// answered with a 5xx or dropped. The SDK's default of 3 gives up too soon
// for an apply of a hundred calls against a busy account.
const MaxAttempts = 10

// AWSConfig loads the SDK configuration from the environment (credentials
// chain, AWS_ENDPOINT_URL, ...) for region. Throttling, 5xx answers and
// dropped connections are retried with backoff, up to MaxAttempts, without
// the SDK's retry quota, which would otherwise stop retrying on a bad
// minute. Extra options come last, so tests can add middleware.
func AWSConfig(ctx context.Context, region string, opts ...func(*config.LoadOptions) error) (aws.Config, error) {
	base := []func(*config.LoadOptions) error{
		config.WithRegion(region),
		config.WithRetryer(NewRetryer),
	}
	cfg, err := config.LoadDefaultConfig(ctx, append(base, opts...)...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("loading AWS configuration: %w", err)
	}
	return cfg, nil
}

// NewRetryer is the SDK retryer kapstan uses: standard backoff with jitter,
// MaxAttempts tries, no retry quota.
func NewRetryer() aws.Retryer {
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = MaxAttempts
		o.RateLimiter = ratelimit.None
	})
}

// Planned is a plan and the cloud session that made it; Apply needs both.
type Planned struct {
	Plan      *engine.Plan
	cloud     *awscloud.Cloud
	manifests *api.Manifests
}

// Manifests is the spec the plan was made from.
func (p *Planned) Manifests() *api.Manifests { return p.manifests }

// Plan checks the cloud (preflight), builds the desired resources from the
// snapshot and compares them with the cloud. It changes nothing.
func Plan(ctx context.Context, snap *registry.Snapshot, opts Options) (*Planned, error) {
	c := snap.Manifests.Cluster
	cfg := opts.AWS.Copy()
	cfg.Region = c.Spec.Region
	cloud := awscloud.New(awscloud.NewClients(cfg), c.Metadata.Name, c.Spec.Region)
	// The reads of every kind go out together with preflight's: planning
	// then costs about one round trip to AWS instead of one per kind.
	prefetched := make(chan struct{})
	go func() { defer close(prefetched); cloud.Prefetch(ctx) }()
	facts, err := cloud.Preflight(ctx, snap.Manifests)
	<-prefetched
	if err != nil {
		return nil, err
	}
	desired, err := model.Build(snap.Manifests, model.Options{StateStore: opts.StateStore, AgentURL: opts.AgentURL, AgentSHA256: opts.AgentSHA256, Facts: facts})
	if err != nil {
		return nil, err
	}
	plan, err := engine.MakePlan(ctx, cloud, c.Metadata.Name, snap.Revision, desired)
	if err != nil {
		return nil, fmt.Errorf("planning cluster %q: %w", c.Metadata.Name, err)
	}
	return &Planned{Plan: plan, cloud: cloud, manifests: snap.Manifests}, nil
}

// Apply carries out a plan made by Plan.
func Apply(ctx context.Context, p *Planned, opts engine.ApplyOptions) error {
	return engine.Apply(ctx, p.cloud, p.Plan, opts)
}
