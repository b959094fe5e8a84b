package nodeup

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/kapstan/kapstan/internal/assets"
)

// The install layout. Each file asset is installed, once verified, into
// its own versioned folder,
//
//	/opt/kapstan/NAME/VERSION-SHA256[:12]/
//
// which holds the file (named after the asset) or the archive's content,
// and a record of the asset (assetRecord). NAME/current is a relative
// symlink to the folder in use; switching it is one rename, so a machine
// runs either the old or the new version, never a mix. Fixed paths the
// units use (/usr/local/bin/kubelet) are symlinks through current, so
// they never change after the first run.
//
// A folder exists only once complete: it is assembled in a staging folder
// and renamed into place. So its presence means "downloaded and verified",
// and a re-run downloads nothing.
const (
	// AssetsDir is where nodeup installs what it downloads.
	AssetsDir = "/opt/kapstan"
	// stagingDir is where downloads and archives are assembled, on the
	// same file system as the versioned folders.
	stagingDir = AssetsDir + "/.staging"
	// currentLink is the name of the symlink to the version in use.
	currentLink = "current"
	// assetRecord is the file in a versioned folder that records the
	// asset it holds.
	assetRecord = ".kapstan-asset.json"
	// AgentAsset is the node agent's own asset. The boot script installs
	// the agent before it can run, so nodeup does not download it again.
	AgentAsset = "nodeup"
)

// Binaries that come from assets, at the paths the units and containerd
// use.
const (
	RuncBinary              = "/usr/local/sbin/runc"
	ContainerdBinary        = "/usr/local/bin/containerd"
	ContainerdShimBinary    = "/usr/local/bin/containerd-shim-runc-v2"
	CtrBinary               = "/usr/local/bin/ctr"
	assetKubelet            = "kubelet"
	assetContainerd         = "containerd"
	assetRunc               = "runc"
	assetCNIPlugins         = "cni-plugins"
	containerdArchiveBinDir = "bin/"
)

// CurrentPath is the symlink to the version of asset name in use, as on
// the node.
func CurrentPath(name string) string { return AssetsDir + "/" + name + "/" + currentLink }

// link is a fixed path that points into an asset's current version.
type link struct {
	// path is where the link is, on the node; rel is the file it points
	// to, relative to the versioned folder.
	path, rel string
}

// assetLinks are the fixed paths an asset provides. The CNI plugins need
// none: containerd's configuration names their folder.
func assetLinks(name string) []link {
	switch name {
	case assetKubelet:
		return []link{{KubeletBinary, assetKubelet}}
	case assetRunc:
		return []link{{RuncBinary, assetRunc}}
	case assetContainerd:
		return []link{
			{ContainerdBinary, containerdArchiveBinDir + "containerd"},
			{ContainerdShimBinary, containerdArchiveBinDir + "containerd-shim-runc-v2"},
			{CtrBinary, containerdArchiveBinDir + "ctr"},
		}
	}
	return nil
}

var (
	assetNameRE    = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*$`)
	assetVersionRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._+-]*$`)
)

// validateAsset checks what the layout and the download rely on.
func validateAsset(a assets.Asset) error {
	switch {
	case !assetNameRE.MatchString(a.Name) || a.Name == currentLink:
		return fmt.Errorf("asset %q: the name must be lower-case letters, digits, '.', '_' and '-'", a.Name)
	case !assetVersionRE.MatchString(a.Version):
		return fmt.Errorf("asset %s: version %q: want letters, digits, '.', '_', '+' and '-'", a.Name, a.Version)
	case !sha256Hex.MatchString(a.SHA256):
		return fmt.Errorf("asset %s %s: SHA-256 %q is not 64 lower-case hex digits; a node installs nothing it cannot verify", a.Name, a.Version, a.SHA256)
	case a.Size < 0:
		return fmt.Errorf("asset %s %s: negative size", a.Name, a.Version)
	}
	if err := checkRelative(a.Path); err != nil {
		return fmt.Errorf("asset %s %s: %w", a.Name, a.Version, err)
	}
	return nil
}

var sha256Hex = regexp.MustCompile(`^[0-9a-f]{64}$`)

// versionName is the name of a's versioned folder.
func versionName(a assets.Asset) string { return a.Version + "-" + a.SHA256[:12] }

// isArchive reports whether a is a gzipped tar, installed by extracting it.
func isArchive(a assets.Asset) bool {
	return strings.HasSuffix(a.Path, ".tar.gz") || strings.HasSuffix(a.Path, ".tgz")
}

// fileAssets are the assets nodeup installs: files, not images, and not
// the agent itself. They are checked all at once, before anything is
// downloaded.
func fileAssets(list []assets.Asset) ([]assets.Asset, error) {
	var out []assets.Asset
	seen := map[string]bool{}
	for _, a := range list {
		if a.Kind != assets.KindFile || a.Name == AgentAsset {
			continue
		}
		if err := validateAsset(a); err != nil {
			return nil, err
		}
		if seen[a.Name] {
			return nil, fmt.Errorf("asset %s is listed twice", a.Name)
		}
		seen[a.Name] = true
		out = append(out, a)
	}
	return out, nil
}

