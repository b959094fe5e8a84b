package store_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kapstan/kapstan/internal/store"
)

func TestFileModes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state") // created by the store
	s := newFileStore(t, dir)
	mustPut(t, s, "demo/config", "spec", store.IfAbsent())
	rev, err := s.Put(t.Context(), "demo/secrets/ca.key", []byte("key"), store.IfAbsent(), store.Secret())
	if err != nil {
		t.Fatal(err)
	}

	wantMode := func(rel string, want fs.FileMode) {
		t.Helper()
		fi, err := os.Stat(filepath.Join(dir, rel))
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("mode of %s = %#o, want %#o", rel, got, want)
		}
	}
	wantMode(".", 0o700)
	wantMode("demo", 0o700)
	wantMode("demo/secrets", 0o700)
	wantMode("demo/config", 0o644)
	wantMode("demo/secrets/ca.key", 0o600)
	wantMode(".kapstan.lock", 0o600)

	// The mode follows the latest write.
	rev = mustPut(t, s, "demo/secrets/ca.key", "key2", store.IfMatch(rev))
	wantMode("demo/secrets/ca.key", 0o644)
	if _, err := s.Put(t.Context(), "demo/secrets/ca.key", []byte("key3"), store.IfMatch(rev), store.Secret()); err != nil {
		t.Fatal(err)
	}
	wantMode("demo/secrets/ca.key", 0o600)
}

func TestFileLayout(t *testing.T) {
	dir := t.TempDir()
	s := newFileStore(t, dir)
	mustPut(t, s, "demo/config", "spec", store.IfAbsent())

	data, err := os.ReadFile(filepath.Join(dir, "demo", "config"))
	if err != nil {
		t.Fatal(err)
	}
	if string(data) != "spec" {
		t.Errorf("file holds %q, want %q", data, "spec")
	}

	// Debris that is not an object: a temp file left by a crash, a
	// symlink, a name that is not a valid key.
	for _, name := range []string{"demo/.kapstan-tmp-config-123", `demo/back\slash`} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("config", filepath.Join(dir, "demo", "link")); err != nil {
		t.Fatal(err)
	}
	got, err := s.List(t.Context(), "")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"demo/config"}, got); diff != "" {
		t.Errorf("List (-want +got):\n%s", diff)
	}

	// A directory, or a path through a file, is not an object.
	for _, key := range []string{"demo", "demo/config/x"} {
		if _, err := s.Get(t.Context(), key); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Get(%q) = %v, want ErrNotFound", key, err)
		}
	}
}

func TestFileNoTempFilesLeft(t *testing.T) {
	dir := t.TempDir()
	s := newFileStore(t, dir)
	rev := mustPut(t, s, "demo/config", "v1", store.IfAbsent())
	mustPut(t, s, "demo/config", "v2", store.IfMatch(rev))
	if _, err := s.Put(t.Context(), "demo/config", []byte("v3"), store.IfMatch(rev)); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("stale put = %v, want a conflict", err)
	}
	entries, err := os.ReadDir(filepath.Join(dir, "demo"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if diff := cmp.Diff([]string{"config"}, names); diff != "" {
		t.Errorf("files in demo/ (-want +got):\n%s", diff)
	}
}

func TestFileDeleteRemovesEmptyDirs(t *testing.T) {
	dir := t.TempDir()
	s := newFileStore(t, dir)
	rev := mustPut(t, s, "demo/instancegroup/nodes", "x", store.IfAbsent())
	mustPut(t, s, "other/config", "x", store.IfAbsent())
	if err := s.Delete(t.Context(), "demo/instancegroup/nodes", store.IfMatch(rev)); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "demo")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("demo/ still exists after deleting its only object: %v", err)
	}
	if _, err := os.Stat(dir); err != nil {
		t.Errorf("store root removed: %v", err)
	}
	// "demo" can now be an object itself.
	mustPut(t, s, "demo", "x", store.IfAbsent())
}

func TestFileMissingDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nope")
	s := newFileStore(t, dir)
	if _, err := s.Get(t.Context(), "demo/config"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Get = %v, want ErrNotFound", err)
	}
	got, err := s.List(t.Context(), "demo/")
	if err != nil || len(got) != 0 {
		t.Errorf("List = %q, %v; want nothing", got, err)
	}
	if err := s.Delete(t.Context(), "demo/config", store.Unconditionally()); err != nil {
		t.Errorf("Delete = %v", err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("reading created the store directory: %v", err)
	}
}

// lockHelperEnv, when set to a store directory, makes the test binary hold
// that store's lock (see holdLock) instead of running tests.
const lockHelperEnv = "KAPSTAN_STORE_TEST_HOLD_LOCK"

// holdLock takes the file store's lock in dir, prints "locked" and holds
// it until stdin closes. It runs in a child process.
func holdLock(dir string) int {
	f, err := os.OpenFile(filepath.Join(dir, ".kapstan.lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("locked")
	_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
	return 0
}

// TestFileLockAcrossProcesses holds the store's lock in another process and
// checks that a write waits for it, gives up with its context, and goes
// through once the lock is released.
func TestFileLockAcrossProcesses(t *testing.T) {
	dir := t.TempDir()
	s := newFileStore(t, dir)
	rev := mustPut(t, s, "demo/config", "v1", store.IfAbsent())

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), lockHelperEnv+"="+dir)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "locked\n" {
		t.Fatalf("helper said %q, %v; want locked", line, err)
	}

	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	_, err = s.Put(ctx, "demo/config", []byte("v2"), store.IfMatch(rev))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Put while another process holds the lock = %v, want DeadlineExceeded", err)
	}
	// Reads take no lock.
	wantContent(t, s, "demo/config", "v1", rev)

	done := make(chan error, 1)
	go func() {
		_, err := s.Put(t.Context(), "demo/config", []byte("v2"), store.IfMatch(rev))
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("Put went through while the lock was held: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	stdin.Close()
	if err := <-done; err != nil {
		t.Fatalf("Put after the lock was released: %v", err)
	}
}
