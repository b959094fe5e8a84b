// Package moto runs moto_server, a local fake of the AWS APIs, for tests.
//
// Start one server per test package in TestMain with [RunMain], then give
// each test its own moto account with [WithAccount] and [NewAccountID], so
// tests can run in parallel against the one server without seeing each
// other's resources:
//
//	var motoSrv *moto.Server
//
//	func TestMain(m *testing.M) { os.Exit(moto.RunMain(m, &motoSrv)) }
//
//	func TestX(t *testing.T) {
//		t.Parallel()
//		cfg, err := motoSrv.Config(t.Context(), moto.WithAccount(moto.NewAccountID()))
//		...
//	}
//
// moto_server must be on PATH. There is no skipping: without it the tests
// fail, so a missing tool is never mistaken for a pass.
package moto

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/kapstan/kapstan/internal/testing/child"
)

// Binary is the name of the moto server executable looked up on PATH.
const Binary = "moto_server"

const (
	// Region is the region Config and Env use.
	Region = "us-east-1"
	// AccessKeyID and SecretAccessKey are the static credentials Config and
	// Env use; moto accepts any.
	AccessKeyID     = "test"
	SecretAccessKey = "test"

	// AccountHeader is the request header moto reads to pick the account
	// whose state a request sees.
	AccountHeader = "x-moto-account-id"

	readyPoll     = 50 * time.Millisecond
	readyTimeout  = 30 * time.Second
	startAttempts = 3
)

// Server is a running moto_server on a loopback port.
type Server struct {
	// URL is the endpoint, e.g. http://127.0.0.1:40123.
	URL string
	// LogPath is the file that receives moto_server's stdout and stderr. It
	// is removed by Stop.
	LogPath string

	cmd      *exec.Cmd
	fixDir   string        // holds sitecustomize.py (see pyfix), removed by Stop
	exited   chan struct{} // closed when cmd.Wait returns
	waitErr  error         // set before exited is closed
	stopOnce sync.Once
	stopErr  error
}

// Start starts moto_server on a free loopback port and waits until it
// answers. ctx bounds the start only; the server runs until Stop.
//
// The port is found by binding 127.0.0.1:0 and releasing it, so another
// process may take it first; Start then tries again with a new port, up to
// three times. If the server does not come up, the error includes the tail
// of its log.
func Start(ctx context.Context) (*Server, error) {
	bin, err := exec.LookPath(Binary)
	if err != nil {
		return nil, fmt.Errorf("starting moto: %s not found on PATH (install moto[server]): %w", Binary, err)
	}
	for attempt := 1; ; attempt++ {
		s, err := start(ctx, bin)
		if err == nil {
			return s, nil
		}
		var pe *portInUseError
		if !errors.As(err, &pe) || attempt == startAttempts {
			return nil, err
		}
	}
}

// portInUseError means moto_server exited because its port was taken.
type portInUseError struct{ err error }

func (e *portInUseError) Error() string { return e.err.Error() }
func (e *portInUseError) Unwrap() error { return e.err }

