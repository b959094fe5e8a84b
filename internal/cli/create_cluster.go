package cli

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kapstan/kapstan/internal/newcluster"
	api "github.com/kapstan/kapstan/pkg/apis/kapstan/v1alpha1"
)

// CreateClusterOptions are the options of `kapstan create cluster`.
type CreateClusterOptions struct {
	*globals
	newcluster.Options
	SSHPublicKeyFile string
	DryRun           bool
	print            *printFlags
}

func newCmdCreateCluster(g *globals) *cobra.Command {
	o := &CreateClusterOptions{globals: g, print: newPrintFlags(formatYAML, formatYAML, formatJSON)}
	cmd := &cobra.Command{
		Use:   "cluster NAME --zones ZONE,...",
		Short: "Write the spec of a new cluster, with sensible defaults",
		Long: `Write a complete, valid spec for a new cluster into the state store: the
Cluster, one control-plane instance group per control-plane zone, a "nodes"
group spanning the zones, and a bastion group with --bastion. No cloud call
is made; "kapstan update cluster NAME --yes" creates the cloud resources.

A NAME ending in .k8s.local needs no DNS zone. With --vpc, the cluster uses an
existing VPC: give its subnets with --subnets (and --utility-subnets for a
private topology) in the order of --zones.`,
		Example: `  kapstan create cluster demo.k8s.local --zones us-east-1a,us-east-1b,us-east-1c --control-plane-count 3 --node-count 3
  kapstan create cluster demo.example.com --zones us-east-1a --topology private --bastion --dry-run -o yaml`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Complete(cmd, args); err != nil {
				return err
			}
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(cmd)
		},
	}
	f := cmd.Flags()
	f.StringSliceVar(&o.Zones, "zones", nil, "availability zones the cluster spans (required)")
	f.StringSliceVar(&o.ControlPlaneZones, "control-plane-zones", nil, "zones of the control-plane instance groups (default: the first --control-plane-count zones)")
	f.IntVar(&o.ControlPlaneCount, "control-plane-count", 1, "number of control-plane instance groups (odd, for etcd quorum)")
	f.IntVar(&o.NodeCount, "node-count", 1, "number of nodes")
	f.StringVar(&o.NodeSize, "node-size", "", "instance type of the nodes (default "+api.DefaultMachineType(api.RoleNode)+")")
	f.StringVar(&o.ControlPlaneSize, "control-plane-size", "", "instance type of the control plane (default "+api.DefaultMachineType(api.RoleControlPlane)+")")
	f.StringVar(&o.Topology, "topology", "public", "public or private: where the control plane and nodes live")
	f.BoolVar(&o.Bastion, "bastion", false, "add a bastion instance group (needs --topology private)")
	f.StringVar(&o.NetworkCIDR, "network-cidr", "", "the VPC's range (default "+api.DefaultNetworkCIDR+")")
	f.StringVar(&o.VPC, "vpc", "", "id of an existing VPC to use")
	f.StringSliceVar(&o.Subnets, "subnets", nil, "ids of existing subnets, one per zone, in --zones order")
	f.StringSliceVar(&o.UtilitySubnets, "utility-subnets", nil, "ids of existing utility subnets, one per zone, in --zones order")
	f.StringSliceVar(&o.NATGateways, "nat-gateways", nil, "ids of existing NAT gateways for the private subnets, one per zone")
	f.StringVar(&o.Networking, "networking", "", "CNI: "+strings.Join(api.SupportedCNIs(), ", ")+" (default "+api.DefaultCNI+")")
	f.StringVar(&o.SSHPublicKeyFile, "ssh-public-key", "", "file holding the SSH public key to install on the instances")
	f.StringVar(&o.KubernetesVersion, "kubernetes-version", "", "Kubernetes version (default "+api.DefaultKubernetesVersion+")")
	f.StringVar(&o.DNSZone, "dns-zone", "", "Route 53 zone for the API records (default: the cluster name's parent domain; none for .k8s.local)")
	f.StringVar(&o.APILoadBalancer, "api-loadbalancer-type", "", "public or internal (default public)")
	f.StringVar(&o.Image, "image", "", "machine image for every instance group (default "+api.DefaultImage+")")
	f.BoolVar(&o.DryRun, "dry-run", false, "print the manifests instead of writing them")
	o.print.AddFlags(cmd)
	_ = cmd.RegisterFlagCompletionFunc("topology", cobra.FixedCompletions([]string{"public", "private"}, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("networking", cobra.FixedCompletions(api.SupportedCNIs(), cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("api-loadbalancer-type", cobra.FixedCompletions([]string{"public", "internal"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// Complete takes the name and reads the SSH key file.
func (o *CreateClusterOptions) Complete(cmd *cobra.Command, args []string) error {
	o.Name = args[0]
	if len(o.ControlPlaneZones) > 0 && !cmd.Flags().Changed("control-plane-count") {
		o.ControlPlaneCount = len(o.ControlPlaneZones)
	}
	if o.SSHPublicKeyFile != "" {
		key, err := os.ReadFile(o.SSHPublicKeyFile)
		if err != nil {
			return fmt.Errorf("--ssh-public-key: %w", err)
		}
		o.SSHPublicKey = string(key)
	}
	return nil
}

// Validate checks the flags that the spec's validation cannot see.
func (o *CreateClusterOptions) Validate() error {
	if len(o.Zones) == 0 {
		return errors.New("--zones is required: the availability zones the cluster spans, e.g. --zones us-east-1a,us-east-1b,us-east-1c")
	}
	if o.NodeCount < 0 || o.ControlPlaneCount < 1 {
		return errors.New("--node-count must be 0 or more and --control-plane-count 1 or more")
	}
	return o.print.Validate()
}

// Run builds the spec and stores it, or prints it with --dry-run.
func (o *CreateClusterOptions) Run(cmd *cobra.Command) error {
	m, err := newcluster.Build(o.Options)
	if err != nil {
		return err
	}
	if o.DryRun {
		return printManifests(o.Out, o.print.output, m)
	}
	ctx := cmd.Context()
	reg, err := o.Registry(ctx)
	if err != nil {
		return err
	}
	snap, err := reg.Create(ctx, m, "create cluster")
	if err != nil {
		return err
	}
	fmt.Fprintf(o.Out, "cluster %q created in %s (revision %d)\n", o.Name, reg.Store().URL(), snap.Revision)
	for _, ig := range sortedIGs(snap.Manifests.InstanceGroups) {
		fmt.Fprintf(o.Out, "  instance group %-28s %-12s %s ×%d\n", ig.Metadata.Name, ig.Spec.Role, ig.Spec.MachineType, ig.Spec.MaxSize)
	}
	fmt.Fprintf(o.Out, "\nNext: review it with  kapstan get cluster %s -o yaml\n      create it with   kapstan update cluster %s --yes\n", o.Name, o.Name)
	return nil
}
