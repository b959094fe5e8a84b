package mirror

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/kapstan/kapstan/internal/assets"
)

// HTTPS is a file repository served over HTTPS: it can be read (to show
// hashes from its bill of materials) but not written; fill it by other
// means, for example by copying into a file:// folder that a web server
// serves.
type HTTPS struct {
	root   string
	client *http.Client
}

var _ Repository = (*HTTPS)(nil)

// ErrReadOnly is wrapped by Put on a repository kapstan cannot write.
var ErrReadOnly = errors.New("kapstan cannot write to an https:// file repository: copy into a file:// folder that your web server serves, or use an s3:// repository")

// NewHTTPS returns the repository at root, read through client
// (http.DefaultClient when nil).
func NewHTTPS(root string, client *http.Client) *HTTPS {
	if client == nil {
		client = http.DefaultClient
	}
	return &HTTPS{root: strings.TrimSuffix(root, "/"), client: client}
}

// URL implements Repository.
func (h *HTTPS) URL() string { return h.root }

// Stat implements Repository by reading the file.
func (h *HTTPS) Stat(ctx context.Context, path string) (Info, error) {
	body, err := h.Get(ctx, path)
	if err != nil {
		return Info{}, err
	}
	defer body.Close()
	sha, size, err := assets.Sum(body)
	if err != nil {
		return Info{}, fmt.Errorf("reading %s: %w", join(h.root, path), err)
	}
	return Info{SHA256: sha, Size: size}, nil
}

// Get implements Repository.
func (h *HTTPS) Get(ctx context.Context, path string) (io.ReadCloser, error) {
	if err := checkPath(path); err != nil {
		return nil, err
	}
	url := join(h.root, path)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", url, err)
	}
	resp, err := h.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", url, err)
	}
	switch {
	case resp.StatusCode == http.StatusNotFound:
		resp.Body.Close()
		return nil, fmt.Errorf("%s: %w", url, ErrNotExist)
	case resp.StatusCode != http.StatusOK:
		resp.Body.Close()
		return nil, fmt.Errorf("reading %s: %s", url, resp.Status)
	}
	return resp.Body, nil
}

// Put implements Repository: it always fails with ErrReadOnly.
func (h *HTTPS) Put(context.Context, string, io.ReadSeeker, Info) error {
	return fmt.Errorf("%s: %w", h.root, ErrReadOnly)
}
