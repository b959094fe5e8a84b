// Package mirror reads and writes a cluster's asset mirror: the file
// repository its machines download from (s3://, file:// or, read only,
// https://), and copies assets into it from a local folder.
//
// The repositories hide their transport behind Repository; Copy and
// ReadBOM know nothing of S3 or of folders.
package mirror

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
)

// ErrNotExist is wrapped by a Repository when a path holds nothing.
var ErrNotExist = fs.ErrNotExist

// Info is what a repository knows of one file.
type Info struct {
	// SHA256 is the file's hex SHA-256.
	SHA256 string
	// Size is its size in bytes.
	Size int64
}

// Repository is a mirror's storage: files by slash-separated path
// relative to its root.
type Repository interface {
	// URL is the repository's root URL, for messages.
	URL() string
	// Stat returns the SHA-256 and size of the file at path, or an error
	// wrapping ErrNotExist when there is none.
	Stat(ctx context.Context, path string) (Info, error)
	// Get opens the file at path; the error wraps ErrNotExist when there
	// is none. The caller closes it.
	Get(ctx context.Context, path string) (io.ReadCloser, error)
	// Put writes body, whose SHA-256 and size are info, at path, whole or
	// not at all: a reader never sees part of it. It fails if what
	// arrives is not info.
	Put(ctx context.Context, path string, body io.ReadSeeker, info Info) error
}

// Open opens the repository at url: s3://BUCKET[/PREFIX] (with the AWS
// configuration of the environment, in region when it names none),
// file:///DIR, or https://HOST[/PATH], which can be read but not written.
func Open(ctx context.Context, url, region string) (Repository, error) {
	scheme, rest, ok := strings.Cut(url, "://")
	if !ok {
		return nil, fmt.Errorf("file repository %q: not a URL (s3://, file:// or https://)", url)
	}
	switch scheme {
	case "s3":
		return OpenS3(ctx, rest, region)
	case "file":
		if !strings.HasPrefix(rest, "/") {
			return nil, fmt.Errorf("file repository %q: file:// needs an absolute folder", url)
		}
		return NewFile(rest), nil
	case "https":
		return NewHTTPS(url, nil), nil
	}
	return nil, fmt.Errorf("file repository %q: scheme %q is not supported (s3://, file:// or https://)", url, scheme)
}

// join is a repository URL and a path in it.
func join(root, path string) string { return strings.TrimSuffix(root, "/") + "/" + path }

// checkPath refuses paths that would leave the repository.
func checkPath(path string) error {
	if path == "" || strings.HasPrefix(path, "/") || strings.Contains(path, "\\") {
		return fmt.Errorf("path %q: want a relative slash path", path)
	}
	for seg := range strings.SplitSeq(path, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return fmt.Errorf("path %q: empty, . or .. segment", path)
		}
	}
	return nil
}

// isNotExist reports whether err says a path holds nothing.
func isNotExist(err error) bool { return errors.Is(err, ErrNotExist) }
