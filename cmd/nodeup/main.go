// Command nodeup is the node agent: the small binary a machine's boot
// script downloads from the cluster's asset mirror (checking its SHA-256)
// and runs from a systemd unit until the node is configured. It installs
// containerd, runc, the CNI plugins and the kubelet from the mirror,
// writes their configuration and starts them; see package nodeup.
//
// It does what `kapstan nodeup` does, with the standard flag package and
// without the CLI's dependencies, so it stays small.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/kapstan/kapstan/internal/nodeup"
)

// envStateStore is the environment variable the boot script's unit sets;
// it is also the CLI's.
const envStateStore = "KAPSTAN_STATE_STORE"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr, nil)
	stop()
	os.Exit(code)
}

// run parses args and runs the agent; it returns the exit code: 0 done,
// 1 failed (systemd restarts the unit), 2 bad usage. newMachine replaces
// the real machine in tests; nil means the instance's.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer,
	newMachine func(ctx context.Context) (*nodeup.Machine, error)) int {
	a := &nodeup.Agent{Out: stdout, NewMachine: newMachine}
	var imdsEndpoint string
	fs := flag.NewFlagSet("nodeup", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: nodeup (--config FILE | --cluster NAME --instance-group IG [--state URL]) --root DIR [--dry-run]")
		fmt.Fprintln(stderr, "Configure this machine as a node of its cluster. Flags:")
		fs.PrintDefaults()
	}
	fs.StringVar(&a.ConfigFile, "config", "", "node configuration file")
	fs.StringVar(&a.Cluster, "cluster", "", "read the node configuration of this cluster from the state store")
	fs.StringVar(&a.InstanceGroup, "instance-group", "", "the instance group whose configuration to read, with --cluster")
	fs.StringVar(&a.StateStore, "state", getenv(envStateStore), "state store URL (default $"+envStateStore+")")
	fs.StringVar(&a.Root, "root", "", "the folder to write under: / on the machine itself (required)")
	fs.BoolVar(&a.DryRun, "dry-run", false, "print what would change and change nothing")
	fs.StringVar(&imdsEndpoint, "imds-endpoint", "", "instance metadata service URL (default $AWS_EC2_METADATA_SERVICE_ENDPOINT, else the EC2 one)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "nodeup: unexpected arguments %q\n", fs.Args())
		return 2
	}
	if err := a.Validate(); err != nil {
		fmt.Fprintln(stderr, "nodeup:", err)
		return 2
	}
	if a.NewMachine == nil && imdsEndpoint != "" {
		a.NewMachine = func(ctx context.Context) (*nodeup.Machine, error) {
			return nodeup.NewMachine(ctx, nodeup.MachineOptions{IMDSEndpoint: imdsEndpoint})
		}
	}
	if err := a.Run(ctx); err != nil {
		fmt.Fprintln(stderr, "nodeup:", err)
		return 1
	}
	return 0
}
