package nodeup_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kapstan/kapstan/internal/cli"
	"github.com/kapstan/kapstan/internal/newcluster"
	"github.com/kapstan/kapstan/internal/nodeup"
	"github.com/kapstan/kapstan/internal/pki"
	"github.com/kapstan/kapstan/internal/registry"
	"github.com/kapstan/kapstan/internal/store"
	"github.com/kapstan/kapstan/internal/testing/kubetest"
)

// TestBootControlPlane is the proof that what nodeup writes is a working
// control plane. It writes a control-plane node with `kapstan nodeup
// --root`, then runs the commands of its etcd-main, etcd-events and
// kube-apiserver static pods with the real binaries, changing only what a
// machine provides: host paths become paths under the root (through the
// pods' own volume mounts), and addresses become free loopback ports. When
// /readyz answers, it lists namespaces with the kubeconfig `kapstan export
// kubeconfig --admin` wrote, pointed at that port, and has the apiserver
// validate the static pods themselves (server-side dry run).
//
// Without the binaries the test fails: build them with `make
// kube-test-bins`.
func TestBootControlPlane(t *testing.T) {
	t.Parallel() // the two tests that start servers overlap
	bins, err := kubetest.FindBinaries()
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	const (
		name = "boot.k8s.local"
		ig   = "control-plane-us-east-1a"
		lb   = "api-boot-k8s-local-0123456789abcdef.elb.us-east-1.amazonaws.com"
	)
	m := newCluster(t, newcluster.Options{Name: name, Zones: []string{"us-east-1a"}, ControlPlaneCount: 1, NodeCount: 1})
	stateDir := t.TempDir()
	state := "file://" + stateDir
	s, err := store.NewFile(stateDir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := registry.New(s).Create(ctx, m, "boot test"); err != nil {
		t.Fatal(err)
	}
	// What update cluster does once the load balancer exists.
	if _, err := pki.Ensure(ctx, s, m, lb); err != nil {
		t.Fatal(err)
	}
	if _, err := nodeup.WriteConfigs(ctx, s, m, pki.NewKeystore(s, name), lb); err != nil {
		t.Fatal(err)
	}

	root := t.TempDir()
	out := kapstan(t, state, "nodeup", "--cluster", name, "--instance-group", ig, "--root", root)
	if !strings.Contains(out, "files changed") {
		t.Errorf("first nodeup: %s", out)
	}
	if out := kapstan(t, state, "nodeup", "--cluster", name, "--instance-group", ig, "--root", root); !strings.Contains(out, "no changes") {
		t.Errorf("second nodeup reports changes:\n%s", out)
	}

	dec := strictDecoder(t)
	pods := map[string]*corev1.Pod{}
	for _, p := range []string{nodeup.PodEtcdMain, nodeup.PodEtcdEvents, nodeup.PodAPIServer, nodeup.PodControllerManager, nodeup.PodScheduler} {
		data, err := os.ReadFile(filepath.Join(root, nodeup.ManifestsDir, p+".yaml"))
		if err != nil {
			t.Fatal(err)
		}
		obj, _, err := dec.Decode(data, nil, nil)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		pods[p] = obj.(*corev1.Pod)
	}

	// Every port the pods listen on, mapped to a free loopback port.
	ports := map[int]int{}
	for _, p := range []int{nodeup.APIServerPort,
		nodeup.EtcdMainClientPort, nodeup.EtcdMainPeerPort, nodeup.EtcdMainMetricsPort,
		nodeup.EtcdEventsClientPort, nodeup.EtcdEventsPeerPort, nodeup.EtcdEventsMetricsPort} {
		ports[p] = freePort(t)
	}
	binary := map[string]string{"etcd": bins.Etcd, "kube-apiserver": bins.APIServer}
	logs := t.TempDir()
	started := time.Now()
	var procs []*proc
	for _, p := range []string{nodeup.PodEtcdMain, nodeup.PodEtcdEvents, nodeup.PodAPIServer} {
		argv := hostCommand(t, pods[p], root, name, ports, binary)
		procs = append(procs, startProc(t, p, argv, logs))
	}

	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	out = kapstan(t, state, "export", "kubeconfig", name, "--admin", "10m", "--kubeconfig", kubeconfig)
	if strings.Contains(out, "PRIVATE KEY") {
		t.Errorf("export kubeconfig printed a key:\n%s", out)
	}
	cfg, err := clientcmd.LoadFromFile(kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Clusters[name].Server; got != "https://"+lb {
		t.Errorf("exported server %q, want the load balancer https://%s", got, lb)
	}
	cfg.Clusters[name].Server = "https://127.0.0.1:" + strconv.Itoa(ports[nodeup.APIServerPort])
	rc, err := clientcmd.NewDefaultClientConfig(*cfg, nil).ClientConfig()
	if err != nil {
		t.Fatal(err)
	}
	client, err := kubernetes.NewForConfig(rc)
	if err != nil {
		t.Fatal(err)
	}

	waitReady(t, client, procs)
	t.Logf("etcd main, etcd events and kube-apiserver ready %.1f s after start", time.Since(started).Seconds())

	nss, err := client.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatalf("listing namespaces as the exported admin: %v", err)
	}
	var names []string
	for _, ns := range nss.Items {
		names = append(names, ns.Name)
	}
	for _, want := range []string{"default", "kube-system"} {
		if !slices.Contains(names, want) {
			t.Errorf("namespaces %v lack %s", names, want)
		}
	}

	// Events go to their own etcd: one written now is read back, and etcd
	// events holds it (checked through the apiserver's storage metrics
	// would be indirect; the override flag is the apiserver's own).
	if _, err := client.CoreV1().Events("default").Create(ctx, &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{GenerateName: "boot-"},
		InvolvedObject: corev1.ObjectReference{Kind: "Namespace", Name: "default"},
		Reason:         "Boot", Message: "boot test", Type: corev1.EventTypeNormal,
	}, metav1.CreateOptions{}); err != nil {
		t.Errorf("writing an event (etcd events): %v", err)
	}

	// Secrets are encrypted in etcd with the cluster's key: the apiserver
	// counts each write through the secretbox transformer.
	if _, err := client.CoreV1().Secrets("default").Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "boot"}, StringData: map[string]string{"k": "v"},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	metrics, err := client.Discovery().RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`apiserver_storage_transformation_operations_total\{[^}]*transformation_type="to_storage"[^}]*transformer_prefix="k8s:enc:secretbox:v1:"[^}]*\} [1-9]`).Match(metrics) {
		var lines []string
		for _, l := range strings.Split(string(metrics), "\n") {
			if strings.HasPrefix(l, "apiserver_storage_transformation_operations_total") {
				lines = append(lines, l)
			}
		}
		t.Errorf("no write through the secretbox transformer; transformation metrics:\n%s", strings.Join(lines, "\n"))
	}

	// The apiserver validates each static pod as it would its mirror pod.
	// No controller manager runs, so the ServiceAccount admission plugin
	// needs the default account made by hand.
	if _, err := client.CoreV1().ServiceAccounts("kube-system").Create(ctx,
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for name, pod := range pods {
		if _, err := client.CoreV1().Pods(pod.Namespace).Create(ctx, pod, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}); err != nil {
			t.Errorf("static pod %s: the apiserver rejects it: %v", name, err)
		}
	}
}

