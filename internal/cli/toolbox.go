package cli

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/kapstan/kapstan/internal/toolbox"
	api "github.com/kapstan/kapstan/pkg/apis/kapstan/v1alpha1"
)

func newCmdToolbox(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "toolbox",
		Short: "Helpers for cluster manifests",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newCmdToolboxTemplate(g))
	return cmd
}

// ToolboxTemplateOptions are the options of `kapstan toolbox template`.
type ToolboxTemplateOptions struct {
	*globals
	Templates []string
	Values    []string
	Sets      []string
	Output    string
}

func newCmdToolboxTemplate(g *globals) *cobra.Command {
	o := &ToolboxTemplateOptions{globals: g}
	cmd := &cobra.Command{
		Use:   "template --template FILE... --values FILE... [--set KEY=VALUE] [--output FILE]",
		Short: "Render cluster manifests from Go templates and values",
		Long: `Render a Cluster and its InstanceGroups from Go templates (text/template
with the sprig functions, plus include and toYaml) and values. Values files
are YAML, merged left to right; --set KEY=VALUE (a.b=c, comma separated,
repeatable) overrides them. Templates see the values at the top: {{ .name }}.
A value a template uses that nobody gave is an error naming it; use
{{ get . "key" | default "x" }} for optional ones.

The result is checked as create -f checks it (strict decode, defaults,
validation) and nothing is written when it fails.`,
		Example: `  kapstan toolbox template --template cluster.tmpl.yaml --values values.yaml --output demo.yaml
  kapstan toolbox template --template cluster.tmpl.yaml --values values.yaml --set nodeCount=5 | kapstan create -f -`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run()
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&o.Templates, "template", nil, "template file (repeatable; rendered in order)")
	f.StringArrayVar(&o.Values, "values", nil, "values file (repeatable; later files override earlier ones)")
	f.StringArrayVar(&o.Sets, "set", nil, "KEY=VALUE to set a value, e.g. cluster.nodeCount=5 (repeatable)")
	f.StringVar(&o.Output, "output", "", "file to write the manifests to (default standard output)")
	yamlFiles := cobra.FixedCompletions([]string{"yaml", "yml", "tmpl", "tpl"}, cobra.ShellCompDirectiveFilterFileExt)
	_ = cmd.RegisterFlagCompletionFunc("template", yamlFiles)
	_ = cmd.RegisterFlagCompletionFunc("values", cobra.FixedCompletions([]string{"yaml", "yml", "json"}, cobra.ShellCompDirectiveFilterFileExt))
	_ = cmd.RegisterFlagCompletionFunc("set", cobra.NoFileCompletions)
	_ = cmd.RegisterFlagCompletionFunc("output", func(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
		return nil, cobra.ShellCompDirectiveDefault
	})
	return cmd
}

// Validate checks the flags without IO.
func (o *ToolboxTemplateOptions) Validate() error {
	if len(o.Templates) == 0 {
		return errors.New("--template FILE is required")
	}
	return nil
}

// Run renders, checks and writes.
func (o *ToolboxTemplateOptions) Run() error {
	read := func(names []string) ([]toolbox.File, error) {
		var out []toolbox.File
		for _, n := range names {
			data, err := os.ReadFile(n)
			if err != nil {
				return nil, err
			}
			out = append(out, toolbox.File{Name: n, Data: data})
		}
		return out, nil
	}
	templates, err := read(o.Templates)
	if err != nil {
		return fmt.Errorf("--template: %w", err)
	}
	valueFiles, err := read(o.Values)
	if err != nil {
		return fmt.Errorf("--values: %w", err)
	}
	values, err := toolbox.MergeValues(valueFiles)
	if err != nil {
		return err
	}
	for _, s := range o.Sets {
		if err := values.Set(s); err != nil {
			return err
		}
	}
	out, err := toolbox.Render(templates, values)
	if err != nil {
		return err
	}
	if err := checkManifests(out); err != nil {
		return fmt.Errorf("the rendered manifests are invalid (lines count in the rendered output; nothing written): %w", err)
	}
	if o.Output == "" {
		_, err := o.Out.Write(out)
		return err
	}
	if err := os.WriteFile(o.Output, out, 0o644); err != nil {
		return fmt.Errorf("--output: %w", err)
	}
	fmt.Fprintf(o.ErrOut, "wrote %s\n", o.Output)
	return nil
}

// checkManifests checks rendered manifests as create -f does: strict
// decode, then defaults and validation of a copy.
func checkManifests(data []byte) error {
	m, err := api.Decode("rendered", data)
	if err != nil {
		return err
	}
	if m.Cluster == nil {
		return errors.New("no Cluster in the rendered manifests")
	}
	m = m.DeepCopy()
	api.SetDefaults(m)
	return api.Validate(m)
}
