package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kapstan/kapstan/internal/assets"
	"github.com/kapstan/kapstan/internal/assets/mirror"
	"github.com/kapstan/kapstan/internal/testing/golden"
)

// kapstanIn returns a function that runs the command tree with the state
// store state and returns its output (both streams) and error.
func kapstanIn(state string) func(args ...string) (string, error) {
	return func(args ...string) (string, error) {
		var out bytes.Buffer
		root := NewRootCommand(IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &out},
			Environment{Getenv: func(string) string { return "" }, Version: "v0.1.0"})
		root.SetArgs(append([]string{"--state", state}, args...))
		err := root.ExecuteContext(context.Background())
		return out.String(), err
	}
}

// haInFileStore creates the default HA cluster in a new file store and
// returns the store's folder and a runner.
func haInFileStore(t *testing.T) (string, func(args ...string) (string, error)) {
	t.Helper()
	dir := t.TempDir()
	run := kapstanIn("file://" + filepath.Join(dir, "state"))
	if out, err := run("create", "cluster", "demo.k8s.local", "--zones", "us-east-1a,us-east-1b,us-east-1c",
		"--control-plane-count", "3", "--node-count", "3"); err != nil {
		t.Fatalf("create: %v\n%s", err, out)
	}
	return dir, run
}

func TestGetAssetsJSON(t *testing.T) {
	dir, run := haInFileStore(t)
	out, err := run("get", "assets", "demo.k8s.local", "-o", "json")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	golden.Assert(t, []byte(strings.ReplaceAll(out, dir, "TMP")), "testdata/get_assets_ha.json")
}

// fillSource lays out every asset of a listing under a new folder, as
// --from expects, and returns the folder.
func fillSource(t *testing.T, list []assets.Asset) string {
	t.Helper()
	from := t.TempDir()
	for _, a := range list {
		if a.Path == "" {
			continue
		}
		p := mirror.SourcePath(from, a)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("fake "+a.Name+" "+a.Version), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return from
}

func TestGetAssetsCopyToFileRepository(t *testing.T) {
	dir, run := haInFileStore(t)
	out, err := run("get", "assets", "demo.k8s.local", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var before assets.BOM
	if err := json.Unmarshal([]byte(out), &before); err != nil {
		t.Fatal(err)
	}
	from := fillSource(t, before.Assets)
	repo := "file://" + filepath.Join(dir, "state", "demo.k8s.local", "assets")
	if before.FileRepository != repo {
		t.Fatalf("default file repository %s, want %s", before.FileRepository, repo)
	}

	out, err = run("get", "assets", "demo.k8s.local", "--copy", "--from", from)
	if err != nil {
		t.Fatalf("cold copy: %v\n%s", err, out)
	}
	want := "Copied 21 and skipped 0 (already there) of the assets of \"demo.k8s.local\" into " + repo + ".\nBill of materials: " + repo + "/bom/demo.k8s.local.yaml\n"
	if !strings.HasSuffix(out, want) || strings.Count(out, "copied ") != 21 {
		t.Errorf("cold copy output:\n%s\nwant it to end with\n%s", out, want)
	}
	out, err = run("get", "assets", "demo.k8s.local", "--copy", "--from", from, "-o", "json")
	if err != nil {
		t.Fatalf("warm copy: %v\n%s", err, out)
	}
	var warm copySummary
	if err := json.Unmarshal([]byte(out), &warm); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if len(warm.Copied) != 0 || len(warm.Skipped) != 21 {
		t.Errorf("warm copy: copied %v, skipped %d", warm.Copied, len(warm.Skipped))
	}

	// The listing now shows each file's hash from the bill of materials.
	out, err = run("get", "assets", "demo.k8s.local", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var after assets.BOM
	if err := json.Unmarshal([]byte(out), &after); err != nil {
		t.Fatal(err)
	}
	for _, a := range after.Assets {
		sha, size, _ := assets.Sum(strings.NewReader("fake " + a.Name + " " + a.Version))
		if a.SHA256 != sha || a.Size != size {
			t.Errorf("%s: sha256 %q size %d, want %s %d", a.Name, a.SHA256, a.Size, sha, size)
		}
	}
	table, err := run("get", "assets", "demo.k8s.local")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Hashes from:      " + repo + "/bom/demo.k8s.local.yaml", "NAME ", "kubelet ", "1.36.3", "image/pause "} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}
}

func TestGetAssetsCopyMissingAsset(t *testing.T) {
	dir, run := haInFileStore(t)
	from := t.TempDir()
	out, err := run("get", "assets", "demo.k8s.local", "--copy", "--from", from)
	want := "asset kubelet (file 1.36.3): not in the source folder: looked for " + filepath.Join(from, "kubernetes/v1.36.3/linux/amd64/kubelet")
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("got %v, want an error saying %q\n%s", err, want, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "state", "demo.k8s.local", "assets")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a failed copy wrote into the mirror: %v", err)
	}
}

func TestGetAssetsValidate(t *testing.T) {
	cases := []struct {
		name    string
		opts    GetAssetsOptions
		wantErr string
	}{
		{"list", GetAssetsOptions{Concurrency: 4}, ""},
		{"copy", GetAssetsOptions{Copy: true, From: "dir", Concurrency: 4}, ""},
		{"copy without --from", GetAssetsOptions{Copy: true, Concurrency: 4}, "--copy needs --from DIR"},
		{"--from without --copy", GetAssetsOptions{From: "dir", Concurrency: 4}, "--from and --replace are for --copy"},
		{"--replace without --copy", GetAssetsOptions{Replace: true, Concurrency: 4}, "--from and --replace are for --copy"},
		{"no concurrency", GetAssetsOptions{Copy: true, From: "dir"}, "--concurrency 0: must be at least 1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := tc.opts
			o.print = newPrintFlags(formatTable, formatTable, formatYAML, formatJSON)
			err := o.Validate()
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("got %v, want %q", err, tc.wantErr)
			}
		})
	}
}

func TestHumanBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "0B", 1023: "1023B", 1536: "1.5KiB", 58 << 20: "58.0MiB", 3 << 30: "3.0GiB"} {
		if got := humanBytes(n); got != want {
			t.Errorf("humanBytes(%d) = %s, want %s", n, got, want)
		}
	}
}

// seedMirror fills the mirror of cluster name through run, as a user does
// before a plan or a render, which take the node agent's URL and hash
// from its bill of materials. The files are stand-ins: no machine boots
// in these tests.
func seedMirror(t *testing.T, run func(args ...string) (string, error), name string) {
	t.Helper()
	out, err := run("get", "assets", name, "-o", "json")
	if err != nil {
		t.Fatalf("get assets: %v\n%s", err, out)
	}
	var list assets.BOM
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatal(err)
	}
	if out, err := run("get", "assets", name, "--copy", "--from", fillSource(t, list.Assets)); err != nil {
		t.Fatalf("get assets --copy: %v\n%s", err, out)
	}
}