// kapstan runs the kapstan command in this process with --state state and
// returns its output.
func kapstan(t *testing.T, state string, args ...string) string {
	t.Helper()
	var out, errOut bytes.Buffer
	root := cli.NewRootCommand(cli.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut},
		cli.Environment{Getenv: func(string) string { return "" }, Version: "test"})
	root.SetArgs(append(args, "--state", state))
	if err := root.ExecuteContext(t.Context()); err != nil {
		t.Fatalf("kapstan %s: %v\n%s%s", strings.Join(args, " "), err, out.String(), errOut.String())
	}
	return out.String() + errOut.String()
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// hostCommand turns a static pod's command into one for this machine,
// doing what the kubelet and the node would:
//   - $(VAR) is expanded from the container's environment; status.hostIP
//     is 127.0.0.1;
//   - a flag value under a volume mount becomes the host path under root;
//     any other absolute path fails the test (the container could not see
//     it);
//   - an address (0.0.0.0, 127.0.0.1, or an etcd member's name) with a
//     port becomes 127.0.0.1 with the port's loopback stand-in, and so do
//     --*-port values and a 0.0.0.0 bind address. A port with no stand-in
//     fails the test.
func hostCommand(t *testing.T, pod *corev1.Pod, root, cluster string, ports map[int]int, binary map[string]string) []string {
	t.Helper()
	c := pod.Spec.Containers[0]
	bin := binary[c.Command[0]]
	if bin == "" {
		t.Fatalf("pod %s runs %q, which the test has no binary for", pod.Name, c.Command[0])
	}
	mounts := map[string]string{}
	for _, vm := range c.VolumeMounts {
		for _, v := range pod.Spec.Volumes {
			if v.Name == vm.Name && v.HostPath != nil {
				mounts[vm.MountPath] = filepath.Join(root, v.HostPath.Path)
			}
		}
	}
	env := map[string]string{}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom != nil && e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "status.hostIP":
			env[e.Name] = "127.0.0.1"
		case e.ValueFrom == nil:
			env[e.Name] = e.Value
		default:
			t.Fatalf("pod %s: env %s from %v is not mapped", pod.Name, e.Name, e.ValueFrom)
		}
	}
	addr := regexp.MustCompile(`(?:0\.0\.0\.0|127\.0\.0\.1|[a-z0-9.-]+\.internal\.` + regexp.QuoteMeta(cluster) + `):(\d+)`)
	mapPort := func(s string) string {
		p, err := strconv.Atoi(s)
		if err != nil || ports[p] == 0 {
			t.Fatalf("pod %s: port %s has no loopback stand-in", pod.Name, s)
		}
		return strconv.Itoa(ports[p])
	}
	argv := []string{bin}
	for _, arg := range slices.Concat(c.Command[1:], c.Args) {
		for k, v := range env {
			arg = strings.ReplaceAll(arg, "$("+k+")", v)
		}
		flag, value, hasValue := strings.Cut(arg, "=")
		if hasValue {
			switch {
			case strings.HasSuffix(flag, "-port"):
				value = mapPort(value)
			case value == "0.0.0.0":
				value = "127.0.0.1"
			case strings.HasPrefix(value, "/") && !strings.Contains(value, "#"):
				mapped := ""
				for mp, host := range mounts {
					if value == mp || strings.HasPrefix(value, mp+"/") {
						mapped = host + strings.TrimPrefix(value, mp)
					}
				}
				if mapped == "" {
					t.Fatalf("pod %s: %s names %s, which no volume mount provides", pod.Name, flag, value)
				}
				value = mapped
			}
			value = addr.ReplaceAllStringFunc(value, func(hp string) string {
				return "127.0.0.1:" + mapPort(addr.FindStringSubmatch(hp)[1])
			})
			arg = flag + "=" + value
		}
		argv = append(argv, arg)
	}
	return argv
}

