package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	api "github.com/kapstan/kapstan/pkg/apis/kapstan/v1alpha1"
)

// EditOptions are the options of `kapstan edit cluster|instancegroup`.
type EditOptions struct {
	*globals
	ClusterName string
	// InstanceGroup is empty when editing the Cluster itself.
	InstanceGroup string
}

func newCmdEdit(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "edit",
		Short: "Edit a cluster or instance group in $EDITOR",
		Long: `Open a Cluster or InstanceGroup in $EDITOR. When you save, the result is
checked; if it is invalid the editor opens again with the errors on top, and
saving it unchanged abandons the edit. Nothing invalid is ever written. If
someone else changed the cluster meanwhile, the edit fails with a conflict
that says what they changed.`,
		Args: cobra.NoArgs,
	}
	cluster := &cobra.Command{
		Use:               "cluster NAME",
		Short:             "Edit a cluster's spec",
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeClusterArg(g),
		RunE: func(cmd *cobra.Command, args []string) error {
			return (&EditOptions{globals: g, ClusterName: args[0]}).Run(cmd.Context())
		},
	}
	o := &EditOptions{globals: g}
	ig := &cobra.Command{
		Use:               "instancegroup NAME --name CLUSTER",
		Aliases:           []string{"ig"},
		Short:             "Edit an instance group's spec",
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeInstanceGroupNames(g),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.InstanceGroup = args[0]
			return o.Run(cmd.Context())
		},
	}
	ig.Flags().StringVar(&o.ClusterName, "name", "", "the cluster (required)")
	_ = ig.MarkFlagRequired("name")
	_ = ig.RegisterFlagCompletionFunc("name", completeClusterNames(g))
	cmd.AddCommand(cluster, ig)
	return cmd
}

// Run opens the object in the editor until it is valid, unchanged, or
// abandoned, and commits it.
func (o *EditOptions) Run(ctx context.Context) error {
	reg, err := o.Registry(ctx)
	if err != nil {
		return err
	}
	head, err := reg.Get(ctx, o.ClusterName)
	if err != nil {
		return err
	}
	var obj any = head.Manifests.Cluster
	what := fmt.Sprintf("cluster %q", o.ClusterName)
	if o.InstanceGroup != "" {
		ig := head.Manifests.InstanceGroup(o.InstanceGroup)
		if ig == nil {
			return fmt.Errorf("instance group %q not found in cluster %q", o.InstanceGroup, o.ClusterName)
		}
		obj, what = ig, fmt.Sprintf("instance group %q of cluster %q", o.InstanceGroup, o.ClusterName)
	}
	original, err := api.EncodeObject(obj)
	if err != nil {
		return err
	}

	dir, err := os.MkdirTemp("", "kapstan-edit-")
	if err != nil {
		return fmt.Errorf("making a file to edit: %w", err)
	}
	file := filepath.Join(dir, "edit.yaml")
	keep := false
	defer func() {
		if !keep {
			os.RemoveAll(dir)
		}
	}()

	content, header := original, editHeader(what, nil)
	var lastAttempt []byte
	for {
		if err := os.WriteFile(file, append([]byte(header), content...), 0o600); err != nil {
			return fmt.Errorf("writing %s: %w", file, err)
		}
		if err := o.runEditor(ctx, file); err != nil {
			return err
		}
		raw, err := os.ReadFile(file)
		if err != nil {
			return fmt.Errorf("reading %s: %w", file, err)
		}
		edited := stripComments(raw)
		if bytes.Equal(bytes.TrimSpace(edited), bytes.TrimSpace(original)) {
			fmt.Fprintln(o.Out, "Edit cancelled, no changes made.")
			return nil
		}
		if lastAttempt != nil && bytes.Equal(edited, lastAttempt) {
			keep = true
			return fmt.Errorf("edit abandoned: %s still has errors and nothing was written; your edited copy is in %s", what, file)
		}
		next, verr := o.apply(head.Manifests, raw) // raw, so error lines match the file as saved
		if verr == nil {
			snap, err := reg.Update(ctx, head, next, "edit "+strings.TrimSuffix(editReason(o), " "))
			if err != nil {
				keep = true
				return fmt.Errorf("%w\nyour edited copy is in %s", err, file)
			}
			fmt.Fprintf(o.Out, "%s edited (revision %d)\n", what, snap.Revision)
			return nil
		}
		lastAttempt = edited
		content, header = edited, editHeader(what, verr)
	}
}

func editReason(o *EditOptions) string {
	if o.InstanceGroup != "" {
		return "instancegroup " + o.InstanceGroup
	}
	return "cluster"
}

// apply decodes the edited object, puts it in place of the original in a
// copy of the manifests, defaults and validates the result.
func (o *EditOptions) apply(base *api.Manifests, edited []byte) (*api.Manifests, error) {
	m, err := api.Decode("edited file", edited)
	if err != nil {
		return nil, err
	}
	next := base.DeepCopy()
	switch {
	case o.InstanceGroup == "" && m.Cluster != nil && len(m.InstanceGroups) == 0:
		if m.Cluster.Metadata.Name != o.ClusterName {
			return nil, errors.New("metadata.name: a cluster cannot be renamed")
		}
		next.Cluster = m.Cluster
	case o.InstanceGroup != "" && m.Cluster == nil && len(m.InstanceGroups) == 1:
		if m.InstanceGroups[0].Metadata.Name != o.InstanceGroup {
			return nil, errors.New("metadata.name: an instance group cannot be renamed; create a new one instead")
		}
		for i, ig := range next.InstanceGroups {
			if ig.Metadata.Name == o.InstanceGroup {
				next.InstanceGroups[i] = m.InstanceGroups[0]
			}
		}
	default:
		return nil, errors.New("the file must hold exactly the one object being edited")
	}
	api.SetDefaults(next)
	if err := api.Validate(next); err != nil {
		return nil, err
	}
	return next, nil
}

// runEditor runs $EDITOR (or vi) on file, through the shell so that an
// EDITOR with arguments ("code --wait") works.
func (o *EditOptions) runEditor(ctx context.Context, file string) error {
	editor := ""
	if o.env.Getenv != nil {
		editor = o.env.Getenv("KAPSTAN_EDITOR")
		if editor == "" {
			editor = o.env.Getenv("EDITOR")
		}
	}
	if editor == "" {
		editor = "vi"
	}
	cmd := exec.CommandContext(ctx, "sh", "-c", editor+` "$1"`, "kapstan-editor", file)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = o.In, o.Out, o.ErrOut
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("running editor %q: %w (nothing was written)", editor, err)
	}
	return nil
}

// editHeader is the comment block above the edited object: what it is, and
// the errors of the last attempt.
func editHeader(what string, err error) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Editing %s.\n# Lines starting with '#' are ignored; an unchanged file cancels the edit.\n", what)
	if err != nil {
		b.WriteString("#\n# The edit was not saved because of these errors; fix them, or save unchanged to abandon:\n")
		for line := range strings.SplitSeq(err.Error(), "\n") {
			fmt.Fprintf(&b, "#   %s\n", line)
		}
	}
	b.WriteString("#\n")
	return b.String()
}

// stripComments drops whole-line comments, which is where the header is.
func stripComments(data []byte) []byte {
	var out bytes.Buffer
	for line := range bytes.Lines(data) {
		if bytes.HasPrefix(bytes.TrimSpace(line), []byte("#")) {
			continue
		}
		out.Write(line)
	}
	return out.Bytes()
}
