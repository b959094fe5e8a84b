package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kapstan/kapstan/internal/channels"
	"github.com/kapstan/kapstan/internal/registry"
)

// UpgradeClusterOptions are the options of `kapstan upgrade cluster`.
type UpgradeClusterOptions struct {
	*globals
	Name string
	Yes  bool
	// ChannelFile replaces the channel the cluster follows; with --yes
	// the cluster follows it from then on.
	ChannelFile string
	// To is the version to go to; empty means the channel's next.
	To string
}

func newCmdUpgrade(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "upgrade",
		Short: "Move a cluster to a newer Kubernetes version",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newCmdUpgradeCluster(g))
	return cmd
}

func newCmdUpgradeCluster(g *globals) *cobra.Command {
	o := &UpgradeClusterOptions{globals: g}
	cmd := &cobra.Command{
		Use:   "cluster NAME [--yes] [--channel FILE] [--to VERSION]",
		Short: "Propose the next Kubernetes version from the channel, and with --yes write it into the spec",
		Long: `Propose the Kubernetes version the cluster should run next: the recommended
patch of the next minor in its channel (the built-in stable channel, or the
one --channel FILE gives), with the add-on versions and images that change
with it. Minors are never skipped and versions never go down; --to picks
another version within those rules.

With --yes the new version is written into the spec as a new revision
(kapstan get history shows it; kapstan rollback cluster undoes it); with
--channel the cluster follows that channel from then on. Nothing changes in
the cloud until update cluster --yes, and running instances are replaced
by rolling-update cluster --yes.`,
		Example: `  kapstan upgrade cluster demo.k8s.local
  kapstan upgrade cluster demo.k8s.local --yes
  kapstan upgrade cluster demo.k8s.local --to 1.35.4 --channel ./my-channel.yaml --yes`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeClusterArg(g),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Name = args[0]
			return o.Run(cmd.Context())
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&o.Yes, "yes", "y", false, "write the new version into the spec")
	f.StringVar(&o.ChannelFile, "channel", "", "channel file to follow instead of the cluster's (default: the built-in stable channel)")
	f.StringVar(&o.To, "to", "", "the version to upgrade to (default: the channel's next)")
	_ = cmd.RegisterFlagCompletionFunc("channel", cobra.FixedCompletions([]string{"yaml", "yml"}, cobra.ShellCompDirectiveFilterFileExt))
	_ = cmd.RegisterFlagCompletionFunc("to", o.completeVersions)
	return cmd
}

// channel is --channel's, else the one the cluster follows.
func (o *UpgradeClusterOptions) channel(ctx context.Context, reg *registry.Registry) (*channels.Channel, []byte, error) {
	if o.ChannelFile == "" {
		ch, err := channels.ForCluster(ctx, reg.Store(), o.Name)
		return ch, nil, err
	}
	data, err := os.ReadFile(o.ChannelFile)
	if err != nil {
		return nil, nil, fmt.Errorf("--channel: %w", err)
	}
	ch, err := channels.Parse(o.ChannelFile, data)
	return ch, data, err
}

// Run proposes the upgrade and, with --yes, commits it.
func (o *UpgradeClusterOptions) Run(ctx context.Context) error {
	reg, err := o.Registry(ctx)
	if err != nil {
		return err
	}
	head, err := reg.Get(ctx, o.Name)
	if err != nil {
		return err
	}
	ch, channelData, err := o.channel(ctx, reg)
	if err != nil {
		return err
	}
	current := head.Manifests.Cluster.Spec.KubernetesVersion
	target := o.To
	if target == "" {
		target, err = ch.Next(current)
		if errors.Is(err, channels.ErrUpToDate) {
			fmt.Fprintf(o.Out, "Cluster %q runs Kubernetes %s, the newest version channel %s offers: nothing to upgrade.\n", o.Name, current, ch.Name())
			return nil
		}
		if err != nil {
			return err
		}
	}
	target = strings.TrimPrefix(target, "v")
	if err := ch.CheckUpgrade(current, target); err != nil {
		return fmt.Errorf("cluster %q: %w", o.Name, err)
	}
	o.printProposal(ch, current, target)
	if !o.Yes {
		fmt.Fprintf(o.Out, "\nRun with --yes to write Kubernetes %s into the spec.\n", target)
		return nil
	}
	next := head.Manifests.DeepCopy()
	next.Cluster.Spec.KubernetesVersion = target
	snap, err := reg.Update(ctx, head, next, "upgrade cluster to "+target)
	if err != nil {
		return err
	}
	if channelData != nil {
		if err := channels.SaveForCluster(ctx, reg.Store(), o.Name, channelData); err != nil {
			return err
		}
	}
	fmt.Fprintf(o.Out, "\nCluster %q now specifies Kubernetes %s (revision %d).\n", o.Name, target, snap.Revision)
	fmt.Fprintf(o.Out, "Next: kapstan update cluster %s --yes, then kapstan rolling-update cluster %s --yes\n", o.Name, o.Name)
	return nil
}

// printProposal lists what the upgrade changes.
func (o *UpgradeClusterOptions) printProposal(ch *channels.Channel, current, target string) {
	from, err := ch.Release(current)
	if err != nil {
		from = &channels.Release{} // the current minor is not in this channel: everything is new
	}
	to, _ := ch.Release(target) // CheckUpgrade found it
	fmt.Fprintf(o.Out, "Upgrade cluster %q from Kubernetes %s to %s (channel %s):\n", o.Name, current, target, ch.Name())
	t := newTable(o.Out, "  CHANGE", "FROM", "TO")
	t.row("  kubernetesVersion", current, target)
	t.row("  control-plane, kube-proxy and kubelet images", "v"+strings.TrimPrefix(current, "v"), "v"+target)
	for _, c := range channels.Diff(from, to) {
		t.row("  "+c.What, orNone(c.From), orNone(c.To))
	}
	_ = t.flush()
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// completeVersions completes --to with the channel's recommended versions
// newer than the cluster's.
func (o *UpgradeClusterOptions) completeVersions(cmd *cobra.Command, args []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
	ctx := cmd.Context()
	var ch *channels.Channel
	var err error
	if len(args) == 0 {
		if o.ChannelFile != "" {
			ch, err = channels.Load(o.ChannelFile)
		} else {
			ch, err = channels.Stable()
		}
		if err != nil {
			return nil, cobra.ShellCompDirectiveError
		}
		return ch.Recommended(), cobra.ShellCompDirectiveNoFileComp
	}
	o.Name = args[0]
	reg, err := o.Registry(ctx)
	if err != nil {
		return nil, cobra.ShellCompDirectiveError
	}
	if ch, _, err = o.channel(ctx, reg); err != nil {
		return nil, cobra.ShellCompDirectiveError
	}
	head, err := reg.Get(ctx, o.Name)
	if err != nil {
		return ch.Recommended(), cobra.ShellCompDirectiveNoFileComp
	}
	var out []string
	for _, v := range ch.Recommended() {
		if ch.CheckUpgrade(head.Manifests.Cluster.Spec.KubernetesVersion, v) == nil {
			out = append(out, v)
		}
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}
