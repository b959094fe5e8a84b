package addons

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// ErrNoContext is wrapped when the kubeconfig has no context for the
// cluster.
var ErrNoContext = errors.New("no kubeconfig context for the cluster")

// ErrUnreachable is wrapped when the cluster's API did not answer in time.
var ErrUnreachable = errors.New("the cluster's API did not answer")

// Access says how to reach a cluster's API from here: through the
// kubeconfig context named after the cluster, as `kapstan export
// kubeconfig` writes it.
type Access struct {
	// Kubeconfig is a file given explicitly (--kubeconfig); when empty,
	// the files of Paths are merged, as kubectl does.
	Kubeconfig string
	// Paths are $KUBECONFIG's entries, or ~/.kube/config.
	Paths []string
	// Context is the context's name: the cluster's.
	Context string
}

// RESTConfig loads the context.
func (a Access) RESTConfig() (*rest.Config, error) {
	rules := &clientcmd.ClientConfigLoadingRules{ExplicitPath: a.Kubeconfig, Precedence: a.Paths}
	raw, err := rules.Load()
	if err != nil {
		return nil, fmt.Errorf("reading kubeconfig: %w", err)
	}
	if _, ok := raw.Contexts[a.Context]; !ok {
		where := a.Kubeconfig
		if where == "" {
			where = strings.Join(a.Paths, ", ")
		}
		return nil, fmt.Errorf("%w: no context %q in %s", ErrNoContext, a.Context, where)
	}
	cfg, err := clientcmd.NewNonInteractiveClientConfig(*raw, a.Context, &clientcmd.ConfigOverrides{}, rules).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig context %q: %w", a.Context, err)
	}
	// client-go's default of 5 requests a second would make applying the
	// add-ons' objects (a read and an apply each) take many seconds.
	cfg.QPS, cfg.Burst = 50, 100
	return cfg, nil
}

// WaitReady asks the API's /readyz every poll until it answers ok, for at
// most timeout; then it returns an error wrapping ErrUnreachable that
// says the last answer.
func WaitReady(ctx context.Context, cfg *rest.Config, timeout, poll time.Duration) error {
	c := rest.CopyConfig(cfg)
	c.Timeout = min(5*time.Second, max(timeout, time.Second))
	cs, err := kubernetes.NewForConfig(c)
	if err != nil {
		return fmt.Errorf("kubernetes client: %w", err)
	}
	var last error
	err = wait.PollUntilContextTimeout(ctx, poll, timeout, true, func(ctx context.Context) (bool, error) {
		body, err := cs.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		switch {
		case err != nil:
			last = err
		case strings.TrimSpace(string(body)) != "ok":
			last = fmt.Errorf("/readyz: %s", body)
		default:
			return true, nil
		}
		return false, nil
	})
	if err != nil {
		if last == nil {
			last = err
		}
		return fmt.Errorf("%w within %s at %s: %v", ErrUnreachable, timeout, cfg.Host, last)
	}
	return nil
}
