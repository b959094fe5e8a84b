// Package aws holds kapstan's AWS resources — VPC, subnets, gateways,
// routes, security groups, IAM, launch templates, Auto Scaling groups, load
// balancers, Route 53 records, EBS volumes, key pairs — and the IO for them.
//
// Each resource kind is a plain struct in a file of its own, used both for
// the desired state (built by the model) and for the actual state (read
// from AWS), with an explicit Diff. Cloud implements engine.Cloud: it reads
// with one Describe call per kind, filtered by the cluster's tag and cached
// for the length of a plan, and writes one call per change.
//
// Every resource kapstan makes is tagged, at creation, with
// KubernetesCluster=NAME, kubernetes.io/cluster/NAME=owned and
// kapstan.io/address=KIND/NAME; the last is how a later run finds it again,
// so an interrupted apply resumes without duplicates. Resources that exist
// outside kapstan (an existing VPC, subnets, NAT gateways) are only tagged
// kubernetes.io/cluster/NAME=shared, never created or deleted.
package aws

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancing"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/kapstan/kapstan/internal/engine"
)

// Tag keys kapstan sets.
const (
	TagKubernetesCluster = "KubernetesCluster"
	TagAddress           = "kapstan.io/address"
	TagName              = "Name"
	// TagClusterPrefix + NAME is the tag Kubernetes' cloud provider reads;
	// its value is "owned" or "shared".
	TagClusterPrefix = "kubernetes.io/cluster/"
)

// Clients are the AWS API clients a Cloud uses, as the narrow interfaces
// declared beside each resource kind. *ec2.Client and friends satisfy them.
type Clients struct {
	EC2         EC2API
	AutoScaling AutoScalingAPI
	ELBv2       ELBv2API
	IAM         IAMAPI
	Route53     Route53API
	SSM         SSMAPI
	// ClassicELB is only used to delete Kubernetes' load balancers.
	ClassicELB ClassicELBAPI
	// SQS and Events are only used to find and delete what other tools of
	// the family made for a cluster (a node termination handler's queue
	// and rules).
	SQS    SQSAPI
	Events EventsAPI
}

// EC2API is every EC2 call kapstan makes.
type EC2API interface {
	vpcAPI
	subnetAPI
	internetGatewayAPI
	routeTableAPI
	natGatewayAPI
	securityGroupAPI
	keyPairAPI
	launchTemplateAPI
	volumeAPI
	preflightEC2API
	instanceAPI
	networkInterfaceAPI
	dhcpOptionsAPI
	vpcEndpointAPI
	discoverEC2API
}

// AutoScalingAPI is every Auto Scaling call kapstan makes.
type AutoScalingAPI interface {
	autoScalingGroupAPI
	rollingAPI
}

// ELBv2API is every Elastic Load Balancing v2 call kapstan makes.
type ELBv2API interface {
	loadBalancerAPI
}

// IAMAPI is every IAM call kapstan makes.
type IAMAPI interface {
	iamAPI
	discoverIAMAPI
}

// Route53API is every Route 53 call kapstan makes.
type Route53API interface {
	dnsAPI
}

// SSMAPI is every SSM call kapstan makes (image lookup).
type SSMAPI interface {
	ssmAPI
}

// NewClients builds real clients from an AWS configuration.
func NewClients(cfg aws.Config) Clients {
	return Clients{
		EC2:         ec2.NewFromConfig(cfg),
		AutoScaling: autoscaling.NewFromConfig(cfg),
		ELBv2:       elasticloadbalancingv2.NewFromConfig(cfg),
		IAM:         iam.NewFromConfig(cfg),
		Route53:     route53.NewFromConfig(cfg),
		SSM:         ssm.NewFromConfig(cfg),
		ClassicELB:  elb.NewFromConfig(cfg),
		SQS:         sqs.NewFromConfig(cfg),
		Events:      eventbridge.NewFromConfig(cfg),
	}
}

// Cloud is one cluster's view of AWS. Its reads are cached: make a new
// Cloud for each plan.
type Cloud struct {
	Clients
	// Cluster is the cluster's name.
	Cluster string
	// Region is the AWS region.
	Region string

	mu    sync.Mutex
	cache map[string]*cacheEntry
	// found records the cloud id Find chose for each address, so that
	// Orphans can tell a duplicate from the resource in use.
	found map[engine.Address]string
}

// New returns a Cloud for cluster in region.
func New(clients Clients, cluster, region string) *Cloud {
	return &Cloud{Clients: clients, Cluster: cluster, Region: region, cache: map[string]*cacheEntry{}, found: map[engine.Address]string{}}
}

type cacheEntry struct {
	once sync.Once
	val  any
	err  error
}

// cached runs load once per key for the life of the Cloud and returns its
// result to every caller: one Describe per kind, however many resources of
// that kind the plan holds.
func cached[T any](ctx context.Context, c *Cloud, key string, load func(context.Context) (T, error)) (T, error) {
	c.mu.Lock()
	e, ok := c.cache[key]
	if !ok {
		e = &cacheEntry{}
		c.cache[key] = e
	}
	c.mu.Unlock()
	e.once.Do(func() { e.val, e.err = load(ctx) })
	if e.err != nil {
		var zero T
		return zero, e.err
	}
	return e.val.(T), nil
}

// forget drops a cached read, so the next one sees the cloud again.
func (c *Cloud) forget(key string) {
	c.mu.Lock()
	delete(c.cache, key)
	c.mu.Unlock()
}

