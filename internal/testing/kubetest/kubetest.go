// Package kubetest runs a real etcd and kube-apiserver, and optionally a
// kube-controller-manager with only the disruption controller, on loopback
// for tests.
//
// Start one environment per test package in TestMain with [RunMain], and
// give each test its own namespace:
//
//	var kube *kubetest.Env
//
//	func TestMain(m *testing.M) {
//		os.Exit(kubetest.RunMain(m, &kube, kubetest.Options{ControllerManager: true}))
//	}
//
// The binaries are built once per machine by `make kube-test-bins`
// (hack/kube-test-bins/build.sh) into $KUBE_BIN_DIR or a cache dir under
// $HOME. There is no skipping: without them the tests fail, so a missing
// tool is never mistaken for a pass.
//
// Nothing else of a cluster runs: no scheduler, no kubelet, no
// ReplicaSet, garbage-collector, ServiceAccount or node-lifecycle
// controller. Pods must name their node; [Env.RegisterNode] and
// [Env.RunKubelet] stand in for kubelets.
package kubetest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/kapstan/kapstan/internal/testing/child"
)

const (
	// K8sVersion and EtcdVersion are the versions hack/kube-test-bins/build.sh
	// builds by default, and the ones the default binary dir is named after.
	K8sVersion  = "1.36.3"
	EtcdVersion = "3.6.8"

	// BinDirEnv names the environment variable that overrides the binary dir.
	BinDirEnv = "KUBE_BIN_DIR"

	// Names of the binaries, and of the processes in [Env.PIDs] and
	// [Env.LogTail].
	Etcd              = "etcd"
	APIServer         = "kube-apiserver"
	ControllerManager = "kube-controller-manager"

	readyPoll     = 100 * time.Millisecond
	readyTimeout  = 60 * time.Second
	startAttempts = 3
)

// Binaries are the paths of the three executables.
type Binaries struct {
	Dir               string
	Etcd              string
	APIServer         string
	ControllerManager string
}

// DefaultBinDir is where build.sh puts the binaries when KUBE_BIN_DIR is
// unset: $HOME/.cache/kapstan/kube-test-bins/k8s-VERSION-etcd-VERSION.
func DefaultBinDir() (string, error) {
	home, err := os.UserHomeDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(home, ".cache", "kapstan", "kube-test-bins",
		"k8s-"+K8sVersion+"-etcd-"+EtcdVersion), nil
}

// FindBinaries locates etcd, kube-apiserver and kube-controller-manager in
// $KUBE_BIN_DIR, else in [DefaultBinDir]. The error names the dir and says
// how to build them.
func FindBinaries() (Binaries, error) {
	dir, from := os.Getenv(BinDirEnv), "$"+BinDirEnv
	if dir == "" {
		d, err := DefaultBinDir()
		if err != nil {
			return Binaries{}, fmt.Errorf("kubetest: finding the binary dir: %w; set $%s", err, BinDirEnv)
		}
		dir, from = d, "default dir"
	}
	b := Binaries{
		Dir:               dir,
		Etcd:              filepath.Join(dir, Etcd),
		APIServer:         filepath.Join(dir, APIServer),
		ControllerManager: filepath.Join(dir, ControllerManager),
	}
	var missing []string
	for _, p := range []string{b.Etcd, b.APIServer, b.ControllerManager} {
		if fi, err := os.Stat(p); err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
			missing = append(missing, filepath.Base(p))
		}
	}
	if len(missing) > 0 {
		return Binaries{}, fmt.Errorf("kubetest: %s missing in %s (%s); run `make kube-test-bins` "+
			"(hack/kube-test-bins/build.sh) to build kube-apiserver and kube-controller-manager v%s and etcd v%s there, "+
			"about 20 minutes the first time",
			strings.Join(missing, ", "), dir, from, K8sVersion, EtcdVersion)
	}
	return b, nil
}

// Options choose what Start runs besides etcd and the apiserver.
type Options struct {
	// ControllerManager starts kube-controller-manager with
	// --controllers=disruption, so PodDisruptionBudgets get real status.
	// Start does not wait for it; PDB status follows within seconds.
	ControllerManager bool
	// Controllers, if set with ControllerManager, are the controllers it
	// runs instead of only "disruption" (e.g. "disruption,replicaset").
	Controllers string
	// ServiceClusterIPRange is the apiserver's Service range; default
	// 10.0.0.0/24. Add-ons whose Services have fixed addresses (cluster
	// DNS) need the cluster spec's range.
	ServiceClusterIPRange string
}

