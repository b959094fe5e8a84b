package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/kapstan/kapstan/internal/addons"
	"github.com/kapstan/kapstan/internal/assets/mirror"
	"github.com/kapstan/kapstan/internal/engine"
	"github.com/kapstan/kapstan/internal/reconcile"
	"github.com/kapstan/kapstan/internal/registry"
	"github.com/kapstan/kapstan/internal/render"
	"github.com/kapstan/kapstan/internal/store"
	api "github.com/kapstan/kapstan/pkg/apis/kapstan/v1alpha1"
)

// UpdateClusterOptions are the options of `kapstan update cluster`.
type UpdateClusterOptions struct {
	*globals
	Name             string
	Yes              bool
	DetailedExitCode bool
	OutPlan          string
	Concurrency      int
	// Target is direct (apply through the AWS API) or a file target;
	// OutDir (--out) is the folder a file target writes to.
	Target string
	OutDir string
	// Force applies directly a cluster marked as managed by a file
	// target, or renders it for another file target.
	Force  bool
	target render.Target
	print  *printFlags
	// kube reaches the cluster's API to apply its add-ons after --yes.
	kube addonKubeFlags
}

func newCmdUpdate(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "update",
		Short: "Bring a cluster's cloud resources to its spec",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newCmdUpdateCluster(g))
	return cmd
}

