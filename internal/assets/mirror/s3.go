package mirror

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/kapstan/kapstan/internal/assets"
)

// S3API is the part of the S3 client an S3 repository uses.
type S3API interface {
	HeadObject(ctx context.Context, in *s3.HeadObjectInput, optFns ...func(*s3.Options)) (*s3.HeadObjectOutput, error)
	GetObject(ctx context.Context, in *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error)
	PutObject(ctx context.Context, in *s3.PutObjectInput, optFns ...func(*s3.Options)) (*s3.PutObjectOutput, error)
}

var _ S3API = (*s3.Client)(nil)

// shaMetadata is the user metadata key (x-amz-meta-sha256) that records
// an object's SHA-256 when Put writes it. S3 keeps no SHA-256 of a whole
// object that a HEAD can return for every upload, so Stat reads this and
// falls back to reading the object when it is missing.
const shaMetadata = "sha256"

// S3 is a repository in an S3 bucket, under a prefix: path "a/b" in
// s3://bucket/prefix is the key "prefix/a/b".
type S3 struct {
	client S3API
	bucket string
	prefix string // "" or ends with "/"
	// region and endpoint are the client's, set by OpenS3 for FetchURL:
	// endpoint is "" for AWS itself, else the overridden endpoint
	// (AWS_ENDPOINT_URL, e.g. moto).
	region, endpoint string
}

var _ Repository = (*S3)(nil)

// NewS3 returns the repository in bucket under prefix, through client.
// The client must use path-style addressing when the endpoint is not AWS
// (e.g. moto).
func NewS3(client S3API, bucket, prefix string) *S3 {
	prefix = strings.Trim(prefix, "/")
	if prefix != "" {
		prefix += "/"
	}
	return &S3{client: client, bucket: bucket, prefix: prefix}
}

// OpenS3 opens s3://loc ("bucket" or "bucket/prefix") with a client
// configured from the environment; region is used when it names none.
func OpenS3(ctx context.Context, loc, region string) (*S3, error) {
	bucket, prefix, _ := strings.Cut(loc, "/")
	if bucket == "" {
		return nil, fmt.Errorf("file repository s3://%s: no bucket", loc)
	}
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("file repository s3://%s: loading AWS config: %w", loc, err)
	}
	if cfg.Region == "" {
		cfg.Region = region
	}
	client := s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.UsePathStyle = true
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	})
	r := NewS3(client, bucket, prefix)
	opts := client.Options()
	r.region, r.endpoint = opts.Region, aws.ToString(opts.BaseEndpoint)
	return r, nil
}

// URL implements Repository.
func (r *S3) URL() string { return strings.TrimSuffix("s3://"+r.bucket+"/"+r.prefix, "/") }

func (r *S3) key(path string) (string, error) {
	if err := checkPath(path); err != nil {
		return "", err
	}
	return r.prefix + path, nil
}

// Stat implements Repository: the SHA-256 recorded when the object was
// written, or, for an object written by other means, that of its content.
func (r *S3) Stat(ctx context.Context, path string) (Info, error) {
	key, err := r.key(path)
	if err != nil {
		return Info{}, err
	}
	out, err := r.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(r.bucket), Key: aws.String(key)})
	if err != nil {
		return Info{}, r.wrap(path, err)
	}
	size := aws.ToInt64(out.ContentLength)
	if sha := out.Metadata[shaMetadata]; sha != "" {
		return Info{SHA256: sha, Size: size}, nil
	}
	body, err := r.Get(ctx, path)
	if err != nil {
		return Info{}, err
	}
	defer body.Close()
	sha, n, err := assets.Sum(body)
	if err != nil {
		return Info{}, fmt.Errorf("reading %s: %w", join(r.URL(), path), err)
	}
	return Info{SHA256: sha, Size: n}, nil
}

// Get implements Repository.
func (r *S3) Get(ctx context.Context, path string) (io.ReadCloser, error) {
	key, err := r.key(path)
	if err != nil {
		return nil, err
	}
	out, err := r.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(r.bucket), Key: aws.String(key)})
	if err != nil {
		return nil, r.wrap(path, err)
	}
	return out.Body, nil
}

// Put implements Repository. It sends the SHA-256 as the request's
// checksum, so S3 refuses an upload that arrives changed, and records it
// in the object's metadata for Stat. A PutObject is atomic: readers see
// the old object or the new one.
func (r *S3) Put(ctx context.Context, path string, body io.ReadSeeker, info Info) error {
	key, err := r.key(path)
	if err != nil {
		return err
	}
	sum, err := hex.DecodeString(info.SHA256)
	if err != nil || len(sum) != 32 {
		return fmt.Errorf("writing %s: sha256 %q is not 64 hex digits", join(r.URL(), path), info.SHA256)
	}
	// S3 checks the body against ChecksumSHA256 as it arrives (a
	// mismatch is a 400 BadDigest), which covers the network; moto does
	// not check it, so the body is also hashed here before it is sent,
	// which covers a source that changed since the caller hashed it.
	if _, err := body.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("writing %s: %w", join(r.URL(), path), err)
	}
	if err := assets.Verify(assets.Asset{Name: path, SHA256: info.SHA256, Size: info.Size}, "the file to write", body); err != nil {
		return fmt.Errorf("writing %s: %w", join(r.URL(), path), err)
	}
	if _, err := body.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("writing %s: %w", join(r.URL(), path), err)
	}
	_, err = r.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket:               aws.String(r.bucket),
		Key:                  aws.String(key),
		Body:                 body,
		ContentLength:        aws.Int64(info.Size),
		ChecksumSHA256:       aws.String(base64.StdEncoding.EncodeToString(sum)),
		Metadata:             map[string]string{shaMetadata: info.SHA256},
		ServerSideEncryption: types.ServerSideEncryptionAes256,
	})
	if err != nil {
		return fmt.Errorf("writing %s: %w", join(r.URL(), path), err)
	}
	return nil
}

// wrap names the object in err, and makes a missing one ErrNotExist.
func (r *S3) wrap(path string, err error) error {
	var nf *types.NotFound
	var nsk *types.NoSuchKey
	var ae smithy.APIError
	if errors.As(err, &nf) || errors.As(err, &nsk) || (errors.As(err, &ae) && (ae.ErrorCode() == "NotFound" || ae.ErrorCode() == "NoSuchKey")) {
		return fmt.Errorf("%s: %w", join(r.URL(), path), ErrNotExist)
	}
	var re interface{ HTTPStatusCode() int }
	if errors.As(err, &re) && re.HTTPStatusCode() == http.StatusNotFound {
		return fmt.Errorf("%s: %w", join(r.URL(), path), ErrNotExist)
	}
	return fmt.Errorf("reading %s: %w", join(r.URL(), path), err)
}
