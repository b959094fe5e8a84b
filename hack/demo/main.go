// Command demo runs kapstan's main job against an embedded default: it
// starts moto_server on a loopback port, makes an S3 bucket there for the
// state store, runs the kapstan binary through the steps a user takes, and
// stops moto. It leaves no process running, whatever happens.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/kapstan/kapstan/internal/testing/moto"
)

const (
	bucket  = "kapstan-demo-state"
	cluster = "demo.k8s.local"
)

func main() {
	kapstan := flag.String("kapstan", "bin/kapstan", "the kapstan binary")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *kapstan); err != nil {
		fmt.Fprintln(os.Stderr, "demo failed:", err)
		stop()
		os.Exit(1)
	}
}

func run(ctx context.Context, kapstan string) error {
	bin, err := filepath.Abs(kapstan)
	if err != nil {
		return err
	}
	start := time.Now()
	fmt.Println("# Starting moto_server on loopback (the AWS APIs kapstan talks to)")
	srv, err := moto.Start(ctx)
	if err != nil {
		return err
	}
	defer srv.Stop()
	fmt.Printf("#   %s (pid %d)\n", srv.URL, srv.PID())

	cfg, err := srv.Config(ctx)
	if err != nil {
		return err
	}
	client := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		return fmt.Errorf("creating the state bucket: %w", err)
	}
	fmt.Printf("# State store: s3://%s\n\n", bucket)

	home, err := os.MkdirTemp("", "kapstan-demo-home-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(home)
	env := append(srv.Env(), "PATH="+os.Getenv("PATH"), "HOME="+home, "KAPSTAN_STATE_STORE=s3://"+bucket)

	steps := [][]string{
		{"version"},
		{"create", "cluster", cluster, "--zones", "us-east-1a,us-east-1b,us-east-1c", "--control-plane-count", "3", "--node-count", "3"},
	}
	if err := kapstanSteps(ctx, bin, env, steps, ""); err != nil {
		return err
	}
	if err := seedMirror(ctx, bin, env); err != nil {
		return err
	}
	steps = [][]string{
		{"get", "clusters"},
		{"get", "instancegroups", "--name", cluster},
		{"get", "cluster", cluster, "-o", "yaml"},
		{"edit", "instancegroup", "nodes", "--name", cluster},
		{"get", "history", cluster},
		{"update", "cluster", cluster},
		{"update", "cluster", cluster, "--yes"},
		{"update", "cluster", cluster, "--detailed-exitcode"},
	}
	if err := kapstanSteps(ctx, bin, env, steps, `EDITOR=sed -i -e s/maxSize:\ 3/maxSize:\ 6/`); err != nil {
		return err
	}
	if err := kubeSteps(ctx, bin, env, cfg); err != nil {
		return err
	}
	steps = [][]string{
		{"upgrade", "cluster", cluster},
		{"delete", "cluster", cluster},
		{"delete", "cluster", cluster, "--yes"},
		{"delete", "cluster", cluster, "--region", "us-east-1", "--yes"},
	}
	if err := kapstanSteps(ctx, bin, env, steps, ""); err != nil {
		return err
	}
	fmt.Printf("# Demo finished in %.1fs; moto is stopped on exit.\n", time.Since(start).Seconds())
	return nil
}

// kapstanSteps runs steps in order. An edit step runs with editor, a
// scripted $EDITOR, so the demo runs unattended.
func kapstanSteps(ctx context.Context, bin string, env []string, steps [][]string, editor string) error {
	for _, args := range steps {
		stepEnv := env
		if args[0] == "edit" {
			stepEnv = append(stepEnv, editor)
		}
		if err := kapstanStep(ctx, bin, stepEnv, args...); err != nil {
			return err
		}
	}
	return nil
}

func kapstanStep(ctx context.Context, bin string, env []string, args ...string) error {
	fmt.Printf("$ kapstan %s\n", strings.Join(args, " "))
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	err := cmd.Run()
	fmt.Println()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return fmt.Errorf("kapstan %s exited %d", strings.Join(args, " "), ee.ExitCode())
	}
	return err
}
