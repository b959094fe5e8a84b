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
	Name       string
	Region     string
	Yes        bool
	Unregister bool
	// IncludeForeign deletes, too, what another tool made and tagged for
	// the cluster.
	IncludeForeign bool
	Timeout        time.Duration
	Concurrency    int
}

func newCmdDeleteCluster(g *globals) *cobra.Command {
	o := &DeleteClusterOptions{globals: g}
	cmd := &cobra.Command{
		Use:   "cluster NAME [--yes]",
		Short: "Delete a cluster: every cloud resource it has, then its state",
		Long: `Find every resource tagged for the cluster, by its tags, not by its spec,
and decide for each who made it:

  owned               kapstan made it (its kapstan.io/address tag)
  owned (kubernetes)  Kubernetes or the cluster's Auto Scaling groups made
                      it: Services' load balancers and their k8s-elb-
                      security groups, persistent volumes, instances
  shared              the user's (an existing VPC, subnets, NAT gateways):
                      only untagged
  foreign             tagged for the cluster, made by another tool (kops
                      and its family tag the same way): never deleted
                      unless --include-foreign is given

Without --yes, list them and change nothing.

With --yes, delete the cluster's resources in dependency order, in
parallel where independent, waiting for what AWS says is still in use, for
up to --timeout; then look again. Anything of the cluster still there (or
back), and every foreign resource left, is named and the command fails. An
instance whose Auto Scaling group survives is never deleted alone. The
cluster's state (spec, history, keys) is removed once its own resources are
gone; --unregister removes only the state.

--include-foreign deletes the foreign resources too, in dependency order:
that is how a cluster another tool failed to delete is cleaned up, on
purpose. Preview it first, without --yes.`,
		Example: `  kapstan delete cluster demo.k8s.local
  kapstan delete cluster demo.k8s.local --yes
  kapstan delete cluster demo.k8s.local --region us-east-1 --yes   # the spec is gone: find by tags alone
  kapstan delete cluster demo.k8s.local --region us-east-1 --include-foreign   # preview what another tool left`,
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
	f.BoolVar(&o.IncludeForeign, "include-foreign", false, "delete also what another tool made and tagged for this cluster")
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
	td, err := reconcile.Discover(ctx, o.Name, region, reconcile.Options{AWS: cfg}, awscloud.DiscoverOptions{IncludeForeign: o.IncludeForeign})
	if err != nil {
		return err
	}
	if !o.Yes {
		o.preview(td, snap != nil)
		return nil
	}
	if td.Empty() {
		fmt.Fprintf(o.Out, "Cluster %q has no resources in %s.\n", o.Name, region)
		return o.unregister(ctx, reg, snap != nil)
	}
	fmt.Fprintf(o.Out, "Deleting %d resources of cluster %q", len(td.Discovery.Delete), o.Name)
	if n := len(td.Discovery.Untag); n > 0 {
		fmt.Fprintf(o.Out, " and untagging %d shared ones", n)
	}
	if n := len(td.Discovery.Foreign); n > 0 {
		fmt.Fprintf(o.Out, "; leaving %d made by another tool", n)
	}
	fmt.Fprintln(o.Out)
	dctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	start := time.Now()
	err = reconcile.Delete(dctx, td, engine.ApplyOptions{
		Concurrency: o.Concurrency,
		Progress:    newProgress(o.ErrOut, len(td.Plan.Changes)),
		Backoff:     &engine.Backoff{Initial: time.Second, Max: 15 * time.Second, MaxElapsed: o.Timeout},
		GracePeriod: 10 * time.Second,
	})
	var left *reconcile.LeftError
	switch {
	case errors.As(err, &left) && left.OnlyForeign():
		// The cluster's own resources are gone: its state goes too, and
		// the error names what another tool left.
		if uerr := o.unregister(ctx, reg, snap != nil); uerr != nil {
			return uerr
		}
		return fmt.Errorf("%w\nTo delete those too, preview and then run: kapstan delete cluster %s --region %s --include-foreign --yes", err, o.Name, region)
	case left != nil:
		return fmt.Errorf("%w\nThe cluster's state is kept; run the delete again once what blocks is gone", err)
	case err != nil:
		return o.stuck(err)
	}
	fmt.Fprintf(o.Out, "Deleted the cloud resources of cluster %q in %s.\n", o.Name, time.Since(start).Round(time.Millisecond))
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
		d := td.Discovery
		t := newTable(o.Out, "TYPE", "ID", "NAME", "ACTION", "OWNERSHIP", "DEPENDS ON")
		row := func(r engine.Resource, action string) {
			var on []string
			for _, dep := range r.Dependencies() {
				on = append(on, dep.String())
			}
			slices.Sort(on)
			id := ""
			if idr, ok := r.(engine.Identified); ok {
				id = idr.CloudID()
			}
			own := string(d.Origin(r))
			if why := d.Why(r); why != "" && d.Origin(r) != awscloud.OriginKapstan {
				own += ": " + why
			}
			t.row(r.Address().Kind, dash(id), r.Address().Name, action, own, dash(strings.Join(on, ", ")))
		}
		for _, c := range td.Plan.Changes {
			row(c.Actual(), "delete")
		}
		for _, r := range d.Foreign {
			if why, ok := d.Kept[r.Address()]; ok {
				row(r, "keep: "+why)
				continue
			}
			row(r, "keep")
		}
		for _, id := range d.Untag {
			t.row(d.UntagKinds[id], id, "-", "untag", string(awscloud.OriginShared), "-")
		}
		for _, id := range d.Unknown {
			t.row("-", id, "-", "keep", "tagged for this cluster, a kind kapstan does not delete", "-")
		}
		_ = t.flush()
		if n := len(d.Foreign) - len(d.Kept); n > 0 {
			fmt.Fprintf(o.Out, "\n%d resources are tagged for this cluster but were made by another tool: they are kept, and delete --yes fails naming them. --include-foreign deletes them too.\n", n)
		}
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
