package aws

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/kapstan/kapstan/internal/engine"
)

// natGatewayAPI is the EC2 calls the NATGateway and ElasticIP kinds make.
type natGatewayAPI interface {
	elasticIPAPI
	DescribeNatGateways(ctx context.Context, params *ec2.DescribeNatGatewaysInput, optFns ...func(*ec2.Options)) (*ec2.DescribeNatGatewaysOutput, error)
	CreateNatGateway(ctx context.Context, params *ec2.CreateNatGatewayInput, optFns ...func(*ec2.Options)) (*ec2.CreateNatGatewayOutput, error)
	DeleteNatGateway(ctx context.Context, params *ec2.DeleteNatGatewayInput, optFns ...func(*ec2.Options)) (*ec2.DeleteNatGatewayOutput, error)
}

// NATGateway gives a zone's private subnets their way out. When Shared, it
// exists already (spec.subnets[].egress) and kapstan only tags it.
type NATGateway struct {
	Name      string
	ID        string
	Subnet    engine.Ref
	ElasticIP engine.Ref
	Shared    bool
	Tags      Tags
}

func (r *NATGateway) Address() engine.Address {
	return engine.Address{Kind: KindNATGateway, Name: r.Name}
}
func (r *NATGateway) Dependencies() []engine.Address {
	return deps(r.Subnet, r.ElasticIP)
}
func (r *NATGateway) CloudID() string { return r.ID }

// natPollInterval is how often a NAT gateway's state is read while waiting
// for it: AWS takes one to a few minutes either way.
const natPollInterval = 2 * time.Second

// natWaitMax bounds a wait for a NAT gateway that AWS leaves pending.
const natWaitMax = 20 * time.Minute

// Diff compares the desired NAT gateway with the one in AWS. Its subnet
// and address cannot change in place. A shared gateway is someone else's:
// only the cluster's shared tag is checked.
func (r *NATGateway) Diff(actual engine.Resource, refs engine.Refs) []engine.FieldDiff {
	a := actual.(*NATGateway)
	var d engine.Differ
	if !r.Shared {
		d.Ref("subnet", a.Subnet.ID, r.Subnet, refs, true)
		d.Ref("elasticIp", a.ElasticIP.ID, r.ElasticIP, refs, true)
	}
	d.Tags(a.Tags, r.Tags)
	return d.Diffs()
}

// natLive reports whether a NAT gateway is, or is becoming, usable.
// Deleted gateways stay visible for about an hour; failed ones too.
func natLive(state ec2types.NatGatewayState) bool {
	switch state {
	case ec2types.NatGatewayStateDeleted, ec2types.NatGatewayStateDeleting, ec2types.NatGatewayStateFailed:
		return false
	}
	return true
}

// networkNATGateways is every NAT gateway with the cluster's tags, in any
// state, read once per plan.
func (c *Cloud) networkNATGateways(ctx context.Context) ([]ec2types.NatGateway, error) {
	return cached(ctx, c, "network/natgateways", func(ctx context.Context) ([]ec2types.NatGateway, error) {
		var out []ec2types.NatGateway
		p := ec2.NewDescribeNatGatewaysPaginator(c.EC2, &ec2.DescribeNatGatewaysInput{Filter: c.ownedFilters(KindNATGateway)})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return nil, fmt.Errorf("describing NAT gateways: %w", err)
			}
			out = append(out, page.NatGateways...)
		}
		return out, nil
	})
}

// networkNATGatewayIndex maps the ids of the cluster's live NAT gateways
// to their addresses.
func (c *Cloud) networkNATGatewayIndex(ctx context.Context) (map[string]engine.Address, error) {
	nats, err := c.networkNATGateways(ctx)
	if err != nil {
		return nil, err
	}
	idx := map[string]engine.Address{}
	for _, n := range nats {
		if addr, ok := c.networkOwnedAddress(KindNATGateway, n.Tags); ok && natLive(n.State) {
			idx[aws.ToString(n.NatGatewayId)] = addr
		}
	}
	return idx, nil
}