func newCmdUpdateCluster(g *globals) *cobra.Command {
	o := &UpdateClusterOptions{globals: g, print: newPrintFlags(formatTable, formatTable, formatJSON)}
	cmd := &cobra.Command{
		Use:   "cluster NAME [--yes]",
		Short: "Show what would change in the cloud, and with --yes change it",
		Long: `Compare the cluster's spec with its AWS resources and print the plan:
  + create, ~ update (with each field's old and new value), - delete.
Nothing changes without --yes. With --yes the plan is applied in dependency
order, in parallel; running it again finds nothing to change.

--detailed-exitcode exits 0 when there is nothing to do and 2 when there are
changes, as terraform plan does. --out-plan FILE saves the plan for
"kapstan apply FILE", which refuses it if the spec or the cloud changed.

--target terraform|cloudformation --out DIR writes the same resources as
files instead, without any AWS call: DIR/kubernetes.tf and DIR/data/ for
Terraform, DIR/kubernetes.json for CloudFormation. The cluster is then marked
as managed by that tool in the state store, and --yes refuses to apply it
directly unless --force is given.

After --yes the cluster's add-ons are rendered into the state store and,
once the API answers through the kubeconfig context named after the cluster
(see export kubeconfig), applied with server-side apply; if it does not
answer within --addons-wait, "kapstan apply addons NAME" applies them later.`,
		Example: `  kapstan update cluster demo.k8s.local
  kapstan update cluster demo.k8s.local -o json
  kapstan update cluster demo.k8s.local --yes
  kapstan update cluster demo.k8s.local --target terraform --out ./tf
  kapstan update cluster demo.k8s.local --target cloudformation --out ./cfn`,
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
	f.BoolVarP(&o.Yes, "yes", "y", false, "apply the plan")
	f.BoolVar(&o.DetailedExitCode, "detailed-exitcode", false, "exit 0 when there are no changes, 2 when there are")
	f.StringVar(&o.OutPlan, "out-plan", "", "save the plan to FILE, for kapstan apply FILE")
	f.IntVar(&o.Concurrency, "concurrency", engine.DefaultConcurrency, "changes applied at once")
	f.StringVar(&o.Target, "target", string(render.Direct), "direct (apply through the AWS API), terraform or cloudformation (write files to --out)")
	f.StringVar(&o.OutDir, "out", "", "folder the terraform or cloudformation files are written to")
	f.BoolVar(&o.Force, "force", false, "apply directly a cluster marked as managed by terraform or cloudformation, or switch it to the other")
	_ = cmd.RegisterFlagCompletionFunc("target", cobra.FixedCompletions([]string{"direct", "terraform", "cloudformation"}, cobra.ShellCompDirectiveNoFileComp))
	o.print.AddFlags(cmd)
	o.kube.AddFlags(cmd, defaultAddonsWait, "with --yes, how long to wait for the API to answer before leaving the add-ons to apply addons")
	return cmd
}

// Validate checks the flags together, without IO.
func (o *UpdateClusterOptions) Validate() error {
	if err := o.print.Validate(); err != nil {
		return err
	}
	t, err := render.ParseTarget(o.Target)
	if err != nil {
		return fmt.Errorf("--target: %w", err)
	}
	o.target = t
	switch {
	case t.Files() && o.OutDir == "":
		return fmt.Errorf("--target %s needs --out DIR, the folder to write the files to", t)
	case !t.Files() && o.OutDir != "":
		return fmt.Errorf("--out is for --target terraform or cloudformation")
	case t.Files() && (o.OutPlan != "" || o.DetailedExitCode):
		return fmt.Errorf("--out-plan and --detailed-exitcode are for --target direct: --target %s writes files and plans nothing", t)
	}
	return nil
}

// Run plans, prints, and applies with --yes; or, for a file target, writes
// the files.
func (o *UpdateClusterOptions) Run(ctx context.Context) error {
	reg, snap, err := o.Cluster(ctx, o.Name)
	if err != nil {
		return err
	}
	if o.target.Files() {
		if err := machineReadableStore(reg.Store().URL(), o.Name); err != nil {
			fmt.Fprintf(o.ErrOut, "Warning: %v\n", err)
		}
		return o.render(ctx, reg, snap)
	}
	// A plan alone is harmless; only applying a cluster another tool
	// manages is refused.
	mark, err := reconcile.CheckDirect(ctx, reg, o.Name, o.Force || !o.Yes)
	if err != nil {
		return err
	}
	if mark != nil {
		what := "--yes refuses to apply it without --force"
		if o.Yes {
			what = "applying directly because of --force"
		}
		fmt.Fprintf(o.ErrOut, "Warning: cluster %q is managed by %s (files in %s, rendered from revision %d); %s.\n",
			o.Name, mark.Target, mark.Out, mark.Revision, what)
	}
	if err := machineReadableStore(reg.Store().URL(), o.Name); err != nil {
		if o.Yes {
			return err
		}
		fmt.Fprintf(o.ErrOut, "Warning: %v; --yes will refuse it.\n", err)
	}
	if o.Yes {
		// One writer of the cloud at a time; the lease is taken before the
		// plan, so the plan applied is one no other run is changing.
		lease, err := reg.AcquireLease(ctx, o.Name, "update cluster --yes")
		if err != nil {
			return err
		}
		defer lease.Release(context.WithoutCancel(ctx))
	}
	planned, err := o.plan(ctx, reg, snap)
	if err != nil {
		return err
	}
	plan := planned.Plan
	if o.OutPlan != "" {
		data, err := plan.Save()
		if err != nil {
			return err
		}
		if err := os.WriteFile(o.OutPlan, data, 0o644); err != nil {
			return fmt.Errorf("writing --out-plan: %w", err)
		}
	}
	if !o.Yes {
		if err := printPlan(o.Out, o.print.output, plan); err != nil {
			return err
		}
		if o.print.output == formatTable && plan.HasChanges() {
			fmt.Fprintf(o.Out, "\nRun with --yes to apply these changes.\n")
		}
		if o.DetailedExitCode && plan.HasChanges() {
			return &ExitError{Code: 2}
		}
		return nil
	}
	return o.apply(ctx, reg, planned)
}

func (o *UpdateClusterOptions) plan(ctx context.Context, reg *registry.Registry, snap *registry.Snapshot) (*reconcile.Planned, error) {
	cfg, err := reconcile.AWSConfig(ctx, snap.Manifests.Cluster.Spec.Region)
	if err != nil {
		return nil, err
	}
	agent, err := nodeAgent(ctx, reg.Store().URL(), snap.Manifests.Cluster)
	if err != nil {
		return nil, err
	}
	return reconcile.Plan(ctx, snap, reconcile.Options{AWS: cfg, StateStore: reg.Store().URL(), AgentURL: agent.URL, AgentSHA256: agent.SHA256})
}

// nodeAgent finds the node agent the cluster's machines download, and its
// SHA-256, in the bill of materials of the cluster's file repository,
// which `get assets NAME --copy` writes.
func nodeAgent(ctx context.Context, storeURL string, c *api.Cluster) (mirror.Agent, error) {
	repo, err := c.FileRepository(storeURL)
	if err != nil {
		return mirror.Agent{}, err
	}
	return mirror.ReadAgent(ctx, repo, c.Spec.Region, c.Metadata.Name)
}

// apply carries out a plan under the lease the caller holds, keeping a
// journal of it in the store.
func (o *UpdateClusterOptions) apply(ctx context.Context, reg *registry.Registry, planned *reconcile.Planned) error {
	plan := planned.Plan
	prev, err := reconcile.PreviousJournal(ctx, reg.Store(), o.Name)
	if err != nil {
		return err
	}
	if prev != nil {
		fmt.Fprintf(o.ErrOut, "An apply of revision %d started at %s was interrupted after %d of %d changes; finishing it.\n",
			prev.Revision, prev.Started.Format(time.RFC3339), len(prev.Done), prev.Total)
	}
	// What instances read when they boot must be in the store before the
	// Auto Scaling groups launch any.
	m := planned.Manifests()
	lbDNS := reconcile.LoadBalancerDNS(plan)
	if err := reconcile.PrepareNodes(ctx, reg.Store(), m, lbDNS); err != nil {
		return err
	}
	if !plan.HasChanges() {
		if prev != nil {
			if err := reg.Store().Delete(ctx, o.Name+"/journal/apply", store.Unconditionally()); err != nil {
				return fmt.Errorf("removing the journal of the interrupted apply: %w", err)
			}
		}
		fmt.Fprintf(o.Out, "No changes: cluster %q matches its spec (revision %d).\n", o.Name, plan.SpecRevision)
		return o.addons(ctx, reg, m, lbDNS)
	}
	n := plan.Count()
	fmt.Fprintf(o.Out, "Applying %s to cluster %q (revision %d)\n", plan.Summary(), o.Name, plan.SpecRevision)
	start := time.Now()
	journal, err := reconcile.StartJournal(ctx, reg.Store(), plan, newProgress(o.ErrOut, n[engine.Create]+n[engine.Update]+n[engine.Delete]))
	if err != nil {
		return err
	}
	err = reconcile.Apply(ctx, planned, engine.ApplyOptions{Concurrency: o.Concurrency, Progress: journal})
	if jerr := journal.Finish(ctx, err); jerr != nil && err == nil {
		err = jerr
	}
	if now := reconcile.LoadBalancerDNS(plan); err == nil && now != lbDNS {
		// A new load balancer's name goes into the API certificate and
		// the node configurations.
		err = reconcile.PrepareNodes(ctx, reg.Store(), m, now)
	}
	if err != nil {
		var ae *engine.ApplyError
		if errors.As(err, &ae) {
			return fmt.Errorf("applying cluster %q: %w\nrun the same command again to finish: what was done is found again", o.Name, err)
		}
		return err
	}
	fmt.Fprintf(o.Out, "Cluster %q updated in %s.\n", o.Name, time.Since(start).Round(time.Millisecond))
	return o.addons(ctx, reg, m, reconcile.LoadBalancerDNS(plan))
}

// addons stores the cluster's add-ons and applies them if the API answers;
// an API that does not answer yet is not an error.
func (o *UpdateClusterOptions) addons(ctx context.Context, reg *registry.Registry, m *api.Manifests, lbDNS string) error {
	_, err := writeAndApplyAddons(ctx, o.Out, reg.Store(), m, lbDNS, o.kube.ToAccess(o.env, o.Name), o.kube.Wait)
	if errors.Is(err, addons.ErrNoContext) || errors.Is(err, addons.ErrUnreachable) {
		fmt.Fprintln(o.Out, addonsLater(err, o.Name))
		return nil
	}
	if err != nil {
		return fmt.Errorf("cluster %q updated, but: %w", o.Name, err)
	}
	fmt.Fprintf(o.Out, "Add-ons of %q applied.\n", o.Name)
	return nil
}

// render writes the files of a file target and says what to run next.
func (o *UpdateClusterOptions) render(ctx context.Context, reg *registry.Registry, snap *registry.Snapshot) error {
	agent, err := nodeAgent(ctx, reg.Store().URL(), snap.Manifests.Cluster)
	if err != nil {
		return err
	}
	r, err := reconcile.Render(ctx, reg, snap, o.target, o.OutDir, reconcile.RenderOptions{
		StateStore: reg.Store().URL(), AgentURL: agent.URL, AgentSHA256: agent.SHA256, Force: o.Force,
	})
	if err != nil {
		return err
	}
	if o.print.output == formatJSON {
		return writeJSON(o.Out, r)
	}
	fmt.Fprintf(o.Out, "Wrote %s files for cluster %q (revision %d, %d resources) to %s: %s.\n",
		r.Target, r.Cluster, r.Revision, r.Resources, r.Dir, describeFiles(r.Files))
	switch r.Target {
	case render.Terraform:
		fmt.Fprintf(o.Out, "Next: terraform -chdir=%s init && terraform -chdir=%s apply\n", r.Dir, r.Dir)
	case render.CloudFormation:
		fmt.Fprintf(o.Out, "Next: aws cloudformation deploy --template-file %s --stack-name %s --capabilities CAPABILITY_NAMED_IAM (add --s3-bucket BUCKET for templates over 51,200 bytes)\n",
			filepath.Join(r.Dir, r.Files[0]), stackName(r.Cluster))
	}
	return nil
}

// describeFiles names the main file and counts the data files.
func describeFiles(files []string) string {
	var main []string
	data := 0
	for _, f := range files {
		if strings.Contains(f, "/") {
			data++
		} else {
			main = append(main, f)
		}
	}
	s := strings.Join(main, ", ")
	if data > 0 {
		s += fmt.Sprintf(" and %d files in data/", data)
	}
	return s
}

// stackName suggests a CloudFormation stack name for a cluster: letters,
// digits and hyphens, starting with a letter.
func stackName(cluster string) string {
	return "kapstan-" + strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '-'
	}, cluster)
}

