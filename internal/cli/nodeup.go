package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/kapstan/kapstan/internal/nodeup"
)

// NodeupOptions are the options of `kapstan nodeup`.
type NodeupOptions struct {
	*globals
	// ConfigFile is a node configuration file; or Cluster and
	// InstanceGroup name one in the state store.
	ConfigFile    string
	Cluster       string
	InstanceGroup string
	Root          string
	DryRun        bool

	// machine builds the real Volumes and Services for --root /; tests
	// replace it.
	machine func(ctx context.Context) (nodeup.Volumes, nodeup.Services, error)
}

func newCmdNodeup(g *globals) *cobra.Command {
	o := &NodeupOptions{globals: g, machine: nodeup.MachineOptions}
	cmd := &cobra.Command{
		Use:   "nodeup (--config FILE | --cluster NAME --instance-group IG) --root DIR [--dry-run]",
		Short: "Configure this machine as a node of its cluster (run by the boot script)",
		Long: `Write the files that make a machine a Kubernetes node: containerd's
configuration, the kubelet's configuration, kubeconfig, systemd unit and
certificates, and on a control-plane node the static pods of etcd (main and
events), kube-apiserver, kube-controller-manager and kube-scheduler.

The node configuration is read from FILE or from the state store, where
update cluster writes one per instance group (NAME/nodeup/IG). A file is
only rewritten when its content or mode changes; the list of changed files
is printed, never their content.

With --root / this is the machine itself: the etcd EBS volumes are found by
their tags, attached and mounted, and containerd and the kubelet are
restarted when their files change. With any other --root, everything is
written under that folder, the etcd volumes are folders there, and no
service is touched.`,
		Example: `  kapstan nodeup --cluster demo.k8s.local --instance-group nodes --root /
  kapstan nodeup --config nodeup.yaml --root /tmp/node --dry-run`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
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

// Validate checks the flags.
func (o *NodeupOptions) Validate() error {
	switch {
	case o.ConfigFile != "" && (o.Cluster != "" || o.InstanceGroup != ""):
		return errors.New("--config FILE and --cluster/--instance-group are alternatives: give one")
	case o.ConfigFile == "" && (o.Cluster == "" || o.InstanceGroup == ""):
		return errors.New("name the node configuration: --config FILE, or --cluster NAME --instance-group IG")
	case o.Root == "":
		return errors.New("--root is required: / on the machine, a folder to write into otherwise")
	}
	return nil
}

// Run reads the configuration and applies it.
func (o *NodeupOptions) Run(ctx context.Context) error {
	cfg, err := o.config(ctx)
	if err != nil {
		return err
	}
	root, err := filepath.Abs(o.Root)
	if err != nil {
		return fmt.Errorf("--root %s: %w", o.Root, err)
	}
	opts := nodeup.Options{Root: root, DryRun: o.DryRun}
	if root == "/" && !o.DryRun {
		if opts.Volumes, opts.Services, err = o.machine(ctx); err != nil {
			return fmt.Errorf("nodeup on this machine: %w", err)
		}
	}
	res, err := nodeup.Run(ctx, cfg, opts)
	if err != nil {
		return fmt.Errorf("nodeup %s/%s: %w", cfg.ClusterName, cfg.InstanceGroup, err)
	}
	verb := "changed"
	if o.DryRun {
		verb = "would change"
	}
	if len(res.Changed) == 0 {
		fmt.Fprintf(o.Out, "nodeup %s/%s (%s) under %s: no changes\n", cfg.ClusterName, cfg.InstanceGroup, cfg.Role, root)
		return nil
	}
	fmt.Fprintf(o.Out, "nodeup %s/%s (%s) under %s: %d files %s\n", cfg.ClusterName, cfg.InstanceGroup, cfg.Role, root, len(res.Changed), verb)
	for _, p := range res.Changed {
		fmt.Fprintf(o.Out, "  %s\n", p)
	}
	return nil
}

func (o *NodeupOptions) config(ctx context.Context) (*nodeup.NodeConfig, error) {
	if o.ConfigFile != "" {
		data, err := os.ReadFile(o.ConfigFile)
		if err != nil {
			return nil, fmt.Errorf("reading the node configuration: %w", err)
		}
		cfg, err := nodeup.Decode(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", o.ConfigFile, err)
		}
		return cfg, nil
	}
	s, err := o.Store(ctx)
	if err != nil {
		return nil, err
	}
	return nodeup.ReadConfig(ctx, s, o.Cluster, o.InstanceGroup)
}
