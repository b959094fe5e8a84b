package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// S3API is the part of the S3 client the S3 store uses. *s3.Client
// implements it.
type S3API interface {
	GetObject(ctx context.Context, in *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error)
	PutObject(ctx context.Context, in *s3.PutObjectInput, optFns ...func(*s3.Options)) (*s3.PutObjectOutput, error)
	DeleteObject(ctx context.Context, in *s3.DeleteObjectInput, optFns ...func(*s3.Options)) (*s3.DeleteObjectOutput, error)
	ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, optFns ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
}

var _ S3API = (*s3.Client)(nil)

// S3Store keeps each object in an S3 object: key "demo/config" in
// s3://bucket/prefix is the S3 key "prefix/demo/config".
//
// Preconditions map to S3 conditional writes: IfAbsent sends
// If-None-Match: *, IfMatch sends If-Match with the ETag, and a delete with
// IfMatch sends If-Match on DeleteObject. S3 checks them atomically, so no
// lock is needed. Every object is written with SSE-S3 (AES256).
//
// If the SDK retries a conditional put whose first attempt succeeded but
// whose answer was lost, the retry fails its own precondition and Put
// reports a conflict although the data was written; callers resolve it by
// reading again, as for any conflict.
type S3Store struct {
	client S3API
	bucket string
	prefix string // "" or ends with "/"
}

var _ Store = (*S3Store)(nil)

// NewS3 returns the store in bucket under prefix that talks through client.
// Leading and trailing slashes of prefix are ignored. The client must use
// path-style addressing when the endpoint is not AWS (e.g. moto).
func NewS3(client S3API, bucket, prefix string) *S3Store {
	prefix = strings.Trim(prefix, "/")
	if prefix != "" {
		prefix += "/"
	}
	return &S3Store{client: client, bucket: bucket, prefix: prefix}
}

// OpenS3 opens s3://loc, where loc is "bucket" or "bucket/prefix", with a
// client configured from the environment by config.LoadDefaultConfig. With
// no region configured it uses us-east-1.
func OpenS3(ctx context.Context, loc string) (*S3Store, error) {
	bucket, prefix, _ := strings.Cut(loc, "/")
	if bucket == "" {
		return nil, fmt.Errorf("opening store s3://%s: no bucket", loc)
	}
	if p := strings.Trim(prefix, "/"); p != "" {
		if err := validatePath(p); err != nil {
			return nil, fmt.Errorf("opening store s3://%s: invalid prefix: %w", loc, errors.Unwrap(err))
		}
	}
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("opening store s3://%s: loading AWS config: %w", loc, err)
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	client := s3.NewFromConfig(cfg, func(o *s3.Options) {
		// Path style works with every endpoint, including moto on
		// localhost, where bucket.localhost does not resolve.
		o.UsePathStyle = true
		// moto sends no checksum headers, so validating every response
		// would log a warning per GetObject. Validate only when the
		// operation requires it; we never ask for checksums on reads.
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	})
	return NewS3(client, bucket, prefix), nil
}

// URL implements [Store]: s3://bucket or s3://bucket/prefix.
func (s *S3Store) URL() string {
	if s.prefix == "" {
		return "s3://" + s.bucket
	}
	return "s3://" + s.bucket + "/" + strings.TrimSuffix(s.prefix, "/")
}

func (s *S3Store) s3Key(key string) string { return s.prefix + key }

// Get implements [Store].
func (s *S3Store) Get(ctx context.Context, key string) (*Object, error) {
	if err := ValidateKey(key); err != nil {
		return nil, err
	}
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{
		Bucket: aws.String(s.bucket),
		Key:    aws.String(s.s3Key(key)),
	})
	if err != nil {
		if isNotFound(err) {
			return nil, fmt.Errorf("reading %s: %w", key, ErrNotFound)
		}
		return nil, fmt.Errorf("reading %s from %s: %w", key, s.URL(), err)
	}
	defer out.Body.Close()
	data, err := io.ReadAll(out.Body)
	if err != nil {
		return nil, fmt.Errorf("reading %s from %s: %w", key, s.URL(), err)
	}
	return &Object{Key: key, Data: data, Revision: etagRevision(out.ETag)}, nil
}

