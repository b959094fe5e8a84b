package mirror

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/kapstan/kapstan/internal/assets"
)

// Agent is the node agent as a cluster's machines fetch it when they
// first boot: by a URL that needs no credentials, checked against its
// SHA-256.
type Agent struct {
	// URL is the agent's file in the mirror, as curl fetches it.
	URL string
	// SHA256 is its hex SHA-256, from the bill of materials.
	SHA256 string
	// Version is the agent's version in the bill of materials.
	Version string
}

// fetcher is a repository whose files machines can fetch by URL.
type fetcher interface {
	// FetchURL is the URL a machine fetches path from without
	// credentials.
	FetchURL(path string) (string, error)
}

var (
	_ fetcher = (*S3)(nil)
	_ fetcher = (*HTTPS)(nil)
	_ fetcher = (*File)(nil)
)

// ReadAgent reads the node agent of cluster from the bill of materials in
// the file repository at fileRepo (opened as Open does, in region): its
// SHA-256, and the URL machines download it from. A mirror without a bill
// of materials, or whose bill of materials names no agent, is an error
// that names the mirror and the command that fills it.
func ReadAgent(ctx context.Context, fileRepo, region, cluster string) (Agent, error) {
	repo, err := Open(ctx, fileRepo, region)
	if err != nil {
		return Agent{}, fmt.Errorf("finding the node agent of %s: %w", cluster, err)
	}
	return agentOf(ctx, repo, cluster)
}

// agentOf is ReadAgent on an open repository.
func agentOf(ctx context.Context, repo Repository, cluster string) (Agent, error) {
	bomURL := join(repo.URL(), assets.BOMPath(cluster))
	fill := fmt.Sprintf("copy the cluster's assets into its mirror first: kapstan get assets %s --copy --from DIR", cluster)
	bom, err := ReadBOM(ctx, repo, cluster)
	if errors.Is(err, ErrNotExist) {
		return Agent{}, fmt.Errorf("finding the node agent of %s: the mirror %s has no bill of materials (%s): %s",
			cluster, repo.URL(), bomURL, fill)
	}
	if err != nil {
		return Agent{}, fmt.Errorf("finding the node agent of %s: %w", cluster, err)
	}
	a, ok := bom.Asset(assets.NameNodeup)
	if !ok || a.Path == "" {
		return Agent{}, fmt.Errorf("finding the node agent of %s: the bill of materials %s names no %s file: %s",
			cluster, bomURL, assets.NameNodeup, fill)
	}
	f, ok := repo.(fetcher)
	if !ok {
		return Agent{}, fmt.Errorf("finding the node agent of %s: machines cannot fetch from the mirror %s", cluster, repo.URL())
	}
	u, err := f.FetchURL(a.Path)
	if err != nil {
		return Agent{}, fmt.Errorf("finding the node agent of %s: %w", cluster, err)
	}
	return Agent{URL: u, SHA256: a.SHA256, Version: a.Version}, nil
}

// FetchURL implements fetcher: the object's HTTPS URL on AWS, virtual-
// hosted style in the client's region
// (https://BUCKET.s3.REGION.amazonaws.com/KEY), or, when the endpoint is
// overridden (a test against moto), path style under it
// (ENDPOINT/BUCKET/KEY). A machine fetches it before it has run anything
// that signs requests, so the object must be readable without
// credentials (public-read, or a bucket policy that lets the cluster's
// VPC read it); the README's Assets section says how.
func (r *S3) FetchURL(path string) (string, error) {
	key, err := r.key(path)
	if err != nil {
		return "", err
	}
	return s3FetchURL(r.bucket, key, r.region, r.endpoint)
}

// s3FetchURL is S3.FetchURL's URL of key in bucket.
func s3FetchURL(bucket, key, region, endpoint string) (string, error) {
	escaped := escapePath(key)
	if endpoint != "" {
		u, err := url.Parse(endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return "", fmt.Errorf("S3 endpoint %q: want http(s)://HOST[:PORT]", endpoint)
		}
		return strings.TrimSuffix(endpoint, "/") + "/" + bucket + "/" + escaped, nil
	}
	if region == "" {
		return "", fmt.Errorf("s3://%s/%s: no region to make its URL in", bucket, key)
	}
	return "https://" + bucket + ".s3." + region + ".amazonaws.com/" + escaped, nil
}

// FetchURL implements fetcher: the repository is already served over
// HTTPS.
func (h *HTTPS) FetchURL(path string) (string, error) {
	if err := checkPath(path); err != nil {
		return "", err
	}
	return join(h.root, escapePath(path)), nil
}

// FetchURL implements fetcher with a file:// URL, which only a machine
// that has the folder can fetch. kapstan makes one only where nothing is
// launched: a file:// mirror is the default only of a file:// state
// store, which `update cluster --yes` refuses, while plans and Terraform
// or CloudFormation files, which it allows with a warning, still need a
// boot script to render.
func (f *File) FetchURL(path string) (string, error) {
	if err := checkPath(path); err != nil {
		return "", err
	}
	return join(f.URL(), escapePath(path)), nil
}

// escapePath escapes each segment of a slash path for a URL.
func escapePath(path string) string {
	segs := strings.Split(path, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return strings.Join(segs, "/")
}