// installer installs file assets under root.
type installer struct {
	root    string
	mirror  Mirror
	backoff Backoff
	dryRun  bool
}

// hostPath is p (a path on the node) under the root.
func (in *installer) hostPath(p string) string { return filepath.Join(in.root, filepath.FromSlash(p)) }

// install downloads what is missing, verifies it, puts it in its versioned
// folder and switches the symlinks. It returns the paths, as on the node,
// of the symlinks it switched or made.
//
// It works in two phases. First every missing asset is downloaded,
// verified and assembled in the staging folder; any failure (a hash
// mismatch, a bad archive) returns before anything is installed, and the
// staging folder is removed. Then the folders are renamed into place and
// the symlinks switched.
func (in *installer) install(ctx context.Context, list []assets.Asset) ([]string, error) {
	list, err := fileAssets(list)
	if err != nil {
		return nil, err
	}
	var missing []assets.Asset
	for _, a := range list {
		ok, err := in.installed(a)
		if err != nil {
			return nil, err
		}
		if !ok {
			missing = append(missing, a)
		}
	}
	if len(missing) > 0 && !in.dryRun {
		if in.mirror == nil {
			return nil, fmt.Errorf("installing asset %s: the node configuration names no asset mirror", missing[0].Name)
		}
		if err := in.stageAndPlace(ctx, missing); err != nil {
			return nil, err
		}
	}
	var changed []string
	for _, a := range list {
		c, err := in.link(a)
		changed = append(changed, c...)
		if err != nil {
			return changed, err
		}
	}
	return changed, nil
}

// stageAndPlace assembles each asset in the staging folder, then, when
// all are ready, renames them into their versioned folders.
func (in *installer) stageAndPlace(ctx context.Context, missing []assets.Asset) error {
	staging := in.hostPath(stagingDir)
	// What a crashed run left is never trusted.
	if err := os.RemoveAll(staging); err != nil {
		return fmt.Errorf("clearing %s: %w", staging, err)
	}
	if err := os.MkdirAll(staging, 0o755); err != nil {
		return fmt.Errorf("installing assets: %w", err)
	}
	defer os.RemoveAll(staging)
	staged := make([]string, len(missing))
	for i, a := range missing {
		dir, err := in.stage(ctx, a, staging)
		if err != nil {
			return err
		}
		staged[i] = dir
	}
	for i, a := range missing {
		dst := in.hostPath(AssetsDir + "/" + a.Name + "/" + versionName(a))
		// A folder without a matching record is not ours to keep.
		if err := os.RemoveAll(dst); err != nil {
			return fmt.Errorf("asset %s: %w", a.Name, err)
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return fmt.Errorf("asset %s: %w", a.Name, err)
		}
		if err := os.Rename(staged[i], dst); err != nil {
			return fmt.Errorf("asset %s: installing: %w", a.Name, err)
		}
	}
	return nil
}

// stage downloads and verifies a, and assembles its folder in staging.
func (in *installer) stage(ctx context.Context, a assets.Asset, staging string) (string, error) {
	file, err := download(ctx, in.mirror, a, staging, in.backoff)
	if err != nil {
		return "", err
	}
	defer os.Remove(file)
	dir, err := os.MkdirTemp(staging, a.Name+"-")
	if err != nil {
		return "", fmt.Errorf("asset %s: %w", a.Name, err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return "", fmt.Errorf("asset %s: %w", a.Name, err)
	}
	if isArchive(a) {
		if err := extractTarGz(file, dir); err != nil {
			return "", fmt.Errorf("asset %s %s: extracting %s: %w", a.Name, a.Version, a.Path, err)
		}
	} else {
		if err := os.Chmod(file, 0o755); err != nil {
			return "", fmt.Errorf("asset %s: %w", a.Name, err)
		}
		if err := os.Rename(file, filepath.Join(dir, a.Name)); err != nil {
			return "", fmt.Errorf("asset %s: %w", a.Name, err)
		}
	}
	for _, l := range assetLinks(a.Name) {
		if fi, err := os.Stat(filepath.Join(dir, filepath.FromSlash(l.rel))); err != nil || fi.IsDir() {
			return "", fmt.Errorf("asset %s %s: %s has no file %s", a.Name, a.Version, a.Path, l.rel)
		}
	}
	record, err := json.MarshalIndent(a, "", "  ")
	if err != nil {
		return "", fmt.Errorf("asset %s: %w", a.Name, err)
	}
	if err := os.WriteFile(filepath.Join(dir, assetRecord), append(record, '\n'), 0o644); err != nil {
		return "", fmt.Errorf("asset %s: %w", a.Name, err)
	}
	return dir, nil
}

// installed reports whether a's versioned folder exists and records a.
func (in *installer) installed(a assets.Asset) (bool, error) {
	data, err := os.ReadFile(in.hostPath(AssetsDir + "/" + a.Name + "/" + versionName(a) + "/" + assetRecord))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("asset %s: %w", a.Name, err)
	}
	var rec assets.Asset
	if err := json.Unmarshal(data, &rec); err != nil {
		return false, nil
	}
	return rec.Name == a.Name && rec.Version == a.Version && rec.SHA256 == a.SHA256, nil
}

