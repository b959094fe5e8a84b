package nodeup

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	api "github.com/kapstan/kapstan/pkg/apis/kapstan/v1alpha1"
)

// Write puts files under root (their Path is joined to it) and returns the
// paths, as on the node, of those it changed: new, different content or
// different mode. A file that is already right is not touched, so a second
// Write of the same files returns nothing. With dryRun it only reports.
//
// Each file is written to a temporary name beside it and renamed, so a
// reader (the kubelet watching its manifests folder) never sees half a
// file.
func Write(root string, files []File, dryRun bool) ([]string, error) {
	var changed []string
	for _, f := range files {
		if !strings.HasPrefix(f.Path, "/") {
			return changed, fmt.Errorf("writing %s: not an absolute path", f.Path)
		}
		full := filepath.Join(root, filepath.FromSlash(f.Path))
		same, err := unchanged(full, f)
		if err != nil {
			return changed, err
		}
		if same {
			continue
		}
		changed = append(changed, f.Path)
		if dryRun {
			continue
		}
		if err := writeAtomic(full, f.Data, f.Mode); err != nil {
			return changed, err
		}
	}
	return changed, nil
}

// unchanged reports whether the file at path already has f's content and
// mode.
func unchanged(path string, f File) (bool, error) {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("checking %s: %w", path, err)
	}
	if !fi.Mode().IsRegular() || fi.Mode().Perm() != f.Mode.Perm() || fi.Size() != int64(len(f.Data)) {
		return false, nil
	}
	old, err := os.ReadFile(path)
	if err != nil {
		return false, fmt.Errorf("reading %s: %w", path, err)
	}
	return bytes.Equal(old, f.Data), nil
}

func writeAtomic(path string, data []byte, mode fs.FileMode) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".kapstan-*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // a no-op after the rename
	// Mode first, so a key is never readable by others, not even empty.
	if err := tmp.Chmod(mode.Perm()); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// Services applies changed files to running services: on a real machine,
// systemctl daemon-reload and a restart of the units [UnitsToRestart]
// names, and a start of those not running. Nothing implements it in
// --root mode, where no service is touched.
type Services interface {
	// Apply is called after every run that is not a dry run, with the
	// paths (as on the node) of the files written and the symlinks
	// switched; none when nothing changed.
	Apply(ctx context.Context, changed []string) error
}

// Options are how Run acts on the machine.
type Options struct {
	// Root is the folder the node's / is at: "/" on a machine, a temporary
	// folder in tests.
	Root string
	// DryRun reports what would change and writes, mounts and restarts
	// nothing.
	DryRun bool
	// Volumes attaches and mounts the etcd volumes of a control-plane
	// node. Nil means [RootVolumes] under Root.
	Volumes Volumes
	// Services restarts what changed; nil restarts nothing.
	Services Services
	// Host are the machine's facts. Nil means [DetectHost] under Root.
	Host *Host
	// Mirror is where assets are downloaded from. Nil means the node
	// configuration's AssetsMirror, opened with S3 for an s3:// mirror.
	Mirror Mirror
	// S3 reads an s3:// mirror; it carries the machine's region and
	// credentials.
	S3 S3GetAPI
	// Backoff is how downloads are retried; the zero value means
	// [DefaultBackoff].
	Backoff Backoff
}

// Result is what Run did.
type Result struct {
	// Changed are the paths, as on the node, of the files written and
	// the symlinks switched (or that would be, in a dry run).
	Changed []string
	// Restart are the units the changes restart ([UnitsToRestart]).
	Restart []string
	// Volumes are the etcd volumes made available, by etcd cluster.
	Volumes map[string]string
}

// Run renders cfg's files, installs its assets (downloaded and verified
// before anything is switched), mounts the etcd volumes of a control-plane
// node (before its etcd manifests exist, so etcd never starts on an empty
// folder), writes the files and applies the changes to services.
func Run(ctx context.Context, cfg *NodeConfig, opts Options) (*Result, error) {
	if opts.Root == "" {
		return nil, errors.New("nodeup: no root folder")
	}
	host := opts.Host
	if host == nil {
		h, err := DetectHost(opts.Root)
		if err != nil {
			return nil, err
		}
		host = &h
	}
	files, err := Render(cfg, *host)
	if err != nil {
		return nil, err
	}
	res := &Result{Volumes: map[string]string{}}
	in := &installer{root: opts.Root, mirror: opts.Mirror, backoff: opts.Backoff, dryRun: opts.DryRun}
	if in.backoff == (Backoff{}) {
		in.backoff = DefaultBackoff()
	}
	if in.mirror == nil && cfg.AssetsMirror != "" {
		if in.mirror, err = OpenMirror(cfg.AssetsMirror, opts.S3, nil); err != nil {
			return nil, err
		}
	}
	linked, err := in.install(ctx, cfg.Assets)
	res.Changed = append(res.Changed, linked...)
	if err != nil {
		return res, err
	}
	if cfg.Role == api.RoleControlPlane && !opts.DryRun {
		vols := opts.Volumes
		if vols == nil {
			vols = RootVolumes{Root: opts.Root}
		}
		for _, m := range cfg.ControlPlane.Etcd {
			where, err := vols.Mount(ctx, m.Volume)
			if err != nil {
				return res, fmt.Errorf("etcd %s member %s: %w", m.Cluster, m.Name, err)
			}
			res.Volumes[m.Cluster] = where
		}
	}
	written, err := Write(opts.Root, files, opts.DryRun)
	res.Changed = append(res.Changed, written...)
	res.Restart = UnitsToRestart(res.Changed)
	if err != nil {
		return res, err
	}
	if opts.Services != nil && !opts.DryRun {
		if err := opts.Services.Apply(ctx, res.Changed); err != nil {
			return res, err
		}
	}
	return res, nil
}
