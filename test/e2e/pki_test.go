package e2e

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/kapstan/kapstan/internal/bootstrap"
	"github.com/kapstan/kapstan/internal/nodeup"
	"github.com/kapstan/kapstan/internal/pki"
	"github.com/kapstan/kapstan/internal/registry"
	"github.com/kapstan/kapstan/internal/store"
)

// demoLB is the API load balancer name the PKI tests pretend update found.
const demoLB = "api-demo-k8s-local-0a1b2c3d.elb.us-east-1.amazonaws.com"

// withPKI creates demo.k8s.local in a new file store and does what update
// cluster does for the node side: the cluster's keypairs and secrets, and
// each group's node configuration. update does not call these yet; when
// it does, this should become `update cluster --yes` against moto.
func withPKI(t *testing.T) (dir string, env []string) {
	t.Helper()
	dir, url := fileStore(t)
	env = newEnv(t, url)
	createDemo(t, env)
	s, err := store.NewFile(dir)
	if err != nil {
		t.Fatal(err)
	}
	snap, err := registry.New(s).Get(t.Context(), demoName)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pki.Ensure(t.Context(), s, snap.Manifests, demoLB); err != nil {
		t.Fatal(err)
	}
	if _, err := nodeup.WriteConfigs(t.Context(), s, snap.Manifests, pki.NewKeystore(s, demoName), demoLB); err != nil {
		t.Fatal(err)
	}
	return dir, env
}

// noPrivateKey fails the test if out shows key material.
func noPrivateKey(t *testing.T, what, out string) {
	t.Helper()
	if strings.Contains(out, "PRIVATE KEY") {
		t.Errorf("%s shows a private key:\n%s", what, out)
	}
}

func TestGetKeypairs(t *testing.T) {
	t.Parallel()
	_, url := fileStore(t)
	env := newEnv(t, url)
	createDemo(t, env)
	r := run(t, env, "", "get", "keypairs", "--name", demoName)
	if r.code != 0 || !strings.Contains(r.stderr, "no keypairs yet") {
		t.Errorf("get keypairs before update: %s", r)
	}

	dir, env := withPKI(t)
	out := mustRun(t, env, "", "get", "keypairs", "--name", demoName)
	noPrivateKey(t, "get keypairs", out)
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^kubernetes-ca\s+CA\s+CN=kubernetes-ca\s+CN=kubernetes-ca\s+\S+\s+stored\s+ok$`),
		regexp.MustCompile(`(?m)^kube-apiserver\s+certificate\s+CN=kube-apiserver\s+CN=kubernetes-ca\s+\S+\s+api\.demo\.k8s\.local,api\.internal\.demo\.k8s\.local,` +
			regexp.QuoteMeta(demoLB) + `,… \(9\)\s+stored\s+ok$`),
		regexp.MustCompile(`(?m)^kubelet\s+certificate\s+CN=kubelet,O=system:nodes\s+CN=kubernetes-ca\s`),
	} {
		if !want.MatchString(out) {
			t.Errorf("get keypairs: no line matching %s in:\n%s", want, out)
		}
	}

	var views []struct {
		ID         string   `json:"id"`
		CA         bool     `json:"ca"`
		DNSNames   []string `json:"dnsNames"`
		PrivateKey string   `json:"privateKey"`
		Error      string   `json:"error"`
	}
	js := mustRun(t, env, "", "get", "keypairs", "--name", demoName, "-o", "json")
	noPrivateKey(t, "get keypairs -o json", js)
	if err := json.Unmarshal([]byte(js), &views); err != nil {
		t.Fatalf("get keypairs -o json: %v\n%s", err, js)
	}
	// 5 CAs, the service-account key, 7 control-plane and node
	// certificates, and a server and a peer certificate per member of
	// etcd main and events on 3 control-plane groups.
	if len(views) != 6+7+12 {
		t.Errorf("get keypairs -o json: %d keypairs, want 25", len(views))
	}
	cas := 0
	for _, v := range views {
		if v.CA {
			cas++
		}
		if v.PrivateKey != "stored" || v.Error != "" {
			t.Errorf("keypair %s: private key %s, error %q", v.ID, v.PrivateKey, v.Error)
		}
	}
	if cas != 5 {
		t.Errorf("%d CAs, want 5", cas)
	}

	// A corrupted certificate is listed with what is wrong with it.
	bad := filepath.Join(dir, filepath.FromSlash(pki.CertificateKey(demoName, pki.Scheduler)))
	if err := os.WriteFile(bad, []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	out = mustRun(t, env, "", "get", "keypairs", "--name", demoName)
	if !regexp.MustCompile(`(?m)^kube-scheduler\s.*corrupted certificate`).MatchString(out) {
		t.Errorf("get keypairs does not flag the corrupted kube-scheduler certificate:\n%s", out)
	}
}

func TestSecrets(t *testing.T) {
	t.Parallel()
	_, env := withPKI(t)
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sshPub))) + " admin@example.com"
	keyFile := writeFile(t, "id_ed25519.pub", line+"\n")
	fp := ssh.FingerprintSHA256(sshPub)

	out := mustRun(t, env, "", "create", "secret", "sshpublickey", "--name", demoName, "-i", keyFile)
	if !strings.Contains(out, fp) || !strings.Contains(out, "revision 2") {
		t.Errorf("create secret sshpublickey: %s", out)
	}
	if got := decode(t, mustRun(t, env, "", "get", "cluster", demoName, "-o", "yaml")).Cluster.Spec.SSHPublicKey; got != line {
		t.Errorf("spec.sshPublicKey %q, want %q", got, line)
	}
	if out := mustRun(t, env, "", "create", "secret", "sshpublickey", "--name", demoName, "-i", keyFile); !strings.Contains(out, "nothing to do") {
		t.Errorf("setting the same key again: %s", out)
	}
	if h := history(t, env, demoName); len(h) != 2 || !strings.Contains(h[1].Reason, "sshpublickey") {
		t.Errorf("history after create secret: %+v", h)
	}

	// A private key is refused, and not echoed.
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	privFile := writeFile(t, "id_ed25519", string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})))
	r := run(t, env, "", "create", "secret", "sshpublickey", "--name", demoName, "-i", privFile)
	if r.code == 0 || !strings.Contains(r.stderr, "private key") {
		t.Errorf("create secret sshpublickey with a private key: %s", r)
	}
	noPrivateKey(t, "create secret sshpublickey with a private key", r.stdout+r.stderr)

	hidden := mustRun(t, env, "", "get", "secrets", "--name", demoName)
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^sshpublickey\s+SSHPublicKey\s+` + regexp.QuoteMeta(fp) + `$`),
		regexp.MustCompile(`(?m)^encryption-key\s+Secret\s+[0-9a-f]{16}$`),
	} {
		if !want.MatchString(hidden) {
			t.Errorf("get secrets: no line matching %s in:\n%s", want, hidden)
		}
	}
	if strings.Contains(hidden, "ssh-ed25519") {
		t.Errorf("get secrets shows a value without --reveal:\n%s", hidden)
	}
	revealed := mustRun(t, env, "", "get", "secrets", "--name", demoName, "--reveal", "-o", "json")
	var views []struct{ Name, Type, Fingerprint, Value string }
	if err := json.Unmarshal([]byte(revealed), &views); err != nil {
		t.Fatal(err)
	}
	if len(views) != 2 || views[0].Value != line || len(views[1].Value) != 44 {
		t.Errorf("get secrets --reveal: %+v", views)
	}
	noPrivateKey(t, "get secrets --reveal", revealed)
}

