package mirror_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/google/go-cmp/cmp"

	"github.com/kapstan/kapstan/internal/assets"
	"github.com/kapstan/kapstan/internal/assets/mirror"
	"github.com/kapstan/kapstan/internal/testing/moto"
)

var motoSrv *moto.Server

func TestMain(m *testing.M) { os.Exit(moto.RunMain(m, &motoSrv)) }

// backend makes an empty repository of one kind.
type backend struct {
	name string
	open func(t *testing.T) mirror.Repository
}

func backends() []backend {
	return []backend{
		{"file", func(t *testing.T) mirror.Repository { return mirror.NewFile(t.TempDir()) }},
		{"s3", func(t *testing.T) mirror.Repository {
			client, bucket := newBucket(t)
			return mirror.NewS3(client, bucket, "/clusters/demo.k8s.local/assets/")
		}},
	}
}

// newBucket makes an S3 bucket in a moto account of the test's own.
func newBucket(t *testing.T) (*s3.Client, string) {
	t.Helper()
	account := moto.NewAccountID()
	cfg, err := motoSrv.Config(t.Context(), moto.WithAccount(account))
	if err != nil {
		t.Fatal(err)
	}
	client := s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.UsePathStyle = true
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	})
	bucket := "kapstan-mirror-" + account
	if _, err := client.CreateBucket(t.Context(), &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatalf("CreateBucket: %v", err)
	}
	return client, bucket
}

// listing is a small listing: two files, an archived image, and an image
// pulled from a registry (which Copy leaves alone).
func listing() *assets.BOM {
	return assets.NewBOM(assets.KindList, "demo.k8s.local", "s3://state/demo.k8s.local/assets", "", []assets.Asset{
		{Name: "kubelet", Kind: assets.KindFile, Version: "1.36.3", Source: "https://dl.k8s.io/release/v1.36.3/bin/linux/amd64/kubelet", Path: "kubernetes/v1.36.3/linux/amd64/kubelet"},
		{Name: "runc", Kind: assets.KindFile, Version: "1.4.0", Source: "https://github.com/opencontainers/runc/releases/download/v1.4.0/runc.amd64", Path: "runc/v1.4.0/linux/amd64/runc"},
		{Name: "image/pause", Kind: assets.KindImage, Version: "3.10.1", Source: "registry.k8s.io/pause:3.10.1", Path: "images/pause/3.10.1/linux/amd64/pause.tar", Image: "registry.k8s.io/pause:3.10.1"},
		{Name: "image/coredns", Kind: assets.KindImage, Version: "1.13.1", Source: "registry.k8s.io/coredns/coredns:v1.13.1", Image: "registry.example.com/coredns/coredns:v1.13.1"},
	})
}

