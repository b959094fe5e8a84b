// Command bench measures kapstan and writes bench/results.json (metric →
// number) and a Markdown table. Every figure that is compared is measured
// in the same run, and reported as a ratio, so that a busy machine moves
// both sides alike. Metrics of capabilities that do not exist yet are
// absent, not zero.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"

	awscloud "github.com/kapstan/kapstan/internal/cloud/aws"
	"github.com/kapstan/kapstan/internal/engine"
	"github.com/kapstan/kapstan/internal/model"
	"github.com/kapstan/kapstan/internal/newcluster"
	"github.com/kapstan/kapstan/internal/reconcile"
	"github.com/kapstan/kapstan/internal/registry"
	"github.com/kapstan/kapstan/internal/render"
	"github.com/kapstan/kapstan/internal/store"
	"github.com/kapstan/kapstan/internal/testing/awscheck"
	"github.com/kapstan/kapstan/internal/testing/clusters"
	"github.com/kapstan/kapstan/internal/testing/faultproxy"
	"github.com/kapstan/kapstan/internal/testing/moto"
	api "github.com/kapstan/kapstan/pkg/apis/kapstan/v1alpha1"
)

// What the benchmarked clusters' nodes are told about the agent. No
// machine boots, so the hash is made up, as in the tests' fixtures.
const (
	benchAgentURL    = clusters.AgentURL
	benchAgentSHA256 = clusters.AgentSHA256
)

func main() {
	out := flag.String("out", "bench/results.json", "where to write the results")
	rssProbe := flag.Int("rss-probe", 0, "internal: plan N instance groups and print the peak RSS in MB")
	only := flag.String("only", "", "measure only this group of metrics: rolling")
	verbose := flag.Bool("v", false, "print the rolling updates' progress")
	flag.Parse()
	if *rssProbe > 0 {
		if err := probeRSS(*rssProbe); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	results := map[string]float64{}
	var log io.Writer = io.Discard
	if *verbose {
		log = &stampWriter{w: os.Stderr, start: time.Now()}
	}
	measure := run
	if *only == "rolling" {
		measure = runRolling
	}
	if err := measure(context.Background(), results, log); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
	if err := write(*out, results); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, r map[string]float64, log io.Writer) error {
	if err := planMetrics(r); err != nil {
		return err
	}
	if err := rssMetric(r); err != nil {
		return err
	}
	if err := renderMetrics(r); err != nil {
		return err
	}
	if err := binaryMetrics(r); err != nil {
		return err
	}
	srv, err := moto.Start(ctx)
	if err != nil {
		return err
	}
	defer srv.Stop()
	if err := applyMetrics(ctx, srv, r); err != nil {
		return err
	}
	if err := assetsMetrics(ctx, srv, r); err != nil {
		return err
	}
	return rollingMetrics(ctx, srv, r, log)
}

// runRolling measures the rolling update only.
func runRolling(ctx context.Context, r map[string]float64, log io.Writer) error {
	srv, err := moto.Start(ctx)
	if err != nil {
		return err
	}
	defer srv.Stop()
	return rollingMetrics(ctx, srv, r, log)
}

// noCloud finds nothing and costs nothing: planning against it measures
// the model and the engine alone.
type noCloud struct{}

func (noCloud) Find(context.Context, engine.Resource, engine.Refs) (engine.Resource, error) {
	return nil, nil
}
func (noCloud) Orphans(context.Context, map[engine.Address]bool) ([]engine.Resource, error) {
	return nil, nil
}
func (noCloud) Create(context.Context, engine.Resource, engine.Refs) (engine.Resource, error) {
	return nil, nil
}
func (noCloud) Update(context.Context, engine.Resource, engine.Resource, []engine.FieldDiff, engine.Refs) (engine.Resource, error) {
	return nil, nil
}
func (noCloud) Delete(context.Context, engine.Resource) error { return nil }

// groups is a one-zone cluster with a control-plane group and n node
// groups.
func groups(n int) (*api.Manifests, error) {
	m, err := newcluster.Build(newcluster.Options{Name: "bench.k8s.local", Zones: []string{"us-east-1a"}})
	if err != nil {
		return nil, err
	}
	nodes := m.InstanceGroup("nodes")
	m.InstanceGroups = m.InstanceGroups[:1]
	for i := range n {
		ig := *nodes
		ig.Metadata.Name = fmt.Sprintf("nodes-%03d", i)
		m.InstanceGroups = append(m.InstanceGroups, &ig)
	}
	return m, nil
}

func planOnce(m *api.Manifests) error {
	rs, err := model.Build(m, model.Options{StateStore: "s3://bench", AgentURL: benchAgentURL, AgentSHA256: benchAgentSHA256})
	if err != nil {
		return err
	}
	_, err = engine.MakePlan(context.Background(), noCloud{}, "bench.k8s.local", 1, rs)
	return err
}

// median times f repeated times and returns the median.
func median(repeat int, f func() error) (time.Duration, error) {
	var ds []time.Duration
	for range repeat {
		start := time.Now()
		if err := f(); err != nil {
			return 0, err
		}
		ds = append(ds, time.Since(start))
	}
	slices.Sort(ds)
	return ds[len(ds)/2], nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func planMetrics(r map[string]float64) error {
	times := map[int]time.Duration{}
	for _, n := range []int{1, 10, 100} {
		m, err := groups(n)
		if err != nil {
			return err
		}
		d, err := median(21, func() error { return planOnce(m) })
		if err != nil {
			return err
		}
		times[n] = d
	}
	r["plan_1ig_ms"] = ms(times[1])
	r["plan_10ig_ms"] = ms(times[10])
	r["plan_100ig_ms"] = ms(times[100])
	r["plan_growth_100_vs_10"] = float64(times[100]) / float64(times[10])
	return nil
}

// renderMetrics times the Terraform and CloudFormation targets (model and
// rendering, no IO) for 6, 30 and 100 instance groups. Rendering makes no
// AWS call by construction (it builds no AWS client); render_calls records
// that, and TestRenderOffline proves it against a counting listener.
func renderMetrics(r map[string]float64) error {
	for _, target := range []render.Target{render.Terraform, render.CloudFormation} {
		times := map[int]time.Duration{}
		for _, n := range []int{6, 30, 100} {
			m, err := clusters.Scaled(n)
			if err != nil {
				return err
			}
			d, err := median(9, func() error {
				_, _, err := reconcile.RenderFiles(m, 1, target, reconcile.RenderOptions{StateStore: "s3://bench", AgentURL: benchAgentURL, AgentSHA256: benchAgentSHA256})
				return err
			})
			if err != nil {
				return err
			}
			times[n] = d
		}
		name := strings.ToLower(string(target))
		r[name+"_6ig_ms"] = ms(times[6])
		r[name+"_30ig_ms"] = ms(times[30])
		r[name+"_100ig_ms"] = ms(times[100])
		r[name+"_ms_per_ig"] = ms(times[100]-times[6]) / 94
	}
	r["render_calls"] = 0
	return nil
}

// rssMetric runs this program again to plan 100 groups alone, so that the
// peak RSS is the plan's and not the rest of the benchmark's.
func rssMetric(r map[string]float64) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	probe := func(n int) (float64, error) {
		out, err := exec.Command(self, "-rss-probe", strconv.Itoa(n)).Output()
		if err != nil {
			return 0, fmt.Errorf("rss probe: %w", err)
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(string(out)), 64)
		if err != nil {
			return 0, fmt.Errorf("rss probe said %q", out)
		}
		return v, nil
	}
	v100, err := probe(100)
	if err != nil {
		return err
	}
	// The probe is this benchmark's binary, which links the Kubernetes
	// client and test harness too: what planning adds is the difference
	// from planning one group.
	v1, err := probe(1)
	if err != nil {
		return err
	}
	r["plan_100ig_rss_mb"] = v100
	r["plan_100ig_rss_over_1ig_mb"] = v100 - v1
	return nil
}

func probeRSS(n int) error {
	m, err := groups(n)
	if err != nil {
		return err
	}
	if err := planOnce(m); err != nil {
		return err
	}
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return err
	}
	for line := range strings.SplitSeq(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			if err != nil {
				return err
			}
			fmt.Printf("%.1f\n", kb/1024)
			return nil
		}
	}
	return fmt.Errorf("no VmHWM in /proc/self/status")
}