func TestExportKubeconfig(t *testing.T) {
	t.Parallel()
	dir, env := withPKI(t)
	path := filepath.Join(t.TempDir(), "kube", "config")

	// An existing kubeconfig keeps its other entries.
	other := clientcmdapi.NewConfig()
	other.Clusters["other"] = &clientcmdapi.Cluster{Server: "https://other.example.com"}
	other.AuthInfos["other"] = &clientcmdapi.AuthInfo{Token: "t"}
	other.Contexts["other"] = &clientcmdapi.Context{Cluster: "other", AuthInfo: "other"}
	other.CurrentContext = "other"
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := clientcmd.WriteToFile(*other, path); err != nil {
		t.Fatal(err)
	}

	before := time.Now()
	out := mustRun(t, env, "", "export", "kubeconfig", demoName, "--admin", "2h", "--kubeconfig", path)
	noPrivateKey(t, "export kubeconfig", out)
	cfg, err := clientcmd.LoadFromFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.CurrentContext != demoName || cfg.Contexts["other"] == nil || cfg.Clusters["other"] == nil {
		t.Errorf("merged kubeconfig: current %q, contexts %v", cfg.CurrentContext, keys(cfg.Contexts))
	}
	if got := cfg.Clusters[demoName].Server; got != "https://"+demoLB {
		t.Errorf("server %q, want the load balancer's name", got)
	}
	if fi, err := os.Stat(path); err != nil {
		t.Error(err)
	} else if fi.Mode().Perm() != 0o600 {
		t.Errorf("kubeconfig mode %v, want 0600: it holds a private key", fi.Mode().Perm())
	}
	cert, err := parseCert(cfg.AuthInfos[demoName].ClientCertificateData)
	if err != nil {
		t.Fatal(err)
	}
	if d := cert.NotAfter.Sub(before); d < 2*time.Hour-time.Minute || d > 2*time.Hour+time.Minute {
		t.Errorf("admin certificate valid %s from now, want 2h", d)
	}
	ca, err := parseCert(cfg.Clusters[demoName].CertificateAuthorityData)
	if err != nil {
		t.Fatal(err)
	}
	if err := cert.CheckSignatureFrom(ca); err != nil || cert.Subject.Organization[0] != "system:masters" {
		t.Errorf("admin certificate %v: %v", cert.Subject, err)
	}

	// --internal names the internal API record.
	mustRun(t, env, "", "export", "kubeconfig", demoName, "--admin", "1h", "--kubeconfig", path, "--internal")
	if cfg, err = clientcmd.LoadFromFile(path); err != nil || cfg.Clusters[demoName].Server != "https://api.internal."+demoName {
		t.Errorf("--internal: server %q, %v", cfg.Clusters[demoName].Server, err)
	}

	for name, args := range map[string][]string{
		"no --admin":     {"export", "kubeconfig", demoName, "--kubeconfig", path},
		"unknown":        {"export", "kubeconfig", "nope.k8s.local", "--admin", "1h", "--kubeconfig", path},
		"too long-lived": {"export", "kubeconfig", demoName, "--admin", "9000h", "--kubeconfig", path},
	} {
		if r := run(t, env, "", args...); r.code == 0 {
			t.Errorf("%s: exit 0\n%s", name, r)
		}
	}

	// A corrupted CA key is named, and nothing is written.
	keyPath := filepath.Join(dir, filepath.FromSlash(pki.PrivateKeyKey(demoName, pki.KubernetesCA)))
	if err := os.WriteFile(keyPath, []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	fresh := filepath.Join(t.TempDir(), "config")
	r := run(t, env, "", "export", "kubeconfig", demoName, "--admin", "1h", "--kubeconfig", fresh)
	if r.code == 0 || !strings.Contains(r.stderr, `keypair "kubernetes-ca"`) || !strings.Contains(r.stderr, "corrupted private key") {
		t.Errorf("export with a corrupted CA key: %s", r)
	}
	if _, err := os.Stat(fresh); err == nil {
		t.Error("a kubeconfig was written despite the error")
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func parseCert(data []byte) (*x509.Certificate, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, os.ErrInvalid
	}
	return x509.ParseCertificate(block.Bytes)
}

// TestNodeupFromTheBootScript runs the nodeup command line of the boot
// script update puts in launch templates, against the node configurations
// in the store, with --root pointed at a folder.
func TestNodeupFromTheBootScript(t *testing.T) {
	t.Parallel()
	dir, env := withPKI(t)
	url := "file://" + filepath.ToSlash(dir)
	for _, ig := range []string{"control-plane-us-east-1b", "nodes"} {
		t.Run(ig, func(t *testing.T) {
			script, err := bootstrap.UserData(bootstrap.Input{Cluster: demoName, InstanceGroup: ig, Role: "x",
				StateStore: url, AgentURL: "https://example.com/nodeup", AgentSHA256: strings.Repeat("0f", 32)})
			if err != nil {
				t.Fatal(err)
			}
			args := nodeupArgs(t, script)
			root := t.TempDir()
			for i, a := range args {
				if a == "--root" {
					args[i+1] = root
				}
			}
			// The unit sets KAPSTAN_STATE_STORE; the binary must find
			// the configuration there.
			out := mustRun(t, withEnv(env, "KAPSTAN_STATE_STORE="+url), "", args...)
			noPrivateKey(t, "nodeup", out)
			if !strings.Contains(out, "files changed") || !strings.Contains(out, nodeup.KubeletConfigPath) {
				t.Errorf("nodeup: %s", out)
			}
			if _, err := os.Stat(filepath.Join(root, nodeup.KubeletKubeconfigPath)); err != nil {
				t.Error(err)
			}
			if out := mustRun(t, env, "", args...); !strings.Contains(out, "no changes") {
				t.Errorf("second nodeup: %s", out)
			}
			dry := t.TempDir()
			dryArgs := append([]string(nil), args...)
			for i, a := range dryArgs {
				if a == "--root" {
					dryArgs[i+1] = dry
				}
			}
			if out := mustRun(t, env, "", append(dryArgs, "--dry-run")...); !strings.Contains(out, "would change") {
				t.Errorf("nodeup --dry-run: %s", out)
			}
			if entries, _ := os.ReadDir(dry); len(entries) != 0 {
				t.Errorf("nodeup --dry-run wrote %d entries", len(entries))
			}
		})
	}
	r := run(t, env, "", "nodeup", "--cluster", demoName, "--instance-group", "nope", "--root", t.TempDir())
	if r.code == 0 || !strings.Contains(r.stderr, demoName+"/nodeup/nope") {
		t.Errorf("nodeup of an unknown group: %s", r)
	}
}

// nodeupArgs extracts the arguments of the agent's command line in the
// boot script's systemd unit (ExecStart=AGENT ARGS...), for the binary's
// nodeup command, which runs the same code as the agent.
func nodeupArgs(t *testing.T, script string) []string {
	t.Helper()
	for _, l := range strings.Split(script, "\n") {
		if rest, ok := strings.CutPrefix(l, "ExecStart="+bootstrap.AgentPath+" "); ok {
			return append([]string{"nodeup"}, strings.Fields(rest)...)
		}
	}
	t.Fatalf("no ExecStart=%s line in the boot script:\n%s", bootstrap.AgentPath, script)
	return nil
}
