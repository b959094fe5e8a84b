package aws

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/kapstan/kapstan/internal/engine"
)

// Listener forwards a load balancer port to a target group. Listeners are
// not tagged: they are found inside their load balancer, and named by it
// and their port (ListenerName).
type Listener struct {
	Name         string
	ARN          string
	LoadBalancer engine.Ref
	TargetGroup  engine.Ref
	Port         int32
	Protocol     string
}

// Address implements engine.Resource.
func (r *Listener) Address() engine.Address { return engine.Address{Kind: KindListener, Name: r.Name} }

// Dependencies implements engine.Resource.
func (r *Listener) Dependencies() []engine.Address {
	return deps(r.LoadBalancer, r.TargetGroup)
}

// CloudID implements engine.Identified.
func (r *Listener) CloudID() string { return r.ARN }

// ListenerName is the address name of a load balancer's listener on port.
func ListenerName(loadBalancer string, port int32) string {
	return fmt.Sprintf("%s:%d", loadBalancer, port)
}

func (r *Listener) protocol() string {
	if r.Protocol == "" {
		return tgDefaultProtocol
	}
	return r.Protocol
}

// Diff implements engine.Resource. The port is part of the address, so a
// new port is a new listener and the old one an orphan.
func (r *Listener) Diff(actual engine.Resource, refs engine.Refs) []engine.FieldDiff {
	a := actual.(*Listener)
	var d engine.Differ
	d.Ref("loadBalancer", a.LoadBalancer.ID, r.LoadBalancer, refs, true)
	d.Int("port", int64(a.Port), int64(r.Port))
	d.String("protocol", a.Protocol, r.protocol())
	d.Ref("targetGroup", a.TargetGroup.ID, r.TargetGroup, refs, false)
	return d.Diffs()
}

// listenersOf reads a load balancer's listeners, once per plan: one
// DescribeListeners per load balancer, since the API takes one load
// balancer or a list of listener ARNs, never several load balancers. A
// cluster has one or two.
func listenersOf(ctx context.Context, c *Cloud, lbARN string) ([]*Listener, error) {
	return cached(ctx, c, "compute:listeners:"+lbARN, func(ctx context.Context) ([]*Listener, error) {
		var out []*Listener
		p := elb.NewDescribeListenersPaginator(c.ELBv2, &elb.DescribeListenersInput{LoadBalancerArn: aws.String(lbARN)})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				if isNotFound(err) {
					return nil, nil
				}
				return nil, fmt.Errorf("listing listeners of %s: %w", lbARN, err)
			}
			for _, l := range page.Listeners {
				out = append(out, listenerFromAWS(l))
			}
		}
		return out, nil
	})
}

func listenerFromAWS(l elbtypes.Listener) *Listener {
	a := &Listener{
		ARN:          aws.ToString(l.ListenerArn),
		LoadBalancer: engine.RefID(aws.ToString(l.LoadBalancerArn)),
		Port:         aws.ToInt32(l.Port),
		Protocol:     string(l.Protocol),
	}
	for _, act := range l.DefaultActions {
		if act.Type != elbtypes.ActionTypeEnumForward {
			continue
		}
		arn := aws.ToString(act.TargetGroupArn)
		if arn == "" && act.ForwardConfig != nil && len(act.ForwardConfig.TargetGroups) > 0 {
			arn = aws.ToString(act.ForwardConfig.TargetGroups[0].TargetGroupArn)
		}
		a.TargetGroup = engine.RefID(arn)
	}
	return a
}

func (r *Listener) find(ctx context.Context, c *Cloud, refs engine.Refs) (engine.Resource, error) {
	// Orphans name listeners by ListenerName: a desired one named
	// otherwise would be deleted as an orphan by the same plan.
	if lb := r.LoadBalancer.Addr; !lb.IsZero() && r.Name != ListenerName(lb.Name, r.Port) {
		return nil, fmt.Errorf("listener %s: its name must be ListenerName(%q, %d) = %q", r.Name, lb.Name, r.Port, ListenerName(lb.Name, r.Port))
	}
	lbARN := engine.ResolveID(refs, r.LoadBalancer)
	if lbARN == "" {
		return nil, nil // the load balancer is created by this apply
	}
	ls, err := listenersOf(ctx, c, lbARN)
	if err != nil {
		return nil, err
	}
	for _, l := range ls {
		if l.Port != r.Port {
			continue
		}
		a := *l
		a.Name = r.Name
		a.LoadBalancer = computeActualRef(l.LoadBalancer.ID, r.LoadBalancer, refs)
		a.TargetGroup = computeActualRef(l.TargetGroup.ID, r.TargetGroup, refs)
		return &a, nil
	}
	return nil, nil
}

