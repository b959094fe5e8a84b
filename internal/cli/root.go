// Package cli holds kapstan's commands, one file per verb. Each command is
// an Options struct with Complete (resolve arguments and clients), Validate
// (check without IO) and Run (act), in the manner of kubectl. Commands parse
// flags, call the packages that do the work, and print; they make no cloud
// call themselves.
package cli

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/kapstan/kapstan/internal/registry"
	"github.com/kapstan/kapstan/internal/store"
)

// EnvStateStore names the environment variable that chooses the state store
// when --state is not given.
const EnvStateStore = "KAPSTAN_STATE_STORE"

// IOStreams are the streams a command reads and writes. Commands never use
// os.Stdin, os.Stdout or os.Stderr directly, so tests can capture them.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer
}

// Environment is what a command may learn from outside its flags.
type Environment struct {
	// Getenv looks up an environment variable (os.Getenv in main).
	Getenv func(string) string
	// Version is the build's version string.
	Version string
}

// globals are the flags every command shares, and the clients built from
// them.
type globals struct {
	IOStreams
	env   Environment
	state string
}

// Registry opens the state store named by --state, $KAPSTAN_STATE_STORE or
// the default folder, in that order.
func (g *globals) Registry(ctx context.Context) (*registry.Registry, error) {
	s, err := g.Store(ctx)
	if err != nil {
		return nil, err
	}
	return registry.New(s), nil
}

// Store opens the state store.
func (g *globals) Store(ctx context.Context) (store.Store, error) {
	url := g.state
	if url == "" && g.env.Getenv != nil {
		url = g.env.Getenv(EnvStateStore)
	}
	if url == "" {
		var err error
		if url, err = store.DefaultURL(); err != nil {
			return nil, fmt.Errorf("choosing the default state store (set --state or $%s): %w", EnvStateStore, err)
		}
	}
	s, err := store.Open(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("opening state store %s: %w", url, err)
	}
	return s, nil
}

// Cluster opens the state store and reads the newest revision of cluster
// name's spec.
func (g *globals) Cluster(ctx context.Context, name string) (*registry.Registry, *registry.Snapshot, error) {
	reg, err := g.Registry(ctx)
	if err != nil {
		return nil, nil, err
	}
	snap, err := reg.Get(ctx, name)
	if err != nil {
		return nil, nil, err
	}
	return reg, snap, nil
}

// NewRootCommand builds the kapstan command tree.
func NewRootCommand(streams IOStreams, env Environment) *cobra.Command {
	g := &globals{IOStreams: streams, env: env}
	root := &cobra.Command{
		Use:   "kapstan",
		Short: "kapstan creates, upgrades and deletes highly available Kubernetes clusters on AWS",
		Long: `kapstan creates, upgrades, validates, rolling-updates and deletes
production-grade, highly available Kubernetes clusters on AWS.

A cluster is a Cluster manifest and its InstanceGroups, kept in a state store
(--state, or $KAPSTAN_STATE_STORE: file://DIR, s3://BUCKET/PREFIX).`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(streams.In)
	root.SetOut(streams.Out)
	root.SetErr(streams.ErrOut)
	root.PersistentFlags().StringVar(&g.state, "state", "", "state store URL: file://DIR, s3://BUCKET/PREFIX or memory:// (default $"+EnvStateStore+", else a folder in your config directory)")

	root.AddCommand(
		newCmdVersion(g),
		newCmdCreate(g),
		newCmdGet(g),
		newCmdEdit(g),
		newCmdReplace(g),
		newCmdDelete(g),
		newCmdRollback(g),
		newCmdUpdate(g),
		newCmdApply(g),
		newCmdUpgrade(g),
		newCmdToolbox(g),
		newCmdExport(g),
		newCmdNodeup(g),
		newCmdValidate(g),
		newCmdRollingUpdate(g),
	)
	return root
}