// natGatewaysByAddress returns the cluster's live NAT gateways as actual
// resources.
func (c *Cloud) natGatewaysByAddress(ctx context.Context) (map[engine.Address]*NATGateway, error) {
	nats, err := c.networkNATGateways(ctx)
	if err != nil {
		return nil, err
	}
	subnets, err := c.networkSubnetIndex(ctx)
	if err != nil {
		return nil, err
	}
	eips, err := c.networkElasticIPIndex(ctx)
	if err != nil {
		return nil, err
	}
	out := map[engine.Address]*NATGateway{}
	for _, n := range nats {
		if addr, ok := c.networkOwnedAddress(KindNATGateway, n.Tags); ok && natLive(n.State) {
			out[addr] = natFromEC2(addr.Name, n, subnets, eips)
		}
	}
	return out, nil
}

func natFromEC2(name string, n ec2types.NatGateway, subnets, eips map[string]engine.Address) *NATGateway {
	a := &NATGateway{
		Name:   name,
		ID:     aws.ToString(n.NatGatewayId),
		Subnet: networkRef(aws.ToString(n.SubnetId), subnets),
		Tags:   fromEC2Tags(n.Tags),
	}
	for _, addr := range n.NatGatewayAddresses {
		if id := aws.ToString(addr.AllocationId); id != "" && (aws.ToBool(addr.IsPrimary) || a.ElasticIP.IsZero()) {
			a.ElasticIP = networkRef(id, eips)
		}
	}
	return a
}

func (r *NATGateway) find(ctx context.Context, c *Cloud, refs engine.Refs) (engine.Resource, error) {
	if r.Shared {
		return r.findShared(ctx, c)
	}
	nats, err := c.natGatewaysByAddress(ctx)
	if err != nil {
		return nil, err
	}
	if a, ok := nats[r.Address()]; ok {
		return a, nil
	}
	return nil, nil
}

// findShared reads the existing NAT gateway the spec names by id (one
// call per shared gateway). It must exist and be usable.
func (r *NATGateway) findShared(ctx context.Context, c *Cloud) (engine.Resource, error) {
	if r.ID == "" {
		return nil, fmt.Errorf("shared NAT gateway %s has no id (spec.subnets[].egress)", r.Name)
	}
	nats, err := cached(ctx, c, "network/natgateway/"+r.ID, func(ctx context.Context) ([]ec2types.NatGateway, error) {
		out, err := c.EC2.DescribeNatGateways(ctx, &ec2.DescribeNatGatewaysInput{NatGatewayIds: []string{r.ID}})
		if err != nil {
			if isNotFound(err) {
				return nil, nil
			}
			return nil, fmt.Errorf("describing NAT gateway %s: %w", r.ID, err)
		}
		return out.NatGateways, nil
	})
	if err != nil {
		return nil, err
	}
	if len(nats) == 0 || !natLive(nats[0].State) {
		return nil, fmt.Errorf("spec.subnets[].egress: NAT gateway %s (%s) not found in %s, or deleted", r.ID, r.Name, c.Region)
	}
	subnets, err := c.networkSubnetIndex(ctx)
	if err != nil {
		return nil, err
	}
	a := natFromEC2(r.Name, nats[0], subnets, nil)
	a.Shared = true
	return a, nil
}

