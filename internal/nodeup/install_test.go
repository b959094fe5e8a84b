package nodeup_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kapstan/kapstan/internal/assets"
	"github.com/kapstan/kapstan/internal/nodeup"
)

// recordingServices is a fake of nodeup.Services that records each Apply.
type recordingServices struct {
	mu    sync.Mutex
	calls [][]string
}

var _ nodeup.Services = (*recordingServices)(nil)

func (r *recordingServices) Apply(_ context.Context, changed []string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, slices.Clone(changed))
	return nil
}

// restarted is what the last Apply restarts under nodeup's rule.
func (r *recordingServices) restarted(t *testing.T) []string {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.calls) == 0 {
		t.Fatal("Services.Apply was not called")
	}
	return nodeup.UnitsToRestart(r.calls[len(r.calls)-1])
}

// fast retries quickly, so tests of failures do not wait.
var fast = nodeup.Backoff{Initial: time.Millisecond, Max: 5 * time.Millisecond, Attempts: 3}

// mirror is a file:// asset mirror in a temporary folder.
type mirror struct {
	dir string
}

func newMirror(t *testing.T) *mirror { t.Helper(); return &mirror{dir: t.TempDir()} }

func (m *mirror) url() string { return "file://" + filepath.ToSlash(m.dir) }

// put stores data at path in the mirror and returns its asset.
func (m *mirror) put(t *testing.T, name, version, path string, data []byte) assets.Asset {
	t.Helper()
	full := filepath.Join(m.dir, filepath.FromSlash(path))
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(full, data, 0o644); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	return assets.Asset{Name: name, Kind: assets.KindFile, Version: version, Path: path,
		SHA256: hex.EncodeToString(sum[:]), Size: int64(len(data))}
}

