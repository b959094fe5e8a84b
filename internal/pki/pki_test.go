package pki_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kapstan/kapstan/internal/pki"
	"github.com/kapstan/kapstan/internal/store"
	api "github.com/kapstan/kapstan/pkg/apis/kapstan/v1alpha1"
)

// manifests is a defaulted cluster with one control-plane group per zone
// of zones.
func manifests(t *testing.T, name string, zones ...string) *api.Manifests {
	t.Helper()
	m := &api.Manifests{Cluster: &api.Cluster{Metadata: api.ObjectMeta{Name: name}, Spec: api.ClusterSpec{Zones: zones}}}
	for _, z := range zones {
		m.Cluster.Spec.Subnets = append(m.Cluster.Spec.Subnets, api.ClusterSubnet{Zone: z, Type: api.SubnetTypePublic})
		m.InstanceGroups = append(m.InstanceGroups, &api.InstanceGroup{
			Metadata: api.ObjectMeta{Name: "control-plane-" + z},
			Spec:     api.InstanceGroupSpec{Role: api.RoleControlPlane, Subnets: []string{z}},
		})
	}
	api.SetDefaults(m)
	return m
}

func ensure(t *testing.T, s store.Store, m *api.Manifests, lb string) []pki.Change {
	t.Helper()
	changes, err := pki.Ensure(t.Context(), s, m, lb)
	if err != nil {
		t.Fatalf("Ensure: %v", err)
	}
	return changes
}

func TestEnsureCreatesEveryKeypairOnceWithSecretKeys(t *testing.T) {
	dir := t.TempDir()
	s, err := store.NewFile(dir)
	if err != nil {
		t.Fatal(err)
	}
	m := manifests(t, "demo.example.com", "us-east-1a")
	changes := ensure(t, s, m, "")

	var got []string
	for _, c := range changes {
		if c.Action != pki.Created {
			t.Errorf("first Ensure: %s, want only created", c)
		}
		got = append(got, c.ID)
	}
	want := []string{
		"kubernetes-ca", "etcd-server-ca", "etcd-peer-ca", "etcd-client-ca", "front-proxy-ca", "service-account",
		"kube-apiserver", "kube-apiserver-kubelet-client", "kube-apiserver-etcd-client", "front-proxy-client",
		"kube-controller-manager", "kube-scheduler", "kubelet",
		"etcd-main-control-plane-us-east-1a-server", "etcd-main-control-plane-us-east-1a-peer",
		"etcd-events-control-plane-us-east-1a-server", "etcd-events-control-plane-us-east-1a-peer",
		"encryption-key",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("created keypairs (-want +got):\n%s", diff)
	}

	// Keys and secrets are 0600, certificates 0644.
	if fi, err := os.Stat(filepath.Join(dir, filepath.FromSlash(pki.SecretKey(m.Cluster.Metadata.Name, pki.EncryptionKey)))); err != nil {
		t.Error(err)
	} else if fi.Mode().Perm() != 0o600 {
		t.Errorf("encryption key: mode %v, want 0600", fi.Mode().Perm())
	}
	for _, id := range want[:len(want)-1] {
		for path, mode := range map[string]os.FileMode{
			pki.PrivateKeyKey(m.Cluster.Metadata.Name, id):  0o600,
			pki.CertificateKey(m.Cluster.Metadata.Name, id): 0o644,
		} {
			fi, err := os.Stat(filepath.Join(dir, filepath.FromSlash(path)))
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != mode {
				t.Errorf("%s: mode %v, want %v", path, fi.Mode().Perm(), mode)
			}
		}
	}

	before := snapshot(t, s, "demo.example.com/")
	if again := ensure(t, s, m, ""); len(again) != 0 {
		t.Errorf("second Ensure changed %v, want nothing", again)
	}
	if diff := cmp.Diff(before, snapshot(t, s, "demo.example.com/")); diff != "" {
		t.Errorf("second Ensure rewrote objects:\n%s", diff)
	}
}

// snapshot maps every key under prefix to its content.
func snapshot(t *testing.T, s store.Store, prefix string) map[string]string {
	t.Helper()
	keys, err := s.List(t.Context(), prefix)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, k := range keys {
		obj, err := s.Get(t.Context(), k)
		if err != nil {
			t.Fatal(err)
		}
		out[k] = string(obj.Data)
	}
	return out
}