func (r *Listener) forward(refs engine.Refs) ([]elbtypes.Action, error) {
	tg := engine.ResolveID(refs, r.TargetGroup)
	if tg == "" {
		return nil, fmt.Errorf("target group %s not created yet", r.TargetGroup)
	}
	return []elbtypes.Action{{Type: elbtypes.ActionTypeEnumForward, TargetGroupArn: aws.String(tg)}}, nil
}

func (r *Listener) create(ctx context.Context, c *Cloud, refs engine.Refs) (engine.Resource, error) {
	lbARN := engine.ResolveID(refs, r.LoadBalancer)
	if lbARN == "" {
		return nil, fmt.Errorf("creating listener %s: load balancer %s not created yet", r.Name, r.LoadBalancer)
	}
	actions, err := r.forward(refs)
	if err != nil {
		return nil, fmt.Errorf("creating listener %s: %w", r.Name, err)
	}
	out, err := c.ELBv2.CreateListener(ctx, &elb.CreateListenerInput{
		LoadBalancerArn: aws.String(lbARN),
		Port:            aws.Int32(r.Port),
		Protocol:        elbtypes.ProtocolEnum(r.protocol()),
		DefaultActions:  actions,
	})
	if err != nil {
		return nil, fmt.Errorf("creating listener %s: %w", r.Name, err)
	}
	if len(out.Listeners) != 1 {
		return nil, fmt.Errorf("creating listener %s: AWS returned %d listeners", r.Name, len(out.Listeners))
	}
	a := listenerFromAWS(out.Listeners[0])
	a.Name = r.Name
	a.LoadBalancer = computeActualRef(lbARN, r.LoadBalancer, refs)
	a.TargetGroup = computeActualRef(a.TargetGroup.ID, r.TargetGroup, refs)
	return a, nil
}

// update changes the protocol or the target group in place.
func (r *Listener) update(ctx context.Context, c *Cloud, actual engine.Resource, diffs []engine.FieldDiff, refs engine.Refs) (engine.Resource, error) {
	a := *actual.(*Listener)
	actions, err := r.forward(refs)
	if err != nil {
		return nil, fmt.Errorf("updating listener %s: %w", r.Name, err)
	}
	out, err := c.ELBv2.ModifyListener(ctx, &elb.ModifyListenerInput{
		ListenerArn:    aws.String(a.ARN),
		Protocol:       elbtypes.ProtocolEnum(r.protocol()),
		DefaultActions: actions,
	})
	if err != nil {
		return nil, fmt.Errorf("updating listener %s: %w", r.Name, err)
	}
	if len(out.Listeners) == 1 {
		n := listenerFromAWS(out.Listeners[0])
		a.Protocol, a.TargetGroup = n.Protocol, computeActualRef(n.TargetGroup.ID, r.TargetGroup, refs)
	}
	return &a, nil
}

func (r *Listener) delete(ctx context.Context, c *Cloud) error {
	_, err := c.ELBv2.DeleteListener(ctx, &elb.DeleteListenerInput{ListenerArn: aws.String(r.ARN)})
	if err != nil && !isNotFound(err) {
		return fmt.Errorf("deleting listener %s: %w", r.Name, err)
	}
	return nil
}

// ownedListeners lists the listeners of the cluster's load balancers.
func (c *Cloud) ownedListeners(ctx context.Context) ([]engine.Resource, error) {
	lbs, err := loadBalancers(ctx, c)
	if err != nil || len(lbs.byAddr) == 0 {
		return nil, err
	}
	tgs, err := targetGroups(ctx, c)
	if err != nil {
		return nil, err
	}
	var out []engine.Resource
	for _, addr := range computeSortedAddrs(lbs.byAddr) {
		lb := lbs.byAddr[addr]
		ls, err := listenersOf(ctx, c, lb.ARN)
		if err != nil {
			return nil, err
		}
		for _, l := range ls {
			a := *l
			a.Name = ListenerName(addr.Name, l.Port)
			a.LoadBalancer = engine.Ref{Addr: addr, ID: lb.ARN}
			a.TargetGroup = engine.Ref{Addr: tgs.addrByARN[l.TargetGroup.ID], ID: l.TargetGroup.ID}
			out = append(out, &a)
		}
	}
	return out, nil
}
