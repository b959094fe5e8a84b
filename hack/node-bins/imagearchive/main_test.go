package main

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// readTar returns a tar's regular files and the names in order.
func readTar(t *testing.T, data []byte) (map[string][]byte, []string) {
	t.Helper()
	files := map[string][]byte{}
	var names []string
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, hdr.Name)
		if hdr.Typeflag == tar.TypeReg {
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			files[hdr.Name] = b
		}
	}
	return files, names
}

func TestWriteArchive(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "pause")
	if err := os.WriteFile(bin, []byte("\x7fELF not really"), 0o755); err != nil {
		t.Fatal(err)
	}
	img := image{
		Tag:        "registry.k8s.io/pause:3.10.1",
		Entrypoint: []string{"/pause"},
		User:       "65535:65535",
		Files:      []fileSpec{{src: bin, dest: "/pause", mode: 0o755}, {src: bin, dest: "/usr/bin/x", mode: 0o700}},
	}
	var a, b bytes.Buffer
	if err := writeArchive(&a, img); err != nil {
		t.Fatal(err)
	}
	if err := writeArchive(&b, img); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Error("two archives of the same files differ; want reproducible output")
	}

	files, _ := readTar(t, a.Bytes())
	var manifest []manifestEntry
	if err := json.Unmarshal(files["manifest.json"], &manifest); err != nil {
		t.Fatalf("manifest.json: %v", err)
	}
	if len(manifest) != 1 || !slices.Equal(manifest[0].RepoTags, []string{img.Tag}) || len(manifest[0].Layers) != 1 {
		t.Fatalf("manifest %+v", manifest)
	}
	cfgJSON := files[manifest[0].Config]
	sum := sha256.Sum256(cfgJSON)
	if manifest[0].Config != hex.EncodeToString(sum[:])+".json" {
		t.Errorf("config %s is not named by its digest", manifest[0].Config)
	}
	var cfg imageConfig
	if err := json.Unmarshal(cfgJSON, &cfg); err != nil {
		t.Fatal(err)
	}
	layer := files[manifest[0].Layers[0]]
	lsum := sha256.Sum256(layer)
	if d := cmp.Diff([]string{"sha256:" + hex.EncodeToString(lsum[:])}, cfg.RootFS.DiffIDs); d != "" {
		t.Errorf("diff_ids (-want +got):\n%s", d)
	}
	if !slices.Equal(cfg.Config.Entrypoint, []string{"/pause"}) || cfg.Config.User != "65535:65535" || cfg.OS != "linux" || cfg.Architecture != "amd64" {
		t.Errorf("config %+v", cfg)
	}

	lfiles, lnames := readTar(t, layer)
	if d := cmp.Diff([]string{"pause", "usr/", "usr/bin/", "usr/bin/x"}, lnames); d != "" {
		t.Errorf("layer entries (-want +got):\n%s", d)
	}
	if string(lfiles["pause"]) != "\x7fELF not really" {
		t.Errorf("layer pause = %q", lfiles["pause"])
	}
}

func TestFileFlag(t *testing.T) {
	var f fileFlags
	for _, bad := range []string{"pause", "pause:rel", ":/pause", "a:/b:9z"} {
		if err := f.Set(bad); err == nil {
			t.Errorf("-file %q accepted", bad)
		}
	}
	if err := f.Set("bin/pause:/pause"); err != nil {
		t.Fatal(err)
	}
	if err := f.Set("bin/sh:/bin/sh:700"); err != nil {
		t.Fatal(err)
	}
	want := fileFlags{{src: "bin/pause", dest: "/pause", mode: 0o755}, {src: "bin/sh", dest: "/bin/sh", mode: 0o700}}
	if d := cmp.Diff(want, f, cmp.AllowUnexported(fileSpec{})); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}