// haCluster is the benchmark cluster: 3 control-plane groups and 3 node
// groups, one per zone.
func haCluster(reg *registry.Registry) (*registry.Snapshot, error) {
	zones := []string{"us-east-1a", "us-east-1b", "us-east-1c"}
	m, err := newcluster.Build(newcluster.Options{Name: "bench.k8s.local", Zones: zones, ControlPlaneCount: 3, NodeCount: 1})
	if err != nil {
		return nil, err
	}
	nodes := m.InstanceGroup("nodes")
	m.InstanceGroups = m.InstanceGroups[:3]
	for _, z := range zones {
		ig := *nodes
		ig.Metadata.Name = "nodes-" + z
		ig.Spec.Subnets = []string{z}
		m.InstanceGroups = append(m.InstanceGroups, &ig)
	}
	return reg.Create(context.Background(), m, "bench")
}

// session is one AWS account on moto, reached directly or through a proxy.
type session struct {
	cfg     aws.Config
	counter *awscloud.CallCounter
	snap    *registry.Snapshot
}

func newSession(ctx context.Context, srv *moto.Server, endpoint string) (*session, error) {
	counter := awscloud.NewCallCounter()
	cfg, err := srv.Config(ctx, moto.WithAccount(moto.NewAccountID()), config.WithBaseEndpoint(endpoint),
		config.WithRetryer(reconcile.NewRetryer), config.WithRetryMaxAttempts(reconcile.MaxAttempts))
	if err != nil {
		return nil, err
	}
	cfg.APIOptions = append(cfg.APIOptions, counter.Middleware)
	snap, err := haCluster(registry.New(store.NewMemory("bench")))
	if err != nil {
		return nil, err
	}
	return &session{cfg: cfg, counter: counter, snap: snap}, nil
}

