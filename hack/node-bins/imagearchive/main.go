// Command imagearchive packs files into a one-layer container image and
// writes it as a docker-archive (the `docker save` format: manifest.json,
// a config JSON named by its digest and an uncompressed layer tar), which
// `ctr -n k8s.io images import` and `docker load` accept. The test machines
// import images this way, without a registry.
//
//	imagearchive -o pause.tar -tag registry.k8s.io/pause:3.10.1 \
//	  -entrypoint /pause -user 65535:65535 -file bin/pause:/pause
//
// The output is reproducible: every time stamp is the Unix epoch and every
// owner is root, so the same files give the same image ID.
package main

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path"
	"slices"
	"strings"
	"time"
)

// fileSpec is one -file SRC:DEST[:MODE].
type fileSpec struct {
	src, dest string
	mode      int64
}

type fileFlags []fileSpec

func (f *fileFlags) String() string { return fmt.Sprint(*f) }

func (f *fileFlags) Set(v string) error {
	parts := strings.Split(v, ":")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || !strings.HasPrefix(parts[1], "/") {
		return fmt.Errorf("%q: want SRC:/DEST[:MODE]", v)
	}
	s := fileSpec{src: parts[0], dest: path.Clean(parts[1]), mode: 0o755}
	if len(parts) == 3 {
		if _, err := fmt.Sscanf(parts[2], "%o", &s.mode); err != nil {
			return fmt.Errorf("%q: mode %q is not octal", v, parts[2])
		}
	}
	*f = append(*f, s)
	return nil
}

// image is what goes into the archive.
type image struct {
	Tag        string
	Entrypoint []string
	User       string
	Files      []fileSpec
}

func main() {
	var (
		out   = flag.String("o", "", "output archive (required)")
		tag   = flag.String("tag", "", "image name with tag, e.g. registry.k8s.io/pause:3.10.1 (required)")
		entry = flag.String("entrypoint", "", "entrypoint, split on spaces")
		user  = flag.String("user", "", "user, e.g. 65535:65535")
		files fileFlags
	)
	flag.Var(&files, "file", "SRC:/DEST[:MODE] to put in the layer (repeatable; MODE octal, default 755)")
	flag.Parse()
	if *out == "" || *tag == "" || len(files) == 0 || flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}
	img := image{Tag: *tag, User: *user, Files: files}
	if *entry != "" {
		img.Entrypoint = strings.Fields(*entry)
	}
	if err := writeFile(*out, img); err != nil {
		fmt.Fprintln(os.Stderr, "imagearchive:", err)
		os.Exit(1)
	}
}

// writeFile writes the archive to a temp file next to out and renames it.
func writeFile(out string, img image) error {
	tmp, err := os.CreateTemp(path.Dir(out), ".imagearchive-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := writeArchive(tmp, img); err != nil {
		tmp.Close()
		return fmt.Errorf("%s: %w", out, err)
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), out)
}

// Docker image config (image-spec config, the fields set here).
type imageConfig struct {
	Architecture string          `json:"architecture"`
	OS           string          `json:"os"`
	Created      string          `json:"created"`
	Config       containerConfig `json:"config"`
	RootFS       rootFS          `json:"rootfs"`
	History      []history       `json:"history"`
}

type containerConfig struct {
	Entrypoint []string `json:"Entrypoint,omitempty"`
	User       string   `json:"User,omitempty"`
	Env        []string `json:"Env"`
	WorkingDir string   `json:"WorkingDir"`
}

type rootFS struct {
	Type    string   `json:"type"`
	DiffIDs []string `json:"diff_ids"`
}

type history struct {
	Created   string `json:"created"`
	CreatedBy string `json:"created_by"`
}

// manifestEntry is one image of manifest.json.
type manifestEntry struct {
	Config   string   `json:"Config"`
	RepoTags []string `json:"RepoTags"`
	Layers   []string `json:"Layers"`
}

var epoch = time.Unix(0, 0).UTC()

func writeArchive(w io.Writer, img image) error {
	layer, err := layerTar(img.Files)
	if err != nil {
		return err
	}
	layerSum := sha256.Sum256(layer)
	layerID := hex.EncodeToString(layerSum[:])
	cfg := imageConfig{
		Architecture: "amd64",
		OS:           "linux",
		Created:      epoch.Format(time.RFC3339),
		Config: containerConfig{
			Entrypoint: img.Entrypoint,
			User:       img.User,
			Env:        []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
			WorkingDir: "/",
		},
		RootFS:  rootFS{Type: "layers", DiffIDs: []string{"sha256:" + layerID}},
		History: []history{{Created: epoch.Format(time.RFC3339), CreatedBy: "hack/node-bins/imagearchive"}},
	}
	cfgJSON, err := json.Marshal(cfg)
	if err != nil {
		return err
	}
	cfgSum := sha256.Sum256(cfgJSON)
	cfgName := hex.EncodeToString(cfgSum[:]) + ".json"
	manifest, err := json.Marshal([]manifestEntry{{
		Config:   cfgName,
		RepoTags: []string{img.Tag},
		Layers:   []string{layerID + "/layer.tar"},
	}})
	if err != nil {
		return err
	}
	tw := tar.NewWriter(w)
	entries := []struct {
		name string
		data []byte
	}{
		{layerID + "/layer.tar", layer},
		{cfgName, cfgJSON},
		{"manifest.json", manifest},
	}
	if err := tw.WriteHeader(dirHeader(layerID + "/")); err != nil {
		return err
	}
	for _, e := range entries {
		if err := writeEntry(tw, e.name, e.data, 0o644); err != nil {
			return err
		}
	}
	return tw.Close()
}

// layerTar makes the layer: each file with its parent directories.
func layerTar(files []fileSpec) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dirs := map[string]bool{}
	sorted := slices.Clone(files)
	slices.SortFunc(sorted, func(a, b fileSpec) int { return strings.Compare(a.dest, b.dest) })
	for _, f := range sorted {
		for _, d := range parents(f.dest) {
			if dirs[d] {
				continue
			}
			dirs[d] = true
			if err := tw.WriteHeader(dirHeader(d + "/")); err != nil {
				return nil, err
			}
		}
		data, err := os.ReadFile(f.src)
		if err != nil {
			return nil, err
		}
		if err := writeEntry(tw, strings.TrimPrefix(f.dest, "/"), data, f.mode); err != nil {
			return nil, err
		}
	}
	if len(sorted) == 0 {
		return nil, errors.New("no files")
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// parents returns the directories above p, outermost first, without "/":
// /usr/bin/x -> usr, usr/bin.
func parents(p string) []string {
	var out []string
	for d := path.Dir(p); d != "/" && d != "."; d = path.Dir(d) {
		out = append([]string{strings.TrimPrefix(d, "/")}, out...)
	}
	return out
}

func dirHeader(name string) *tar.Header {
	return &tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: 0o755, ModTime: epoch, Format: tar.FormatPAX}
}

func writeEntry(tw *tar.Writer, name string, data []byte, mode int64) error {
	hdr := &tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(len(data)), ModTime: epoch, Format: tar.FormatPAX}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	_, err := tw.Write(data)
	return err
}
