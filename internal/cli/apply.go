package cli

import (
	"context"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/kapstan/kapstan/internal/engine"
	"github.com/kapstan/kapstan/internal/reconcile"
)

func newCmdApply(g *globals) *cobra.Command {
	var concurrency int
	var force bool
	var kube addonKubeFlags
	cmd := &cobra.Command{
		Use:   "apply PLANFILE",
		Short: "Apply a plan saved with update cluster --out-plan",
		Long: `Apply exactly the plan in PLANFILE. The cluster is planned again first; if
its spec revision or the cloud changed since the plan was saved, so that the
fresh plan would do something else, nothing is applied.

"kapstan apply addons NAME" applies a cluster's add-ons instead.`,
		Example: "  kapstan update cluster demo.k8s.local --out-plan demo.plan\n  kapstan apply demo.plan",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			data, err := os.ReadFile(args[0])
			if err != nil {
				return fmt.Errorf("reading plan: %w", err)
			}
			saved, err := engine.LoadSavedPlan(data)
			if err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			o := &UpdateClusterOptions{globals: g, Name: saved.Plan.Cluster, Concurrency: concurrency, kube: kube}
			reg, err := g.Registry(ctx)
			if err != nil {
				return err
			}
			if _, err := reconcile.CheckDirect(ctx, reg, saved.Plan.Cluster, force); err != nil {
				return err
			}
			if err := machineReadableStore(reg.Store().URL(), saved.Plan.Cluster); err != nil {
				return err
			}
			lease, err := reg.AcquireLease(ctx, saved.Plan.Cluster, "apply "+args[0])
			if err != nil {
				return err
			}
			defer lease.Release(context.WithoutCancel(ctx))
			snap, err := reg.Get(ctx, saved.Plan.Cluster)
			if err != nil {
				return err
			}
			planned, err := o.plan(ctx, reg, snap)
			if err != nil {
				return err
			}
			if err := engine.CheckSaved(saved, planned.Plan); err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			return o.apply(ctx, reg, planned)
		},
	}
	cmd.Flags().IntVar(&concurrency, "concurrency", engine.DefaultConcurrency, "changes applied at once")
	cmd.Flags().BoolVar(&force, "force", false, "apply even though the cluster is managed by terraform or cloudformation")
	kube.AddFlags(cmd, defaultAddonsWait, "how long to wait for the API to answer before leaving the add-ons to apply addons")
	cmd.AddCommand(newCmdApplyAddons(g))
	return cmd
}