// Env is a running etcd + kube-apiserver (+ kube-controller-manager).
type Env struct {
	// Dir holds the PKI, the kubeconfig, etcd's data and the logs. Stop
	// removes it.
	Dir string
	// APIServerURL is e.g. https://127.0.0.1:40123.
	APIServerURL string
	// EtcdURL is etcd's client URL, e.g. http://127.0.0.1:40124.
	EtcdURL string
	// Kubeconfig is the path of a kubeconfig for a system:masters user.
	Kubeconfig string
	// RESTConfig is loaded from Kubeconfig, with a higher rate limit.
	RESTConfig *rest.Config
	// Client is a clientset for RESTConfig.
	Client kubernetes.Interface
	// Binaries are the executables this Env runs.
	Binaries Binaries

	procs    []*process // in start order: etcd, apiserver, KCM
	stopOnce sync.Once
	stopErr  error

	mu    sync.Mutex
	nodes map[string]bool // names registered with RegisterNode

	bound int // pods the simulated scheduler bound, for round-robin; kubelet goroutine only
}

// process is one child with its log file.
type process struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	exited  chan struct{} // closed when cmd.Wait returns
	waitErr error         // set before exited is closed
}

// Start starts etcd and kube-apiserver (and kube-controller-manager if
// opts.ControllerManager) on free loopback ports, with a fresh PKI in a temp
// dir, and waits until the apiserver's /readyz answers ok, for at most 60
// s. ctx bounds the start only; the processes run until Stop.
//
// The ports are found by binding 127.0.0.1:0 and releasing them, so another
// process may take one first; Start then tries again with new ports, up to
// three times. If the apiserver does not come up, the error includes the
// tails of the logs.
func Start(ctx context.Context, opts Options) (*Env, error) {
	bins, err := FindBinaries()
	if err != nil {
		return nil, err
	}
	for attempt := 1; ; attempt++ {
		e, err := start(ctx, bins, opts)
		if err == nil {
			return e, nil
		}
		var pe *portInUseError
		if !errors.As(err, &pe) || attempt == startAttempts {
			return nil, err
		}
	}
}

// portInUseError means a child exited because its port was taken.
type portInUseError struct{ err error }

func (e *portInUseError) Error() string { return e.err.Error() }
func (e *portInUseError) Unwrap() error { return e.err }

func start(ctx context.Context, bins Binaries, opts Options) (_ *Env, err error) {
	dir, err := os.MkdirTemp("", "kubetest-*")
	if err != nil {
		return nil, fmt.Errorf("starting kubetest: %w", err)
	}
	e := &Env{Dir: dir, Binaries: bins, nodes: map[string]bool{}}
	defer func() {
		if err != nil {
			e.Stop()
		}
	}()

	pki, err := writePKI(filepath.Join(dir, "pki"))
	if err != nil {
		return nil, fmt.Errorf("starting kubetest: PKI: %w", err)
	}
	ports, err := child.FreePorts(3)
	if err != nil {
		return nil, fmt.Errorf("starting kubetest: finding free ports: %w", err)
	}
	etcdPort, peerPort, apiPort := ports[0], ports[1], ports[2]
	e.EtcdURL = "http://127.0.0.1:" + strconv.Itoa(etcdPort)
	peerURL := "http://127.0.0.1:" + strconv.Itoa(peerPort)
	e.APIServerURL = "https://127.0.0.1:" + strconv.Itoa(apiPort)

	// The apiserver waits for etcd by itself, so both start at once.
	if err := e.run(Etcd, bins.Etcd,
		"--name=kubetest",
		"--data-dir="+filepath.Join(dir, "etcd"),
		"--listen-client-urls="+e.EtcdURL,
		"--advertise-client-urls="+e.EtcdURL,
		"--listen-peer-urls="+peerURL,
		"--initial-advertise-peer-urls="+peerURL,
		"--initial-cluster=kubetest="+peerURL,
		"--unsafe-no-fsync",
	); err != nil {
		return nil, err
	}
	if err := e.run(APIServer, bins.APIServer,
		"--etcd-servers="+e.EtcdURL,
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		"--secure-port="+strconv.Itoa(apiPort),
		"--cert-dir="+filepath.Join(dir, "apiserver"),
		"--tls-cert-file="+pki.servingCert,
		"--tls-private-key-file="+pki.servingKey,
		"--client-ca-file="+pki.caCert,
		"--service-account-issuer=https://kubernetes.default.svc",
		"--service-account-key-file="+pki.saPub,
		"--service-account-signing-key-file="+pki.saKey,
		"--service-cluster-ip-range="+cmp.Or(opts.ServiceClusterIPRange, "10.0.0.0/24"),
		"--authorization-mode=RBAC",
		"--endpoint-reconciler-type=none",
		"--disable-admission-plugins=ServiceAccount",
		"--allow-privileged=true",
		"--profiling=false",
	); err != nil {
		return nil, err
	}

	if err := e.writeKubeconfig(pki); err != nil {
		return nil, fmt.Errorf("starting kubetest: %w", err)
	}
	if err := e.waitReady(ctx); err != nil {
		err = fmt.Errorf("starting kubetest (etcd port %d, apiserver port %d): %w\n%s",
			etcdPort, apiPort, err, e.logTails())
		if strings.Contains(err.Error(), "address already in use") {
			return nil, &portInUseError{err}
		}
		return nil, err
	}

	if opts.ControllerManager {
		if err := e.run(ControllerManager, bins.ControllerManager,
			"--kubeconfig="+e.Kubeconfig,
			"--controllers="+cmp.Or(opts.Controllers, "disruption"),
			"--leader-elect=false",
			"--secure-port=0",
			"--use-service-account-credentials=false",
		); err != nil {
			return nil, err
		}
	}
	return e, nil
}

