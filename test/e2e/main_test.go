// Package e2e runs the kapstan binary as a user would: built once in
// TestMain, started with exec, against file stores in temporary folders and
// S3 stores on one moto_server for the package. Tests that launch machines
// (update --yes, apply) use S3 stores, which kapstan requires for them.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/kapstan/kapstan/internal/testing/moto"
	api "github.com/kapstan/kapstan/pkg/apis/kapstan/v1alpha1"
)

var (
	// kapstanBin is the binary TestMain builds.
	kapstanBin string
	// motoSrv is the package's moto_server.
	motoSrv *moto.Server
)

// commandTimeout bounds one run of the binary, editor included.
const commandTimeout = 30 * time.Second

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "kapstan-e2e-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: %v\n", err)
		return 1
	}
	defer os.RemoveAll(dir)
	kapstanBin, err = build(dir)
	if err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: %v\n", err)
		return 1
	}
	return moto.RunMain(m, &motoSrv)
}

// build compiles ./cmd/kapstan into dir, as Terraform's e2etest does.
func build(dir string) (string, error) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("building kapstan: %w", err)
	}
	bin := filepath.Join(dir, "kapstan")
	cmd := exec.Command(goBin, "build", "-o", bin, "./cmd/kapstan")
	cmd.Dir = filepath.Join("..", "..") // the module root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building kapstan: %w\n%s", err, out)
	}
	return bin, nil
}

// result is what one run of the binary did.
type result struct {
	stdout string
	stderr string
	code   int
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\n--- stdout ---\n%s--- stderr ---\n%s", r.code, r.stdout, r.stderr)
}

// run runs the binary with exactly env, stdin as standard input and args,
// and returns its output and exit code. Only a failure to run it at all (or
// a timeout) fails the test, with t.Errorf, so run may be called from
// several goroutines.
func run(t *testing.T, env []string, stdin string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), commandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, kapstanBin, args...)
	cmd.Env = env
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := result{stdout: stdout.String(), stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		t.Errorf("kapstan %s: %v\n%s", strings.Join(args, " "), ctx.Err(), r)
		r.code = -1
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		t.Errorf("kapstan %s: %v", strings.Join(args, " "), err)
		r.code = -1
	}
	return r
}

// mustRun runs the binary and fails the test unless it exits 0. It returns
// standard output.
func mustRun(t *testing.T, env []string, stdin string, args ...string) string {
	t.Helper()
	r := run(t, env, stdin, args...)
	if r.code != 0 {
		t.Fatalf("kapstan %s: %s", strings.Join(args, " "), r)
	}
	return r.stdout
}

// newEnv is a minimal environment for the binary: PATH, a HOME and TMPDIR
// of the test's own, the moto endpoint and credentials, and
// KAPSTAN_STATE_STORE=state unless state is empty. extra are appended.
func newEnv(t *testing.T, state string, extra ...string) []string {
	t.Helper()
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + t.TempDir(),
		"TMPDIR=" + t.TempDir(), // kapstan edit keeps abandoned copies here
	}
	env = append(env, motoSrv.Env()...)
	if state != "" {
		env = append(env, "KAPSTAN_STATE_STORE="+state)
	}
	return append(env, extra...)
}

// fileStore returns a new, empty file store folder and its URL.
func fileStore(t *testing.T) (dir, url string) {
	t.Helper()
	dir = t.TempDir()
	return dir, "file://" + filepath.ToSlash(dir)
}

// s3Store returns a new, empty S3 state store on moto (the prefix "state"
// of a new bucket in the default account the binary uses), the bucket's
// client and name. Tests that launch machines (update --yes, apply) use
// one: kapstan refuses a file:// store for them, since machines could not
// read it.
func s3Store(t *testing.T) (client *s3.Client, bucket, url string) {
	t.Helper()
	client, bucket = newBucket(t)
	return client, bucket, "s3://" + bucket + "/state"
}

