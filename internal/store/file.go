package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

const (
	// lockName is the lock file at the root of a file store.
	lockName = reservedPrefix + ".lock"
	// tempPrefix starts the names of files being written.
	tempPrefix = reservedPrefix + "-tmp-"

	fileMode   fs.FileMode = 0o644
	secretMode fs.FileMode = 0o600
	dirMode    fs.FileMode = 0o700
)

// FileStore keeps each object in a file under a directory: key
// "demo/config" is the file DIR/demo/config.
//
// Writers take an exclusive flock(2) on DIR/.kapstan.lock, so writes and
// deletes are serialized across FileStores and processes on one machine.
// (flock does not work reliably on network file systems.) A write replaces
// the file by renaming a synced temporary file over it, so readers, which
// take no lock, see either the old or the new content. Directories are
// created with mode 0700, files with 0644, or 0600 with [Secret].
//
// The directory is created on the first write; reading a store whose
// directory does not exist finds no objects.
type FileStore struct {
	dir string // absolute, cleaned
}

var _ Store = (*FileStore)(nil)

// NewFile returns the store rooted at dir. A relative dir is made absolute
// against the working directory.
func NewFile(dir string) (*FileStore, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("opening file store %s: %w", dir, err)
	}
	return &FileStore{dir: abs}, nil
}

// Dir returns the store's root directory.
func (f *FileStore) Dir() string { return f.dir }

// URL implements [Store]: file:// followed by the absolute directory.
func (f *FileStore) URL() string { return "file://" + filepath.ToSlash(f.dir) }

func (f *FileStore) path(key string) string {
	return filepath.Join(f.dir, filepath.FromSlash(key))
}

// Get implements [Store].
func (f *FileStore) Get(ctx context.Context, key string) (*Object, error) {
	if err := ValidateKey(key); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", key, err)
	}
	data, found, err := readObject(f.path(key))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", key, err)
	}
	if !found {
		return nil, fmt.Errorf("reading %s: %w", key, ErrNotFound)
	}
	return &Object{Key: key, Data: data, Revision: contentRevision(data)}, nil
}

// readObject reads the file at path. A missing file, a path through a
// regular file, or a directory is "not found", not an error.
func readObject(path string) (data []byte, found bool, err error) {
	data, err = os.ReadFile(path)
	switch {
	case err == nil:
		return data, true, nil
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ENOTDIR), errors.Is(err, syscall.EISDIR):
		return nil, false, nil
	default:
		return nil, false, err
	}
}

// currentRevision is the revision of the file at path, "" if absent.
func currentRevision(path string) (Revision, error) {
	data, found, err := readObject(path)
	if err != nil || !found {
		return "", err
	}
	return contentRevision(data), nil
}

// Put implements [Store].
func (f *FileStore) Put(ctx context.Context, key string, data []byte, pre Precondition, opts ...PutOption) (Revision, error) {
	if err := ValidateKey(key); err != nil {
		return "", err
	}
	if err := pre.validate(); err != nil {
		return "", fmt.Errorf("writing %s: %w", key, err)
	}
	mode := fileMode
	if collectPutOptions(opts).secret {
		mode = secretMode
	}

	unlock, err := f.lock(ctx)
	if err != nil {
		return "", fmt.Errorf("writing %s: %w", key, err)
	}
	defer unlock()

	path := f.path(key)
	cur, err := currentRevision(path)
	if err != nil {
		return "", fmt.Errorf("writing %s: %w", key, err)
	}
	if err := pre.check("writing", key, cur); err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(path), dirMode); err != nil {
		return "", fmt.Errorf("writing %s: %w", key, err)
	}
	if err := writeFileAtomic(path, data, mode); err != nil {
		return "", fmt.Errorf("writing %s: %w", key, err)
	}
	return contentRevision(data), nil
}

// writeFileAtomic replaces path with data: it writes and syncs a temporary
// file in the same directory, renames it over path and syncs the directory.
func writeFileAtomic(path string, data []byte, mode fs.FileMode) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, tempPrefix+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	// CreateTemp uses 0600; set the mode explicitly so umask plays no part.
	if err := tmp.Chmod(mode); err != nil {
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	return syncDir(dir)
}