// sourceDir lays out the listing's files in a folder, each holding
// content, and returns it.
func sourceDir(t *testing.T, list *assets.BOM, content func(a assets.Asset) string) string {
	t.Helper()
	dir := t.TempDir()
	for _, a := range list.Assets {
		if a.Path == "" {
			continue
		}
		p := mirror.SourcePath(dir, a)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content(a)), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func contentOf(a assets.Asset) string { return "the bytes of " + a.Name + " " + a.Version + "\n" }

// copyAll runs Copy and returns its result and the events it reported.
func copyAll(t *testing.T, repo mirror.Repository, from string, opts mirror.Options) (*mirror.Result, error) {
	t.Helper()
	return mirror.Copy(t.Context(), repo, from, listing(), opts)
}

func TestCopyColdThenWarm(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			repo := b.open(t)
			from := sourceDir(t, listing(), contentOf)
			var events []string
			opts := mirror.Options{Concurrency: 2, Progress: func(e mirror.Event) {}}
			res, err := copyAll(t, repo, from, opts)
			if err != nil {
				t.Fatal(err)
			}
			want := []string{"kubelet", "runc", "image/pause"}
			if d := cmp.Diff(want, res.Copied); d != "" || len(res.Skipped) != 0 {
				t.Fatalf("cold copy: copied (-want +got):\n%s\nskipped %v", d, res.Skipped)
			}
			if d := cmp.Diff([]string{"image/coredns"}, res.NotCopied); d != "" {
				t.Errorf("not copied:\n%s", d)
			}
			if res.BOMURL != repo.URL()+"/bom/demo.k8s.local.yaml" {
				t.Errorf("BOM at %s", res.BOMURL)
			}
			bom, err := mirror.ReadBOM(t.Context(), repo, "demo.k8s.local")
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(res.BOM, bom); d != "" {
				t.Errorf("the BOM read back differs from the one written:\n%s", d)
			}
			for _, a := range bom.Assets {
				if a.Path == "" {
					if a.SHA256 != "" {
						t.Errorf("%s: a hash for an image not copied", a.Name)
					}
					continue
				}
				body, err := repo.Get(t.Context(), a.Path)
				if err != nil {
					t.Fatal(err)
				}
				if err := assets.Verify(a, a.Path, body); err != nil {
					t.Error(err)
				}
				body.Close()
				if a.Size != int64(len(contentOf(a))) {
					t.Errorf("%s: size %d", a.Name, a.Size)
				}
			}

			opts.Progress = func(e mirror.Event) { events = append(events, string(e.Action)+" "+e.Asset.Name) }
			opts.Concurrency = 1
			res, err = copyAll(t, repo, from, opts)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Copied) != 0 || len(res.Skipped) != 3 {
				t.Fatalf("warm copy: copied %v, skipped %v", res.Copied, res.Skipped)
			}
			if d := cmp.Diff([]string{"skipped kubelet", "skipped runc", "skipped image/pause"}, events); d != "" {
				t.Errorf("events:\n%s", d)
			}
			if d := cmp.Diff(bom, res.BOM); d != "" {
				t.Errorf("the warm copy's BOM differs:\n%s", d)
			}
		})
	}
}

func TestCopyDetectsAChangedByte(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			repo := b.open(t)
			from := sourceDir(t, listing(), contentOf)
			first, err := copyAll(t, repo, from, mirror.Options{})
			if err != nil {
				t.Fatal(err)
			}
			runc := mirror.SourcePath(from, mustAsset(t, first.BOM, "runc"))
			data, _ := os.ReadFile(runc)
			data[0] ^= 1
			if err := os.WriteFile(runc, data, 0o755); err != nil {
				t.Fatal(err)
			}
			_, err = copyAll(t, repo, from, mirror.Options{})
			if err == nil {
				t.Fatal("a changed byte was copied")
			}
			was := mustAsset(t, first.BOM, "runc").SHA256
			for _, want := range []string{"nothing copied", "asset runc 1.4.0: " + runc + " has sha256 ", "the bill of materials " + first.BOMURL + " records " + was, "--replace"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("the error does not say %q:\n%v", want, err)
				}
			}
			// Nothing was written: the mirror and its BOM are the first copy's.
			bom, err := mirror.ReadBOM(t.Context(), repo, "demo.k8s.local")
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(first.BOM, bom); d != "" {
				t.Errorf("the BOM changed:\n%s", d)
			}
			if info, err := repo.Stat(t.Context(), "runc/v1.4.0/linux/amd64/runc"); err != nil || info.SHA256 != was {
				t.Errorf("the mirror's runc changed: %v %v", info, err)
			}

			// With --replace the new file goes in, and the BOM follows.
			res, err := copyAll(t, repo, from, mirror.Options{Replace: true})
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff([]string{"runc"}, res.Copied); d != "" {
				t.Errorf("--replace copied (-want +got):\n%s", d)
			}
			if got := mustAsset(t, res.BOM, "runc").SHA256; got == was {
				t.Error("the BOM still has the old hash")
			}
		})
	}
}

func TestCopyRefusesADifferentFileInTheMirror(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			repo := b.open(t)
			other := sourceDir(t, listing(), func(a assets.Asset) string { return "another build of " + a.Name })
			kubelet := mustAsset(t, listing(), "kubelet")
			f, err := os.Open(mirror.SourcePath(other, kubelet))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			sha, size, _ := assets.Sum(f)
			if err := repo.Put(t.Context(), kubelet.Path, f, mirror.Info{SHA256: sha, Size: size}); err != nil {
				t.Fatal(err)
			}
			_, err = copyAll(t, repo, sourceDir(t, listing(), contentOf), mirror.Options{})
			var mm *assets.MismatchError
			if !errors.As(err, &mm) || mm.Name != "kubelet" || mm.Got != sha || !strings.Contains(err.Error(), "already in the mirror; --replace overwrites it") {
				t.Fatalf("got %v", err)
			}
			if _, err := mirror.ReadBOM(t.Context(), repo, "demo.k8s.local"); !errors.Is(err, mirror.ErrNotExist) {
				t.Fatalf("a failed copy wrote a BOM: %v", err)
			}
		})
	}
}

