package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/kapstan/kapstan/internal/engine"
	"github.com/kapstan/kapstan/internal/reconcile"
	"github.com/kapstan/kapstan/internal/registry"
)

// UpdateClusterOptions are the options of `kapstan update cluster`.
type UpdateClusterOptions struct {
	*globals
	Name             string
	Yes              bool
	DetailedExitCode bool
	OutPlan          string
	Concurrency      int
	print            *printFlags
}

func newCmdUpdate(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "update",
		Short: "Bring a cluster's cloud resources to its spec",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newCmdUpdateCluster(g))
	return cmd
}

func newCmdUpdateCluster(g *globals) *cobra.Command {
	o := &UpdateClusterOptions{globals: g, print: newPrintFlags(formatTable, formatTable, formatJSON)}
	cmd := &cobra.Command{
		Use:   "cluster NAME [--yes]",
		Short: "Show what would change in the cloud, and with --yes change it",
		Long: `Compare the cluster's spec with its AWS resources and print the plan:
  + create, ~ update (with each field's old and new value), - delete.
Nothing changes without --yes. With --yes the plan is applied in dependency
order, in parallel; running it again finds nothing to change.

--detailed-exitcode exits 0 when there is nothing to do and 2 when there are
changes, as terraform plan does. --out-plan FILE saves the plan for
"kapstan apply FILE", which refuses it if the spec or the cloud changed.`,
		Example: `  kapstan update cluster demo.k8s.local
  kapstan update cluster demo.k8s.local -o json
  kapstan update cluster demo.k8s.local --yes`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeClusterArg(g),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Name = args[0]
			if err := o.print.Validate(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&o.Yes, "yes", "y", false, "apply the plan")
	f.BoolVar(&o.DetailedExitCode, "detailed-exitcode", false, "exit 0 when there are no changes, 2 when there are")
	f.StringVar(&o.OutPlan, "out-plan", "", "save the plan to FILE, for kapstan apply FILE")
	f.IntVar(&o.Concurrency, "concurrency", engine.DefaultConcurrency, "changes applied at once")
	o.print.AddFlags(cmd)
	return cmd
}

// Run plans, prints, and applies with --yes.
func (o *UpdateClusterOptions) Run(ctx context.Context) error {
	reg, err := o.Registry(ctx)
	if err != nil {
		return err
	}
	snap, err := reg.Get(ctx, o.Name)
	if err != nil {
		return err
	}
	planned, err := o.plan(ctx, reg, snap)
	if err != nil {
		return err
	}
	plan := planned.Plan
	if o.OutPlan != "" {
		data, err := plan.Save()
		if err != nil {
			return err
		}
		if err := os.WriteFile(o.OutPlan, data, 0o644); err != nil {
			return fmt.Errorf("writing --out-plan: %w", err)
		}
	}
	if !o.Yes {
		if err := printPlan(o.Out, o.print.output, plan); err != nil {
			return err
		}
		if o.print.output == formatTable && plan.HasChanges() {
			fmt.Fprintf(o.Out, "\nRun with --yes to apply these changes.\n")
		}
		if o.DetailedExitCode && plan.HasChanges() {
			return &ExitError{Code: 2}
		}
		return nil
	}
	return o.apply(ctx, planned)
}

func (o *UpdateClusterOptions) plan(ctx context.Context, reg *registry.Registry, snap *registry.Snapshot) (*reconcile.Planned, error) {
	cfg, err := reconcile.AWSConfig(ctx, snap.Manifests.Cluster.Spec.Region)
	if err != nil {
		return nil, err
	}
	return reconcile.Plan(ctx, snap, reconcile.Options{AWS: cfg, StateStore: reg.Store().URL(), AgentURL: agentURL(o.env.Version)})
}

func (o *UpdateClusterOptions) apply(ctx context.Context, planned *reconcile.Planned) error {
	plan := planned.Plan
	if !plan.HasChanges() {
		fmt.Fprintf(o.Out, "No changes: cluster %q matches its spec (revision %d).\n", o.Name, plan.SpecRevision)
		return nil
	}
	n := plan.Count()
	fmt.Fprintf(o.Out, "Applying %s to cluster %q (revision %d)\n", plan.Summary(), o.Name, plan.SpecRevision)
	start := time.Now()
	err := reconcile.Apply(ctx, planned, engine.ApplyOptions{
		Concurrency: o.Concurrency,
		Progress:    newProgress(o.ErrOut, n[engine.Create]+n[engine.Update]+n[engine.Delete]),
	})
	if err != nil {
		var ae *engine.ApplyError
		if errors.As(err, &ae) {
			return fmt.Errorf("applying cluster %q: %w\nrun the same command again to finish: what was done is found again", o.Name, err)
		}
		return err
	}
	fmt.Fprintf(o.Out, "Cluster %q updated in %s.\n", o.Name, time.Since(start).Round(time.Millisecond))
	return nil
}

// printPlan writes a plan for people or as JSON.
func printPlan(w interface{ Write([]byte) (int, error) }, format string, plan *engine.Plan) error {
	if format == formatJSON {
		return writeJSON(w, plan)
	}
	if !plan.HasChanges() {
		_, err := fmt.Fprintf(w, "No changes: cluster %q matches its spec (revision %d).\n", plan.Cluster, plan.SpecRevision)
		return err
	}
	_, err := fmt.Fprintf(w, "Plan for cluster %q (spec revision %d): %s\n\n%s", plan.Cluster, plan.SpecRevision, plan.Summary(), plan)
	return err
}

// agentURL is where nodes download the node agent of this kapstan build.
func agentURL(version string) string {
	if version == "" {
		version = "dev"
	}
	return "https://github.com/kapstan/kapstan/releases/download/" + version + "/kapstan-linux-amd64"
}
