package kube_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/kapstan/kapstan/internal/engine"
	"github.com/kapstan/kapstan/internal/kube"
	"github.com/kapstan/kapstan/internal/newcluster"
	"github.com/kapstan/kapstan/internal/reconcile"
	"github.com/kapstan/kapstan/internal/registry"
	"github.com/kapstan/kapstan/internal/store"
	"github.com/kapstan/kapstan/internal/testing/clusters"
	"github.com/kapstan/kapstan/internal/testing/kubetest"
	"github.com/kapstan/kapstan/internal/testing/moto"
	api "github.com/kapstan/kapstan/pkg/apis/kapstan/v1alpha1"
)

var motoSrv *moto.Server

func TestMain(m *testing.M) {
	if _, err := kubetest.FindBinaries(); err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		os.Exit(1)
	}
	os.Exit(moto.RunMain(m, &motoSrv))
}

// Timings of the simulated cluster: short, so the tests are quick, and
// the same for every test.
const (
	bootDelay = 150 * time.Millisecond
	interval  = 25 * time.Millisecond
)

// world is one test's AWS account (on moto), its cluster applied there,
// and a real kube-apiserver whose nodes follow the cluster's instances.
type world struct {
	cfg     aws.Config
	reg     *registry.Registry
	snap    *registry.Snapshot
	kube    *kubetest.Env
	cluster *kube.Cluster
	cloud   *recordingCloud
}

type worldOptions struct {
	nodes int
	// controllers are kube-controller-manager's; "" runs none.
	controllers string
	neverReady  func(id string) bool
	edit        func(m *api.Manifests)
}

func newWorld(t *testing.T, o worldOptions) *world {
	t.Helper()
	ctx := t.Context()
	cfg, err := motoSrv.Config(ctx, moto.WithAccount(moto.NewAccountID()))
	if err != nil {
		t.Fatal(err)
	}
	name := strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-")) + ".k8s.local"
	m, err := newcluster.Build(newcluster.Options{Name: name, Zones: []string{"us-east-1a"}, ControlPlaneCount: 1, NodeCount: o.nodes})
	if err != nil {
		t.Fatal(err)
	}
	if o.edit != nil {
		o.edit(m)
	}
	w := &world{cfg: cfg, reg: registry.New(store.NewMemory("t"))}
	if w.snap, err = w.reg.Create(ctx, m, "create"); err != nil {
		t.Fatal(err)
	}
	w.apply(t)

	env, err := kubetest.Start(ctx, kubetest.Options{ControllerManager: o.controllers != "", Controllers: o.controllers})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	w.kube = env
	simCtx, stop := context.WithCancel(context.Background())
	waitSim := env.RunCloudNodes(simCtx, kubetest.CloudNodes{EC2: ec2.NewFromConfig(cfg), Cluster: name,
		BootDelay: bootDelay, Interval: interval, NeverReady: o.neverReady})
	env.RunKubelet(simCtx, interval)
	t.Cleanup(func() { stop(); waitSim() })

	w.cloud = &recordingCloud{Cloud: reconcile.InstanceGroups(cfg, name, m.Cluster.Spec.Region)}
	w.cluster = &kube.Cluster{Spec: m, Cloud: w.cloud, Client: env.Client}
	if _, err := w.cluster.WaitValid(ctx, nil, kube.WaitOptions{Timeout: 30 * time.Second, Interval: interval}); err != nil {
		t.Fatalf("the new cluster does not validate: %v", err)
	}
	return w
}

// apply converges the cloud to the current snapshot.
func (w *world) apply(t *testing.T) {
	t.Helper()
	ctx := t.Context()
	p, err := reconcile.Plan(ctx, w.snap, reconcile.Options{AWS: w.cfg, StateStore: "s3://state/clusters", AgentURL: clusters.AgentURL, AgentSHA256: clusters.AgentSHA256})
	if err != nil {
		t.Fatal(err)
	}
	if err := reconcile.Apply(ctx, p, engine.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
}

// edit commits a spec change and applies it, as edit + update --yes do.
func (w *world) edit(t *testing.T, f func(m *api.Manifests)) {
	t.Helper()
	m := w.snap.Manifests.DeepCopy()
	f(m)
	snap, err := w.reg.Update(t.Context(), w.snap, m, "test edit")
	if err != nil {
		t.Fatal(err)
	}
	w.snap = snap
	w.cluster.Spec = snap.Manifests
	w.apply(t)
}

func (w *world) groups(t *testing.T) map[string]kube.Group {
	t.Helper()
	gs, err := w.cloud.Groups(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]kube.Group{}
	for _, g := range gs {
		out[g.Name] = g
	}
	return out
}

func (w *world) rollOptions() kube.RollOptions {
	return kube.RollOptions{ValidationTimeout: 20 * time.Second, DrainTimeout: 20 * time.Second,
		Interval: interval, EvictionRetryDelay: 100 * time.Millisecond}
}

// recordingCloud counts what a rolling update does to each instance.
type recordingCloud struct {
	kube.Cloud
	mu         sync.Mutex
	detached   []string
	terminated []string
}

func (c *recordingCloud) Detach(ctx context.Context, g *kube.Group, ids []string) error {
	c.mu.Lock()
	c.detached = append(c.detached, ids...)
	c.mu.Unlock()
	return c.Cloud.Detach(ctx, g, ids)
}

func (c *recordingCloud) Terminate(ctx context.Context, g *kube.Group, ids []string, detached bool) error {
	c.mu.Lock()
	c.terminated = append(c.terminated, ids...)
	c.mu.Unlock()
	return c.Cloud.Terminate(ctx, g, ids, detached)
}

func ids(instances []kube.Instance) []string {
	var out []string
	for _, in := range instances {
		out = append(out, in.ID)
	}
	return out
}

func failureKinds(r kube.Result) []string {
	var out []string
	for _, f := range r.Failures {
		out = append(out, f.Kind)
	}
	return out
}

// hasFailure reports whether r holds a failure of kind whose message
// contains text.
func hasFailure(r kube.Result, kind, text string) bool {
	return slices.ContainsFunc(r.Failures, func(f kube.Failure) bool {
		return f.Kind == kind && strings.Contains(f.Message, text)
	})
}

func contains(s string, parts ...string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}