// tarGz is a gzipped tar of files (name → content; a name ending in "/"
// is a folder).
func tarGz(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		h := &tar.Header{Name: n, Mode: 0o755, Size: int64(len(files[n])), Typeflag: tar.TypeReg}
		if strings.HasSuffix(n, "/") {
			h.Typeflag, h.Size = tar.TypeDir, 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(files[n])); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// nodeAssets puts a node's four file assets in m, at kubelet version kv.
func nodeAssets(t *testing.T, m *mirror, kv string) []assets.Asset {
	t.Helper()
	return []assets.Asset{
		m.put(t, "containerd", "1.7.28", "containerd/v1.7.28/containerd-1.7.28-linux-amd64.tar.gz", tarGz(t, map[string]string{
			"bin/": "", "bin/containerd": "containerd 1.7.28", "bin/containerd-shim-runc-v2": "shim", "bin/ctr": "ctr",
		})),
		m.put(t, "runc", "1.3.0", "runc/v1.3.0/runc.amd64", []byte("runc 1.3.0")),
		m.put(t, "cni-plugins", "1.7.1", "cni-plugins/v1.7.1/cni-plugins-linux-amd64-v1.7.1.tgz", tarGz(t, map[string]string{
			"./bridge": "bridge", "./host-local": "host-local", "./loopback": "loopback", "./portmap": "portmap",
		})),
		m.put(t, "kubelet", kv, "kubernetes/"+kv+"/linux/amd64/kubelet", []byte("kubelet "+kv)),
		// Neither an image nor the agent is installed by nodeup.
		{Name: "image/pause", Kind: assets.KindImage, Version: "3.10.1", Image: "registry.k8s.io/pause:3.10.1"},
		{Name: nodeup.AgentAsset, Kind: assets.KindFile, Version: "v0.1.0", Path: "nodeup/v0.1.0/nodeup", SHA256: strings.Repeat("0", 64)},
	}
}

// readLink is the target of the symlink at p under root, "" if none.
func readLink(root, p string) string {
	target, _ := os.Readlink(filepath.Join(root, p))
	return target
}

// readThrough reads p under root, following its symlinks inside root.
func readThrough(t *testing.T, root, p string) string {
	t.Helper()
	for range 10 {
		target, err := os.Readlink(filepath.Join(root, p))
		if err != nil {
			break
		}
		if !filepath.IsAbs(target) {
			target = filepath.Join(filepath.Dir(p), target)
		}
		p = target
	}
	data, err := os.ReadFile(filepath.Join(root, p))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// TestInstallAssets installs a node's assets from a file:// mirror, then
// runs again with the mirror gone: the second run downloads nothing,
// changes nothing and restarts nothing.
func TestInstallAssets(t *testing.T) {
	m := newMirror(t)
	cfg := nodeConfig(t, gossipCluster(t), "nodes", "api.example.com")
	cfg.Assets, cfg.AssetsMirror = nodeAssets(t, m, "1.36.3"), m.url()
	root := t.TempDir()
	svc := &recordingServices{}
	opts := nodeup.Options{Root: root, Host: &nodeup.Host{}, Services: svc, Backoff: fast}

	res, err := nodeup.Run(t.Context(), cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		nodeup.CurrentPath("containerd"), nodeup.ContainerdBinary, nodeup.ContainerdShimBinary, nodeup.CtrBinary,
		nodeup.CurrentPath("runc"), nodeup.RuncBinary, nodeup.CurrentPath("cni-plugins"),
		nodeup.CurrentPath("kubelet"), nodeup.KubeletBinary, nodeup.ContainerdUnitPath, nodeup.KubeletConfigPath,
	} {
		if !slices.Contains(res.Changed, want) {
			t.Errorf("first run did not change %s; changed %v", want, res.Changed)
		}
	}
	if diff := cmp.Diff([]string{nodeup.UnitContainerd, nodeup.UnitKubelet}, res.Restart); diff != "" {
		t.Errorf("units restarted (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(res.Restart, svc.restarted(t)); diff != "" {
		t.Errorf("Services.Apply restarts other units than reported (-reported +applied):\n%s", diff)
	}
	for p, want := range map[string]string{
		nodeup.KubeletBinary:                          "kubelet 1.36.3",
		nodeup.ContainerdBinary:                       "containerd 1.7.28",
		nodeup.RuncBinary:                             "runc 1.3.0",
		nodeup.CurrentPath("cni-plugins") + "/bridge": "bridge",
	} {
		if got := readThrough(t, root, p); got != want {
			t.Errorf("%s holds %q, want %q", p, got, want)
		}
	}
	kubelet := cfg.Assets[3]
	if got, want := readLink(root, nodeup.CurrentPath("kubelet")), "1.36.3-"+kubelet.SHA256[:12]; got != want {
		t.Errorf("kubelet's current symlink points to %q, want %q", got, want)
	}
	fi, err := os.Stat(filepath.Join(root, nodeup.AssetsDir, "kubelet", "1.36.3-"+kubelet.SHA256[:12], "kubelet"))
	if err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("kubelet binary: %v, mode %v", err, fi)
	}
	for _, absent := range []string{"nodeup", "image", ".staging"} {
		if _, err := os.Lstat(filepath.Join(root, nodeup.AssetsDir, absent)); err == nil {
			t.Errorf("%s/%s exists", nodeup.AssetsDir, absent)
		}
	}
	containerd := readThrough(t, root, nodeup.ContainerdConfigPath)
	if !strings.Contains(containerd, `bin_dir = "/opt/kapstan/cni-plugins/current"`) {
		t.Errorf("containerd does not look for the CNI plugins where they are:\n%s", containerd)
	}

	// The mirror is gone: a run that needs it fails.
	if err := os.RemoveAll(m.dir); err != nil {
		t.Fatal(err)
	}
	res, err = nodeup.Run(t.Context(), cfg, opts)
	if err != nil {
		t.Fatalf("second run: %v", err)
	}
	if len(res.Changed) != 0 || len(res.Restart) != 0 {
		t.Errorf("second run changed %v and restarts %v, want nothing", res.Changed, res.Restart)
	}
	if got := svc.restarted(t); len(got) != 0 {
		t.Errorf("second run restarted %v", got)
	}
}

// TestTamperedAsset changes one byte of a mirrored asset. The run fails
// naming the asset and both hashes, and nothing of the run is installed:
// no version folder, no staging leftovers, no symlink switched (not even
// another asset's), no file written.
func TestTamperedAsset(t *testing.T) {
	for _, tc := range []struct {
		name string
		// installed is the kubelet version installed before, "" for none.
		installed string
	}{
		{name: "first boot"},
		{name: "upgrade", installed: "1.36.2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newMirror(t)
			cfg := nodeConfig(t, gossipCluster(t), "nodes", "api.example.com")
			cfg.AssetsMirror = m.url()
			root := t.TempDir()
			svc := &recordingServices{}
			opts := nodeup.Options{Root: root, Host: &nodeup.Host{}, Services: svc, Backoff: fast}
			var before map[string]string
			if tc.installed != "" {
				cfg.Assets = nodeAssets(t, m, tc.installed)
				if _, err := nodeup.Run(t.Context(), cfg, opts); err != nil {
					t.Fatal(err)
				}
				before = links(root)
				svc.calls = nil
			}
			cfg.Assets = nodeAssets(t, m, "1.36.3")
			kubelet := cfg.Assets[3]
			full := filepath.Join(m.dir, filepath.FromSlash(kubelet.Path))
			data, err := os.ReadFile(full)
			if err != nil {
				t.Fatal(err)
			}
			data[0] ^= 1
			if err := os.WriteFile(full, data, 0o644); err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(data)
			got := hex.EncodeToString(sum[:])
			if tc.installed == "" {
				// Remove the written files' evidence: nothing may be written.
				_ = os.RemoveAll(filepath.Join(root, "etc"))
			}

			_, err = nodeup.Run(t.Context(), cfg, opts)
			var mm *nodeup.HashMismatchError
			if !errors.As(err, &mm) {
				t.Fatalf("got error %v, want a hash mismatch", err)
			}
			for _, want := range []string{"kubelet", "1.36.3", kubelet.SHA256, got, kubelet.Path} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not name %q", err, want)
				}
			}
			if _, err := os.Stat(filepath.Join(root, nodeup.AssetsDir, "kubelet", "1.36.3-"+kubelet.SHA256[:12])); err == nil {
				t.Error("the tampered kubelet's version folder exists")
			}
			if _, err := os.Stat(filepath.Join(root, nodeup.AssetsDir, ".staging")); err == nil {
				t.Error("the staging folder was left behind")
			}
			if diff := cmp.Diff(before, links(root)); diff != "" {
				t.Errorf("symlinks changed (-before +after):\n%s", diff)
			}
			if tc.installed == "" {
				if _, err := os.Stat(filepath.Join(root, "etc")); err == nil {
					t.Error("files were written after a refused asset")
				}
			}
			if len(svc.calls) != 0 {
				t.Errorf("services were applied after a refused asset: %v", svc.calls)
			}
		})
	}
}

