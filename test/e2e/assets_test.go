package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kapstan/kapstan/internal/assets"
	"github.com/kapstan/kapstan/internal/testing/standin"
)

// TestGetAssetsCopyToS3 copies a cluster's assets into its default mirror,
// the folder NAME/assets of an S3 state store on moto: the first copy
// writes every file and the bill of materials, the second writes nothing,
// and a changed byte in the source folder stops the third, naming the
// asset and both hashes.
func TestGetAssetsCopyToS3(t *testing.T) {
	t.Parallel()
	const name = "assets.k8s.local"
	client, bucket, url := s3Store(t)
	env := newEnv(t, url)
	mustRun(t, env, "", "create", "cluster", name, "--zones", "us-east-1a")

	var list assets.BOM
	if err := json.Unmarshal([]byte(mustRun(t, env, "", "get", "assets", name, "-o", "json")), &list); err != nil {
		t.Fatal(err)
	}
	repo := url + "/" + name + "/assets"
	if list.FileRepository != repo || len(list.Assets) != 21 {
		t.Fatalf("listing: file repository %s, %d assets", list.FileRepository, len(list.Assets))
	}
	from := t.TempDir()
	for _, a := range list.Assets {
		p := filepath.Join(from, filepath.FromSlash(a.Path))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("built "+a.Name+" "+a.Version), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	out := mustRun(t, env, "", "get", "assets", name, "--copy", "--from", from)
	if !strings.Contains(out, "Copied 21 and skipped 0") {
		t.Fatalf("cold copy:\n%s", out)
	}
	for _, a := range list.Assets {
		if !objectExists(t, client, bucket, "state/"+name+"/assets/"+a.Path) {
			t.Errorf("%s is not in the mirror", a.Path)
		}
	}
	if !objectExists(t, client, bucket, "state/"+name+"/assets/bom/"+name+".yaml") {
		t.Fatal("no bill of materials")
	}
	if out := mustRun(t, env, "", "get", "assets", name, "--copy", "--from", from); !strings.Contains(out, "Copied 0 and skipped 21") {
		t.Fatalf("warm copy:\n%s", out)
	}
	var hashed assets.BOM
	if err := json.Unmarshal([]byte(mustRun(t, env, "", "get", "assets", name, "-o", "json")), &hashed); err != nil {
		t.Fatal(err)
	}
	kubelet, _ := hashed.Asset("kubelet")
	if want, _, _ := assets.Sum(strings.NewReader("built kubelet " + kubelet.Version)); kubelet.SHA256 != want {
		t.Fatalf("kubelet's hash from the BOM: %q, want %s", kubelet.SHA256, want)
	}

	p := filepath.Join(from, filepath.FromSlash(kubelet.Path))
	if err := os.WriteFile(p, []byte("built kubelet "+kubelet.Version+"!"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := run(t, env, "", "get", "assets", name, "--copy", "--from", from)
	if r.code == 0 || !strings.Contains(r.stderr, "asset kubelet "+kubelet.Version+": "+p+" has sha256 ") ||
		!strings.Contains(r.stderr, "records "+kubelet.SHA256) {
		t.Fatalf("a changed byte: want a refusal naming kubelet and both hashes:\n%s", r)
	}
}

// seedMirror fills the asset mirror of cluster name, as a user does before
// the first plan: it lists the assets with `get assets NAME -o json`,
// writes a small stand-in file for each file asset at its path in a
// folder, and copies them with `get assets NAME --copy --from DIR`. Plans
// and applies take the node agent's URL and hash from the bill of
// materials that copy writes. No machine boots in these tests, so nothing
// runs the stand-ins. The asset list depends on the cluster spec alone
// (not on its instance groups), so one seeding after create cluster does.
func seedMirror(t *testing.T, env []string, name string) {
	t.Helper()
	var list assets.BOM
	if err := json.Unmarshal([]byte(mustRun(t, env, "", "get", "assets", name, "-o", "json")), &list); err != nil {
		t.Fatalf("get assets %s -o json: %v", name, err)
	}
	from := t.TempDir()
	if _, err := standin.Fill(from, list.Assets, nil); err != nil {
		t.Fatal(err)
	}
	mustRun(t, env, "", "get", "assets", name, "--copy", "--from", from)
}
