package cli

import (
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// kubeFlags choose how a command reaches a cluster's API: a kubeconfig
// file and a context in it.
type kubeFlags struct {
	kubeconfig string
	context    string
}

func (f *kubeFlags) AddFlags(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.kubeconfig, "kubeconfig", "", "kubeconfig file (default $KUBECONFIG, else ~/.kube/config)")
	cmd.Flags().StringVar(&f.context, "context", "", "kubeconfig context (default: the one named as the cluster, as `export kubeconfig` writes it, else the current one)")
}

// client builds a clientset for cluster. The context is --context, else
// the one named as the cluster if the kubeconfig has it, else the current
// context.
func (f *kubeFlags) client(g *globals, cluster string) (kubernetes.Interface, error) {
	rules := &clientcmd.ClientConfigLoadingRules{ExplicitPath: f.kubeconfig}
	if f.kubeconfig == "" {
		if env := g.env.Getenv; env != nil && env(clientcmd.RecommendedConfigPathEnvVar) != "" {
			rules.Precedence = filepath.SplitList(env(clientcmd.RecommendedConfigPathEnvVar))
		} else {
			rules.Precedence = []string{clientcmd.RecommendedHomeFile}
		}
	}
	raw, err := rules.Load()
	if err != nil {
		return nil, fmt.Errorf("loading kubeconfig: %w", err)
	}
	ctxName := f.context
	if ctxName == "" {
		if _, ok := raw.Contexts[cluster]; ok {
			ctxName = cluster
		}
	}
	cfg, err := clientcmd.NewNonInteractiveClientConfig(*raw, ctxName, &clientcmd.ConfigOverrides{}, rules).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig for cluster %s (run `kapstan export kubeconfig %s --admin 1h`): %w", cluster, cluster, err)
	}
	cfg.QPS, cfg.Burst = 50, 100
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("client for cluster %s: %w", cluster, err)
	}
	return cs, nil
}
