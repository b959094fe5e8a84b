package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/kapstan/kapstan/internal/engine"
	"github.com/kapstan/kapstan/internal/reconcile"
)

func newCmdDelete(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "delete",
		Short: "Delete a cluster, or an instance group",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newCmdDeleteCluster(g), newCmdDeleteInstanceGroup(g))
	return cmd
}

// DeleteInstanceGroupOptions are the options of `kapstan delete instancegroup`.
type DeleteInstanceGroupOptions struct {
	*globals
	ClusterName string
	Name        string
	Yes         bool
	// SpecOnly leaves the cloud alone.
	SpecOnly bool
}

func newCmdDeleteInstanceGroup(g *globals) *cobra.Command {
	o := &DeleteInstanceGroupOptions{globals: g}
	cmd := &cobra.Command{
		Use:     "instancegroup NAME --name CLUSTER [--yes]",
		Aliases: []string{"ig"},
		Short:   "Remove an instance group from a cluster's spec",
		Long: `Remove an instance group from the cluster's spec. Without --yes, say what
would be removed and change nothing.`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeInstanceGroupNames(g),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Name = args[0]
			return o.Run(cmd)
		},
	}
	cmd.Flags().StringVar(&o.ClusterName, "name", "", "the cluster (required)")
	cmd.Flags().BoolVarP(&o.Yes, "yes", "y", false, "really delete")
	cmd.Flags().BoolVar(&o.SpecOnly, "spec-only", false, "only remove the group from the spec; leave its cloud resources for update cluster")
	_ = cmd.MarkFlagRequired("name")
	_ = cmd.RegisterFlagCompletionFunc("name", completeClusterNames(g))
	return cmd
}

// Run removes the group from the spec.
func (o *DeleteInstanceGroupOptions) Run(cmd *cobra.Command) error {
	ctx := cmd.Context()
	reg, err := o.Registry(ctx)
	if err != nil {
		return err
	}
	head, err := reg.Get(ctx, o.ClusterName)
	if err != nil {
		return err
	}
	ig := head.Manifests.InstanceGroup(o.Name)
	if ig == nil {
		return fmt.Errorf("instance group %q not found in cluster %q", o.Name, o.ClusterName)
	}
	if !o.Yes {
		fmt.Fprintf(o.Out, "Would remove instance group %q (%s, %s, %d-%d) from cluster %q,\nand delete its Auto Scaling group and launch template if they exist.\nRun again with --yes to do it.\n",
			o.Name, ig.Spec.Role, ig.Spec.MachineType, ig.Spec.MinSize, ig.Spec.MaxSize, o.ClusterName)
		return nil
	}
	next := head.Manifests.DeepCopy()
	next.InstanceGroups = nil
	for _, g := range head.Manifests.DeepCopy().InstanceGroups {
		if g.Metadata.Name != o.Name {
			next.InstanceGroups = append(next.InstanceGroups, g)
		}
	}
	snap, err := reg.Update(ctx, head, next, "delete instancegroup "+o.Name)
	if err != nil {
		return err
	}
	fmt.Fprintf(o.Out, "instance group %q removed from cluster %q (revision %d)\n", o.Name, o.ClusterName, snap.Revision)
	if o.SpecOnly {
		return nil
	}
	region := head.Manifests.Cluster.Spec.Region
	cfg, err := reconcile.AWSConfig(ctx, region)
	if err != nil {
		return err
	}
	n, err := reconcile.DeleteInstanceGroup(ctx, o.ClusterName, region, o.Name, reconcile.Options{AWS: cfg},
		engine.ApplyOptions{Progress: newProgress(o.ErrOut, 2)})
	if err != nil {
		return fmt.Errorf("deleting the cloud resources of instance group %q (the spec no longer has it; run again, or update cluster --yes): %w", o.Name, err)
	}
	if n > 0 {
		fmt.Fprintf(o.Out, "deleted its Auto Scaling group and launch template\n")
	}
	return nil
}
