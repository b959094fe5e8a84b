package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/kapstan/kapstan/internal/testing/kubetest"
	api "github.com/kapstan/kapstan/pkg/apis/kapstan/v1alpha1"
)

// kubeSteps shows validate, the add-ons and a rolling update against a real
// kube-apiserver whose nodes follow the cluster's instances in moto (a
// node registers half a second after its instance runs). Without the
// Kubernetes test binaries it says how to build them and skips.
func kubeSteps(ctx context.Context, bin string, env []string, cfg aws.Config) error {
	if _, err := kubetest.FindBinaries(); err != nil {
		fmt.Println("# Skipping validate, apply addons and rolling-update: the Kubernetes test binaries are not built.")
		fmt.Println("# Build them once (about 20 minutes; `make test` does it too), then run `make demo` again:")
		fmt.Println("#   make kube-test-bins")
		fmt.Println()
		return nil
	}
	fmt.Println("# Starting etcd and kube-apiserver on loopback; each instance in moto registers as a node")
	// The Service range of the cluster's spec, so the add-ons' cluster DNS
	// address is valid.
	kube, err := kubetest.Start(ctx, kubetest.Options{ServiceClusterIPRange: api.DefaultServiceClusterIPRange})
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

	// The user's kubeconfig gets a context named after the cluster, as
	// `export kubeconfig` writes it, pointing at this apiserver.
	if err := writeKubeconfig(kube.Kubeconfig, env); err != nil {
		return err
	}
	steps := [][]string{
		{"validate", "cluster", cluster, "--wait", "2m", "--interval", "500ms", "--count", "2"},
		{"apply", "addons", cluster},
		{"edit", "instancegroup", "nodes", "--name", cluster},
		{"update", "cluster", cluster, "--yes"},
		{"rolling-update", "cluster", cluster},
		{"rolling-update", "cluster", cluster, "--yes", "--interval", "100ms", "--validation-timeout", "2m"},
		{"rolling-update", "cluster", cluster},
		{"validate", "cluster", cluster},
	}
	// The edit changes the nodes' instance type; update makes a new
	// launch-template version, and rolling-update replaces every node.
	return kapstanSteps(ctx, bin, env, steps, `EDITOR=sed -i -e s/machineType:\ t3.medium/machineType:\ t3.large/`)
}

// writeKubeconfig copies the test apiserver's kubeconfig into $HOME/.kube/config
// of env, with its context named after the cluster.
func writeKubeconfig(from string, env []string) error {
	home := ""
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "HOME="); ok {
			home = v
		}
	}
	if home == "" {
		return fmt.Errorf("the demo's environment has no HOME")
	}
	cfg, err := clientcmd.LoadFromFile(from)
	if err != nil {
		return err
	}
	cur := cfg.Contexts[cfg.CurrentContext]
	if cur == nil {
		return fmt.Errorf("%s has no current context", from)
	}
	cfg.Contexts = map[string]*clientcmdapi.Context{cluster: cur}
	cfg.CurrentContext = cluster
	path := filepath.Join(home, ".kube", "config")
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	return clientcmd.WriteToFile(*cfg, path)
}