func TestAPIServerSANs(t *testing.T) {
	for _, tc := range []struct {
		name, cluster, lb string
		wantDNS           []string
	}{
		{
			name: "dns zone", cluster: "demo.example.com",
			wantDNS: []string{"api.demo.example.com", "api.internal.demo.example.com",
				"kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"},
		},
		{
			name: "gossip with its load balancer", cluster: "demo.k8s.local", lb: "api-demo-k8s-local-abc.elb.us-east-1.amazonaws.com",
			wantDNS: []string{"api.demo.k8s.local", "api.internal.demo.k8s.local", "api-demo-k8s-local-abc.elb.us-east-1.amazonaws.com",
				"kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := store.NewMemory("")
			m := manifests(t, tc.cluster, "us-east-1a")
			ensure(t, s, m, tc.lb)
			cert, err := pki.NewKeystore(s, tc.cluster).Certificate(t.Context(), pki.APIServer)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.wantDNS, cert.DNSNames); diff != "" {
				t.Errorf("DNS SANs (-want +got):\n%s", diff)
			}
			// 100.64.0.1 is the first address of the default service range.
			if diff := cmp.Diff([]string{"100.64.0.1", "127.0.0.1"}, ipStrings(cert.IPAddresses)); diff != "" {
				t.Errorf("IP SANs (-want +got):\n%s", diff)
			}
			if !slices.Equal(cert.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}) {
				t.Errorf("usage %v, want server auth only", cert.ExtKeyUsage)
			}
			if got := pki.LoadBalancerName(m.Cluster, cert); got != tc.lb {
				t.Errorf("LoadBalancerName: %q, want %q", got, tc.lb)
			}
		})
	}
}

func ipStrings(ips []net.IP) []string {
	var out []string
	for _, ip := range ips {
		out = append(out, ip.String())
	}
	return out
}

func TestEnsureResignsTheServingCertificateWhenTheLoadBalancerIsKnown(t *testing.T) {
	const name = "demo.k8s.local"
	s := store.NewMemory("")
	m := manifests(t, name, "us-east-1a")
	ks := pki.NewKeystore(s, name)
	ensure(t, s, m, "")
	old, err := ks.Get(t.Context(), pki.APIServer)
	if err != nil {
		t.Fatal(err)
	}
	caBefore := snapshot(t, s, pki.CertificateKey(name, pki.KubernetesCA))

	const lb = "api-demo-k8s-local-0123.elb.us-east-1.amazonaws.com"
	changes := ensure(t, s, m, lb)
	if len(changes) != 1 || changes[0].ID != pki.APIServer || changes[0].Action != pki.Reissued || !strings.Contains(changes[0].Reason, lb) {
		t.Fatalf("Ensure with the load balancer: %v, want only kube-apiserver reissued for lacking %s", changes, lb)
	}
	cur, err := ks.Get(t.Context(), pki.APIServer)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(cur.Cert.DNSNames, lb) {
		t.Errorf("new certificate lacks %s: %v", lb, cur.Cert.DNSNames)
	}
	if !cur.Cert.PublicKey.(interface{ Equal(crypto.PublicKey) bool }).Equal(old.Cert.PublicKey) {
		t.Error("re-signing replaced the apiserver's key; it must keep it")
	}
	if diff := cmp.Diff(caBefore, snapshot(t, s, pki.CertificateKey(name, pki.KubernetesCA))); diff != "" {
		t.Errorf("the CA changed:\n%s", diff)
	}
	// A later run that does not know the name yet must not drop it.
	if again := ensure(t, s, m, ""); len(again) != 0 {
		t.Errorf("Ensure without the load balancer after it was known: %v, want nothing", again)
	}
}