// run starts a child whose stdout and stderr go to DIR/NAME.log.
func (e *Env) run(name, bin string, args ...string) error {
	logPath := filepath.Join(e.Dir, name+".log")
	logf, err := os.Create(logPath)
	if err != nil {
		return fmt.Errorf("starting %s: %w", name, err)
	}
	defer logf.Close() // the child has its own descriptor
	// Not exec.CommandContext: the context bounds the start, not the life.
	cmd := exec.Command(bin, args...)
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.SysProcAttr = child.SysProcAttr()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", name, err)
	}
	p := &process{name: name, cmd: cmd, logPath: logPath, exited: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.exited)
	}()
	e.procs = append(e.procs, p)
	return nil
}

// writeKubeconfig writes DIR/kubeconfig, with the admin credentials
// embedded, and loads RESTConfig and Client from it.
func (e *Env) writeKubeconfig(pki *pkiFiles) error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["kubetest"] = &clientcmdapi.Cluster{
		Server:                   e.APIServerURL,
		CertificateAuthorityData: pki.caPEM,
	}
	cfg.AuthInfos["admin"] = &clientcmdapi.AuthInfo{
		ClientCertificateData: pki.adminCertPEM,
		ClientKeyData:         pki.adminKeyPEM,
	}
	cfg.Contexts["kubetest"] = &clientcmdapi.Context{Cluster: "kubetest", AuthInfo: "admin"}
	cfg.CurrentContext = "kubetest"
	e.Kubeconfig = filepath.Join(e.Dir, "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, e.Kubeconfig); err != nil {
		return fmt.Errorf("writing kubeconfig: %w", err)
	}
	rc, err := clientcmd.BuildConfigFromFlags("", e.Kubeconfig)
	if err != nil {
		return fmt.Errorf("loading kubeconfig: %w", err)
	}
	// Tests make bursts of calls; client-go's default is 5 QPS.
	rc.QPS, rc.Burst = 200, 400
	e.RESTConfig = rc
	e.Client, err = kubernetes.NewForConfig(rc)
	if err != nil {
		return fmt.Errorf("creating client: %w", err)
	}
	return nil
}

// waitReady polls the apiserver's /readyz until it says ok, etcd or the
// apiserver exits, ctx ends or readyTimeout passes.
func (e *Env) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	hc, err := rest.HTTPClientFor(e.RESTConfig)
	if err != nil {
		return err
	}
	hc.Timeout = 2 * time.Second
	tick := time.NewTicker(readyPoll)
	defer tick.Stop()
	last := "no answer"
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.APIServerURL+"/readyz", nil)
		if err != nil {
			return err
		}
		if resp, err := hc.Do(req); err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = fmt.Sprintf("%s: %s", resp.Status, failedChecks(body))
		} else {
			last = err.Error()
		}
		for _, p := range e.procs {
			select {
			case <-p.exited:
				return fmt.Errorf("%s exited before the apiserver was ready: %v", p.name, p.waitErr)
			default:
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s/readyz (last: %s): %w", e.APIServerURL, last, ctx.Err())
		case <-tick.C:
		}
	}
}