// natClientToken makes CreateNatGateway idempotent across runs: a create
// retried after a lost response gets the same token, so AWS returns the
// gateway it made instead of making a second one. The token covers the
// subnet and address (a token reused with other parameters is an error)
// and the gateways of this address that failed or were deleted, so that
// making a new one after those gets a new token, not the dead gateway.
func natClientToken(cluster string, addr engine.Address, subnet, allocation string, dead []string) string {
	h := sha256.New()
	for _, s := range append([]string{cluster, addr.String(), subnet, allocation}, slices.Sorted(slices.Values(dead))...) {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return "kapstan-" + hex.EncodeToString(h.Sum(nil))[:32]
}

func (r *NATGateway) create(ctx context.Context, c *Cloud, refs engine.Refs) (engine.Resource, error) {
	if r.Shared {
		return nil, fmt.Errorf("spec.subnets[].egress: NAT gateway %s not found; kapstan does not create a shared NAT gateway", r.ID)
	}
	subnet, eip := engine.ResolveID(refs, r.Subnet), engine.ResolveID(refs, r.ElasticIP)
	switch {
	case subnet == "":
		return nil, fmt.Errorf("creating NAT gateway %s: subnet %s not created yet", r.Name, r.Subnet)
	case eip == "":
		return nil, fmt.Errorf("creating NAT gateway %s: elastic IP %s not created yet", r.Name, r.ElasticIP)
	}
	// The cluster's NAT gateways, dead ones included, from the plan's read
	// when apply shares its Cloud, else one more call.
	all, err := c.networkNATGateways(ctx)
	if err != nil {
		return nil, fmt.Errorf("creating NAT gateway %s: %w", r.Name, err)
	}
	var dead []string
	for _, n := range all {
		if addr, ok := c.networkOwnedAddress(KindNATGateway, n.Tags); ok && addr == r.Address() && !natLive(n.State) {
			dead = append(dead, aws.ToString(n.NatGatewayId))
		}
	}
	out, err := c.EC2.CreateNatGateway(ctx, &ec2.CreateNatGatewayInput{
		SubnetId:          aws.String(subnet),
		AllocationId:      aws.String(eip),
		ClientToken:       aws.String(natClientToken(c.Cluster, r.Address(), subnet, eip, dead)),
		TagSpecifications: ec2TagSpec(ec2types.ResourceTypeNatgateway, r.Tags),
	})
	var id string
	switch {
	case hasCode(err, "Resource.AlreadyAssociated"):
		// The address is taken. AWS answers a repeated token with the
		// gateway it made, but moto ignores tokens, and tokens expire:
		// adopt our own gateway if it holds the address.
		if id, err = r.adopt(ctx, c, subnet, eip, err); err != nil {
			return nil, err
		}
	case err != nil:
		err = fmt.Errorf("creating NAT gateway %s: %w", r.Name, err)
		if isNotFound(err) { // the subnet or address was made a moment ago; the token makes retrying safe
			return nil, engine.Retryable(err)
		}
		return nil, err
	default:
		id = aws.ToString(out.NatGateway.NatGatewayId)
	}
	// Routes through the gateway work only once it is available.
	if err := waitNATGateway(ctx, c.EC2, id, ec2types.NatGatewayStateAvailable, natPollInterval); err != nil {
		return nil, fmt.Errorf("creating NAT gateway %s: %w", r.Name, err)
	}
	return &NATGateway{
		Name:      r.Name,
		ID:        id,
		Subnet:    engine.Ref{ID: subnet, Addr: r.Subnet.Addr},
		ElasticIP: engine.Ref{ID: eip, Addr: r.ElasticIP.Addr},
		Tags:      maps.Clone(r.Tags),
	}, nil
}

// adopt returns the id of the live gateway with this one's address tag,
// subnet and elastic IP: made by an earlier attempt whose response was
// lost. Without one, createErr is returned.
func (r *NATGateway) adopt(ctx context.Context, c *Cloud, subnet, eip string, createErr error) (string, error) {
	out, err := c.EC2.DescribeNatGateways(ctx, &ec2.DescribeNatGatewaysInput{Filter: []ec2types.Filter{
		{Name: aws.String("tag:" + TagKubernetesCluster), Values: []string{c.Cluster}},
		{Name: aws.String("tag:" + TagAddress), Values: []string{r.Address().String()}},
	}})
	if err != nil {
		return "", fmt.Errorf("creating NAT gateway %s: %w (looking for an earlier attempt: %w)", r.Name, createErr, err)
	}
	for _, n := range out.NatGateways {
		a := natFromEC2(r.Name, n, nil, nil)
		if natLive(n.State) && a.Subnet.ID == subnet && a.ElasticIP.ID == eip {
			return a.ID, nil
		}
	}
	return "", fmt.Errorf("creating NAT gateway %s: %w", r.Name, createErr)
}

// errNATGone is returned by waitNATGateway when the gateway it waits to
// become available fails or disappears.
var errNATGone = errors.New("NAT gateway failed")

// waitNATGateway polls a NAT gateway every interval until it reaches want
// (available or deleted). A gateway that is not found counts as deleted;
// right after a create it is given a few polls to appear, since EC2 is
// eventually consistent. moto makes gateways available, and deletes them,
// at once; the pending states are covered by TestWaitNATGateway.
func waitNATGateway(ctx context.Context, api natGatewayAPI, id string, want ec2types.NatGatewayState, interval time.Duration) error {
	deadline := time.Now().Add(natWaitMax)
	notFound := 0
	for {
		out, err := api.DescribeNatGateways(ctx, &ec2.DescribeNatGatewaysInput{NatGatewayIds: []string{id}})
		var state ec2types.NatGatewayState
		switch {
		case err != nil && !isNotFound(err):
			return fmt.Errorf("waiting for %s to be %s: %w", id, want, err)
		case err != nil || len(out.NatGateways) == 0:
			state = ec2types.NatGatewayStateDeleted
			notFound++
		default:
			n := out.NatGateways[0]
			state = n.State
			if want == ec2types.NatGatewayStateAvailable && state == ec2types.NatGatewayStateFailed {
				return fmt.Errorf("%w: %s: %s: %s", errNATGone, id, aws.ToString(n.FailureCode), aws.ToString(n.FailureMessage))
			}
		}
		switch {
		case state == want:
			return nil
		case want == ec2types.NatGatewayStateDeleted && state == ec2types.NatGatewayStateFailed:
			return nil // a failed gateway goes away by itself
		case want == ec2types.NatGatewayStateAvailable && !natLive(state) && (notFound == 0 || notFound > 5):
			return fmt.Errorf("%w: %s is %s", errNATGone, id, state)
		case time.Now().After(deadline):
			return fmt.Errorf("waiting for %s to be %s: still %s after %s", id, want, state, natWaitMax)
		}
		t := time.NewTimer(interval)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("waiting for %s to be %s: %w", id, want, ctx.Err())
		case <-t.C:
		}
	}
}