// syncDir fsyncs a directory so a rename or remove in it is durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// Delete implements [Store]. It also removes the directories the delete
// leaves empty, up to the store's root.
func (f *FileStore) Delete(ctx context.Context, key string, pre Precondition) error {
	if err := ValidateKey(key); err != nil {
		return err
	}
	if err := pre.validateDelete(); err != nil {
		return fmt.Errorf("deleting %s: %w", key, err)
	}
	if pre.kind == preconditionNone {
		// Nothing to compare, and nothing to lock if the store was never
		// written: don't create the directory just to delete from it.
		if _, err := os.Stat(f.dir); errors.Is(err, fs.ErrNotExist) {
			return nil
		}
	}

	unlock, err := f.lock(ctx)
	if err != nil {
		return fmt.Errorf("deleting %s: %w", key, err)
	}
	defer unlock()

	path := f.path(key)
	cur, err := currentRevision(path)
	if err != nil {
		return fmt.Errorf("deleting %s: %w", key, err)
	}
	if err := pre.check("deleting", key, cur); err != nil {
		return err
	}
	if cur == "" {
		return nil
	}
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("deleting %s: %w", key, err)
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		return fmt.Errorf("deleting %s: %w", key, err)
	}
	f.removeEmptyParents(filepath.Dir(path))
	return nil
}

// removeEmptyParents removes dir and its parents while they are empty,
// stopping at the root. Failures are ignored: an empty directory left
// behind is harmless. The caller holds the lock, so no write races it.
func (f *FileStore) removeEmptyParents(dir string) {
	for dir != f.dir && strings.HasPrefix(dir, f.dir+string(filepath.Separator)) {
		if err := os.Remove(dir); err != nil {
			return
		}
		dir = filepath.Dir(dir)
	}
}

// List implements [Store]. It skips the lock file, temporary files and
// anything else that is not a regular file named by a valid key.
func (f *FileStore) List(ctx context.Context, prefix string) ([]string, error) {
	if err := validatePrefix(prefix); err != nil {
		return nil, err
	}
	// Walk only the deepest directory the prefix names in full.
	start := f.dir
	if i := strings.LastIndex(prefix, "/"); i >= 0 {
		start = f.path(prefix[:i])
	}
	keys := []string{}
	err := filepath.WalkDir(start, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if path == start && (errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)) {
				return fs.SkipAll
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if path != start && strings.HasPrefix(d.Name(), reservedPrefix) {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		rel, err := filepath.Rel(f.dir, path)
		if err != nil {
			return err
		}
		key := filepath.ToSlash(rel)
		if strings.HasPrefix(key, prefix) && ValidateKey(key) == nil {
			keys = append(keys, key)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing %q in %s: %w", prefix, f.dir, err)
	}
	// WalkDir visits in lexical order of names, which is not the order of
	// the joined keys ("a/b" comes after "a-c" but "a" comes before "a-c").
	slices.Sort(keys)
	return keys, nil
}

// lock takes the store's write lock, creating the directory and the lock
// file if needed, and returns the function that releases it. It polls with
// LOCK_NB so that ctx can cancel the wait.
func (f *FileStore) lock(ctx context.Context) (unlock func(), err error) {
	if err := os.MkdirAll(f.dir, dirMode); err != nil {
		return nil, fmt.Errorf("creating store directory: %w", err)
	}
	name := filepath.Join(f.dir, lockName)
	lf, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, secretMode)
	if err != nil {
		return nil, fmt.Errorf("opening lock file: %w", err)
	}
	delay := 100 * time.Microsecond
	for {
		err := syscall.Flock(int(lf.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			lf.Close()
			return nil, fmt.Errorf("locking %s: %w", name, err)
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			lf.Close()
			return nil, fmt.Errorf("waiting for lock %s: %w", name, ctx.Err())
		case <-t.C:
		}
		delay = min(2*delay, 20*time.Millisecond)
	}
	// Closing the descriptor releases the flock.
	return func() { lf.Close() }, nil
}
