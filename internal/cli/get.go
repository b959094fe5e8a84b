package cli

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/kapstan/kapstan/internal/registry"
	api "github.com/kapstan/kapstan/pkg/apis/kapstan/v1alpha1"
)

func newCmdGet(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "get",
		Short: "Show clusters, instance groups and spec history",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newCmdGetClusters(g), newCmdGetInstanceGroups(g), newCmdGetAll(g), newCmdGetHistory(g), newCmdGetKeypairs(g), newCmdGetSecrets(g), newCmdGetAssets(g))
	return cmd
}

// GetClustersOptions are the options of `kapstan get clusters`.
type GetClustersOptions struct {
	*globals
	Names []string
	print *printFlags
}

func newCmdGetClusters(g *globals) *cobra.Command {
	o := &GetClustersOptions{globals: g, print: newPrintFlags(formatTable, formatTable, formatYAML, formatJSON)}
	cmd := &cobra.Command{
		Use:     "clusters [NAME...]",
		Aliases: []string{"cluster"},
		Short:   "List clusters, or print their manifests",
		Long: `List the clusters in the state store. With -o yaml or -o json, print each
cluster's manifest: its Cluster and InstanceGroups, ready for create -f.`,
		Example:           "  kapstan get clusters\n  kapstan get cluster demo.k8s.local -o yaml",
		ValidArgsFunction: completeClusterNames(g),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Names = args
			if err := o.print.Validate(); err != nil {
				return err
			}
			return o.Run(cmd)
		},
	}
	o.print.AddFlags(cmd)
	return cmd
}

// Run prints the clusters.
func (o *GetClustersOptions) Run(cmd *cobra.Command) error {
	ctx := cmd.Context()
	reg, err := o.Registry(ctx)
	if err != nil {
		return err
	}
	names := o.Names
	if len(names) == 0 {
		if names, err = reg.List(ctx); err != nil {
			return err
		}
		if len(names) == 0 && o.print.output == formatTable {
			fmt.Fprintf(o.ErrOut, "No clusters in %s\n", reg.Store().URL())
			return nil
		}
	}
	var snaps []*registry.Snapshot
	for _, n := range names {
		s, err := reg.Get(ctx, n)
		if err != nil {
			return err
		}
		snaps = append(snaps, s)
	}
	switch o.print.output {
	case formatTable:
		var clusters []*api.Cluster
		var revs []int
		for _, s := range snaps {
			clusters = append(clusters, s.Manifests.Cluster)
			revs = append(revs, s.Revision)
		}
		return printClusterTable(o.Out, clusters, revs)
	case formatYAML:
		for i, s := range snaps {
			if i > 0 {
				fmt.Fprintln(o.Out, "---")
			}
			if err := printManifests(o.Out, formatYAML, s.Manifests); err != nil {
				return err
			}
		}
		return nil
	default:
		if len(snaps) == 1 {
			return printManifests(o.Out, formatJSON, snaps[0].Manifests)
		}
		var items []any
		for _, s := range snaps {
			items = append(items, s.Manifests.Cluster)
			for _, ig := range sortedIGs(s.Manifests.InstanceGroups) {
				items = append(items, ig)
			}
		}
		return writeJSON(o.Out, map[string]any{"apiVersion": "v1", "kind": "List", "items": items})
	}
}

// GetInstanceGroupsOptions are the options of `kapstan get instancegroups`.
type GetInstanceGroupsOptions struct {
	*globals
	ClusterName string
	Names       []string
	print       *printFlags
}

func newCmdGetInstanceGroups(g *globals) *cobra.Command {
	o := &GetInstanceGroupsOptions{globals: g, print: newPrintFlags(formatTable, formatTable, formatYAML, formatJSON)}
	cmd := &cobra.Command{
		Use:               "instancegroups [NAME...] --name CLUSTER",
		Aliases:           []string{"instancegroup", "ig", "igs"},
		Short:             "List a cluster's instance groups",
		Example:           "  kapstan get instancegroups --name demo.k8s.local\n  kapstan get ig nodes --name demo.k8s.local -o yaml",
		ValidArgsFunction: completeInstanceGroupNames(g),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Names = args
			if err := o.print.Validate(); err != nil {
				return err
			}
			return o.Run(cmd)
		},
	}
	cmd.Flags().StringVar(&o.ClusterName, "name", "", "the cluster (required)")
	_ = cmd.MarkFlagRequired("name")
	_ = cmd.RegisterFlagCompletionFunc("name", completeClusterNames(g))
	o.print.AddFlags(cmd)
	return cmd
}