func start(ctx context.Context, bin string) (*Server, error) {
	ports, err := child.FreePorts(1)
	if err != nil {
		return nil, fmt.Errorf("starting moto: finding a free port: %w", err)
	}
	logf, err := os.CreateTemp("", "moto-server-*.log")
	if err != nil {
		return nil, fmt.Errorf("starting moto: creating log file: %w", err)
	}
	defer logf.Close() // the child has its own descriptor

	s := &Server{
		URL:     "http://127.0.0.1:" + strconv.Itoa(ports[0]),
		LogPath: logf.Name(),
		exited:  make(chan struct{}),
	}
	// Not exec.CommandContext: ctx bounds the start, not the server's life.
	s.cmd = exec.Command(bin, "-H", "127.0.0.1", "-p", strconv.Itoa(ports[0]))
	fix, err := writePyFix()
	if err != nil {
		return nil, fmt.Errorf("starting moto: %w", err)
	}
	s.fixDir = fix
	s.cmd.Env = append(os.Environ(), "PYTHONPATH="+fix+string(os.PathListSeparator)+os.Getenv("PYTHONPATH"))
	s.cmd.SysProcAttr = child.SysProcAttr()
	s.cmd.Stdout = logf
	s.cmd.Stderr = logf
	if err := s.cmd.Start(); err != nil {
		os.Remove(logf.Name())
		return nil, fmt.Errorf("starting moto: %w", err)
	}
	go func() {
		s.waitErr = s.cmd.Wait()
		close(s.exited)
	}()

	if err := s.waitReady(ctx); err != nil {
		s.kill() // before reading the log, so it is complete
		tail := child.LogTail(logf.Name())
		os.Remove(logf.Name())
		os.RemoveAll(s.fixDir)
		err = fmt.Errorf("starting moto on port %d: %w\n--- %s log (tail) ---\n%s", ports[0], err, Binary, tail)
		if strings.Contains(tail, "Address already in use") {
			return nil, &portInUseError{err}
		}
		return nil, err
	}
	return s, nil
}

// waitReady polls GET /moto-api/ until it answers, the process exits, ctx
// ends or readyTimeout passes.
func (s *Server) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	client := &http.Client{Timeout: time.Second}
	tick := time.NewTicker(readyPoll)
	defer tick.Stop()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/moto-api/", nil)
		if err != nil {
			return err
		}
		if resp, err := client.Do(req); err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-s.exited:
			return fmt.Errorf("%s exited before it was ready: %v", Binary, s.waitErr)
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s to answer: %w", Binary, ctx.Err())
		case <-tick.C:
		}
	}
}

// Stop kills the server process (only that PID), waits for it and removes
// its log. It is safe to call more than once.
func (s *Server) Stop() error {
	s.stopOnce.Do(func() {
		s.stopErr = s.kill()
		os.Remove(s.LogPath)
		os.RemoveAll(s.fixDir)
	})
	return s.stopErr
}

// kill sends SIGKILL to the server process, unless it has exited, and
// waits for it.
func (s *Server) kill() error {
	select {
	case <-s.exited:
		return nil
	default:
	}
	var err error
	if kerr := s.cmd.Process.Kill(); kerr != nil && !errors.Is(kerr, os.ErrProcessDone) {
		err = fmt.Errorf("stopping moto: %w", kerr)
	}
	<-s.exited
	return err
}

// PID is the server's process id.
func (s *Server) PID() int { return s.cmd.Process.Pid }

// LogTail returns the end of the server's log, for diagnosing failures.
func (s *Server) LogTail() string { return child.LogTail(s.LogPath) }

// Reset wipes the state of every service, account and region
// (POST /moto-api/reset). It affects every test using the server, so use it
// only in tests that do not run in parallel.
func (s *Server) Reset(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL+"/moto-api/reset", nil)
	if err != nil {
		return fmt.Errorf("resetting moto: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("resetting moto: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("resetting moto: %s: %s", resp.Status, bytes.TrimSpace(body))
	}
	return nil
}

// Config returns an AWS config for the server: static credentials
// test/test, region us-east-1, BaseEndpoint the server's URL, at most 2
// attempts per call (moto's HTTP 500s for unimplemented calls are not worth
// retrying with backoff), and no shared config or credentials files. opts
// are applied after these, so they can override them; add [WithAccount] to
// isolate a test.
//
// S3 clients built from it still need UsePathStyle = true.
func (s *Server) Config(ctx context.Context, opts ...func(*config.LoadOptions) error) (aws.Config, error) {
	base := []func(*config.LoadOptions) error{
		config.WithRegion(Region),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(AccessKeyID, SecretAccessKey, "")),
		config.WithBaseEndpoint(s.URL),
		config.WithRetryMaxAttempts(2),
		config.WithSharedConfigFiles([]string{}),
		config.WithSharedCredentialsFiles([]string{}),
		// moto sends no response checksums; don't try to validate them.
		config.WithResponseChecksumValidation(aws.ResponseChecksumValidationWhenRequired),
	}
	cfg, err := config.LoadDefaultConfig(ctx, append(base, opts...)...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("loading AWS config for moto: %w", err)
	}
	return cfg, nil
}

