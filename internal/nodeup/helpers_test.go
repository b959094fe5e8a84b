package nodeup_test

import (
	"regexp"
	"testing"

	"github.com/kapstan/kapstan/internal/newcluster"
	"github.com/kapstan/kapstan/internal/nodeup"
	"github.com/kapstan/kapstan/internal/pki"
	"github.com/kapstan/kapstan/internal/store"
	api "github.com/kapstan/kapstan/pkg/apis/kapstan/v1alpha1"
)

// dnsCluster has a DNS zone and three control-plane groups, so etcd has
// three members.
func dnsCluster(t *testing.T) *api.Manifests {
	t.Helper()
	return newCluster(t, newcluster.Options{Name: "demo.example.com",
		Zones: []string{"us-east-1a", "us-east-1b", "us-east-1c"}, ControlPlaneCount: 3, NodeCount: 2, Bastion: true, Topology: "private"})
}

// gossipCluster is a .k8s.local cluster with one control-plane group.
func gossipCluster(t *testing.T) *api.Manifests {
	t.Helper()
	return newCluster(t, newcluster.Options{Name: "demo.k8s.local", Zones: []string{"us-east-1a"}, ControlPlaneCount: 1, NodeCount: 1})
}

func newCluster(t *testing.T, o newcluster.Options) *api.Manifests {
	t.Helper()
	m, err := newcluster.Build(o)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// withPKI makes the cluster's keypairs in a new memory store.
func withPKI(t *testing.T, m *api.Manifests, lb string) (store.Store, *pki.Keystore) {
	t.Helper()
	s := store.NewMemory("")
	if _, err := pki.Ensure(t.Context(), s, m, lb); err != nil {
		t.Fatal(err)
	}
	return s, pki.NewKeystore(s, m.Cluster.Metadata.Name)
}

// nodeConfig builds the configuration of ig in a cluster with fresh keys.
func nodeConfig(t *testing.T, m *api.Manifests, ig, lb string) *nodeup.NodeConfig {
	t.Helper()
	_, ks := withPKI(t, m, lb)
	cfg, err := nodeup.Build(t.Context(), m, ig, ks, lb)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

var pemBlock = regexp.MustCompile(`-----BEGIN ([A-Z ]+)-----[A-Za-z0-9+/=\s]*?-----END [A-Z ]+-----`)

var secretField = regexp.MustCompile(`(encryptionKey|secret): \S+`)

// normalize replaces each PEM block, which is random, with its type, and
// the encryption key with a placeholder, so golden files are stable and
// hold no key.
func normalize(data []byte) []byte {
	data = pemBlock.ReplaceAll(data, []byte("<PEM $1>"))
	return secretField.ReplaceAll(data, []byte("$1: <SECRET>"))
}