// Run prints the instance groups.
func (o *GetInstanceGroupsOptions) Run(cmd *cobra.Command) error {
	ctx := cmd.Context()
	_, snap, err := o.Cluster(ctx, o.ClusterName)
	if err != nil {
		return err
	}
	igs := snap.Manifests.InstanceGroups
	if len(o.Names) > 0 {
		igs = nil
		for _, n := range o.Names {
			ig := snap.Manifests.InstanceGroup(n)
			if ig == nil {
				return fmt.Errorf("instance group %q not found in cluster %q", n, o.ClusterName)
			}
			igs = append(igs, ig)
		}
	}
	if o.print.output == formatTable {
		return printInstanceGroupTable(o.Out, snap.Manifests.Cluster, igs)
	}
	return printManifests(o.Out, o.print.output, &api.Manifests{InstanceGroups: igs})
}

func newCmdGetAll(g *globals) *cobra.Command {
	var clusterName string
	p := newPrintFlags(formatTable, formatTable, formatYAML, formatJSON)
	cmd := &cobra.Command{
		Use:   "all --name CLUSTER",
		Short: "Show a cluster and all its instance groups",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := p.Validate(); err != nil {
				return err
			}
			reg, err := g.Registry(cmd.Context())
			if err != nil {
				return err
			}
			snap, err := reg.Get(cmd.Context(), clusterName)
			if err != nil {
				return err
			}
			if p.output != formatTable {
				return printManifests(g.Out, p.output, snap.Manifests)
			}
			fmt.Fprintln(g.Out, "Cluster")
			if err := printClusterTable(g.Out, []*api.Cluster{snap.Manifests.Cluster}, []int{snap.Revision}); err != nil {
				return err
			}
			fmt.Fprintln(g.Out, "\nInstance groups")
			return printInstanceGroupTable(g.Out, snap.Manifests.Cluster, snap.Manifests.InstanceGroups)
		},
	}
	cmd.Flags().StringVar(&clusterName, "name", "", "the cluster (required)")
	_ = cmd.MarkFlagRequired("name")
	_ = cmd.RegisterFlagCompletionFunc("name", completeClusterNames(g))
	p.AddFlags(cmd)
	return cmd
}

// historyEntry is one line of `get history`, as data.
type historyEntry struct {
	Revision int       `json:"revision"`
	Time     time.Time `json:"time"`
	Reason   string    `json:"reason"`
	Changes  []string  `json:"changes,omitempty"`
}

func newCmdGetHistory(g *globals) *cobra.Command {
	p := newPrintFlags(formatTable, formatTable, formatYAML, formatJSON)
	cmd := &cobra.Command{
		Use:               "history NAME",
		Short:             "List the revisions of a cluster's spec",
		Long:              "List every revision of a cluster's spec, with what changed in each.\nRestore one with: kapstan rollback cluster NAME --to REVISION",
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeClusterArg(g),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := p.Validate(); err != nil {
				return err
			}
			reg, err := g.Registry(cmd.Context())
			if err != nil {
				return err
			}
			snaps, err := reg.History(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			entries := make([]historyEntry, len(snaps))
			for i, s := range snaps {
				entries[i] = historyEntry{Revision: s.Revision, Time: s.Time, Reason: s.Reason}
				if i > 0 {
					entries[i].Changes = registry.Changes(snaps[i-1].Manifests, s.Manifests)
				}
			}
			switch p.output {
			case formatJSON:
				return writeJSON(g.Out, entries)
			case formatYAML:
				return writeYAML(g.Out, entries)
			}
			t := newTable(g.Out, "REVISION", "TIME", "REASON", "CHANGES")
			for _, e := range slices.Backward(entries) {
				changes := strings.Join(e.Changes, "; ")
				if e.Revision == 1 {
					changes = "(created)"
				}
				t.row(fmt.Sprint(e.Revision), e.Time.Format(time.RFC3339), e.Reason, changes)
			}
			return t.flush()
		},
	}
	p.AddFlags(cmd)
	return cmd
}
