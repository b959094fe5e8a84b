package cli

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/kapstan/kapstan/internal/nodeup"
)

// NodeupOptions are the options of `kapstan nodeup`. It runs the same
// code as the node agent (cmd/nodeup), which is what machines run; this
// command stays for rendering a node under a folder and for dry runs from
// a workstation.
type NodeupOptions struct {
	*globals
	// ConfigFile is a node configuration file; or Cluster and
	// InstanceGroup name one in the state store.
	ConfigFile    string
	Cluster       string
	InstanceGroup string
	Root          string
	DryRun        bool

	// machine builds the real machine for --root /; tests replace it.
	machine func(ctx context.Context) (*nodeup.Machine, error)
}

func newCmdNodeup(g *globals) *cobra.Command {
	o := &NodeupOptions{globals: g}
	cmd := &cobra.Command{
		Use:   "nodeup (--config FILE | --cluster NAME --instance-group IG) --root DIR [--dry-run]",
		Short: "Configure this machine as a node of its cluster (machines run the node agent instead)",
		Long: `Install and write what makes a machine a Kubernetes node: containerd,
runc, the CNI plugins and the kubelet from the cluster's asset mirror (each
checked against its SHA-256 before it is installed), containerd's
configuration, the kubelet's configuration, kubeconfig, systemd unit and
certificates, and on a control-plane node the static pods of etcd (main and
events), kube-apiserver, kube-controller-manager and kube-scheduler.

The node configuration is read from FILE or from the state store, where
update cluster writes one per instance group (NAME/nodeup/IG). A file is
only rewritten when its content or mode changes; the list of changed files
is printed, never their content.

Machines run the same code as the small node agent (cmd/nodeup) that their
boot script installs. With --root / this is the machine itself: its region
and identity come from the instance metadata service, the etcd EBS volumes
are found by their tags, attached and mounted, and containerd and the
kubelet are restarted when something they use changes. With any other
--root, everything is written under that folder, the etcd volumes are
folders there, and no service is touched.`,
		Example: `  kapstan nodeup --cluster demo.k8s.local --instance-group nodes --root /
  kapstan nodeup --config nodeup.yaml --root /tmp/node --dry-run`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a := o.agent()
			if err := a.Validate(); err != nil {
				return err
			}
			return a.Run(cmd.Context())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.ConfigFile, "config", "", "node configuration file")
	f.StringVar(&o.Cluster, "cluster", "", "read the node configuration of this cluster from the state store")
	f.StringVar(&o.InstanceGroup, "instance-group", "", "the instance group whose configuration to read, with --cluster")
	f.StringVar(&o.Root, "root", "", "the folder to write under: / on the machine itself (required)")
	f.BoolVar(&o.DryRun, "dry-run", false, "print what would change and change nothing")
	_ = cmd.MarkFlagRequired("root")
	return cmd
}

// agent is the node agent's run these options describe.
func (o *NodeupOptions) agent() *nodeup.Agent {
	state := o.state
	if state == "" && o.env.Getenv != nil {
		state = o.env.Getenv(EnvStateStore)
	}
	return &nodeup.Agent{
		ConfigFile: o.ConfigFile, Cluster: o.Cluster, InstanceGroup: o.InstanceGroup, StateStore: state,
		Root: o.Root, DryRun: o.DryRun, Out: o.Out,
		OpenStore:  o.Store,
		NewMachine: o.machine,
	}
}
