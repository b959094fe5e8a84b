package cli

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	awscloud "github.com/kapstan/kapstan/internal/cloud/aws"
	"github.com/kapstan/kapstan/internal/engine"
	"github.com/kapstan/kapstan/internal/reconcile"
	"github.com/kapstan/kapstan/internal/registry"
)

// DeleteClusterOptions are the options of `kapstan delete cluster`.
type DeleteClusterOptions struct {
	*globals
	Name        string
	Region      string
	Yes         bool
	Unregister  bool
	Timeout     time.Duration
	Concurrency int
}

func newCmdDeleteCluster(g *globals) *cobra.Command {
	o := &DeleteClusterOptions{globals: g}
	cmd := &cobra.Command{
		Use:   "cluster NAME [--yes]",
		Short: "Delete a cluster: every cloud resource it has, then its state",
		Long: `Find every resource of the cluster by its tags, not by its spec: what
kapstan made, what Kubernetes made for it (load balancers and security
groups of Services, volumes of persistent volumes) and what is shared with
it (an existing VPC, subnets, NAT gateways). Without --yes, list them and
change nothing.

With --yes, delete them in dependency order, in parallel where independent,
waiting for what AWS says is still in use, for up to --timeout. Shared
resources only lose the cluster's tag. The cluster's state (spec, history,
keys) is removed last, once the cloud is clean; --unregister removes only
the state. If something the cluster does not own keeps a resource in use,
the delete stops at the timeout and names it; it never deletes anything
that is not the cluster's.`,
		Example: `  kapstan delete cluster demo.k8s.local
  kapstan delete cluster demo.k8s.local --yes
  kapstan delete cluster demo.k8s.local --region us-east-1 --yes   # the spec is gone: find by tags alone`,
		Args:              cobra.MaximumNArgs(1),
		ValidArgsFunction: completeClusterArg(g),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				if o.Name != "" && o.Name != args[0] {
					return fmt.Errorf("cluster named twice: %s and --name %s", args[0], o.Name)
				}
				o.Name = args[0]
			}
			if o.Name == "" {
				return errors.New("name the cluster: kapstan delete cluster NAME")
			}
			return o.Run(cmd.Context())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Name, "name", "", "the cluster (instead of the argument)")
	f.StringVar(&o.Region, "region", "", "the cluster's region, when its spec is gone from the store")
	f.BoolVarP(&o.Yes, "yes", "y", false, "really delete")
	f.BoolVar(&o.Unregister, "unregister", false, "remove only the cluster's state from the store, not its cloud resources")
	f.DurationVar(&o.Timeout, "timeout", 15*time.Minute, "give up waiting for resources in use after this long")
	f.IntVar(&o.Concurrency, "concurrency", engine.DefaultConcurrency, "deletes run at once")
	_ = cmd.RegisterFlagCompletionFunc("name", completeClusterNames(g))
	return cmd
}

// Run previews or deletes.
func (o *DeleteClusterOptions) Run(ctx context.Context) error {
	reg, err := o.Registry(ctx)
	if err != nil {
		return err
	}
	region := o.Region
	snap, err := reg.Get(ctx, o.Name)
	switch {
	case err == nil && region == "":
		region = snap.Manifests.Cluster.Spec.Region
	case err != nil && !errors.Is(err, registry.ErrNotFound):
		return err
	}
	if o.Unregister {
		return o.unregister(ctx, reg, snap != nil)
	}
	if region == "" {
		return fmt.Errorf("cluster %q has no spec in %s: give its region with --region to find its resources by tag", o.Name, reg.Store().URL())
	}
	if o.Yes {
		lease, err := reg.AcquireLease(ctx, o.Name, "delete cluster --yes")
		if err != nil {
			return err
		}
		defer lease.Release(context.WithoutCancel(ctx))
	}
	cfg, err := reconcile.AWSConfig(ctx, region)
	if err != nil {
		return err
	}
	td, err := reconcile.Discover(ctx, o.Name, region, reconcile.Options{AWS: cfg})
	if err != nil {
		return err
	}
	if !o.Yes {
		o.preview(td, snap != nil)
		return nil
	}
	if !td.Empty() {
		fmt.Fprintf(o.Out, "Deleting %d resources of cluster %q", len(td.Discovery.Delete), o.Name)
		if n := len(td.Discovery.Untag); n > 0 {
			fmt.Fprintf(o.Out, " and untagging %d shared ones", n)
		}
		fmt.Fprintln(o.Out)
		dctx, cancel := context.WithTimeout(ctx, o.Timeout)
		defer cancel()
		start := time.Now()
		err := reconcile.Delete(dctx, td, engine.ApplyOptions{
			Concurrency: o.Concurrency,
			Progress:    newProgress(o.ErrOut, len(td.Plan.Changes)),
			Backoff:     &engine.Backoff{Initial: time.Second, Max: 15 * time.Second, MaxElapsed: o.Timeout},
			GracePeriod: 10 * time.Second,
		})
		if err != nil {
			return o.stuck(err)
		}
		fmt.Fprintf(o.Out, "Deleted the cloud resources of cluster %q in %s.\n", o.Name, time.Since(start).Round(time.Millisecond))
	} else {
		fmt.Fprintf(o.Out, "Cluster %q has no resources in %s.\n", o.Name, region)
	}
	return o.unregister(ctx, reg, snap != nil)
}

