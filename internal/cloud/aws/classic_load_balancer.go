package aws

import (
	"context"
	"fmt"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancing"

	"github.com/kapstan/kapstan/internal/engine"
)

// ClassicELBAPI is the classic Elastic Load Balancing calls kapstan makes:
// Kubernetes' AWS cloud provider makes a classic load balancer for each
// Service of type LoadBalancer, and the cluster's delete removes them.
type ClassicELBAPI interface {
	DescribeLoadBalancers(ctx context.Context, params *elb.DescribeLoadBalancersInput, optFns ...func(*elb.Options)) (*elb.DescribeLoadBalancersOutput, error)
	DescribeTags(ctx context.Context, params *elb.DescribeTagsInput, optFns ...func(*elb.Options)) (*elb.DescribeTagsOutput, error)
	DeleteLoadBalancer(ctx context.Context, params *elb.DeleteLoadBalancerInput, optFns ...func(*elb.Options)) (*elb.DeleteLoadBalancerOutput, error)
}

// ClassicLoadBalancer is a classic load balancer tagged with the cluster.
type ClassicLoadBalancer struct {
	deleteOnly
	Name           string
	Subnets        []engine.Ref
	SecurityGroups []engine.Ref
}

func (r *ClassicLoadBalancer) Address() engine.Address {
	return engine.Address{Kind: KindClassicLoadBalancer, Name: r.Name}
}
func (r *ClassicLoadBalancer) Dependencies() []engine.Address {
	return deps(append(slices.Clone(r.Subnets), r.SecurityGroups...)...)
}
func (r *ClassicLoadBalancer) CloudID() string { return r.Name }

func (r *ClassicLoadBalancer) delete(ctx context.Context, c *Cloud) error {
	if c.ClassicELB == nil {
		return fmt.Errorf("deleting classic load balancer %s: no client", r.Name)
	}
	_, err := c.ClassicELB.DeleteLoadBalancer(ctx, &elb.DeleteLoadBalancerInput{LoadBalancerName: aws.String(r.Name)})
	if err != nil && !isNotFound(err) {
		return fmt.Errorf("deleting classic load balancer %s: %w", r.Name, err)
	}
	return nil
}

// taggedClassicLoadBalancers lists the classic load balancers tagged for
// the cluster: one paginated describe and one DescribeTags per 20.
func (c *Cloud) taggedClassicLoadBalancers(ctx context.Context) ([]tagged, error) {
	if c.ClassicELB == nil {
		return nil, nil
	}
	var all []string
	subnets := map[string][]string{}
	groups := map[string][]string{}
	for p := elb.NewDescribeLoadBalancersPaginator(c.ClassicELB, &elb.DescribeLoadBalancersInput{}); p.HasMorePages(); {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("listing classic load balancers: %w", err)
		}
		for _, lb := range page.LoadBalancerDescriptions {
			name := aws.ToString(lb.LoadBalancerName)
			all = append(all, name)
			subnets[name], groups[name] = lb.Subnets, lb.SecurityGroups
		}
	}
	var out []tagged
	for chunk := range slices.Chunk(all, 20) {
		tags, err := c.ClassicELB.DescribeTags(ctx, &elb.DescribeTagsInput{LoadBalancerNames: chunk})
		if err != nil {
			return nil, fmt.Errorf("reading tags of classic load balancers: %w", err)
		}
		for _, d := range tags.TagDescriptions {
			t := Tags{}
			for _, tag := range d.Tags {
				t[aws.ToString(tag.Key)] = aws.ToString(tag.Value)
			}
			if !c.taggedForCluster(t) {
				continue
			}
			name := aws.ToString(d.LoadBalancerName)
			r := &ClassicLoadBalancer{Name: name}
			for _, s := range subnets[name] {
				r.Subnets = append(r.Subnets, engine.RefID(s))
			}
			for _, g := range groups[name] {
				r.SecurityGroups = append(r.SecurityGroups, engine.RefID(g))
			}
			out = append(out, tagged{res: r, tags: t})
		}
	}
	return out, nil
}