// links maps each symlink under root to its target.
func links(root string) map[string]string {
	out := map[string]string{}
	_ = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Type()&os.ModeSymlink != 0 {
			target, _ := os.Readlink(p)
			out[strings.TrimPrefix(p, root)] = target
		}
		return nil
	})
	if len(out) == 0 {
		return nil
	}
	return out
}

// TestUpgradeSwitchesTheSymlink: a new kubelet version is installed
// beside the old one, its symlink switched, and only the kubelet
// restarted. A third version removes the first, keeping one to go back to.
func TestUpgradeSwitchesTheSymlink(t *testing.T) {
	m := newMirror(t)
	cfg := nodeConfig(t, gossipCluster(t), "nodes", "api.example.com")
	cfg.AssetsMirror = m.url()
	root := t.TempDir()
	svc := &recordingServices{}
	opts := nodeup.Options{Root: root, Host: &nodeup.Host{}, Services: svc, Backoff: fast}
	versions := []string{"1.36.1", "1.36.2", "1.36.3"}
	dirs := map[string]string{}
	for i, v := range versions {
		cfg.Assets = nodeAssets(t, m, v)
		dirs[v] = v + "-" + cfg.Assets[3].SHA256[:12]
		res, err := nodeup.Run(t.Context(), cfg, opts)
		if err != nil {
			t.Fatalf("kubelet %s: %v", v, err)
		}
		if got := readLink(root, nodeup.CurrentPath("kubelet")); got != dirs[v] {
			t.Errorf("kubelet %s: current points to %q, want %q", v, got, dirs[v])
		}
		if got := readThrough(t, root, nodeup.KubeletBinary); got != "kubelet "+v {
			t.Errorf("kubelet %s: %s holds %q", v, nodeup.KubeletBinary, got)
		}
		if i == 0 {
			continue
		}
		if diff := cmp.Diff([]string{nodeup.CurrentPath("kubelet")}, res.Changed); diff != "" {
			t.Errorf("kubelet %s: changes (-want +got):\n%s", v, diff)
		}
		if diff := cmp.Diff([]string{nodeup.UnitKubelet}, svc.restarted(t)); diff != "" {
			t.Errorf("kubelet %s: restarts (-want +got):\n%s", v, diff)
		}
	}
	entries, err := os.ReadDir(filepath.Join(root, nodeup.AssetsDir, "kubelet"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	if diff := cmp.Diff([]string{dirs["1.36.2"], dirs["1.36.3"], "current"}, got); diff != "" {
		t.Errorf("kubelet versions kept (-want +got):\n%s", diff)
	}
}

// TestInstallDryRun reports what would change, downloads nothing and
// writes nothing.
func TestInstallDryRun(t *testing.T) {
	m := newMirror(t)
	cfg := nodeConfig(t, gossipCluster(t), "nodes", "api.example.com")
	cfg.Assets, cfg.AssetsMirror = nodeAssets(t, m, "1.36.3"), m.url()
	root := t.TempDir()
	res, err := nodeup.Run(t.Context(), cfg, nodeup.Options{Root: root, DryRun: true, Host: &nodeup.Host{}})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(res.Changed, nodeup.CurrentPath("kubelet")) || !slices.Contains(res.Restart, nodeup.UnitKubelet) {
		t.Errorf("dry run reports changes %v, restarts %v", res.Changed, res.Restart)
	}
	if entries, _ := os.ReadDir(root); len(entries) != 0 {
		t.Errorf("dry run wrote %d entries under the root", len(entries))
	}
}

// TestRefusedAssets: assets nodeup cannot verify or place are refused
// before anything is downloaded.
func TestRefusedAssets(t *testing.T) {
	m := newMirror(t)
	good := m.put(t, "kubelet", "1.36.3", "kubelet", []byte("kubelet"))
	escape := tarGz(t, map[string]string{"../evil": "x"})
	for _, tc := range []struct {
		name  string
		asset assets.Asset
		want  string
	}{
		{"no hash", func() assets.Asset { a := good; a.SHA256 = ""; return a }(), "cannot verify"},
		{"path out of the mirror", func() assets.Asset { a := good; a.Path = "../kubelet"; return a }(), "relative to the mirror"},
		{"bad name", func() assets.Asset { a := good; a.Name = "../kubelet"; return a }(), "name"},
		{"bad version", func() assets.Asset { a := good; a.Version = "1/2"; return a }(), "version"},
		{"archive escapes", m.put(t, "cni-plugins", "1.7.1", "cni.tgz", escape), "outside the archive"},
		{"archive lacks a binary", m.put(t, "containerd", "1.7.28", "c.tar.gz", tarGz(t, map[string]string{"bin/ctr": "ctr"})), "has no file bin/containerd"},
		{"missing from the mirror", func() assets.Asset { a := good; a.Path = "nowhere/kubelet"; return a }(), "no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := nodeConfig(t, gossipCluster(t), "nodes", "api.example.com")
			cfg.Assets, cfg.AssetsMirror = []assets.Asset{tc.asset}, m.url()
			root := t.TempDir()
			_, err := nodeup.Run(t.Context(), cfg, nodeup.Options{Root: root, Host: &nodeup.Host{}, Backoff: fast})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error with %q", err, tc.want)
			}
			if entries, _ := os.ReadDir(filepath.Join(root, nodeup.AssetsDir)); len(entries) != 0 {
				t.Errorf("left %d entries in %s", len(entries), nodeup.AssetsDir)
			}
		})
	}
}