// failedChecks keeps the lines of a /readyz body that report a failure.
func failedChecks(body []byte) string {
	var failed []string
	for _, l := range strings.Split(string(body), "\n") {
		if strings.HasPrefix(l, "[-]") {
			failed = append(failed, l)
		}
	}
	if len(failed) == 0 {
		return strings.TrimSpace(string(body))
	}
	return strings.Join(failed, "; ")
}

// Stop kills the apiserver, the controller manager and etcd (SIGKILL, by
// PID, in that order), waits for them and removes Dir. It is safe to call
// more than once.
func (e *Env) Stop() error {
	e.stopOnce.Do(func() {
		var errs []error
		for _, name := range []string{APIServer, ControllerManager, Etcd} {
			if p := e.proc(name); p != nil {
				errs = append(errs, p.kill())
			}
		}
		if err := os.RemoveAll(e.Dir); err != nil {
			errs = append(errs, fmt.Errorf("stopping kubetest: %w", err))
		}
		e.stopErr = errors.Join(errs...)
	})
	return e.stopErr
}

// kill sends SIGKILL to the process, unless it has exited, and waits for
// it.
func (p *process) kill() error {
	select {
	case <-p.exited:
		return nil
	default:
	}
	var err error
	if kerr := p.cmd.Process.Kill(); kerr != nil && !errors.Is(kerr, os.ErrProcessDone) {
		err = fmt.Errorf("stopping %s: %w", p.name, kerr)
	}
	<-p.exited
	return err
}

func (e *Env) proc(name string) *process {
	for _, p := range e.procs {
		if p.name == name {
			return p
		}
	}
	return nil
}

// PIDs returns the process id of each child by name ([Etcd], [APIServer],
// [ControllerManager]).
func (e *Env) PIDs() map[string]int {
	m := map[string]int{}
	for _, p := range e.procs {
		m[p.name] = p.cmd.Process.Pid
	}
	return m
}

// Exited reports an error for each child that is no longer running, or nil
// if all run. Stop makes every child exit.
func (e *Env) Exited() error {
	var errs []error
	for _, p := range e.procs {
		select {
		case <-p.exited:
			errs = append(errs, fmt.Errorf("%s exited: %v", p.name, p.waitErr))
		default:
		}
	}
	return errors.Join(errs...)
}

// LogTail returns about the last 4 KiB of a child's log, for diagnosing
// failures. name is [Etcd], [APIServer] or [ControllerManager].
func (e *Env) LogTail(name string) string {
	p := e.proc(name)
	if p == nil {
		return "(not started)"
	}
	return child.LogTail(p.logPath)
}

func (e *Env) logTails() string {
	var b strings.Builder
	for _, p := range e.procs {
		fmt.Fprintf(&b, "--- %s log (tail) ---\n%s\n", p.name, child.LogTail(p.logPath))
	}
	return strings.TrimRight(b.String(), "\n")
}

// RunMain starts an Env with opts, stores it in *env, runs the package's
// tests and stops the Env. It returns the exit code for os.Exit:
//
//	func TestMain(m *testing.M) {
//		os.Exit(kubetest.RunMain(m, &kube, kubetest.Options{}))
//	}
//
// If the binaries are missing or the Env does not start, RunMain prints why
// and returns 1 without running any test: tests that need a kube-apiserver
// never skip. When tests fail, it prints the tails of the logs.
func RunMain(m *testing.M, env **Env, opts Options) int {
	if _, err := FindBinaries(); err != nil {
		msg := err.Error()
		if os.Getenv("CI") == "true" {
			msg += "; CI=true, and CI must have every test tool"
		}
		fmt.Fprintln(os.Stderr, "FAIL: "+msg)
		return 1
	}
	e, err := Start(context.Background(), opts)
	if err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: %v\n", err)
		return 1
	}
	*env = e
	code := m.Run()
	if code != 0 {
		fmt.Fprintln(os.Stderr, e.logTails())
	}
	if err := e.Stop(); err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}
