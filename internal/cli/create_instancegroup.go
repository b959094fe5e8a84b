package cli

import (
	"fmt"
	"slices"

	"github.com/spf13/cobra"

	api "github.com/kapstan/kapstan/pkg/apis/kapstan/v1alpha1"
)

// CreateInstanceGroupOptions are the options of `kapstan create instancegroup`.
type CreateInstanceGroupOptions struct {
	*globals
	ClusterName string
	Name        string
	Role        string
	Subnets     []string
	MachineType string
	Image       string
	MinSize     int32
	MaxSize     int32
	DryRun      bool
	print       *printFlags
}

func newCmdCreateInstanceGroup(g *globals) *cobra.Command {
	o := &CreateInstanceGroupOptions{globals: g, print: newPrintFlags(formatYAML, formatYAML, formatJSON)}
	cmd := &cobra.Command{
		Use:     "instancegroup NAME --name CLUSTER --role ROLE",
		Aliases: []string{"ig"},
		Short:   "Add an instance group to a cluster's spec",
		Example: `  kapstan create instancegroup spot --name demo.k8s.local --role Node --subnets us-east-1a,us-east-1b --machine-type m6i.large --min 0 --max 10`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Name = args[0]
			if err := o.print.Validate(); err != nil {
				return err
			}
			return o.Run(cmd)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.ClusterName, "name", "", "the cluster (required)")
	f.StringVar(&o.Role, "role", string(api.RoleNode), "ControlPlane, Node or Bastion")
	f.StringSliceVar(&o.Subnets, "subnets", nil, "names of the cluster's subnets the group spans (default: every subnet that suits the role)")
	f.StringVar(&o.MachineType, "machine-type", "", "instance type (default by role)")
	f.StringVar(&o.Image, "image", "", "machine image (default "+api.DefaultImage+")")
	f.Int32Var(&o.MinSize, "min", 1, "minimum size")
	f.Int32Var(&o.MaxSize, "max", 1, "maximum size")
	f.BoolVar(&o.DryRun, "dry-run", false, "print the instance group instead of writing it")
	o.print.AddFlags(cmd)
	_ = cmd.MarkFlagRequired("name")
	_ = cmd.RegisterFlagCompletionFunc("name", completeClusterNames(g))
	_ = cmd.RegisterFlagCompletionFunc("role", cobra.FixedCompletions([]string{string(api.RoleControlPlane), string(api.RoleNode), string(api.RoleBastion)}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// Run adds the group to the newest revision of the cluster's spec.
func (o *CreateInstanceGroupOptions) Run(cmd *cobra.Command) error {
	ctx := cmd.Context()
	reg, err := o.Registry(ctx)
	if err != nil {
		return err
	}
	head, err := reg.Get(ctx, o.ClusterName)
	if err != nil {
		return err
	}
	if head.Manifests.InstanceGroup(o.Name) != nil {
		return fmt.Errorf("instance group %q already exists in cluster %q", o.Name, o.ClusterName)
	}
	role := api.InstanceGroupRole(o.Role)
	subnets := o.Subnets
	if len(subnets) == 0 {
		subnets = subnetsForRole(head.Manifests.Cluster, role)
	}
	ig := &api.InstanceGroup{
		Metadata: api.ObjectMeta{Name: o.Name},
		Spec: api.InstanceGroupSpec{Role: role, Subnets: subnets, MachineType: o.MachineType, Image: o.Image,
			MinSize: o.MinSize, MaxSize: o.MaxSize},
	}
	next := head.Manifests.DeepCopy()
	next.InstanceGroups = append(next.InstanceGroups, ig)
	if o.DryRun {
		api.SetDefaults(next)
		if err := api.Validate(next); err != nil {
			return err
		}
		return printManifests(o.Out, o.print.output, &api.Manifests{InstanceGroups: []*api.InstanceGroup{next.InstanceGroup(o.Name)}})
	}
	snap, err := reg.Update(ctx, head, next, "create instancegroup "+o.Name)
	if err != nil {
		return err
	}
	fmt.Fprintf(o.Out, "instance group %q created in cluster %q (revision %d)\n", o.Name, o.ClusterName, snap.Revision)
	return nil
}

// subnetsForRole picks the subnets a new group of a role belongs in: the
// machine subnets for control plane and nodes, the utility (or public)
// subnets for a bastion.
func subnetsForRole(c *api.Cluster, role api.InstanceGroupRole) []string {
	want := []api.SubnetType{api.SubnetTypePublic, api.SubnetTypePrivate}
	if role == api.RoleBastion {
		want = []api.SubnetType{api.SubnetTypeUtility}
		if !slices.ContainsFunc(c.Spec.Subnets, func(sn api.ClusterSubnet) bool { return sn.Type == api.SubnetTypeUtility }) {
			want = []api.SubnetType{api.SubnetTypePublic}
		}
	}
	var out []string
	for _, sn := range c.Spec.Subnets {
		if slices.Contains(want, sn.Type) {
			out = append(out, sn.Name)
		}
	}
	return out
}