func (o *DeleteClusterOptions) unregister(ctx context.Context, reg *registry.Registry, hasSpec bool) error {
	if !hasSpec {
		return nil
	}
	if !o.Yes {
		fmt.Fprintf(o.Out, "Would remove the state of cluster %q from %s. Run again with --yes to do it.\n", o.Name, reg.Store().URL())
		return nil
	}
	if err := reg.Delete(ctx, o.Name); err != nil {
		return fmt.Errorf("removing the state of cluster %q: %w", o.Name, err)
	}
	fmt.Fprintf(o.Out, "Removed the state of cluster %q from %s.\n", o.Name, reg.Store().URL())
	return nil
}

// preview lists what a delete would do, as a table.
func (o *DeleteClusterOptions) preview(td *reconcile.Teardown, hasSpec bool) {
	if td.Empty() {
		fmt.Fprintf(o.Out, "Cluster %q has no resources in the cloud.\n", o.Name)
	} else {
		t := newTable(o.Out, "TYPE", "ID", "NAME", "OWNERSHIP", "DEPENDS ON")
		for _, c := range td.Plan.Changes {
			r := c.Actual()
			var on []string
			for _, d := range r.Dependencies() {
				on = append(on, d.String())
			}
			slices.Sort(on)
			t.row(c.Address.Kind, dash(c.ID), c.Address.Name, string(td.Discovery.Origin(r)), dash(strings.Join(on, ", ")))
		}
		for _, id := range td.Discovery.Untag {
			t.row(td.Discovery.UntagKinds[id], id, "-", string(awscloud.OriginShared)+": only untagged", "-")
		}
		_ = t.flush()
	}
	if hasSpec {
		fmt.Fprintf(o.Out, "\nand the cluster's state (spec, history, keys).\n")
	}
	fmt.Fprintf(o.Out, "\nRun again with --yes to delete.\n")
}

// stuck explains a delete that did not finish.
func (o *DeleteClusterOptions) stuck(err error) error {
	var ae *engine.ApplyError
	if !errors.As(err, &ae) {
		return err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "cluster %q is not fully deleted", o.Name)
	if ae.Interrupted != nil {
		fmt.Fprintf(&b, " (stopped after --timeout %s)", o.Timeout)
	}
	b.WriteString(":\n")
	for _, a := range sortedFailures(ae.Failed) {
		fmt.Fprintf(&b, "  * %s\n", ae.Failed[a])
	}
	if len(ae.Skipped) > 0 {
		var waiting []string
		for _, a := range ae.Skipped {
			waiting = append(waiting, a.String())
		}
		fmt.Fprintf(&b, "  waiting on those: %s\n", strings.Join(waiting, ", "))
	}
	b.WriteString("The cluster's state is kept; run the delete again once what blocks is gone.")
	return errors.New(b.String())
}

func sortedFailures(m map[engine.Address]error) []engine.Address {
	out := make([]engine.Address, 0, len(m))
	for a := range m {
		out = append(out, a)
	}
	slices.SortFunc(out, func(a, b engine.Address) int { return strings.Compare(a.String(), b.String()) })
	return out
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