func TestCopyMissingAssetWritesNothing(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			repo := b.open(t)
			from := sourceDir(t, listing(), contentOf)
			pause := mirror.SourcePath(from, mustAsset(t, listing(), "image/pause"))
			if err := os.Remove(pause); err != nil {
				t.Fatal(err)
			}
			_, err := copyAll(t, repo, from, mirror.Options{})
			want := "nothing copied: asset image/pause (image 3.10.1): not in the source folder: looked for " + pause
			if err == nil || err.Error() != want {
				t.Fatalf("got %v\nwant %s", err, want)
			}
			for _, p := range []string{"kubernetes/v1.36.3/linux/amd64/kubelet", "bom/demo.k8s.local.yaml"} {
				if _, err := repo.Stat(t.Context(), p); !errors.Is(err, mirror.ErrNotExist) {
					t.Errorf("%s was written: %v", p, err)
				}
			}
		})
	}
}

// TestS3StatWithoutMetadata: an object put by other means (no sha256
// metadata) is hashed from its content.
func TestS3StatWithoutMetadata(t *testing.T) {
	t.Parallel()
	client, bucket := newBucket(t)
	if _, err := client.PutObject(t.Context(), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("m/runc/v1.4.0/linux/amd64/runc"), Body: strings.NewReader("runc")}); err != nil {
		t.Fatal(err)
	}
	repo := mirror.NewS3(client, bucket, "m")
	got, err := repo.Stat(t.Context(), "runc/v1.4.0/linux/amd64/runc")
	if err != nil {
		t.Fatal(err)
	}
	sha, size, _ := assets.Sum(strings.NewReader("runc"))
	if got != (mirror.Info{SHA256: sha, Size: size}) {
		t.Fatalf("got %+v", got)
	}
	if _, err := repo.Stat(t.Context(), "runc/v9/runc"); !errors.Is(err, mirror.ErrNotExist) {
		t.Fatalf("missing object: %v", err)
	}
}

// TestPutRefusesWrongHash: a body that is not what the caller says is
// not stored.
func TestPutRefusesWrongHash(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			repo := b.open(t)
			sha, _, _ := assets.Sum(strings.NewReader("right"))
			err := repo.Put(t.Context(), "a/b", strings.NewReader("wrong"), mirror.Info{SHA256: sha, Size: 5})
			if err == nil {
				t.Fatal("a body with another hash was stored")
			}
			if _, err := repo.Stat(context.WithoutCancel(t.Context()), "a/b"); !errors.Is(err, mirror.ErrNotExist) {
				t.Fatalf("after a refused put: %v", err)
			}
		})
	}
}

func TestOpen(t *testing.T) {
	cases := []struct{ url, want, wantErr string }{
		{"file:///srv/mirror/", "file:///srv/mirror", ""},
		{"s3://bucket/a/b", "s3://bucket/a/b", ""},
		{"s3://bucket", "s3://bucket", ""},
		{"https://mirror.example.com/assets/", "https://mirror.example.com/assets", ""},
		{"file://relative", "", "file:// needs an absolute folder"},
		{"ftp://x", "", `scheme "ftp" is not supported`},
		{"bucket/x", "", "not a URL"},
	}
	for _, tc := range cases {
		t.Run(tc.url, func(t *testing.T) {
			repo, err := mirror.Open(t.Context(), tc.url, "us-east-1")
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if repo.URL() != tc.want {
				t.Fatalf("URL %q, want %q", repo.URL(), tc.want)
			}
		})
	}
}

func mustAsset(t *testing.T, b *assets.BOM, name string) assets.Asset {
	t.Helper()
	a, ok := b.Asset(name)
	if !ok {
		t.Fatalf("no asset %s", name)
	}
	return a
}
