package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/kapstan/kapstan/internal/assets"
	"github.com/kapstan/kapstan/internal/assets/mirror"
	"github.com/kapstan/kapstan/internal/channels"
	awscloud "github.com/kapstan/kapstan/internal/cloud/aws"
	"github.com/kapstan/kapstan/internal/newcluster"
	"github.com/kapstan/kapstan/internal/testing/moto"
	api "github.com/kapstan/kapstan/pkg/apis/kapstan/v1alpha1"
)

// assetBytes is the size of each fake asset the copy benchmark writes:
// real ones run from a few MiB (runc) to ~60 MiB (the kubelet), but the
// benchmark compares cold and warm copies of one set, in one run.
const assetBytes = 1 << 20

// assetsMetrics measures `get assets --copy` of a default HA cluster's
// assets into an S3 mirror on moto, cold (every file written) and warm
// (every file skipped), with the S3 calls each makes:
//
//	assets_copy_cold_ms, assets_copy_warm_ms, assets_copy_warm_vs_cold,
//	assets_copy_cold_calls, assets_copy_warm_calls, assets_copy_files
func assetsMetrics(ctx context.Context, srv *moto.Server, r map[string]float64) error {
	m, err := newcluster.Build(newcluster.Options{Name: "bench.k8s.local",
		Zones: []string{"us-east-1a", "us-east-1b", "us-east-1c"}, ControlPlaneCount: 3, NodeCount: 3})
	if err != nil {
		return err
	}
	api.SetDefaults(m)
	ch, err := channels.Stable()
	if err != nil {
		return err
	}
	list, err := assets.ForCluster(m, ch, assets.Options{AgentVersion: "bench"})
	if err != nil {
		return err
	}
	from, err := os.MkdirTemp("", "kapstan-bench-assets-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(from)
	for _, a := range list {
		if err := writeRandom(mirror.SourcePath(from, a), assetBytes); err != nil {
			return err
		}
	}
	counter := awscloud.NewCallCounter()
	account := moto.NewAccountID()
	cfg, err := srv.Config(ctx, moto.WithAccount(account))
	if err != nil {
		return err
	}
	cfg.APIOptions = append(cfg.APIOptions, counter.Middleware)
	client := s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.UsePathStyle = true
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	})
	bucket := "kapstan-bench-" + account
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		return fmt.Errorf("creating the mirror bucket: %w", err)
	}
	repo := mirror.NewS3(client, bucket, "state/bench.k8s.local/assets")
	listing := assets.NewBOM(assets.KindList, "bench.k8s.local", repo.URL(), "", list)
	copyOnce := func(want int) (time.Duration, int, error) {
		counter.Reset()
		start := time.Now()
		res, err := mirror.Copy(ctx, repo, from, listing, mirror.Options{})
		if err != nil {
			return 0, 0, err
		}
		if len(res.Copied) != want {
			return 0, 0, fmt.Errorf("copied %d assets, want %d", len(res.Copied), want)
		}
		return time.Since(start), counter.Total(), nil
	}
	cold, coldCalls, err := copyOnce(len(list))
	if err != nil {
		return fmt.Errorf("cold copy: %w", err)
	}
	warm, warmCalls, err := copyOnce(0)
	if err != nil {
		return fmt.Errorf("warm copy: %w", err)
	}
	r["assets_copy_files"] = float64(len(list))
	r["assets_copy_cold_ms"] = ms(cold)
	r["assets_copy_warm_ms"] = ms(warm)
	r["assets_copy_warm_vs_cold"] = float64(warm) / float64(cold)
	r["assets_copy_cold_calls"] = float64(coldCalls)
	r["assets_copy_warm_calls"] = float64(warmCalls)
	return nil
}

// writeRandom writes n random bytes to a new file at path.
func writeRandom(path string, n int64) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.CopyN(f, rand.Reader, n); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