// awsResource is what every resource kind implements beyond
// engine.Resource: the IO. Methods are called on the desired resource,
// except delete, which is called on the actual one.
type awsResource interface {
	engine.Resource
	find(ctx context.Context, c *Cloud, refs engine.Refs) (engine.Resource, error)
	create(ctx context.Context, c *Cloud, refs engine.Refs) (engine.Resource, error)
	update(ctx context.Context, c *Cloud, actual engine.Resource, diffs []engine.FieldDiff, refs engine.Refs) (engine.Resource, error)
	delete(ctx context.Context, c *Cloud) error
}

var _ engine.Cloud = (*Cloud)(nil)

func asAWS(r engine.Resource) (awsResource, error) {
	a, ok := r.(awsResource)
	if !ok {
		return nil, fmt.Errorf("%s: %T is not an AWS resource", r.Address(), r)
	}
	return a, nil
}

// Find implements engine.Cloud.
func (c *Cloud) Find(ctx context.Context, desired engine.Resource, refs engine.Refs) (engine.Resource, error) {
	r, err := asAWS(desired)
	if err != nil {
		return nil, err
	}
	actual, err := r.find(ctx, c, refs)
	if err != nil || actual == nil {
		return nil, err // a nil *T must not become a non-nil interface
	}
	if id, ok := actual.(engine.Identified); ok {
		c.mu.Lock()
		c.found[desired.Address()] = id.CloudID()
		c.mu.Unlock()
	}
	return actual, nil
}

// Create implements engine.Cloud.
func (c *Cloud) Create(ctx context.Context, desired engine.Resource, refs engine.Refs) (engine.Resource, error) {
	r, err := asAWS(desired)
	if err != nil {
		return nil, err
	}
	return r.create(ctx, c, refs)
}

// Update implements engine.Cloud.
func (c *Cloud) Update(ctx context.Context, desired, actual engine.Resource, diffs []engine.FieldDiff, refs engine.Refs) (engine.Resource, error) {
	r, err := asAWS(desired)
	if err != nil {
		return nil, err
	}
	return r.update(ctx, c, actual, diffs, refs)
}

// Delete implements engine.Cloud.
func (c *Cloud) Delete(ctx context.Context, actual engine.Resource) error {
	r, err := asAWS(actual)
	if err != nil {
		return err
	}
	return r.delete(ctx, c)
}

// Orphans implements engine.Cloud: it lists, kind by kind, the resources
// carrying this cluster's kapstan.io/address tag (or living inside one of
// its resources, like a route or a rule) and keeps those the desired graph
// does not name.
func (c *Cloud) Orphans(ctx context.Context, desired map[engine.Address]bool) ([]engine.Resource, error) {
	var out []engine.Resource
	for _, list := range c.ownedListers() {
		owned, err := list(ctx)
		if err != nil {
			return nil, err
		}
		for _, r := range owned {
			switch {
			case !desired[r.Address()]:
				out = append(out, r)
			case c.isDuplicate(r):
				out = append(out, &duplicate{awsResource: r.(awsResource)})
			}
		}
	}
	return out, nil
}

// isDuplicate reports whether r carries the address of a resource Find
// matched to another id. Duplicates come from interrupted runs: a create
// whose request reached AWS after the client had given up on it, while the
// next run, not seeing it yet, created the resource again. Nothing refers
// to the duplicate — no run ever learned its id — so it is deleted.
func (c *Cloud) isDuplicate(r engine.Resource) bool {
	id, ok := r.(engine.Identified)
	if !ok {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	kept, found := c.found[r.Address()]
	return found && kept != "" && id.CloudID() != "" && kept != id.CloudID()
}

// duplicate is an owned resource that repeats the address of the one in
// use. It gets an address of its own so the plan can hold both.
type duplicate struct {
	awsResource
}

func (d *duplicate) Address() engine.Address {
	a := d.awsResource.Address()
	a.Name += "~" + d.CloudID()
	return a
}

func (d *duplicate) CloudID() string { return d.awsResource.(engine.Identified).CloudID() }

// DeleteReason says why the plan deletes it.
func (d *duplicate) DeleteReason() string {
	return "duplicate of " + d.awsResource.Address().String() + ", left by an interrupted run"
}

// Dependencies are none: nothing refers to a duplicate.
func (d *duplicate) Dependencies() []engine.Address { return nil }

// Tags are AWS tags as a map.
type Tags map[string]string

// OwnedTags are the tags of every resource a cluster owns: the spec's
// cloud labels, cluster ownership, the address that finds the resource
// again, and a Name for the console.
func OwnedTags(cluster string, addr engine.Address, name string, labels map[string]string) Tags {
	t := Tags{}
	for k, v := range labels {
		t[k] = v
	}
	t[TagKubernetesCluster] = cluster
	t[TagClusterPrefix+cluster] = "owned"
	t[TagAddress] = addr.String()
	if name != "" {
		t[TagName] = name
	}
	return t
}

// SharedTags are the tags kapstan adds to a resource it uses but does not
// own, such as an existing VPC.
func SharedTags(cluster string) Tags {
	return Tags{TagClusterPrefix + cluster: "shared"}
}

// sortedKeys returns a map's keys in order, for stable API calls.
func sortedKeys(t Tags) []string {
	keys := make([]string, 0, len(t))
	for k := range t {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
