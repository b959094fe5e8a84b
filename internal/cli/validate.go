package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/kapstan/kapstan/internal/kube"
	"github.com/kapstan/kapstan/internal/reconcile"
)

// ValidateClusterOptions are the options of `kapstan validate cluster`.
type ValidateClusterOptions struct {
	*globals
	Name     string
	Wait     time.Duration
	Count    int
	Interval time.Duration
	print    *printFlags
	kube     kubeFlags
}

func newCmdValidate(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "validate",
		Short: "Check that a cluster is healthy",
	}
	cmd.AddCommand(newCmdValidateCluster(g))
	return cmd
}

func newCmdValidateCluster(g *globals) *cobra.Command {
	o := &ValidateClusterOptions{globals: g, print: newPrintFlags(formatTable, formatTable, formatYAML, formatJSON)}
	cmd := &cobra.Command{
		Use:   "cluster NAME",
		Short: "Check that every instance joined, every node is Ready and the control plane is whole",
		Long: `Compare the cluster's instances in the cloud with its nodes in Kubernetes:
every instance group runs within its minSize..maxSize, every instance
registered as a node, every node is Ready, all control-plane nodes are
Ready, and kube-system's critical pods run. Each failure is listed with
its reason, and the exit code is 1.

With --wait, keep looking until --count validations in a row pass (so a
node that flaps does not pass), or until the wait is over.`,
		Example: `  kapstan validate cluster demo.k8s.local
  kapstan validate cluster demo.k8s.local --wait 10m -o json`,
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
	f.DurationVar(&o.Wait, "wait", 0, "keep validating for up to this long until it passes")
	f.IntVar(&o.Count, "count", 3, "with --wait, how many validations in a row must pass")
	f.DurationVar(&o.Interval, "interval", 10*time.Second, "with --wait, time between validations")
	o.print.AddFlags(cmd)
	o.kube.AddFlags(cmd)
	return cmd
}

// Validate checks the flags.
func (o *ValidateClusterOptions) Validate() error {
	if o.Count < 1 {
		return fmt.Errorf("--count %d: must be at least 1", o.Count)
	}
	if o.Wait > 0 && o.Interval <= 0 {
		return fmt.Errorf("--interval %s: must be positive", o.Interval)
	}
	return o.print.Validate()
}

// Run validates and prints the result.
func (o *ValidateClusterOptions) Run(ctx context.Context) error {
	c, err := o.cluster(ctx)
	if err != nil {
		return err
	}
	count := o.Count
	if o.Wait == 0 {
		count = 1
	}
	res, err := c.WaitValid(ctx, nil, kube.WaitOptions{Timeout: o.Wait, Interval: o.Interval, Successes: count,
		OnResult: func(r kube.Result) {
			if o.Wait > 0 && !r.Valid() && o.print.output == formatTable {
				fmt.Fprintf(o.ErrOut, "not valid yet: %d failures, first: %s\n", len(r.Failures), r.Failures[0])
			}
		}})
	var invalid *kube.InvalidError
	if err != nil && !errors.As(err, &invalid) {
		return err
	}
	if perr := printValidation(o.Out, o.print.output, o.Name, res); perr != nil {
		return perr
	}
	if invalid != nil {
		if o.Wait > 0 {
			return &ExitError{Code: 1, Err: fmt.Errorf("cluster %s did not validate within %s", o.Name, o.Wait)}
		}
		return &ExitError{Code: 1, Err: fmt.Errorf("cluster %s is not valid", o.Name)}
	}
	return nil
}

// cluster loads the spec and builds the clients.
func (o *ValidateClusterOptions) cluster(ctx context.Context) (*kube.Cluster, error) {
	return openCluster(ctx, o.globals, o.Name, &o.kube, true)
}

// openCluster reads a cluster's spec and builds its cloud and, withAPI,
// Kubernetes clients.
func openCluster(ctx context.Context, g *globals, name string, kf *kubeFlags, withAPI bool) (*kube.Cluster, error) {
	_, snap, err := g.Cluster(ctx, name)
	if err != nil {
		return nil, err
	}
	region := snap.Manifests.Cluster.Spec.Region
	cfg, err := reconcile.AWSConfig(ctx, region)
	if err != nil {
		return nil, err
	}
	c := &kube.Cluster{Spec: snap.Manifests, Cloud: reconcile.InstanceGroups(cfg, name, region)}
	if withAPI {
		if c.Client, err = kf.client(g, name); err != nil {
			return nil, err
		}
	}
	return c, nil
}

func printValidation(w io.Writer, format, name string, r kube.Result) error {
	switch format {
	case formatJSON:
		return writeJSON(w, r)
	case formatYAML:
		data, err := yaml.Marshal(r)
		if err != nil {
			return err
		}
		_, err = w.Write(data)
		return err
	}
	t := newTable(w, "INSTANCE GROUP", "ROLE", "MACHINE TYPE", "MIN", "MAX", "INSTANCES", "READY")
	for _, g := range r.Groups {
		t.row(g.Name, string(g.Role), g.MachineType, strconv.Itoa(g.Min), strconv.Itoa(g.Max), strconv.Itoa(g.Instances), strconv.Itoa(g.Ready))
	}
	if err := t.flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	t = newTable(w, "NODE", "INSTANCE", "INSTANCE GROUP", "ROLE", "READY")
	for _, n := range r.Nodes {
		t.row(n.Name, n.InstanceID, n.InstanceGroup, string(n.Role), strconv.FormatBool(n.Ready))
	}
	if err := t.flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	if r.Valid() {
		fmt.Fprintf(w, "Your cluster %s is ready.\n", name)
		return nil
	}
	t = newTable(w, "KIND", "NAME", "FAILURE")
	for _, f := range r.Failures {
		t.row(f.Kind, f.Name, f.Message)
	}
	return t.flush()
}
