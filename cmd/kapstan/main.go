// Command kapstan creates, upgrades, validates, rolling-updates and deletes
// highly available Kubernetes clusters on AWS.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/kapstan/kapstan/internal/cli"
)

// version is set at link time: -ldflags "-X main.version=v0.1.0".
var version = "dev"

func main() {
	os.Exit(run())
}

func run() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := cli.NewRootCommand(
		cli.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr},
		cli.Environment{Getenv: os.Getenv, Version: version},
	)
	if err := root.ExecuteContext(ctx); err != nil {
		if msg := err.Error(); msg != "" {
			fmt.Fprintln(os.Stderr, "Error:", msg)
		}
		return cli.ExitCode(err)
	}
	return 0
}
