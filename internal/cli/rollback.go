package cli

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newCmdRollback(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "rollback",
		Short: "Restore an earlier revision of a cluster's spec",
		Args:  cobra.NoArgs,
	}
	var to int
	cluster := &cobra.Command{
		Use:               "cluster NAME --to REVISION",
		Short:             "Restore an earlier revision of a cluster's spec, as a new revision",
		Example:           "  kapstan get history demo.k8s.local\n  kapstan rollback cluster demo.k8s.local --to 3",
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeClusterArg(g),
		RunE: func(cmd *cobra.Command, args []string) error {
			if to < 1 {
				return fmt.Errorf("--to is required: a revision number from kapstan get history %s", args[0])
			}
			reg, err := g.Registry(cmd.Context())
			if err != nil {
				return err
			}
			snap, err := reg.Rollback(cmd.Context(), args[0], to)
			if err != nil {
				return err
			}
			fmt.Fprintf(g.Out, "cluster %q rolled back to the spec of revision %d (now revision %d)\n", args[0], to, snap.Revision)
			return nil
		},
	}
	cluster.Flags().IntVar(&to, "to", 0, "the revision to restore")
	cmd.AddCommand(cluster)
	return cmd
}