// proc is a started child with its log.
type proc struct {
	name, log string
	cmd       *exec.Cmd
	exited    chan struct{}
}

// startProc starts argv with output to DIR/NAME.log and kills it (by its
// PID) when the test ends.
func startProc(t *testing.T, name string, argv []string, dir string) *proc {
	t.Helper()
	logPath := filepath.Join(dir, name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	p := &proc{name: name, log: logPath, cmd: cmd, exited: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-p.exited
		if t.Failed() {
			t.Logf("--- %s: %s\n--- log tail:\n%s", name, strings.Join(argv, " "), tail(logPath))
		}
	})
	return p
}

// waitReady polls /readyz until it answers ok, for at most a minute, and
// fails early when a process exits.
func waitReady(t *testing.T, client kubernetes.Interface, procs []*proc) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	last := ""
	for {
		body, err := client.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		if err == nil && string(body) == "ok" {
			return
		}
		last = fmt.Sprintf("%v %s", err, body)
		for _, p := range procs {
			select {
			case <-p.exited:
				t.Fatalf("%s exited before the apiserver was ready", p.name)
			default:
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("apiserver not ready after a minute; last /readyz: %s", last)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func tail(path string) string {
	data, _ := os.ReadFile(path)
	if len(data) > 3000 {
		data = data[len(data)-3000:]
	}
	return string(data)
}
