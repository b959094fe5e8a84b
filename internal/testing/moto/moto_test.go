package moto_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/kapstan/kapstan/internal/testing/moto"
)

var motoSrv *moto.Server

func TestMain(m *testing.M) { os.Exit(moto.RunMain(m, &motoSrv)) }

func s3Client(cfg aws.Config) *s3.Client {
	return s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
}

func bucketNames(t *testing.T, client *s3.Client) []string {
	t.Helper()
	out, err := client.ListBuckets(t.Context(), &s3.ListBucketsInput{})
	if err != nil {
		t.Fatalf("ListBuckets: %v", err)
	}
	names := []string{}
	for _, b := range out.Buckets {
		names = append(names, aws.ToString(b.Name))
	}
	return names
}

func createBucket(t *testing.T, client *s3.Client, name string) {
	t.Helper()
	if _, err := client.CreateBucket(t.Context(), &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Fatalf("CreateBucket(%s): %v", name, err)
	}
}

func TestAccountsAreIsolated(t *testing.T) {
	t.Parallel()
	a, b := moto.NewAccountID(), moto.NewAccountID()
	cfgA, err := motoSrv.Config(t.Context(), moto.WithAccount(a))
	if err != nil {
		t.Fatal(err)
	}
	cfgB, err := motoSrv.Config(t.Context(), moto.WithAccount(b))
	if err != nil {
		t.Fatal(err)
	}
	clientA, clientB := s3Client(cfgA), s3Client(cfgB)
	// Bucket names are global, as in S3: only the listing is per account.
	createBucket(t, clientA, "bucket-"+a)

	if got := bucketNames(t, clientA); !slices.Equal(got, []string{"bucket-" + a}) {
		t.Errorf("account A lists %q, want only its bucket", got)
	}
	if got := bucketNames(t, clientB); len(got) != 0 {
		t.Errorf("account B lists %q, want nothing", got)
	}
}

func TestConfig(t *testing.T) {
	t.Parallel()
	cfg, err := motoSrv.Config(t.Context(), config.WithRegion("eu-west-1"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Region != "eu-west-1" {
		t.Errorf("Region = %q: options passed to Config must win", cfg.Region)
	}
	if aws.ToString(cfg.BaseEndpoint) != motoSrv.URL {
		t.Errorf("BaseEndpoint = %q, want %q", aws.ToString(cfg.BaseEndpoint), motoSrv.URL)
	}
	if cfg.RetryMaxAttempts != 2 {
		t.Errorf("RetryMaxAttempts = %d, want 2", cfg.RetryMaxAttempts)
	}
	creds, err := cfg.Credentials.Retrieve(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if creds.AccessKeyID != "test" || creds.SecretAccessKey != "test" {
		t.Errorf("credentials = %s/%s, want test/test", creds.AccessKeyID, creds.SecretAccessKey)
	}
}

func TestNewAccountID(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		id := moto.NewAccountID()
		if !regexp.MustCompile(`^[1-9][0-9]{11}$`).MatchString(id) {
			t.Fatalf("NewAccountID() = %q, want 12 digits", id)
		}
		seen[id] = true
	}
	if len(seen) < 99 {
		t.Errorf("100 ids had only %d distinct values", len(seen))
	}
}

// TestEnv configures the SDK from the environment alone, as a child
// process would.
func TestEnv(t *testing.T) {
	for _, kv := range motoSrv.Env() {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			t.Fatalf("Env() entry %q is not KEY=value", kv)
		}
		t.Setenv(k, v)
	}
	t.Setenv("AWS_CONFIG_FILE", "/dev/null")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
	cfg, err := config.LoadDefaultConfig(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	name := "env-" + moto.NewAccountID()
	createBucket(t, s3Client(cfg), name)
	if !slices.Contains(bucketNames(t, s3Client(cfg)), name) {
		t.Errorf("bucket %s not listed", name)
	}
}

// TestReset must not run in parallel: Reset wipes every account.
func TestReset(t *testing.T) {
	cfg, err := motoSrv.Config(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	client := s3Client(cfg)
	createBucket(t, client, "before-reset")
	if err := motoSrv.Reset(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := bucketNames(t, client); len(got) != 0 {
		t.Errorf("after Reset, buckets %q remain", got)
	}
}

// fakeBinary puts an executable moto_server with the given shell script
// body first on PATH.
func fakeBinary(t *testing.T, script string) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, moto.Binary), []byte("#!/bin/sh\n"+script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
}

func TestStartFailureShowsLog(t *testing.T) {
	fakeBinary(t, "echo 'boom: no such module' >&2\nexit 3\n")
	_, err := moto.Start(t.Context())
	if err == nil {
		t.Fatal("Start succeeded")
	}
	for _, want := range []string{"exited before it was ready", "boom: no such module"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
}

func TestStartRetriesWhenPortIsTaken(t *testing.T) {
	counter := filepath.Join(t.TempDir(), "attempts")
	t.Setenv("ATTEMPTS_FILE", counter)
	fakeBinary(t, `echo x >> "$ATTEMPTS_FILE"; echo "Address already in use"; exit 1`+"\n")
	_, err := moto.Start(t.Context())
	if err == nil || !strings.Contains(err.Error(), "Address already in use") {
		t.Fatalf("Start = %v, want the port error", err)
	}
	data, err := os.ReadFile(counter)
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(data, []byte("\n")); n != 3 {
		t.Errorf("moto_server started %d times, want 3", n)
	}
}

func TestStartTimesOutWithContext(t *testing.T) {
	fakeBinary(t, "exec sleep 60\n")
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := moto.Start(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Start = %v, want context.Canceled", err)
	}
}

// TestStop runs a stand-in server (python's http.server answers
// GET /moto-api/ with a directory listing) to check Stop kills it.
func TestStop(t *testing.T) {
	root := t.TempDir()
	if err := os.Mkdir(filepath.Join(root, "moto-api"), 0o755); err != nil {
		t.Fatal(err)
	}
	// Start runs: moto_server -H 127.0.0.1 -p PORT
	fakeBinary(t, `cd "`+root+`" && exec python3 -m http.server --bind "$2" "$4"`+"\n")
	srv, err := moto.Start(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(srv.LogPath); err != nil {
		t.Errorf("log file: %v", err)
	}
	pid := srv.PID()
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("process %d still exists after Stop (kill 0: %v)", pid, err)
	}
	if _, err := os.Stat(srv.LogPath); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("log file not removed: %v", err)
	}
	if err := srv.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
}

// TestRunMainFailsWithoutMoto reruns this test binary with moto_server off
// PATH: RunMain must fail, not skip, and say what is missing.
func TestRunMainFailsWithoutMoto(t *testing.T) {
	for _, ci := range []string{"true", ""} {
		t.Run("CI="+ci, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), "PATH="+t.TempDir(), "CI="+ci)
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != 1 {
				t.Fatalf("exit = %v, want code 1; output:\n%s", err, out)
			}
			if !strings.Contains(string(out), "moto_server not found") {
				t.Errorf("output does not name the missing tool:\n%s", out)
			}
			if got := strings.Contains(string(out), "CI=true"); got != (ci == "true") {
				t.Errorf("output mentions CI=true: %v, want %v:\n%s", got, ci == "true", out)
			}
		})
	}
}