// TestUnitsToRestart is the restart rule.
func TestUnitsToRestart(t *testing.T) {
	for _, tc := range []struct {
		name    string
		changed []string
		want    []string
	}{
		{"nothing", nil, nil},
		{"static pod", []string{nodeup.ManifestsDir + "/kube-apiserver.yaml"}, nil},
		{"sysctl and modules", []string{nodeup.SysctlPath, nodeup.ModulesPath}, nil},
		{"CNI plugins", []string{nodeup.CurrentPath("cni-plugins")}, nil},
		{"containerd config", []string{nodeup.ContainerdConfigPath}, []string{nodeup.UnitContainerd}},
		{"containerd binary", []string{nodeup.CurrentPath("containerd")}, []string{nodeup.UnitContainerd}},
		{"runc", []string{nodeup.CurrentPath("runc")}, []string{nodeup.UnitContainerd}},
		{"kubelet binary", []string{nodeup.CurrentPath("kubelet")}, []string{nodeup.UnitKubelet}},
		{"kubelet config", []string{nodeup.KubeletConfigPath}, []string{nodeup.UnitKubelet}},
		{"certificate", []string{nodeup.CertPath("kubelet")}, []string{nodeup.UnitKubelet}},
		{"both", []string{nodeup.KubeletUnitPath, nodeup.ContainerdUnitPath}, []string{nodeup.UnitContainerd, nodeup.UnitKubelet}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, nodeup.UnitsToRestart(tc.changed)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
