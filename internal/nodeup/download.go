package nodeup

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"

	"github.com/kapstan/kapstan/internal/assets"
)

// HashMismatchError is a download whose SHA-256 (or size) is not the one
// the node configuration gives. The node refuses it: nothing of the asset
// is installed.
type HashMismatchError struct {
	Asset   string
	Version string
	URL     string
	// Want and Got are hex SHA-256 digests.
	Want, Got string
	// WantSize and GotSize are set when the size differs.
	WantSize, GotSize int64
}

func (e *HashMismatchError) Error() string {
	if e.WantSize != e.GotSize {
		return fmt.Sprintf("asset %s %s from %s: size %d, want %d (SHA-256 %s, want %s): refusing to install it",
			e.Asset, e.Version, e.URL, e.GotSize, e.WantSize, e.Got, e.Want)
	}
	return fmt.Sprintf("asset %s %s from %s: SHA-256 %s, want %s: refusing to install it", e.Asset, e.Version, e.URL, e.Got, e.Want)
}

// download copies asset a from m into a new file in dir and returns its
// path. It hashes while it writes, and returns a [HashMismatchError]
// (marked [Permanent]) when the SHA-256 or the size is not a's; the file is
// then removed. Transient errors are retried with b.
func download(ctx context.Context, m Mirror, a assets.Asset, dir string, b Backoff) (string, error) {
	var file string
	err := b.Retry(ctx, "downloading asset "+a.Name, func(ctx context.Context) error {
		var err error
		file, err = downloadOnce(ctx, m, a, dir)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("asset %s %s: %w", a.Name, a.Version, err)
	}
	return file, nil
}

func downloadOnce(ctx context.Context, m Mirror, a assets.Asset, dir string) (path string, err error) {
	body, err := m.Open(ctx, a.Path)
	if err != nil {
		return "", err
	}
	defer body.Close()
	f, err := os.CreateTemp(dir, "download-*")
	if err != nil {
		return "", Permanent(fmt.Errorf("downloading %s: %w", m.URL(a.Path), err))
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	h := sha256.New()
	var r io.Reader = body
	if a.Size > 0 {
		// Read one byte more than expected, so a longer file is noticed
		// without filling the disk with it.
		r = io.LimitReader(body, a.Size+1)
	}
	n, err := io.Copy(io.MultiWriter(f, h), r)
	if err != nil {
		return "", fmt.Errorf("downloading %s: %w", m.URL(a.Path), err)
	}
	if err := f.Sync(); err != nil {
		return "", Permanent(fmt.Errorf("downloading %s: %w", m.URL(a.Path), err))
	}
	if err := f.Close(); err != nil {
		return "", Permanent(fmt.Errorf("downloading %s: %w", m.URL(a.Path), err))
	}
	got := hex.EncodeToString(h.Sum(nil))
	if got != a.SHA256 || (a.Size > 0 && n != a.Size) {
		mm := &HashMismatchError{Asset: a.Name, Version: a.Version, URL: m.URL(a.Path), Want: a.SHA256, Got: got}
		if a.Size > 0 && n != a.Size {
			mm.WantSize, mm.GotSize = a.Size, n
		}
		return "", Permanent(mm)
	}
	return f.Name(), nil
}