// objectExists reports whether the bucket holds key.
func objectExists(t *testing.T, client *s3.Client, bucket, key string) bool {
	t.Helper()
	_, err := client.HeadObject(t.Context(), &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	var nf *types.NotFound
	switch {
	case err == nil:
		return true
	case errors.As(err, &nf):
		return false
	}
	t.Fatalf("HeadObject s3://%s/%s: %v", bucket, key, err)
	return false
}

// storeFiles lists the objects under a file store's folder, as slash
// paths relative to it. The lock file is not an object and is left out.
func storeFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || (filepath.Dir(path) == dir && d.Name() == ".kapstan.lock") {
			return nil
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		out = append(out, filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		t.Fatalf("walking store %s: %v", dir, err)
	}
	slices.Sort(out)
	return out
}

// newBucket creates an empty S3 bucket on moto, in the default account the
// binary uses, and returns a client for it.
func newBucket(t *testing.T) (*s3.Client, string) {
	t.Helper()
	cfg, err := motoSrv.Config(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	client := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
	bucket := "kapstan-e2e-" + moto.NewAccountID() // bucket names are global in moto
	if _, err := client.CreateBucket(t.Context(), &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatalf("CreateBucket %s: %v", bucket, err)
	}
	return client, bucket
}

// bucketKeys lists every key in the bucket, sorted.
func bucketKeys(t *testing.T, client *s3.Client, bucket string) []string {
	t.Helper()
	var keys []string
	p := s3.NewListObjectsV2Paginator(client, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	for p.HasMorePages() {
		page, err := p.NextPage(t.Context())
		if err != nil {
			t.Fatalf("listing s3://%s: %v", bucket, err)
		}
		for _, o := range page.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
	}
	slices.Sort(keys)
	return keys
}

// demoName is the cluster most tests create.
const demoName = "demo.k8s.local"

// createDemo writes the spec of demo.k8s.local into the store of env: three
// zones, three control-plane groups, a "nodes" group of 3.
func createDemo(t *testing.T, env []string) {
	t.Helper()
	mustRun(t, env, "", "create", "cluster", demoName,
		"--zones", "us-east-1a,us-east-1b,us-east-1c", "--control-plane-count", "3", "--node-count", "3")
}

// decode strictly decodes manifests printed by the binary.
func decode(t *testing.T, yaml string) *api.Manifests {
	t.Helper()
	m, err := api.Decode("output", []byte(yaml))
	if err != nil {
		t.Fatalf("decoding the output: %v\n%s", err, yaml)
	}
	return m
}

// instanceGroup returns the instance group of cluster demo.k8s.local named
// name, as the binary prints it.
func instanceGroup(t *testing.T, env []string, name string) *api.InstanceGroup {
	t.Helper()
	m := decode(t, mustRun(t, env, "", "get", "ig", name, "--name", demoName, "-o", "yaml"))
	if len(m.InstanceGroups) != 1 {
		t.Fatalf("get ig %s: got %d instance groups, want 1", name, len(m.InstanceGroups))
	}
	return m.InstanceGroups[0]
}

// historyEntry is one element of `get history -o json`.
type historyEntry struct {
	Revision int       `json:"revision"`
	Time     time.Time `json:"time"`
	Reason   string    `json:"reason"`
	Changes  []string  `json:"changes"`
}

// writeScript writes an executable shell script and returns its path.
func writeScript(t *testing.T, name, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte("#!/bin/sh\nset -e\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

// writeFile writes a file in a new temporary folder and returns its path.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// history returns the revisions of cluster name, from `get history -o json`.
func history(t *testing.T, env []string, name string) []historyEntry {
	t.Helper()
	out := mustRun(t, env, "", "get", "history", name, "-o", "json")
	var entries []historyEntry
	if err := json.Unmarshal([]byte(out), &entries); err != nil {
		t.Fatalf("get history %s -o json: %v\n%s", name, err, out)
	}
	return entries
}

// revisions lists the revision numbers of history entries.
func revisions(entries []historyEntry) []int {
	out := make([]int, len(entries))
	for i, e := range entries {
		out[i] = e.Revision
	}
	return out
}

// withEnv returns a copy of env with kv appended. Never append to a shared
// env directly: two goroutines could write into its spare capacity.
func withEnv(env []string, kv ...string) []string {
	return slices.Concat(env, kv)
}
