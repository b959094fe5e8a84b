package store_test

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/google/go-cmp/cmp"

	"github.com/kapstan/kapstan/internal/store"
	"github.com/kapstan/kapstan/internal/testing/moto"
)

func TestS3ServerSideEncryption(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	client, bucket := newS3Client(t)
	s := store.NewS3(client, bucket, "clusters")
	mustPut(t, s, "demo/config", "spec", store.IfAbsent())
	if _, err := s.Put(ctx, "demo/secrets/ca.key", []byte("key"), store.IfAbsent(), store.Secret()); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"clusters/demo/config", "clusters/demo/secrets/ca.key"} {
		head, err := client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
		if err != nil {
			t.Fatalf("HeadObject(%s): %v", key, err)
		}
		if head.ServerSideEncryption != types.ServerSideEncryptionAes256 {
			t.Errorf("HeadObject(%s).ServerSideEncryption = %q, want AES256", key, head.ServerSideEncryption)
		}
		get, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
		if err != nil {
			t.Fatalf("GetObject(%s): %v", key, err)
		}
		get.Body.Close()
		if get.ServerSideEncryption != types.ServerSideEncryptionAes256 {
			t.Errorf("GetObject(%s).ServerSideEncryption = %q, want AES256", key, get.ServerSideEncryption)
		}
	}
}

func TestS3RevisionIsETag(t *testing.T) {
	t.Parallel()
	s := newS3Store(t)
	rev := mustPut(t, s, "demo/config", "spec", store.IfAbsent())
	sum := md5.Sum([]byte("spec"))
	if want := store.Revision(hex.EncodeToString(sum[:])); rev != want {
		t.Errorf("revision = %q, want the MD5 %q", rev, want)
	}
}

func TestS3Layout(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	client, bucket := newS3Client(t)
	s := store.NewS3(client, bucket, "/a/b/")
	if got, want := s.URL(), "s3://"+bucket+"/a/b"; got != want {
		t.Errorf("URL() = %q, want %q", got, want)
	}
	mustPut(t, s, "demo/config", "spec", store.IfAbsent())
	out, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("a/b/demo/config")})
	if err != nil {
		t.Fatalf("object not at prefix/key: %v", err)
	}
	data, _ := io.ReadAll(out.Body)
	out.Body.Close()
	if string(data) != "spec" {
		t.Errorf("object holds %q, want %q", data, "spec")
	}
	// Objects beside the prefix, or that are not valid keys, don't list.
	for _, k := range []string{"a/bc/x", "a/b//x", "a/b/demo/.kapstan.lock"} {
		if _, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(k), Body: strings.NewReader("x")}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.List(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"demo/config"}, got); diff != "" {
		t.Errorf("List (-want +got):\n%s", diff)
	}
}

// pagedS3 serves ListObjectsV2 from pages, following continuation tokens.
type pagedS3 struct {
	store.S3API
	pages [][]string
}

func (p *pagedS3) ListObjectsV2(_ context.Context, in *s3.ListObjectsV2Input, _ ...func(*s3.Options)) (*s3.ListObjectsV2Output, error) {
	i := 0
	if in.ContinuationToken != nil {
		fmt.Sscan(*in.ContinuationToken, &i)
	}
	out := &s3.ListObjectsV2Output{IsTruncated: aws.Bool(i+1 < len(p.pages))}
	for _, k := range p.pages[i] {
		out.Contents = append(out.Contents, types.Object{Key: aws.String(k)})
	}
	if i+1 < len(p.pages) {
		out.NextContinuationToken = aws.String(fmt.Sprint(i + 1))
	}
	return out, nil
}

func TestS3ListPages(t *testing.T) {
	s := store.NewS3(&pagedS3{pages: [][]string{
		{"p/demo/config", "p/demo/history/0000000001"},
		{"p/demo/history/0000000002"},
		{"p/demo/instancegroup/nodes"},
	}}, "b", "p")
	got, err := s.List(t.Context(), "demo/")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"demo/config", "demo/history/0000000001", "demo/history/0000000002", "demo/instancegroup/nodes"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("List (-want +got):\n%s", diff)
	}
}