func (r *NATGateway) update(ctx context.Context, c *Cloud, actual engine.Resource, diffs []engine.FieldDiff, refs engine.Refs) (engine.Resource, error) {
	a := *actual.(*NATGateway)
	tags, err := networkAddTags(ctx, c, a.ID, a.Tags, r.Tags, diffs)
	if err != nil {
		return nil, fmt.Errorf("tagging NAT gateway %s: %w", r.Name, err)
	}
	a.Tags = tags
	return &a, nil
}

// delete deletes the gateway and waits until it is gone: until then AWS
// keeps its elastic IP associated and refuses to release it.
func (r *NATGateway) delete(ctx context.Context, c *Cloud) error {
	if r.Shared {
		return fmt.Errorf("NAT gateway %s (%s) is shared: kapstan never deletes it", r.Name, r.ID)
	}
	_, err := c.EC2.DeleteNatGateway(ctx, &ec2.DeleteNatGatewayInput{NatGatewayId: aws.String(r.ID)})
	if err != nil {
		if isNotFound(err) {
			return nil
		}
		return networkDeleteErr(err, "NAT gateway", r.Name)
	}
	if err := waitNATGateway(ctx, c.EC2, r.ID, ec2types.NatGatewayStateDeleted, natPollInterval); err != nil {
		return fmt.Errorf("deleting NAT gateway %s: %w", r.Name, err)
	}
	return nil
}

// ownedNATGateways lists the live NAT gateways this cluster made; shared
// ones never carry its address tag.
func (c *Cloud) ownedNATGateways(ctx context.Context) ([]engine.Resource, error) {
	nats, err := c.natGatewaysByAddress(ctx)
	if err != nil {
		return nil, err
	}
	return networkSorted(nats), nil
}
