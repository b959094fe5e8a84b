package nodeup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/kapstan/kapstan/internal/store"
)

// Agent is one nodeup run as the node agent (cmd/nodeup) and `kapstan
// nodeup` both make it: read the node configuration, from a file or the
// state store, and apply it under Root.
type Agent struct {
	// ConfigFile is a node configuration file; or Cluster and
	// InstanceGroup name one in the state store StateStore.
	ConfigFile    string
	Cluster       string
	InstanceGroup string
	StateStore    string
	// Root is "/" on the machine itself, any other folder to write under
	// it without touching the machine.
	Root   string
	DryRun bool
	// Out receives the report: what changed, never file content.
	Out io.Writer

	// OpenStore opens the state store when not on the machine; nil means
	// store.Open(StateStore).
	OpenStore func(ctx context.Context) (store.Store, error)
	// NewMachine makes the machine for --root / (not in a dry run); nil
	// means [NewMachine] with the default metadata service.
	NewMachine func(ctx context.Context) (*Machine, error)
	// Backoff is how waits are retried (the store, downloads); the zero
	// value means [DefaultBackoff].
	Backoff Backoff
}

// Validate checks the options without I/O.
func (a *Agent) Validate() error {
	switch {
	case a.ConfigFile != "" && (a.Cluster != "" || a.InstanceGroup != ""):
		return errors.New("--config FILE and --cluster/--instance-group are alternatives: give one")
	case a.ConfigFile == "" && (a.Cluster == "" || a.InstanceGroup == ""):
		return errors.New("name the node configuration: --config FILE, or --cluster NAME --instance-group IG")
	case a.Root == "":
		return errors.New("--root is required: / on the machine, a folder to write into otherwise")
	}
	return nil
}

// Run reads the configuration, applies it and reports what changed.
func (a *Agent) Run(ctx context.Context) error {
	root, err := filepath.Abs(a.Root)
	if err != nil {
		return fmt.Errorf("--root %s: %w", a.Root, err)
	}
	b := a.Backoff
	if b == (Backoff{}) {
		b = DefaultBackoff()
	}
	opts := Options{Root: root, DryRun: a.DryRun, Backoff: b}
	var machine *Machine
	if root == "/" && !a.DryRun {
		newMachine := a.NewMachine
		if newMachine == nil {
			newMachine = func(ctx context.Context) (*Machine, error) { return NewMachine(ctx, MachineOptions{Backoff: b}) }
		}
		if machine, err = newMachine(ctx); err != nil {
			return fmt.Errorf("nodeup on this machine: %w", err)
		}
		opts.Volumes, opts.Services, opts.S3 = machine.Volumes, machine.Services, machine.S3
	}
	cfg, err := a.config(ctx, machine, b)
	if err != nil {
		return err
	}
	res, err := Run(ctx, cfg, opts)
	if err != nil {
		return fmt.Errorf("nodeup %s/%s: %w", cfg.ClusterName, cfg.InstanceGroup, err)
	}
	a.report(cfg, root, res)
	return nil
}

func (a *Agent) report(cfg *NodeConfig, root string, res *Result) {
	if a.Out == nil {
		return
	}
	verb := "changed"
	if a.DryRun {
		verb = "would change"
	}
	if len(res.Changed) == 0 {
		fmt.Fprintf(a.Out, "nodeup %s/%s (%s) under %s: no changes\n", cfg.ClusterName, cfg.InstanceGroup, cfg.Role, root)
		return
	}
	fmt.Fprintf(a.Out, "nodeup %s/%s (%s) under %s: %d files %s\n", cfg.ClusterName, cfg.InstanceGroup, cfg.Role, root, len(res.Changed), verb)
	for _, p := range res.Changed {
		fmt.Fprintf(a.Out, "  %s\n", p)
	}
	for _, u := range res.Restart {
		fmt.Fprintf(a.Out, "  restart %s\n", u)
	}
}

// config reads the node configuration from the file or the store; the
// store is waited for.
func (a *Agent) config(ctx context.Context, m *Machine, b Backoff) (*NodeConfig, error) {
	if a.ConfigFile != "" {
		data, err := os.ReadFile(a.ConfigFile)
		if err != nil {
			return nil, fmt.Errorf("reading the node configuration: %w", err)
		}
		cfg, err := Decode(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", a.ConfigFile, err)
		}
		return cfg, nil
	}
	var s store.Store
	var err error
	switch {
	case m != nil:
		if a.StateStore == "" {
			return nil, errors.New("no state store: set --state or KAPSTAN_STATE_STORE")
		}
		s, err = m.OpenStore(ctx, a.StateStore)
	case a.OpenStore != nil:
		s, err = a.OpenStore(ctx)
	case a.StateStore == "":
		return nil, errors.New("no state store: set --state or KAPSTAN_STATE_STORE")
	default:
		s, err = store.Open(ctx, a.StateStore)
	}
	if err != nil {
		return nil, err
	}
	return WaitForConfig(ctx, s, a.Cluster, a.InstanceGroup, b)
}

// WaitForConfig reads an instance group's node configuration from the
// store like [ReadConfig], retrying with b while the store cannot be read:
// at boot the instance profile's credentials may not work yet. A
// configuration that does not decode, or that is not there, is not
// retried: update cluster writes a group's configuration before it
// launches the group's machines, so a missing one means a wrong or
// removed group, which waiting does not mend. (Without s3:ListBucket, S3
// answers a missing key with AccessDenied, which is retried; the boot
// unit's own restarts bound that.)
func WaitForConfig(ctx context.Context, s store.Store, cluster, ig string, b Backoff) (*NodeConfig, error) {
	var cfg *NodeConfig
	err := b.Retry(ctx, "reading the node configuration "+ConfigKey(cluster, ig), func(ctx context.Context) error {
		var err error
		cfg, err = ReadConfig(ctx, s, cluster, ig)
		var re *readError
		if err != nil && (!errors.As(err, &re) || errors.Is(err, store.ErrNotFound)) {
			return Permanent(err)
		}
		return err
	})
	return cfg, err
}