func TestS3MissingBucket(t *testing.T) {
	t.Parallel()
	cfg, err := motoSrv.Config(t.Context(), moto.WithAccount(moto.NewAccountID()))
	if err != nil {
		t.Fatal(err)
	}
	s := store.NewS3(s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true }), "no-such-bucket", "")
	_, err = s.Get(t.Context(), "demo/config")
	if err == nil || errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get in a missing bucket = %v, want an error that is not ErrNotFound", err)
	}
	if !strings.Contains(err.Error(), "NoSuchBucket") {
		t.Errorf("error %q does not say the bucket is missing", err)
	}
}

// TestOpenS3FromEnvironment opens s3:// the way the kapstan binary does,
// configured only by the environment moto.Server.Env describes.
func TestOpenS3FromEnvironment(t *testing.T) {
	for _, kv := range motoSrv.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	t.Setenv("AWS_CONFIG_FILE", "/dev/null")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
	ctx := t.Context()

	// The environment gives moto's default account, shared by every test
	// that uses it: use a bucket of this test's own.
	cfg, err := motoSrv.Config(ctx)
	if err != nil {
		t.Fatal(err)
	}
	client := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
	bucket := "kapstan-open-" + moto.NewAccountID()
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}

	s, err := store.Open(ctx, "s3://"+bucket+"/state")
	if err != nil {
		t.Fatal(err)
	}
	rev := mustPut(t, s, "demo/config", "spec", store.IfAbsent())
	wantContent(t, s, "demo/config", "spec", rev)
	if _, err := client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String("state/demo/config")}); err != nil {
		t.Errorf("object not in the bucket: %v", err)
	}
}

// fakeS3 fails every write with err, for S3 answers moto never gives.
type fakeS3 struct {
	store.S3API
	err error
}

func (f *fakeS3) PutObject(context.Context, *s3.PutObjectInput, ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	return nil, f.err
}

func (f *fakeS3) DeleteObject(context.Context, *s3.DeleteObjectInput, ...func(*s3.Options)) (*s3.DeleteObjectOutput, error) {
	return nil, f.err
}

func httpError(status int, err error) error {
	return &smithyhttp.ResponseError{
		Response: &smithyhttp.Response{Response: &http.Response{StatusCode: status}},
		Err:      err,
	}
}

func TestS3ErrorMapping(t *testing.T) {
	cases := []struct {
		name         string
		err          error
		pre          store.Precondition
		wantConflict bool
		wantGone     bool
	}{
		{"412 PreconditionFailed", httpError(412, &smithy.GenericAPIError{Code: "PreconditionFailed"}), store.IfMatch("abc"), true, false},
		{"412 without a code", httpError(412, errors.New("boom")), store.IfAbsent(), true, false},
		{"409 ConditionalRequestConflict", httpError(409, &smithy.GenericAPIError{Code: "ConditionalRequestConflict"}), store.IfMatch("abc"), true, false},
		{"404 NoSuchKey with IfMatch", httpError(404, &smithy.GenericAPIError{Code: "NoSuchKey"}), store.IfMatch("abc"), true, true},
		{"404 NoSuchBucket", httpError(404, &smithy.GenericAPIError{Code: "NoSuchBucket"}), store.IfMatch("abc"), false, false},
		{"409 OperationAborted", httpError(409, &smithy.GenericAPIError{Code: "OperationAborted"}), store.IfMatch("abc"), false, false},
		{"403 AccessDenied", httpError(403, &smithy.GenericAPIError{Code: "AccessDenied"}), store.IfAbsent(), false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := store.NewS3(&fakeS3{err: tc.err}, "b", "")
			_, putErr := s.Put(t.Context(), "demo/config", []byte("x"), tc.pre)
			errs := map[string]error{"Put": putErr}
			if tc.pre != store.IfAbsent() {
				errs["Delete"] = s.Delete(t.Context(), "demo/config", tc.pre)
			}
			for op, err := range errs {
				if err == nil {
					t.Fatalf("%s succeeded", op)
				}
				var ce *store.ConflictError
				if got := errors.As(err, &ce); got != tc.wantConflict {
					t.Fatalf("%s = %v; conflict %v, want %v", op, err, got, tc.wantConflict)
				}
				if ce != nil && ce.Gone != tc.wantGone {
					t.Errorf("%s: Gone = %v, want %v", op, ce.Gone, tc.wantGone)
				}
				if ce == nil && !errors.Is(err, tc.err) {
					t.Errorf("%s = %v, does not wrap the S3 error", op, err)
				}
			}
		})
	}
}
