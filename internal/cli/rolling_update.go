package cli

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/kapstan/kapstan/internal/kube"
	api "github.com/kapstan/kapstan/pkg/apis/kapstan/v1alpha1"
)

// RollingUpdateOptions are the options of `kapstan rolling-update cluster`.
type RollingUpdateOptions struct {
	*globals
	Name              string
	Yes               bool
	InstanceGroups    []string
	Roles             []string
	Force             bool
	CloudOnly         bool
	ValidationTimeout time.Duration
	DrainTimeout      time.Duration
	Interval          time.Duration
	kube              kubeFlags
}

func newCmdRollingUpdate(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "rolling-update",
		Short: "Replace a cluster's instances",
	}
	cmd.AddCommand(newCmdRollingUpdateCluster(g))
	return cmd
}

func newCmdRollingUpdateCluster(g *globals) *cobra.Command {
	o := &RollingUpdateOptions{globals: g}
	cmd := &cobra.Command{
		Use:   "cluster NAME [--yes]",
		Short: "Replace instances that run an old launch template, honouring disruption budgets",
		Long: `Without --yes, list each instance group with how many of its instances
need replacing and why: they were launched from an older launch-template
version than their group launches now (after update cluster --yes
changed it), or --force.

With --yes, replace them. The control plane goes first, one instance at
a time (etcd keeps quorum), then bastions, then the node groups side by
side, each in batches of its spec.rollingUpdate.maxSurge (default 1) plus
maxUnavailable: detach the old instances so the group launches their
replacements, wait until those are Ready nodes and the group validates,
drain the old nodes through the Eviction API (PodDisruptionBudgets are
honoured), terminate them.

It stops with an error when new instances do not validate within
--validation-timeout or a budget holds a drain past --drain-timeout,
leaving what it did visible in the cloud; run it again to continue.
--cloudonly replaces instances without the Kubernetes API: no drain, no
validation.`,
		Example: `  kapstan rolling-update cluster demo.k8s.local
  kapstan rolling-update cluster demo.k8s.local --yes
  kapstan rolling-update cluster demo.k8s.local --instance-group nodes --force --yes`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeClusterArg(g),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Name = args[0]
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&o.Yes, "yes", "y", false, "replace the instances (without it, only list them)")
	f.StringSliceVar(&o.InstanceGroups, "instance-group", nil, "only these instance groups")
	f.StringSliceVar(&o.Roles, "instance-group-roles", nil, "only groups of these roles: ControlPlane, Node, Bastion")
	f.BoolVar(&o.Force, "force", false, "replace every instance, up to date or not")
	f.BoolVar(&o.CloudOnly, "cloudonly", false, "replace instances without the Kubernetes API: no validation, no drain")
	f.DurationVar(&o.ValidationTimeout, "validation-timeout", 15*time.Minute, "how long new instances have to join and the cluster to validate")
	f.DurationVar(&o.DrainTimeout, "drain-timeout", 15*time.Minute, "how long draining one node may take")
	f.DurationVar(&o.Interval, "interval", 5*time.Second, "how often to look at the cloud and the nodes while waiting")
	o.kube.AddFlags(cmd)
	_ = cmd.RegisterFlagCompletionFunc("instance-group-roles", cobra.FixedCompletions(
		[]string{string(api.RoleControlPlane), string(api.RoleNode), string(api.RoleBastion)}, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("instance-group", completeGroupsOfClusterArg(g))
	return cmd
}

// Validate checks the flags.
func (o *RollingUpdateOptions) Validate() error {
	for _, r := range o.Roles {
		if !slices.Contains([]string{string(api.RoleControlPlane), string(api.RoleNode), string(api.RoleBastion)}, r) {
			return fmt.Errorf("--instance-group-roles %q: must be ControlPlane, Node or Bastion", r)
		}
	}
	for name, d := range map[string]time.Duration{"--validation-timeout": o.ValidationTimeout, "--drain-timeout": o.DrainTimeout, "--interval": o.Interval} {
		if d <= 0 {
			return fmt.Errorf("%s %s: must be positive", name, d)
		}
	}
	return nil
}

// Run lists or replaces.
func (o *RollingUpdateOptions) Run(ctx context.Context) error {
	c, err := openCluster(ctx, o.globals, o.Name, &o.kube, !o.CloudOnly && o.Yes)
	if err != nil {
		return err
	}
	for _, ig := range o.InstanceGroups {
		if c.Spec.InstanceGroup(ig) == nil {
			return fmt.Errorf("--instance-group %s: cluster %s has no such instance group", ig, o.Name)
		}
	}
	sel := kube.Selection{InstanceGroups: o.InstanceGroups, Force: o.Force}
	for _, r := range o.Roles {
		sel.Roles = append(sel.Roles, api.InstanceGroupRole(r))
	}
	if !o.Yes {
		groups, err := c.Cloud.Groups(ctx)
		if err != nil {
			return err
		}
		updates := kube.NeedsUpdate(c.Spec, groups, sel)
		if err := printRollingPlan(o.Out, updates); err != nil {
			return err
		}
		if slices.ContainsFunc(updates, func(u kube.GroupUpdate) bool { return u.Pending() }) {
			fmt.Fprintf(o.Out, "\nMust specify --yes to replace these instances: kapstan rolling-update cluster %s --yes\n", o.Name)
		} else {
			fmt.Fprintln(o.Out, "\nNo instance needs replacing.")
		}
		return nil
	}

	reg, err := o.Registry(ctx)
	if err != nil {
		return err
	}
	lease, err := reg.AcquireLease(ctx, o.Name, "rolling-update cluster --yes")
	if err != nil {
		return err
	}
	defer lease.Release(context.WithoutCancel(ctx))

	start := time.Now()
	updates, err := c.RollingUpdate(ctx, kube.RollOptions{
		Selection: sel, ValidationTimeout: o.ValidationTimeout, DrainTimeout: o.DrainTimeout,
		Interval: o.Interval, EvictionRetryDelay: min(5*time.Second, o.DrainTimeout/4), Log: o.Out,
	})
	if err != nil {
		return err
	}
	n := 0
	for _, u := range updates {
		n += len(u.Replace) + len(u.Detached)
	}
	if n == 0 {
		fmt.Fprintln(o.Out, "No instance needs replacing.")
		return nil
	}
	fmt.Fprintf(o.Out, "Rolling update of %s done: %d instances replaced in %s.\n", o.Name, n, time.Since(start).Round(time.Millisecond))
	return nil
}

func printRollingPlan(w io.Writer, updates []kube.GroupUpdate) error {
	t := newTable(w, "INSTANCE GROUP", "ROLE", "STATUS", "NEED UPDATE", "INSTANCES", "MIN", "MAX", "REASON")
	for _, u := range updates {
		status := "Ready"
		if u.Pending() {
			status = "NeedsUpdate"
		}
		t.row(u.Name, string(u.Role), status, strconv.Itoa(len(u.Replace)+len(u.Detached)), strconv.Itoa(u.Instances),
			strconv.Itoa(u.Min), strconv.Itoa(u.Max), strings.TrimSpace(u.Reason))
	}
	return t.flush()
}

// completeGroupsOfClusterArg completes the instance groups of the cluster
// named by the first argument.
func completeGroupsOfClusterArg(g *globals) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(args) == 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return instanceGroupsOf(cmd, g, args[0])
	}
}