// Put implements [Store]. Options are accepted; every object is encrypted.
func (s *S3Store) Put(ctx context.Context, key string, data []byte, pre Precondition, _ ...PutOption) (Revision, error) {
	if err := ValidateKey(key); err != nil {
		return "", err
	}
	if err := pre.validate(); err != nil {
		return "", fmt.Errorf("writing %s: %w", key, err)
	}
	in := &s3.PutObjectInput{
		Bucket:               aws.String(s.bucket),
		Key:                  aws.String(s.s3Key(key)),
		Body:                 bytes.NewReader(data),
		ContentLength:        aws.Int64(int64(len(data))),
		ServerSideEncryption: types.ServerSideEncryptionAes256,
	}
	switch pre.kind {
	case preconditionIfAbsent:
		in.IfNoneMatch = aws.String("*")
	case preconditionIfMatch:
		in.IfMatch = aws.String(quoteETag(pre.rev))
	}
	out, err := s.client.PutObject(ctx, in)
	if err != nil {
		if cerr := conflictFromS3("writing", key, pre, err); cerr != nil {
			return "", cerr
		}
		return "", fmt.Errorf("writing %s to %s: %w", key, s.URL(), err)
	}
	rev := etagRevision(out.ETag)
	if rev == "" {
		return "", fmt.Errorf("writing %s to %s: response has no ETag", key, s.URL())
	}
	return rev, nil
}

// Delete implements [Store].
func (s *S3Store) Delete(ctx context.Context, key string, pre Precondition) error {
	if err := ValidateKey(key); err != nil {
		return err
	}
	if err := pre.validateDelete(); err != nil {
		return fmt.Errorf("deleting %s: %w", key, err)
	}
	in := &s3.DeleteObjectInput{
		Bucket: aws.String(s.bucket),
		Key:    aws.String(s.s3Key(key)),
	}
	if pre.kind == preconditionIfMatch {
		in.IfMatch = aws.String(quoteETag(pre.rev))
	}
	if _, err := s.client.DeleteObject(ctx, in); err != nil {
		if cerr := conflictFromS3("deleting", key, pre, err); cerr != nil {
			return cerr
		}
		return fmt.Errorf("deleting %s from %s: %w", key, s.URL(), err)
	}
	return nil
}

// List implements [Store].
func (s *S3Store) List(ctx context.Context, prefix string) ([]string, error) {
	if err := validatePrefix(prefix); err != nil {
		return nil, err
	}
	keys := []string{}
	p := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{
		Bucket: aws.String(s.bucket),
		Prefix: aws.String(s.prefix + prefix),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("listing %q in %s: %w", prefix, s.URL(), err)
		}
		for _, obj := range page.Contents {
			key, ok := strings.CutPrefix(aws.ToString(obj.Key), s.prefix)
			if ok && ValidateKey(key) == nil {
				keys = append(keys, key)
			}
		}
	}
	// S3 already lists in UTF-8 byte order; sort anyway so the contract
	// doesn't depend on it.
	slices.Sort(keys)
	return keys, nil
}

// etagRevision turns an ETag into a Revision, without the quotes.
func etagRevision(etag *string) Revision {
	return Revision(strings.Trim(aws.ToString(etag), `"`))
}

// quoteETag turns a Revision back into an entity tag for If-Match.
func quoteETag(rev Revision) string { return `"` + string(rev) + `"` }

// conflictFromS3 returns the *ConflictError that err means, or nil if err
// is not about the precondition.
//
// S3 answers 412 PreconditionFailed when the precondition does not hold,
// and 409 ConditionalRequestConflict when another conditional write to the
// key is in flight. If-Match on a missing key gives 404 NoSuchKey.
func conflictFromS3(op, key string, pre Precondition, err error) error {
	code, status := s3ErrorCode(err)
	switch {
	case code == "PreconditionFailed" || status == http.StatusPreconditionFailed ||
		code == "ConditionalRequestConflict":
		// S3 does not say which revision it has.
		return &ConflictError{Op: op, Key: key, Want: pre.rev}
	case pre.kind == preconditionIfMatch && isNotFound(err):
		return &ConflictError{Op: op, Key: key, Want: pre.rev, Gone: true}
	}
	return nil
}

// isNotFound reports whether err says the object does not exist. A missing
// bucket is not a missing object: it is a configuration error to report.
func isNotFound(err error) bool {
	code, status := s3ErrorCode(err)
	switch code {
	case "NoSuchKey", "NotFound":
		return true
	case "NoSuchBucket":
		return false
	}
	return status == http.StatusNotFound
}

// s3ErrorCode returns the API error code and HTTP status of err, if any.
func s3ErrorCode(err error) (code string, status int) {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		code = apiErr.ErrorCode()
	}
	var respErr interface{ HTTPStatusCode() int }
	if errors.As(err, &respErr) {
		status = respErr.HTTPStatusCode()
	}
	return code, status
}