// link points a's current symlink at its versioned folder and its fixed
// paths through current, and removes versions other than the new and the
// previous one. It returns the symlinks it changed.
func (in *installer) link(a assets.Asset) ([]string, error) {
	var changed []string
	cur := CurrentPath(a.Name)
	previous, _ := os.Readlink(in.hostPath(cur))
	ok, err := in.symlink(cur, versionName(a))
	if err != nil {
		return nil, fmt.Errorf("asset %s: %w", a.Name, err)
	}
	if ok {
		changed = append(changed, cur)
	}
	for _, l := range assetLinks(a.Name) {
		ok, err := in.symlink(l.path, path.Join(cur, l.rel))
		if err != nil {
			return changed, fmt.Errorf("asset %s: %w", a.Name, err)
		}
		if ok {
			changed = append(changed, l.path)
		}
	}
	if !in.dryRun {
		if err := in.prune(a, previous); err != nil {
			return changed, err
		}
	}
	return changed, nil
}

// symlink makes p (on the node) a symlink to target unless it is one
// already, and reports whether it changed. The new link is made beside p
// and renamed over it: a reader sees the old or the new target, never
// nothing.
func (in *installer) symlink(p, target string) (bool, error) {
	full := in.hostPath(p)
	if cur, err := os.Readlink(full); err == nil && cur == target {
		return false, nil
	}
	if in.dryRun {
		return true, nil
	}
	if fi, err := os.Lstat(full); err == nil && fi.IsDir() {
		return false, fmt.Errorf("%s is a folder, not a symlink nodeup can switch", p)
	}
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		return false, fmt.Errorf("linking %s: %w", p, err)
	}
	tmp := filepath.Join(filepath.Dir(full), "."+filepath.Base(full)+".kapstan-new")
	if err := os.Remove(tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false, fmt.Errorf("linking %s: %w", p, err)
	}
	if err := os.Symlink(target, tmp); err != nil {
		return false, fmt.Errorf("linking %s: %w", p, err)
	}
	if err := os.Rename(tmp, full); err != nil {
		os.Remove(tmp)
		return false, fmt.Errorf("linking %s: %w", p, err)
	}
	return true, nil
}

// prune removes a's versioned folders other than the current one and the
// one it replaced, which is kept so an operator can switch back.
func (in *installer) prune(a assets.Asset, previous string) error {
	dir := in.hostPath(AssetsDir + "/" + a.Name)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("asset %s: %w", a.Name, err)
	}
	keep := []string{currentLink, versionName(a), previous}
	for _, e := range entries {
		if !e.IsDir() || slices.Contains(keep, e.Name()) {
			continue
		}
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return fmt.Errorf("asset %s: removing old version %s: %w", a.Name, e.Name(), err)
		}
	}
	return nil
}

// extractTarGz extracts a gzipped tar into dir. It accepts folders,
// regular files and symlinks that stay inside dir, and refuses anything
// else: absolute paths, "..", devices, links that lead out.
func extractTarGz(file, dir string) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return err
	}
	defer gz.Close()
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		name := path.Clean(strings.TrimPrefix(h.Name, "./"))
		if name == "." {
			continue
		}
		if !filepath.IsLocal(filepath.FromSlash(name)) || name == assetRecord {
			return fmt.Errorf("entry %q: outside the archive's folder", h.Name)
		}
		dst := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(dst, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := extractFile(tr, dst, h.FileInfo().Mode().Perm()); err != nil {
				return fmt.Errorf("entry %q: %w", h.Name, err)
			}
		case tar.TypeSymlink:
			if path.IsAbs(h.Linkname) || !filepath.IsLocal(filepath.FromSlash(path.Join(path.Dir(name), h.Linkname))) {
				return fmt.Errorf("entry %q: symlink to %q leads out of the archive's folder", h.Name, h.Linkname)
			}
			if err := os.Symlink(h.Linkname, dst); err != nil {
				return err
			}
		default:
			return fmt.Errorf("entry %q: type %q is not a file, folder or symlink", h.Name, h.Typeflag)
		}
	}
}

func extractFile(r io.Reader, dst string, mode fs.FileMode) error {
	f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
