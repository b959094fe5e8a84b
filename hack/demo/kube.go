package main

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/kapstan/kapstan/internal/testing/kubetest"
)

// kubeSteps shows validate and a rolling update against a real
// kube-apiserver whose nodes follow the cluster's instances in moto (a
// node registers half a second after its instance runs). Without the
// Kubernetes test binaries it says how to build them and skips.
func kubeSteps(ctx context.Context, bin string, env []string, cfg aws.Config) error {
	if _, err := kubetest.FindBinaries(); err != nil {
		fmt.Println("# Skipping validate and rolling-update: the Kubernetes test binaries are not built.")
		fmt.Println("# Build them once (about 20 minutes; `make test` does it too), then run `make demo` again:")
		fmt.Println("#   make kube-test-bins")
		fmt.Println()
		return nil
	}
	fmt.Println("# Starting etcd and kube-apiserver on loopback; each instance in moto registers as a node")
	kube, err := kubetest.Start(ctx, kubetest.Options{})
	if err != nil {
		return err
	}
	defer kube.Stop()
	simCtx, stop := context.WithCancel(ctx)
	wait := kube.RunCloudNodes(simCtx, kubetest.CloudNodes{EC2: ec2.NewFromConfig(cfg), Cluster: cluster,
		BootDelay: 500 * time.Millisecond, Interval: 100 * time.Millisecond})
	kube.RunKubelet(simCtx, 100*time.Millisecond)
	defer func() { stop(); wait() }()
	fmt.Printf("#   %s\n\n", kube.APIServerURL)

	kubeconfig := "--kubeconfig=" + filepath.Clean(kube.Kubeconfig)
	steps := [][]string{
		{"validate", "cluster", cluster, "--wait", "2m", "--interval", "500ms", "--count", "2", kubeconfig},
		{"edit", "instancegroup", "nodes", "--name", cluster},
		{"update", "cluster", cluster, "--yes"},
		{"rolling-update", "cluster", cluster},
		{"rolling-update", "cluster", cluster, "--yes", "--interval", "100ms", "--validation-timeout", "2m", kubeconfig},
		{"rolling-update", "cluster", cluster},
		{"validate", "cluster", cluster, kubeconfig},
	}
	// The edit changes the nodes' instance type; update makes a new
	// launch-template version, and rolling-update replaces every node.
	return kapstanSteps(ctx, bin, env, steps, `EDITOR=sed -i -e s/machineType:\ t3.medium/machineType:\ t3.large/`)
}
