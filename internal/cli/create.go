package cli

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	api "github.com/kapstan/kapstan/pkg/apis/kapstan/v1alpha1"
)

// CreateOptions are the options of `kapstan create -f`.
type CreateOptions struct {
	*globals
	Filename    string
	ClusterName string

	manifests *api.Manifests
}

func newCmdCreate(g *globals) *cobra.Command {
	o := &CreateOptions{globals: g}
	cmd := &cobra.Command{
		Use:   "create -f FILE",
		Short: "Create a cluster or instance groups from a manifest, or create a resource",
		Long: `Create a cluster from a manifest holding one Cluster and its InstanceGroups
(YAML documents separated by ---), or add InstanceGroups to an existing cluster
with --name. Use -f - to read standard input.

The manifest is decoded strictly, defaulted and validated; nothing is written
when any part of it is wrong.`,
		Example: `  kapstan get cluster demo.k8s.local -o yaml > demo.yaml
  kapstan create -f demo.yaml --state file:///tmp/other-store`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Complete(); err != nil {
				return err
			}
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(cmd)
		},
	}
	cmd.Flags().StringVarP(&o.Filename, "filename", "f", "", "manifest file to create from (- for standard input)")
	cmd.Flags().StringVar(&o.ClusterName, "name", "", "cluster to add InstanceGroups to, when the manifest has no Cluster")
	_ = cmd.RegisterFlagCompletionFunc("name", completeClusterNames(g))
	cmd.AddCommand(newCmdCreateCluster(g), newCmdCreateInstanceGroup(g), newCmdCreateSecret(g))
	return cmd
}

// Complete reads and decodes the manifest.
func (o *CreateOptions) Complete() error {
	if o.Filename == "" {
		return errors.New("-f FILE is required (or use a subcommand: create cluster, create instancegroup)")
	}
	m, err := readManifests(o.In, o.Filename)
	if err != nil {
		return err
	}
	o.manifests = m
	return nil
}

// Validate checks the manifest's shape.
func (o *CreateOptions) Validate() error {
	if o.manifests.Cluster == nil && o.ClusterName == "" {
		return fmt.Errorf("%s holds InstanceGroups but no Cluster: name their cluster with --name", o.Filename)
	}
	if o.manifests.Cluster != nil && o.ClusterName != "" && o.ClusterName != o.manifests.Cluster.Metadata.Name {
		return fmt.Errorf("--name %s does not match the Cluster %q in %s", o.ClusterName, o.manifests.Cluster.Metadata.Name, o.Filename)
	}
	return nil
}

// Run stores the new cluster, or adds the instance groups to one.
func (o *CreateOptions) Run(cmd *cobra.Command) error {
	ctx := cmd.Context()
	reg, err := o.Registry(ctx)
	if err != nil {
		return err
	}
	if o.manifests.Cluster != nil {
		snap, err := reg.Create(ctx, o.manifests, "create -f "+o.Filename)
		if err != nil {
			return fmt.Errorf("creating from %s: %w", o.Filename, err)
		}
		fmt.Fprintf(o.Out, "cluster %q created (revision %d) with %d instance groups\n",
			snap.Manifests.Cluster.Metadata.Name, snap.Revision, len(snap.Manifests.InstanceGroups))
		return nil
	}
	head, err := reg.Get(ctx, o.ClusterName)
	if err != nil {
		return err
	}
	next := head.Manifests.DeepCopy()
	for _, ig := range o.manifests.InstanceGroups {
		if next.InstanceGroup(ig.Metadata.Name) != nil {
			return fmt.Errorf("InstanceGroup %q already exists in cluster %q; use replace -f to change it", ig.Metadata.Name, o.ClusterName)
		}
		next.InstanceGroups = append(next.InstanceGroups, ig)
	}
	snap, err := reg.Update(ctx, head, next, "create -f "+o.Filename)
	if err != nil {
		return fmt.Errorf("creating from %s: %w", o.Filename, err)
	}
	fmt.Fprintf(o.Out, "%d instance groups created in cluster %q (revision %d)\n", len(o.manifests.InstanceGroups), o.ClusterName, snap.Revision)
	return nil
}

// readManifests reads and strictly decodes a manifest file ("-" is in).
func readManifests(in io.Reader, filename string) (*api.Manifests, error) {
	var data []byte
	var err error
	if filename == "-" {
		data, err = io.ReadAll(in)
	} else {
		data, err = os.ReadFile(filename)
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", filename, err)
	}
	return api.Decode(filename, data)
}

// completeClusterNames completes cluster names from the state store.
func completeClusterNames(g *globals) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		reg, err := g.Registry(cmd.Context())
		if err != nil {
			return nil, cobra.ShellCompDirectiveError
		}
		names, err := reg.List(cmd.Context())
		if err != nil {
			return nil, cobra.ShellCompDirectiveError
		}
		return names, cobra.ShellCompDirectiveNoFileComp
	}
}

// completeClusterArg completes the first positional argument with cluster
// names and nothing after it.
func completeClusterArg(g *globals) cobra.CompletionFunc {
	names := completeClusterNames(g)
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return names(cmd, args, toComplete)
	}
}

// completeInstanceGroupNames completes the names of the instance groups of
// the cluster given with --name.
func completeInstanceGroupNames(g *globals) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		cluster, _ := cmd.Flags().GetString("name")
		return instanceGroupsOf(cmd, g, cluster)
	}
}

// instanceGroupsOf completes the names of cluster's instance groups.
func instanceGroupsOf(cmd *cobra.Command, g *globals, cluster string) ([]cobra.Completion, cobra.ShellCompDirective) {
	if cluster == "" {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	reg, err := g.Registry(cmd.Context())
	if err != nil {
		return nil, cobra.ShellCompDirectiveError
	}
	snap, err := reg.Get(cmd.Context(), cluster)
	if err != nil {
		return nil, cobra.ShellCompDirectiveError
	}
	var names []string
	for _, ig := range snap.Manifests.InstanceGroups {
		names = append(names, ig.Metadata.Name)
	}
	return names, cobra.ShellCompDirectiveNoFileComp
}