// Env returns the environment variables that point a child process, such
// as the kapstan binary, at the server, in the form "KEY=value". Append
// them to os.Environ() for exec.Cmd.Env. A child sees the default account.
func (s *Server) Env() []string {
	return []string{
		"AWS_ENDPOINT_URL=" + s.URL,
		"AWS_ACCESS_KEY_ID=" + AccessKeyID,
		"AWS_SECRET_ACCESS_KEY=" + SecretAccessKey,
		"AWS_REGION=" + Region,
		"AWS_EC2_METADATA_DISABLED=true",
	}
}

// WithAccount returns a config option that sends every request as the moto
// account id, by a build middleware setting the x-moto-account-id header.
// moto keeps separate state per account, except that S3 bucket names are
// global across accounts, as in AWS: name buckets after the account.
func WithAccount(id string) func(*config.LoadOptions) error {
	return config.WithAPIOptions([]func(*middleware.Stack) error{AccountMiddleware(id)})
}

// AccountMiddleware is the API option WithAccount installs, for clients
// built without Config (append it to aws.Config.APIOptions).
func AccountMiddleware(id string) func(*middleware.Stack) error {
	return func(stack *middleware.Stack) error {
		return stack.Build.Add(middleware.BuildMiddlewareFunc("MotoAccountID",
			func(ctx context.Context, in middleware.BuildInput, next middleware.BuildHandler) (middleware.BuildOutput, middleware.Metadata, error) {
				if req, ok := in.Request.(*smithyhttp.Request); ok {
					req.Header.Set(AccountHeader, id)
				}
				return next.HandleBuild(ctx, in)
			}), middleware.After)
	}
}

// NewAccountID returns a random 12-digit account id that does not start
// with 0 and is not moto's default, 123456789012.
func NewAccountID() string {
	for {
		id := strconv.FormatInt(100_000_000_000+rand.Int64N(900_000_000_000), 10)
		if id != "123456789012" {
			return id
		}
	}
}

// RunMain starts a server, stores it in *srv, runs the package's tests and
// stops the server. It returns the exit code for os.Exit:
//
//	func TestMain(m *testing.M) { os.Exit(moto.RunMain(m, &motoSrv)) }
//
// If moto_server is missing or does not start, RunMain prints why and
// returns 1 without running any test: tests that need moto never skip.
// When tests fail, it prints the tail of the server's log.
func RunMain(m *testing.M, srv **Server) int {
	if _, err := exec.LookPath(Binary); err != nil {
		msg := fmt.Sprintf("moto: %s not found on PATH; these tests need it (install moto[server], which provides %s)", Binary, Binary)
		if os.Getenv("CI") == "true" {
			msg += "; CI=true, and CI must have every test tool"
		}
		fmt.Fprintln(os.Stderr, "FAIL: "+msg)
		return 1
	}
	s, err := Start(context.Background())
	if err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: %v\n", err)
		return 1
	}
	*srv = s
	code := m.Run()
	if code != 0 {
		fmt.Fprintf(os.Stderr, "--- %s log (tail) ---\n%s\n", Binary, s.LogTail())
	}
	if err := s.Stop(); err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

// pyFix is a sitecustomize.py that fixes a moto bug in the server's Python
// (see the file for which). moto is still the real moto_server; only the
// one broken function is wrapped.
//
//go:embed pyfix/sitecustomize.py
var pyFix []byte

// writePyFix writes pyFix to a new temporary folder for PYTHONPATH.
func writePyFix() (string, error) {
	dir, err := os.MkdirTemp("", "moto-pyfix-*")
	if err != nil {
		return "", fmt.Errorf("writing the moto fix: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "sitecustomize.py"), pyFix, 0o644); err != nil {
		os.RemoveAll(dir)
		return "", fmt.Errorf("writing the moto fix: %w", err)
	}
	return dir, nil
}
