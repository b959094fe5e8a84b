package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kapstan/kapstan/internal/addons"
	"github.com/kapstan/kapstan/internal/reconcile"
	"github.com/kapstan/kapstan/internal/store"
	api "github.com/kapstan/kapstan/pkg/apis/kapstan/v1alpha1"
)

// defaultAddonsWait is how long update --yes waits for a new cluster's API
// before leaving the add-ons to `kapstan apply addons`.
const defaultAddonsWait = 30 * time.Second

// addonKubeFlags say how to reach a cluster's API: the kubeconfig context named
// after the cluster, as `kapstan export kubeconfig` writes it.
type addonKubeFlags struct {
	Kubeconfig string
	Wait       time.Duration
}

func (f *addonKubeFlags) AddFlags(cmd *cobra.Command, wait time.Duration, waitHelp string) {
	cmd.Flags().StringVar(&f.Kubeconfig, "kubeconfig", "", "kubeconfig with a context named after the cluster (default $KUBECONFIG, else ~/.kube/config)")
	cmd.Flags().DurationVar(&f.Wait, "addons-wait", wait, waitHelp)
	_ = cmd.RegisterFlagCompletionFunc("kubeconfig", func(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
		return nil, cobra.ShellCompDirectiveDefault
	})
	_ = cmd.RegisterFlagCompletionFunc("addons-wait", cobra.FixedCompletions([]string{"0s", "30s", "5m"}, cobra.ShellCompDirectiveNoFileComp))
}

// ToAccess is the kubeconfig and context for cluster.
func (f *addonKubeFlags) ToAccess(env Environment, cluster string) addons.Access {
	getenv := env.Getenv
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	a := addons.Access{Kubeconfig: f.Kubeconfig, Context: cluster}
	if a.Kubeconfig == "" {
		for _, p := range filepath.SplitList(getenv(clientcmd.RecommendedConfigPathEnvVar)) {
			if p != "" {
				a.Paths = append(a.Paths, p)
			}
		}
		if home := getenv("HOME"); len(a.Paths) == 0 && home != "" {
			a.Paths = []string{filepath.Join(home, clientcmd.RecommendedHomeDir, clientcmd.RecommendedFileName)}
		}
	}
	return a
}

// ApplyAddonsOptions are the options of `kapstan apply addons`.
type ApplyAddonsOptions struct {
	*globals
	Name string
	kube addonKubeFlags
}

func newCmdApplyAddons(g *globals) *cobra.Command {
	o := &ApplyAddonsOptions{globals: g}
	cmd := &cobra.Command{
		Use:   "addons NAME",
		Short: "Apply a cluster's add-ons to its API with server-side apply",
		Long: `Render the cluster's add-ons (kube-proxy, the CNI, CoreDNS, the AWS cloud
controller manager, the EBS CSI driver, then spec.addons) at the versions of
its channel, store them under NAME/addons/ and apply them with server-side
apply (field manager kapstan) through the kubeconfig context named NAME, as
"kapstan export kubeconfig" writes it. Objects an earlier apply made that
the add-ons no longer hold are deleted. Applying again changes nothing.

update cluster --yes does the same when the API answers; this is for when
it did not yet.`,
		Example: `  kapstan export kubeconfig demo.example.com --admin 1h
  kapstan apply addons demo.example.com`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeClusterArg(g),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Name = args[0]
			return o.Run(cmd.Context())
		},
	}
	o.kube.AddFlags(cmd, 2*time.Minute, "how long to wait for the API to answer")
	return cmd
}

// Run renders, stores and applies the add-ons under the cluster's lease.
func (o *ApplyAddonsOptions) Run(ctx context.Context) error {
	reg, snap, err := o.Cluster(ctx, o.Name)
	if err != nil {
		return err
	}
	lease, err := reg.AcquireLease(ctx, o.Name, "apply addons")
	if err != nil {
		return err
	}
	defer lease.Release(context.WithoutCancel(ctx))
	lb, err := reconcile.KnownLoadBalancerDNS(ctx, reg.Store(), snap.Manifests.Cluster)
	if err != nil {
		return err
	}
	res, err := writeAndApplyAddons(ctx, o.Out, reg.Store(), snap.Manifests, lb, o.kube.ToAccess(o.env, o.Name), o.kube.Wait)
	if err != nil {
		return err
	}
	if !res.Changed() {
		fmt.Fprintf(o.Out, "No changes: the add-ons of %q match their manifests.\n", o.Name)
	}
	return nil
}

// writeAndApplyAddons stores the cluster's rendered add-ons and applies
// them, printing what each apply did.
func writeAndApplyAddons(ctx context.Context, w io.Writer, st store.Store, m *api.Manifests, lbDNS string, access addons.Access, wait time.Duration) (*addons.Result, error) {
	name := m.Cluster.Metadata.Name
	set, err := reconcile.WriteAddons(ctx, st, m, lbDNS)
	if err != nil {
		return nil, err
	}
	for _, n := range set.Notes {
		fmt.Fprintf(w, "Note: %s.\n", n)
	}
	res, err := reconcile.ApplyAddons(ctx, st, name, access, wait)
	if res != nil {
		printAddons(w, res)
	}
	if err != nil {
		return nil, fmt.Errorf("applying the add-ons of %q: %w", name, err)
	}
	return res, nil
}

func printAddons(w io.Writer, res *addons.Result) {
	for _, a := range res.Addons {
		fmt.Fprintf(w, "  addon %s\n", a.Summary())
	}
}

// addonsLater explains why the add-ons were not applied, and how to.
func addonsLater(err error, cluster string) string {
	switch {
	case errors.Is(err, addons.ErrNoContext):
		return fmt.Sprintf("Add-ons stored, not applied: %v.\nRun kapstan export kubeconfig %s --admin 1h, then kapstan apply addons %s.", err, cluster, cluster)
	case errors.Is(err, addons.ErrUnreachable):
		return fmt.Sprintf("Add-ons stored, not applied yet: %v.\nRun kapstan apply addons %s once the API answers (a new cluster takes a few minutes).", err, cluster)
	}
	return strings.TrimSpace(fmt.Sprintf("Add-ons stored, not applied: %v.\nRun kapstan apply addons %s.", err, cluster))
}
