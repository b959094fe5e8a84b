package nodeup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
)

// Mirror is the file repository a node downloads its assets from: the
// cluster's mirror, never the internet.
type Mirror interface {
	// Open returns the file at p, a path relative to the mirror's root.
	// An error that no retry can fix (the file is not there) is marked
	// [Permanent].
	Open(ctx context.Context, p string) (io.ReadCloser, error)
	// URL names the file at p, for messages.
	URL(p string) string
}

// S3GetAPI is the part of S3 an s3:// mirror reads with. *s3.Client
// implements it.
type S3GetAPI interface {
	GetObject(ctx context.Context, in *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error)
}

var _ S3GetAPI = (*s3.Client)(nil)

// OpenMirror returns the mirror at base: s3://bucket/prefix (read with
// s3c, which must be configured with the machine's region and
// credentials), file:///dir, or http(s)://host/path (read with hc, or
// http.DefaultClient when hc is nil).
func OpenMirror(base string, s3c S3GetAPI, hc *http.Client) (Mirror, error) {
	u, err := url.Parse(base)
	if err != nil {
		return nil, fmt.Errorf("asset mirror %q: %w", base, err)
	}
	switch u.Scheme {
	case "file":
		if u.Host != "" || !path.IsAbs(u.Path) {
			return nil, fmt.Errorf("asset mirror %q: want file:///absolute/dir", base)
		}
		return fileMirror{dir: filepath.FromSlash(u.Path)}, nil
	case "http", "https":
		if u.Host == "" {
			return nil, fmt.Errorf("asset mirror %q: no host", base)
		}
		if hc == nil {
			hc = http.DefaultClient
		}
		return httpMirror{base: strings.TrimSuffix(base, "/"), client: hc}, nil
	case "s3":
		if u.Host == "" {
			return nil, fmt.Errorf("asset mirror %q: no bucket", base)
		}
		if s3c == nil {
			return nil, fmt.Errorf("asset mirror %q: no S3 client: an s3:// mirror is read on the machine, with its instance role", base)
		}
		return s3Mirror{client: s3c, bucket: u.Host, prefix: strings.Trim(u.Path, "/")}, nil
	}
	return nil, fmt.Errorf("asset mirror %q: want s3://, file:// or https://", base)
}

// checkRelative refuses a path that is absolute or leaves the mirror.
func checkRelative(p string) error {
	if p == "" || !filepath.IsLocal(filepath.FromSlash(p)) || strings.Contains(p, "\\") {
		return fmt.Errorf("asset path %q: want a path relative to the mirror's root", p)
	}
	return nil
}

type fileMirror struct{ dir string }

func (m fileMirror) URL(p string) string {
	return "file://" + filepath.ToSlash(filepath.Join(m.dir, p))
}

func (m fileMirror) Open(_ context.Context, p string) (io.ReadCloser, error) {
	if err := checkRelative(p); err != nil {
		return nil, Permanent(err)
	}
	f, err := os.Open(filepath.Join(m.dir, filepath.FromSlash(p)))
	if err != nil {
		// A local file that is missing or unreadable stays so.
		return nil, Permanent(err)
	}
	return f, nil
}

type httpMirror struct {
	base   string
	client *http.Client
}

func (m httpMirror) URL(p string) string {
	parts := strings.Split(p, "/")
	for i, s := range parts {
		parts[i] = url.PathEscape(s)
	}
	return m.base + "/" + strings.Join(parts, "/")
}

func (m httpMirror) Open(ctx context.Context, p string) (io.ReadCloser, error) {
	if err := checkRelative(p); err != nil {
		return nil, Permanent(err)
	}
	u := m.URL(p)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, Permanent(fmt.Errorf("GET %s: %w", u, err))
	}
	resp, err := m.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", u, err) // network: retry
	}
	if resp.StatusCode == http.StatusOK {
		return resp.Body, nil
	}
	resp.Body.Close()
	err = fmt.Errorf("GET %s: %s", u, resp.Status)
	if resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusRequestTimeout {
		return nil, err
	}
	return nil, Permanent(err)
}

type s3Mirror struct {
	client         S3GetAPI
	bucket, prefix string
}

func (m s3Mirror) key(p string) string {
	if m.prefix == "" {
		return p
	}
	return m.prefix + "/" + p
}

func (m s3Mirror) URL(p string) string { return "s3://" + m.bucket + "/" + m.key(p) }

func (m s3Mirror) Open(ctx context.Context, p string) (io.ReadCloser, error) {
	if err := checkRelative(p); err != nil {
		return nil, Permanent(err)
	}
	out, err := m.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(m.bucket), Key: aws.String(m.key(p))})
	if err != nil {
		err = fmt.Errorf("reading %s: %w", m.URL(p), err)
		// A missing object is permanent. Anything else is retried,
		// AccessDenied included: a new instance profile takes a while to
		// be honoured everywhere.
		var ae smithy.APIError
		if errors.As(err, &ae) && (ae.ErrorCode() == "NoSuchKey" || ae.ErrorCode() == "NotFound" || ae.ErrorCode() == "NoSuchBucket") {
			return nil, Permanent(err)
		}
		return nil, err
	}
	return out.Body, nil
}