func (s *session) opts() reconcile.Options {
	return reconcile.Options{AWS: s.cfg, StateStore: "s3://bench-state", AgentURL: benchAgentURL, AgentSHA256: benchAgentSHA256}
}

// apply plans and applies, and returns the wall time and the calls made.
func (s *session) apply(ctx context.Context, concurrency int) (time.Duration, int, error) {
	s.counter.Reset()
	start := time.Now()
	p, err := reconcile.Plan(ctx, s.snap, s.opts())
	if err != nil {
		return 0, 0, err
	}
	if err := reconcile.Apply(ctx, p, engine.ApplyOptions{Concurrency: concurrency}); err != nil {
		return 0, 0, err
	}
	return time.Since(start), s.counter.Total(), nil
}

func (s *session) delete(ctx context.Context) (time.Duration, int, error) {
	s.counter.Reset()
	start := time.Now()
	td, err := reconcile.Discover(ctx, "bench.k8s.local", "us-east-1", s.opts(), awscloud.DiscoverOptions{})
	if err != nil {
		return 0, 0, err
	}
	if err := reconcile.Delete(ctx, td, engine.ApplyOptions{}); err != nil {
		return 0, 0, err
	}
	return time.Since(start), s.counter.Total(), nil
}

func applyMetrics(ctx context.Context, srv *moto.Server, r map[string]float64) error {
	// Raw moto: one process, bound by Python's GIL, answers one call at a
	// time, so parallelism shows little. Through a proxy that adds 20 ms
	// per call, a round trip like AWS's, it shows what users see.
	latency, err := faultproxy.Start(srv.URL, faultproxy.Faults{Latency: 20 * time.Millisecond}, 1)
	if err != nil {
		return err
	}
	defer latency.Close()
	// moto loads each service's data on its first call (EC2's image
	// catalogue takes a second): warm it up in an account of its own, so
	// that neither side of a ratio pays for it.
	warm, err := newSession(ctx, srv, srv.URL)
	if err != nil {
		return err
	}
	if _, _, err := warm.apply(ctx, engine.DefaultConcurrency); err != nil {
		return fmt.Errorf("warm-up apply: %w", err)
	}
	if _, _, err := warm.delete(ctx); err != nil {
		return fmt.Errorf("warm-up delete: %w", err)
	}
	for _, c := range []struct {
		metric, endpoint string
	}{{"apply_parallel_vs_serial_moto", srv.URL}, {"apply_parallel_vs_serial", latency.URL}} {
		serial, err := newSession(ctx, srv, c.endpoint)
		if err != nil {
			return err
		}
		parallel, err := newSession(ctx, srv, c.endpoint)
		if err != nil {
			return err
		}
		ts, _, err := serial.apply(ctx, 1)
		if err != nil {
			return fmt.Errorf("serial apply: %w", err)
		}
		tp, calls, err := parallel.apply(ctx, engine.DefaultConcurrency)
		if err != nil {
			return fmt.Errorf("parallel apply: %w", err)
		}
		r[c.metric] = float64(tp) / float64(ts)
		if c.endpoint != srv.URL {
			continue
		}
		r["apply_ms"] = ms(tp)
		r["apply_calls"] = float64(calls)
		_, again, err := parallel.apply(ctx, engine.DefaultConcurrency)
		if err != nil {
			return fmt.Errorf("re-apply: %w", err)
		}
		r["reapply_calls"] = float64(again)
		r["reapply_vs_apply_calls"] = float64(again) / float64(calls)
		r["reapply_mutating_calls"] = float64(sum(parallel.counter.Mutating()))
		td, dcalls, err := parallel.delete(ctx)
		if err != nil {
			return fmt.Errorf("delete: %w", err)
		}
		r["delete_vs_apply"] = float64(td) / float64(tp)
		r["delete_calls"] = float64(dcalls)
		left, err := awscheck.Owned(ctx, parallel.cfg, "bench.k8s.local")
		if err != nil {
			return err
		}
		r["delete_leftovers"] = float64(sum(left))
	}
	return nil
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

func write(path string, r map[string]float64) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, append(data, '\n'), 0o644); err != nil {
		return err
	}
	fmt.Println("| metric | value |")
	fmt.Println("|---|---|")
	for _, k := range slices.Sorted(maps.Keys(r)) {
		fmt.Printf("| %s | %s |\n", k, strconv.FormatFloat(r[k], 'g', 4, 64))
	}
	fmt.Printf("\nwritten to %s\n", path)
	return nil
}

// stampWriter prefixes each write with the milliseconds since start.
type stampWriter struct {
	w     io.Writer
	start time.Time
}

func (s *stampWriter) Write(p []byte) (int, error) {
	if _, err := fmt.Fprintf(s.w, "%8.1fms %s", ms(time.Since(s.start)), p); err != nil {
		return 0, err
	}
	return len(p), nil
}