// TestOpenSSLVerify checks every issued certificate with the openssl
// binary, against its CA and for its purpose.
func TestOpenSSLVerify(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Fatalf("this test needs the openssl binary: %v", err)
	}
	const name = "demo.example.com"
	s := store.NewMemory("")
	m := manifests(t, name, "us-east-1a", "us-east-1b", "us-east-1c")
	ensure(t, s, m, "")
	specs, err := pki.ClusterSpecs(m, "")
	if err != nil {
		t.Fatal(err)
	}
	ks := pki.NewKeystore(s, name)
	dir := t.TempDir()
	write := func(id string) string {
		cert, err := ks.Certificate(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, id+".crt")
		if err := os.WriteFile(path, pki.EncodeCertificate(cert), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	admin, err := ks.Issue(t.Context(), pki.AdminSpec(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	adminPath := filepath.Join(dir, "admin.crt")
	if err := os.WriteFile(adminPath, admin.CertificatePEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	specs = append(specs, pki.AdminSpec(time.Hour))

	verified := 0
	for _, spec := range specs {
		if spec.CA == "" {
			continue
		}
		leaf := adminPath
		if spec.ID != "admin" {
			leaf = write(spec.ID)
		}
		ca := write(spec.CA)
		purposes := map[pki.Usage]string{pki.UsageServer: "sslserver", pki.UsageClient: "sslclient"}
		for usage, purpose := range purposes {
			if spec.Usage&usage == 0 {
				continue
			}
			out, err := exec.Command(openssl, "verify", "-purpose", purpose, "-CAfile", ca, leaf).CombinedOutput()
			if err != nil || !bytes.Contains(out, []byte(": OK")) {
				t.Errorf("openssl verify -purpose %s %s against %s: %v\n%s", purpose, spec.ID, spec.CA, err, out)
			}
			verified++
		}
		// And not against another CA.
		other := pki.EtcdPeerCA
		if spec.CA == other {
			other = pki.KubernetesCA
		}
		if out, err := exec.Command(openssl, "verify", "-CAfile", write(other), leaf).CombinedOutput(); err == nil {
			t.Errorf("openssl verify %s against the wrong CA %s succeeded:\n%s", spec.ID, other, out)
		}
	}
	if verified < 20 {
		t.Errorf("verified %d certificates, want every leaf of a 3-member cluster", verified)
	}
}

func TestUnusableKeypairsAreNamed(t *testing.T) {
	const name = "demo.example.com"
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		break_ func(t *testing.T, s store.Store)
		clock  time.Time
		want   []string
	}{
		{
			name: "corrupted private key",
			break_: func(t *testing.T, s store.Store) {
				put(t, s, pki.PrivateKeyKey(name, pki.KubernetesCA), "-----BEGIN PRIVATE KEY-----\nnot base64\n-----END PRIVATE KEY-----\n")
			},
			want: []string{`keypair "kubernetes-ca"`, "demo.example.com/pki/private/kubernetes-ca.key", "corrupted private key"},
		},
		{
			name: "corrupted certificate",
			break_: func(t *testing.T, s store.Store) {
				put(t, s, pki.CertificateKey(name, pki.EtcdPeerCA), "garbage")
			},
			want: []string{`keypair "etcd-peer-ca"`, "demo.example.com/pki/issued/etcd-peer-ca.crt", "corrupted certificate"},
		},
		{
			name: "key of another keypair",
			break_: func(t *testing.T, s store.Store) {
				obj, err := s.Get(t.Context(), pki.PrivateKeyKey(name, pki.Kubelet))
				if err != nil {
					t.Fatal(err)
				}
				put(t, s, pki.PrivateKeyKey(name, pki.Scheduler), string(obj.Data))
			},
			want: []string{`keypair "kube-scheduler"`, "does not match the certificate"},
		},
		{
			name:  "expired",
			clock: time.Now().Add(pki.LeafLifetime + 24*time.Hour),
			want:  []string{`keypair "kube-apiserver"`, "certificate expired on"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := store.NewMemory("")
			m := manifests(t, name, "us-east-1a")
			ensure(t, s, m, "")
			if tc.break_ != nil {
				tc.break_(t, s)
			}
			var opts []pki.Option
			if !tc.clock.IsZero() {
				opts = append(opts, pki.WithClock(func() time.Time { return tc.clock }))
			}
			specs, err := pki.ClusterSpecs(m, "")
			if err != nil {
				t.Fatal(err)
			}
			_, err = pki.NewKeystore(s, name, opts...).Ensure(ctx, specs)
			if err == nil {
				t.Fatal("Ensure succeeded, want an error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			var ke *pki.KeyError
			if !errors.As(err, &ke) {
				t.Errorf("error %v is not a *pki.KeyError", err)
			}
			if strings.Contains(err.Error(), "BEGIN") {
				t.Errorf("error quotes key material: %v", err)
			}
		})
	}
}

func put(t *testing.T, s store.Store, key, data string) {
	t.Helper()
	if _, err := s.Put(t.Context(), key, []byte(data), store.Unconditionally()); err != nil {
		t.Fatal(err)
	}
}

// TestEnsureReusesAKeyWrittenBeforeACrash: the key is written before the
// certificate, so a run killed between them leaves a key the next run
// signs.
func TestEnsureReusesAKeyWrittenBeforeACrash(t *testing.T) {
	const name = "demo.example.com"
	s := store.NewMemory("")
	m := manifests(t, name, "us-east-1a")
	ensure(t, s, m, "")
	keyObj, err := s.Get(t.Context(), pki.PrivateKeyKey(name, pki.Kubelet))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(t.Context(), pki.CertificateKey(name, pki.Kubelet), store.Unconditionally()); err != nil {
		t.Fatal(err)
	}
	changes := ensure(t, s, m, "")
	if len(changes) != 1 || changes[0].ID != pki.Kubelet || changes[0].Action != pki.Created {
		t.Fatalf("changes %v, want kubelet created", changes)
	}
	kp, err := pki.NewKeystore(s, name).Get(t.Context(), pki.Kubelet)
	if err != nil {
		t.Fatal(err)
	}
	pemKey, err := kp.PrivateKeyPEM()
	if err != nil {
		t.Fatal(err)
	}
	if string(pemKey) != string(keyObj.Data) {
		t.Error("the certificate was made for a new key, not the one left behind")
	}
}

func TestPrivateKeysNeverPrint(t *testing.T) {
	s := store.NewMemory("")
	m := manifests(t, "demo.example.com", "us-east-1a")
	ensure(t, s, m, "")
	kp, err := pki.NewKeystore(s, "demo.example.com").Get(t.Context(), pki.KubernetesCA)
	if err != nil {
		t.Fatal(err)
	}
	key, err := kp.PrivateKeyPEM()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(key), "PRIVATE KEY") {
		t.Fatal("string(key) must give the PEM")
	}
	for _, format := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X"} {
		for what, v := range map[string]any{"PrivateKeyPEM": key, "Keypair": kp, "struct": struct{ K pki.PrivateKeyPEM }{key}} {
			if out := fmt.Sprintf(format, v); strings.Contains(out, "PRIVATE") || strings.Contains(out, string(key[40:60])) {
				t.Errorf("fmt %s of %s shows the key: %s", format, what, out)
			}
		}
	}
}

func TestIssueAdmin(t *testing.T) {
	const name = "demo.example.com"
	s := store.NewMemory("")
	ensure(t, s, manifests(t, name, "us-east-1a"), "")
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	ks := pki.NewKeystore(s, name, pki.WithClock(func() time.Time { return now }))
	kp, err := ks.Issue(t.Context(), pki.AdminSpec(18*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := kp.Cert.NotAfter, now.Add(18*time.Hour); !got.Equal(want) {
		t.Errorf("NotAfter %v, want %v", got, want)
	}
	if kp.Cert.Subject.CommonName != pki.AdminUser || !slices.Equal(kp.Cert.Subject.Organization, []string{"system:masters"}) {
		t.Errorf("subject %v", kp.Cert.Subject)
	}
	ca, err := ks.Certificate(t.Context(), pki.KubernetesCA)
	if err != nil {
		t.Fatal(err)
	}
	if err := kp.Cert.CheckSignatureFrom(ca); err != nil {
		t.Errorf("admin certificate not signed by the Kubernetes CA: %v", err)
	}
	// Issue stores nothing.
	if _, err := ks.Certificate(t.Context(), "admin"); !errors.Is(err, pki.ErrNotFound) {
		t.Errorf("admin certificate stored: %v", err)
	}
}

func TestServiceIP(t *testing.T) {
	for _, tc := range []struct {
		cidr string
		n    int
		want string
		err  bool
	}{
		{"100.64.0.0/13", 1, "100.64.0.1", false},
		{"100.64.0.0/13", 10, "100.64.0.10", false},
		{"10.0.0.5/24", 1, "10.0.0.1", false},
		{"10.0.0.0/30", 10, "", true},
		{"nonsense", 1, "", true},
	} {
		got, err := pki.ServiceIP(tc.cidr, tc.n)
		if (err != nil) != tc.err || (err == nil && got.String() != tc.want) {
			t.Errorf("ServiceIP(%s, %d) = %v, %v; want %s (error %v)", tc.cidr, tc.n, got, err, tc.want, tc.err)
		}
	}
}

func TestListShowsWhatIsWrong(t *testing.T) {
	const name = "demo.example.com"
	s := store.NewMemory("")
	ensure(t, s, manifests(t, name, "us-east-1a"), "")
	put(t, s, pki.CertificateKey(name, pki.Scheduler), "garbage")
	if err := s.Delete(t.Context(), pki.PrivateKeyKey(name, pki.Kubelet), store.Unconditionally()); err != nil {
		t.Fatal(err)
	}
	infos, err := pki.NewKeystore(s, name).List(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(infos) != 17 {
		t.Fatalf("List: %d keypairs, want 17", len(infos))
	}
	for _, info := range infos {
		switch info.ID {
		case pki.Scheduler:
			if info.Err == nil || !strings.Contains(info.Err.Error(), "corrupted certificate") {
				t.Errorf("kube-scheduler: error %v", info.Err)
			}
		case pki.Kubelet:
			if info.HasPrivateKey || info.Err != nil {
				t.Errorf("kubelet: has key %v, error %v; want a missing key", info.HasPrivateKey, info.Err)
			}
		default:
			if !info.HasPrivateKey || info.Err != nil || info.Cert == nil {
				t.Errorf("%s: has key %v, error %v", info.ID, info.HasPrivateKey, info.Err)
			}
		}
	}

	// Expired certificates are listed, with their certificate.
	later := pki.NewKeystore(s, name, pki.WithClock(func() time.Time { return time.Now().Add(pki.CALifetime + time.Hour) }))
	infos, err = later.List(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, info := range infos {
		if info.ID != pki.Scheduler && (!errors.Is(info.Err, pki.ErrExpired) || info.Cert == nil) {
			t.Errorf("%s ten years on: error %v, certificate %v", info.ID, info.Err, info.Cert != nil)
		}
	}
}
