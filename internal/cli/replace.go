package cli

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/kapstan/kapstan/internal/registry"
)

// ReplaceOptions are the options of `kapstan replace -f`.
type ReplaceOptions struct {
	*globals
	Filename    string
	ClusterName string
	Force       bool
}

func newCmdReplace(g *globals) *cobra.Command {
	o := &ReplaceOptions{globals: g}
	cmd := &cobra.Command{
		Use:   "replace -f FILE",
		Short: "Replace a cluster's spec, or some of its instance groups, from a manifest",
		Long: `Replace the objects in the manifest: the Cluster and each InstanceGroup it
holds. Instance groups of the cluster that the manifest does not mention are
kept. With --force, a cluster or instance group that does not exist yet is
created.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.Filename == "" {
				return errors.New("-f FILE is required")
			}
			return o.Run(cmd)
		},
	}
	cmd.Flags().StringVarP(&o.Filename, "filename", "f", "", "manifest file (- for standard input)")
	cmd.Flags().StringVar(&o.ClusterName, "name", "", "the cluster, when the manifest holds only InstanceGroups")
	cmd.Flags().BoolVar(&o.Force, "force", false, "create what does not exist yet")
	_ = cmd.RegisterFlagCompletionFunc("name", completeClusterNames(g))
	return cmd
}

// Run replaces the objects and commits one new revision.
func (o *ReplaceOptions) Run(cmd *cobra.Command) error {
	ctx := cmd.Context()
	in, err := readManifests(o.In, o.Filename)
	if err != nil {
		return err
	}
	name := o.ClusterName
	if in.Cluster != nil {
		if name != "" && name != in.Cluster.Metadata.Name {
			return fmt.Errorf("--name %s does not match the Cluster %q in %s", name, in.Cluster.Metadata.Name, o.Filename)
		}
		name = in.Cluster.Metadata.Name
	}
	if name == "" {
		return fmt.Errorf("%s holds InstanceGroups but no Cluster: name their cluster with --name", o.Filename)
	}
	reg, err := o.Registry(ctx)
	if err != nil {
		return err
	}
	head, err := reg.Get(ctx, name)
	if errors.Is(err, registry.ErrNotFound) && o.Force && in.Cluster != nil {
		snap, err := reg.Create(ctx, in, "replace --force -f "+o.Filename)
		if err != nil {
			return err
		}
		fmt.Fprintf(o.Out, "cluster %q created (revision %d)\n", name, snap.Revision)
		return nil
	}
	if err != nil {
		return err
	}
	next := head.Manifests.DeepCopy()
	if in.Cluster != nil {
		next.Cluster = in.Cluster
	}
	for _, ig := range in.InstanceGroups {
		replaced := false
		for i, old := range next.InstanceGroups {
			if old.Metadata.Name == ig.Metadata.Name {
				next.InstanceGroups[i], replaced = ig, true
			}
		}
		if !replaced {
			if !o.Force {
				return fmt.Errorf("instance group %q does not exist in cluster %q (use --force to create it)", ig.Metadata.Name, name)
			}
			next.InstanceGroups = append(next.InstanceGroups, ig)
		}
	}
	snap, err := reg.Update(ctx, head, next, "replace -f "+o.Filename)
	if err != nil {
		return err
	}
	if snap.Revision == head.Revision {
		fmt.Fprintf(o.Out, "cluster %q unchanged (revision %d)\n", name, snap.Revision)
		return nil
	}
	fmt.Fprintf(o.Out, "cluster %q replaced (revision %d)\n", name, snap.Revision)
	return nil
}
