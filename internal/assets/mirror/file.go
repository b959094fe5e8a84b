package mirror

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/kapstan/kapstan/internal/assets"
)

// File is a repository in a local folder: file:///DIR. Machines cannot
// read it; it is for preparing a mirror, and for tests.
type File struct {
	dir string
}

var _ Repository = (*File)(nil)

// NewFile returns the repository in folder dir.
func NewFile(dir string) *File { return &File{dir: filepath.Clean(dir)} }

// URL implements Repository.
func (f *File) URL() string { return "file://" + filepath.ToSlash(f.dir) }

func (f *File) local(path string) (string, error) {
	if err := checkPath(path); err != nil {
		return "", err
	}
	return filepath.Join(f.dir, filepath.FromSlash(path)), nil
}

// Stat implements Repository: it reads the file to hash it.
func (f *File) Stat(ctx context.Context, path string) (Info, error) {
	r, err := f.Get(ctx, path)
	if err != nil {
		return Info{}, err
	}
	defer r.Close()
	sha, size, err := assets.Sum(r)
	if err != nil {
		return Info{}, fmt.Errorf("reading %s: %w", join(f.URL(), path), err)
	}
	return Info{SHA256: sha, Size: size}, nil
}

// Get implements Repository.
func (f *File) Get(_ context.Context, path string) (io.ReadCloser, error) {
	p, err := f.local(path)
	if err != nil {
		return nil, err
	}
	file, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", join(f.URL(), path), err)
	}
	return file, nil
}

// Put implements Repository: it writes a temporary file beside the
// target, checks its hash, and renames it into place.
func (f *File) Put(_ context.Context, path string, body io.ReadSeeker, info Info) (err error) {
	p, err := f.local(path)
	if err != nil {
		return err
	}
	where := join(f.URL(), path)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("writing %s: %w", where, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(p), "."+filepath.Base(p)+".*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", where, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err := body.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("writing %s: %w", where, err)
	}
	if _, err := io.Copy(tmp, body); err != nil {
		return fmt.Errorf("writing %s: %w", where, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("writing %s: %w", where, err)
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("writing %s: %w", where, err)
	}
	if err := assets.Verify(assets.Asset{Name: path, SHA256: info.SHA256, Size: info.Size}, where, tmp); err != nil {
		return fmt.Errorf("writing %s: %w", where, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		return fmt.Errorf("writing %s: %w", where, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", where, err)
	}
	if err := os.Rename(tmp.Name(), p); err != nil {
		return fmt.Errorf("writing %s: %w", where, err)
	}
	return nil
}