// printPlan writes a plan for people or as JSON.
func printPlan(w interface{ Write([]byte) (int, error) }, format string, plan *engine.Plan) error {
	if format == formatJSON {
		return writeJSON(w, plan)
	}
	if !plan.HasChanges() {
		_, err := fmt.Fprintf(w, "No changes: cluster %q matches its spec (revision %d).\n", plan.Cluster, plan.SpecRevision)
		return err
	}
	_, err := fmt.Fprintf(w, "Plan for cluster %q (spec revision %d): %s\n\n%s", plan.Cluster, plan.SpecRevision, plan.Summary(), plan)
	return err
}

// ErrLocalStateStore is wrapped when a cluster's machines would be told
// to read a state store they cannot reach.
var ErrLocalStateStore = errors.New("the cluster's machines cannot read it")

// machineReadableStore says why the machines of a cluster kept in the
// store at url could not boot, or returns nil. Machines read their node
// configuration from the state store when they boot, through their
// instance role, so only an s3:// store works for them; a file:// store
// is a folder on this computer and memory:// lives in this process.
//
// `update cluster --yes` and `apply PLANFILE` refuse such a store before
// any cloud call, since they would launch machines that can never join;
// a plan and the terraform and cloudformation targets only warn, because
// they launch nothing (the files can still be applied after moving the
// cluster to an s3:// store).
func machineReadableStore(url, cluster string) error {
	if strings.HasPrefix(url, "s3://") {
		return nil
	}
	why := "it lives only in this process"
	if strings.HasPrefix(url, "file://") {
		why = "it is a folder on this computer, which machines in the cloud cannot reach"
	}
	return fmt.Errorf("state store %s: %w: machines read their configuration from the state store when they boot, and %s. "+
		"Keep cluster %q in an S3 store instead (--state s3://BUCKET/PREFIX or $%s), e.g. kapstan get cluster %s -o yaml | kapstan --state s3://BUCKET/PREFIX create -f -",
		url, ErrLocalStateStore, why, cluster, EnvStateStore, cluster)
}
