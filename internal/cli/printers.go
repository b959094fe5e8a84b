package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	api "github.com/kapstan/kapstan/pkg/apis/kapstan/v1alpha1"
)

// Output formats.
const (
	formatTable = "table"
	formatYAML  = "yaml"
	formatJSON  = "json"
)

// printFlags is the -o flag of commands that print objects.
type printFlags struct {
	output  string
	allowed []string
}

func newPrintFlags(def string, allowed ...string) *printFlags {
	return &printFlags{output: def, allowed: allowed}
}

func (f *printFlags) AddFlags(cmd *cobra.Command) {
	cmd.Flags().StringVarP(&f.output, "output", "o", f.output, "output format: "+strings.Join(f.allowed, "|"))
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions(f.allowed, cobra.ShellCompDirectiveNoFileComp))
}

func (f *printFlags) Validate() error {
	if !slices.Contains(f.allowed, f.output) {
		return fmt.Errorf("--output %q: must be one of %s", f.output, strings.Join(f.allowed, ", "))
	}
	return nil
}

// printManifests writes manifests as YAML documents or as a JSON list.
func printManifests(w io.Writer, format string, m *api.Manifests) error {
	switch format {
	case formatJSON:
		var items []any
		if m.Cluster != nil {
			items = append(items, m.Cluster)
		}
		for _, ig := range sortedIGs(m.InstanceGroups) {
			items = append(items, ig)
		}
		if len(items) == 1 {
			return writeJSON(w, items[0])
		}
		return writeJSON(w, map[string]any{"apiVersion": "v1", "kind": "List", "items": items})
	default:
		out, err := api.Encode(m)
		if err != nil {
			return err
		}
		_, err = w.Write(out)
		return err
	}
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// table writes aligned columns.
type table struct {
	tw *tabwriter.Writer
}

func newTable(w io.Writer, headers ...string) *table {
	t := &table{tw: tabwriter.NewWriter(w, 0, 4, 3, ' ', 0)}
	t.row(headers...)
	return t
}

func (t *table) row(cells ...string) {
	fmt.Fprintln(t.tw, strings.Join(cells, "\t"))
}

func (t *table) flush() error { return t.tw.Flush() }

func printClusterTable(w io.Writer, clusters []*api.Cluster, revisions []int) error {
	t := newTable(w, "NAME", "CLOUD", "REGION", "ZONES", "VERSION", "TOPOLOGY", "REVISION")
	for i, c := range clusters {
		t.row(c.Metadata.Name, c.Spec.Cloud, c.Spec.Region, strings.Join(c.Spec.Zones, ","),
			c.Spec.KubernetesVersion, string(c.Spec.Topology.Nodes), fmt.Sprint(revisions[i]))
	}
	return t.flush()
}

func printInstanceGroupTable(w io.Writer, c *api.Cluster, igs []*api.InstanceGroup) error {
	t := newTable(w, "NAME", "ROLE", "MACHINETYPE", "MIN", "MAX", "ZONES")
	for _, ig := range sortedIGs(igs) {
		t.row(ig.Metadata.Name, string(ig.Spec.Role), ig.Spec.MachineType,
			fmt.Sprint(ig.Spec.MinSize), fmt.Sprint(ig.Spec.MaxSize), strings.Join(zonesOf(c, ig), ","))
	}
	return t.flush()
}

// zonesOf lists the zones of an instance group's subnets.
func zonesOf(c *api.Cluster, ig *api.InstanceGroup) []string {
	var zones []string
	for _, name := range ig.Spec.Subnets {
		for _, sn := range c.Spec.Subnets {
			if sn.Name == name && !slices.Contains(zones, sn.Zone) {
				zones = append(zones, sn.Zone)
			}
		}
	}
	return zones
}

// sortedIGs orders instance groups as people read them: control plane,
// then nodes, then bastions, each by name.
func sortedIGs(igs []*api.InstanceGroup) []*api.InstanceGroup {
	rank := map[api.InstanceGroupRole]int{api.RoleControlPlane: 0, api.RoleNode: 1, api.RoleBastion: 2}
	out := slices.Clone(igs)
	slices.SortFunc(out, func(a, b *api.InstanceGroup) int {
		if d := rank[a.Spec.Role] - rank[b.Spec.Role]; d != 0 {
			return d
		}
		return strings.Compare(a.Metadata.Name, b.Metadata.Name)
	})
	return out
}

func writeYAML(w io.Writer, v any) error {
	out, err := yaml.Marshal(v)
	if err != nil {
		return err
	}
	_, err = w.Write(out)
	return err
}
