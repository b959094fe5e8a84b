package store_test

import (
	"errors"
	"fmt"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/kapstan/kapstan/internal/testing/faultproxy"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/google/go-cmp/cmp"

	"github.com/kapstan/kapstan/internal/store"
	"github.com/kapstan/kapstan/internal/testing/moto"
)

var motoSrv *moto.Server

func TestMain(m *testing.M) {
	if dir := os.Getenv(lockHelperEnv); dir != "" {
		os.Exit(holdLock(dir))
	}
	os.Exit(moto.RunMain(m, &motoSrv))
}

// backend opens a fresh, empty store of one kind.
type backend struct {
	name string
	open func(t *testing.T) store.Store
}

func backends() []backend {
	return []backend{
		{"memory", func(t *testing.T) store.Store { return store.NewMemory("") }},
		{"file", func(t *testing.T) store.Store { return newFileStore(t, t.TempDir()) }},
		{"s3", func(t *testing.T) store.Store { return newS3Store(t) }},
	}
}

func newFileStore(t *testing.T, dir string) store.Store {
	t.Helper()
	s, err := store.Open(t.Context(), "file://"+dir)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

// newS3Client returns a client for a fresh moto account holding a new,
// empty bucket, and that bucket's name. Bucket names are global in moto as
// in S3, across accounts, so each test gets its own.
func newS3Client(t *testing.T) (*s3.Client, string) {
	t.Helper()
	return newS3ClientAt(t, motoSrv.URL)
}

// newS3ClientAt is newS3Client through another endpoint, such as a proxy.
func newS3ClientAt(t *testing.T, endpoint string) (*s3.Client, string) {
	t.Helper()
	ctx := t.Context()
	account := moto.NewAccountID()
	cfg, err := motoSrv.Config(ctx, moto.WithAccount(account), config.WithBaseEndpoint(endpoint))
	if err != nil {
		t.Fatal(err)
	}
	client := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
	bucket := "kapstan-state-" + account
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatalf("CreateBucket: %v", err)
	}
	return client, bucket
}

// newS3Store returns a store under a prefix of a fresh bucket, with an
// object outside the prefix that must never show.
func newS3Store(t *testing.T) *store.S3Store {
	t.Helper()
	client, bucket := newS3Client(t)
	if _, err := client.PutObject(t.Context(), &s3.PutObjectInput{
		Bucket: aws.String(bucket),
		Key:    aws.String("other/demo/config"),
		Body:   strings.NewReader("not ours"),
	}); err != nil {
		t.Fatal(err)
	}
	return store.NewS3(client, bucket, "/clusters/")
}

// mustPut writes data at key and returns its revision.
func mustPut(t *testing.T, s store.Store, key, data string, pre store.Precondition) store.Revision {
	t.Helper()
	rev, err := s.Put(t.Context(), key, []byte(data), pre)
	if err != nil {
		t.Fatalf("Put(%q): %v", key, err)
	}
	if rev == "" {
		t.Fatalf("Put(%q) returned an empty revision", key)
	}
	return rev
}

// wantContent checks that key holds data at rev.
func wantContent(t *testing.T, s store.Store, key, data string, rev store.Revision) {
	t.Helper()
	obj, err := s.Get(t.Context(), key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	want := &store.Object{Key: key, Data: []byte(data), Revision: rev}
	if diff := cmp.Diff(want, obj); diff != "" {
		t.Errorf("Get(%q) (-want +got):\n%s", key, diff)
	}
}

// wantConflict checks that err is a *ConflictError for key, reachable by
// errors.Is and errors.As, and returns it.
func wantConflict(t *testing.T, err error, key string) *store.ConflictError {
	t.Helper()
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("err = %v, want one matching ErrConflict", err)
	}
	var ce *store.ConflictError
	if !errors.As(err, &ce) {
		t.Fatalf("err = %T %v, want a *ConflictError", err, err)
	}
	if ce.Key != key {
		t.Errorf("ConflictError.Key = %q, want %q", ce.Key, key)
	}
	if !strings.Contains(err.Error(), `"`+key+`"`) {
		t.Errorf("error %q does not name the key", err)
	}
	return ce
}

func TestContract(t *testing.T) {
	const key = "demo.k8s.local/config"
	cases := []struct {
		name string
		run  func(t *testing.T, s store.Store)
	}{
		{"get missing is ErrNotFound", func(t *testing.T, s store.Store) {
			_, err := s.Get(t.Context(), key)
			if !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("Get = %v, want ErrNotFound", err)
			}
			if errors.Is(err, store.ErrConflict) {
				t.Errorf("ErrNotFound also matches ErrConflict")
			}
		}},
		{"IfAbsent creates", func(t *testing.T, s store.Store) {
			rev := mustPut(t, s, key, "spec: v1\n", store.IfAbsent())
			wantContent(t, s, key, "spec: v1\n", rev)
		}},
		{"IfAbsent on existing conflicts", func(t *testing.T, s store.Store) {
			rev := mustPut(t, s, key, "v1", store.IfAbsent())
			_, err := s.Put(t.Context(), key, []byte("v2"), store.IfAbsent())
			ce := wantConflict(t, err, key)
			if ce.Want != "" || ce.Gone {
				t.Errorf("ConflictError = %+v, want Want empty and Gone false", ce)
			}
			if !strings.Contains(err.Error(), "expected no object") {
				t.Errorf("error %q does not say an object was not expected", err)
			}
			wantContent(t, s, key, "v1", rev)
		}},
		{"IfMatch stale conflicts", func(t *testing.T, s store.Store) {
			old := mustPut(t, s, key, "v1", store.IfAbsent())
			cur := mustPut(t, s, key, "v2", store.IfMatch(old))
			_, err := s.Put(t.Context(), key, []byte("v3"), store.IfMatch(old))
			ce := wantConflict(t, err, key)
			if ce.Want != old {
				t.Errorf("ConflictError.Want = %q, want %q", ce.Want, old)
			}
			if ce.Got != "" && ce.Got != cur {
				t.Errorf("ConflictError.Got = %q, want %q or unknown", ce.Got, cur)
			}
			if !strings.Contains(err.Error(), string(old)) {
				t.Errorf("error %q does not name the expected revision", err)
			}
			wantContent(t, s, key, "v2", cur)
		}},
		{"IfMatch current succeeds with a new revision", func(t *testing.T, s store.Store) {
			old := mustPut(t, s, key, "v1", store.IfAbsent())
			cur := mustPut(t, s, key, "v2", store.IfMatch(old))
			if cur == old {
				t.Errorf("revision did not change: %q", cur)
			}
			wantContent(t, s, key, "v2", cur)
		}},
		{"IfMatch on missing conflicts as gone", func(t *testing.T, s store.Store) {
			rev := mustPut(t, s, key, "v1", store.IfAbsent())
			if err := s.Delete(t.Context(), key, store.IfMatch(rev)); err != nil {
				t.Fatal(err)
			}
			_, err := s.Put(t.Context(), key, []byte("v2"), store.IfMatch(rev))
			ce := wantConflict(t, err, key)
			if !ce.Gone {
				t.Errorf("ConflictError.Gone = false, want true (%v)", err)
			}
			if !strings.Contains(err.Error(), "object is gone") {
				t.Errorf("error %q does not say the object is gone", err)
			}
		}},
		{"Unconditionally creates and overwrites", func(t *testing.T, s store.Store) {
			mustPut(t, s, key, "v1", store.Unconditionally())
			rev := mustPut(t, s, key, "v2", store.Unconditionally())
			wantContent(t, s, key, "v2", rev)
		}},
		{"revision depends on content only", func(t *testing.T, s store.Store) {
			a := mustPut(t, s, "a/x", "same", store.IfAbsent())
			b := mustPut(t, s, "b/x", "same", store.IfAbsent())
			c := mustPut(t, s, "c/x", "different", store.IfAbsent())
			if a != b || a == c {
				t.Errorf("revisions same/same/different = %q %q %q", a, b, c)
			}
		}},
		{"empty object and Secret option", func(t *testing.T, s store.Store) {
			rev, err := s.Put(t.Context(), key, nil, store.IfAbsent(), store.Secret())
			if err != nil {
				t.Fatal(err)
			}
			wantContent(t, s, key, "", rev)
		}},
		{"delete", func(t *testing.T, s store.Store) {
			old := mustPut(t, s, key, "v1", store.IfAbsent())
			cur := mustPut(t, s, key, "v2", store.IfMatch(old))

			err := s.Delete(t.Context(), key, store.IfMatch(old))
			wantConflict(t, err, key)
			if !strings.HasPrefix(err.Error(), "conflict deleting ") {
				t.Errorf("error %q does not say it was deleting", err)
			}
			wantContent(t, s, key, "v2", cur)

			if err := s.Delete(t.Context(), key, store.IfMatch(cur)); err != nil {
				t.Fatalf("Delete current: %v", err)
			}
			if _, err := s.Get(t.Context(), key); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("Get after Delete = %v, want ErrNotFound", err)
			}
			if err := s.Delete(t.Context(), key, store.Unconditionally()); err != nil {
				t.Errorf("Delete missing unconditionally = %v, want nil", err)
			}
			ce := wantConflict(t, s.Delete(t.Context(), key, store.IfMatch(cur)), key)
			if !ce.Gone {
				t.Errorf("Delete missing IfMatch: Gone = false, want true")
			}
			// The key can be created again.
			mustPut(t, s, key, "v3", store.IfAbsent())
		}},
		{"list", func(t *testing.T, s store.Store) {
			for _, k := range []string{
				"demo.k8s.local/instancegroup/nodes",
				"demo.k8s.local/config",
				"demo.k8s.local/history/0000000002",
				"demo.k8s.local/history/0000000001",
				"demo.k8s.local/instancegroup/control-plane",
				"demo.k8s.local-2/config",
				"prod/config",
			} {
				mustPut(t, s, k, "x", store.IfAbsent())
			}
			for _, tc := range []struct {
				prefix string
				want   []string
			}{
				{"demo.k8s.local/", []string{
					"demo.k8s.local/config",
					"demo.k8s.local/history/0000000001",
					"demo.k8s.local/history/0000000002",
					"demo.k8s.local/instancegroup/control-plane",
					"demo.k8s.local/instancegroup/nodes",
				}},
				{"demo.k8s.local/instancegroup/", []string{
					"demo.k8s.local/instancegroup/control-plane",
					"demo.k8s.local/instancegroup/nodes",
				}},
				{"demo.k8s.local/hist", []string{
					"demo.k8s.local/history/0000000001",
					"demo.k8s.local/history/0000000002",
				}},
				{"demo.k8s.local", []string{
					"demo.k8s.local-2/config",
					"demo.k8s.local/config",
					"demo.k8s.local/history/0000000001",
					"demo.k8s.local/history/0000000002",
					"demo.k8s.local/instancegroup/control-plane",
					"demo.k8s.local/instancegroup/nodes",
				}},
				{"", []string{
					"demo.k8s.local-2/config",
					"demo.k8s.local/config",
					"demo.k8s.local/history/0000000001",
					"demo.k8s.local/history/0000000002",
					"demo.k8s.local/instancegroup/control-plane",
					"demo.k8s.local/instancegroup/nodes",
					"prod/config",
				}},
				{"prod/config", []string{"prod/config"}},
				{"staging/", []string{}},
				{"prod/config/", []string{}},
			} {
				got, err := s.List(t.Context(), tc.prefix)
				if err != nil {
					t.Fatalf("List(%q): %v", tc.prefix, err)
				}
				if diff := cmp.Diff(tc.want, got); diff != "" {
					t.Errorf("List(%q) (-want +got):\n%s", tc.prefix, diff)
				}
			}
		}},
		{"list after delete", func(t *testing.T, s store.Store) {
			rev := mustPut(t, s, "demo/instancegroup/nodes", "x", store.IfAbsent())
			mustPut(t, s, "demo/config", "x", store.IfAbsent())
			if err := s.Delete(t.Context(), "demo/instancegroup/nodes", store.IfMatch(rev)); err != nil {
				t.Fatal(err)
			}
			got, err := s.List(t.Context(), "demo/")
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]string{"demo/config"}, got); diff != "" {
				t.Errorf("List (-want +got):\n%s", diff)
			}
		}},
		{"invalid keys are rejected", func(t *testing.T, s store.Store) {
			for _, k := range invalidKeys {
				if _, err := s.Get(t.Context(), k); err == nil || errors.Is(err, store.ErrNotFound) {
					t.Errorf("Get(%q) = %v, want an invalid-key error", k, err)
				}
				if _, err := s.Put(t.Context(), k, []byte("x"), store.Unconditionally()); err == nil {
					t.Errorf("Put(%q) succeeded", k)
				}
				if err := s.Delete(t.Context(), k, store.Unconditionally()); err == nil {
					t.Errorf("Delete(%q) succeeded", k)
				}
			}
			for _, p := range []string{"/", "/demo", "../demo", "demo/../x/", `demo\x`} {
				if _, err := s.List(t.Context(), p); err == nil {
					t.Errorf("List(%q) succeeded", p)
				}
			}
		}},
		{"invalid preconditions are rejected", func(t *testing.T, s store.Store) {
			rev := mustPut(t, s, key, "v1", store.IfAbsent())
			for name, pre := range map[string]store.Precondition{
				"zero":          {},
				"IfMatch(\"\")": store.IfMatch(""),
			} {
				if _, err := s.Put(t.Context(), key, []byte("v2"), pre); err == nil || errors.Is(err, store.ErrConflict) {
					t.Errorf("Put with %s precondition = %v, want an invalid-precondition error", name, err)
				}
				if err := s.Delete(t.Context(), key, pre); err == nil || errors.Is(err, store.ErrConflict) {
					t.Errorf("Delete with %s precondition = %v, want an invalid-precondition error", name, err)
				}
			}
			if err := s.Delete(t.Context(), key, store.IfAbsent()); err == nil || errors.Is(err, store.ErrConflict) {
				t.Errorf("Delete IfAbsent = %v, want an invalid-precondition error", err)
			}
			wantContent(t, s, key, "v1", rev)
		}},
		{"returned data is the caller's", func(t *testing.T, s store.Store) {
			buf := []byte("v1")
			rev, err := s.Put(t.Context(), key, buf, store.IfAbsent())
			if err != nil {
				t.Fatal(err)
			}
			buf[0] = 'X'
			obj, err := s.Get(t.Context(), key)
			if err != nil {
				t.Fatal(err)
			}
			obj.Data[0] = 'Y'
			wantContent(t, s, key, "v1", rev)
		}},
	}
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					tc.run(t, b.open(t))
				})
			}
		})
	}
}

var invalidKeys = []string{
	"",
	"/demo/config",
	"demo/config/",
	"demo//config",
	"../demo/config",
	"demo/../config",
	"demo/./config",
	".",
	`demo\config`,
	"demo/.kapstan.lock",
	".kapstan.lock",
	"demo/.kapstan-tmp-config-123",
	"demo/con\x00fig",
}

func TestValidateKey(t *testing.T) {
	for _, k := range invalidKeys {
		t.Run(k, func(t *testing.T) {
			err := store.ValidateKey(k)
			if err == nil {
				t.Fatalf("ValidateKey(%q) = nil", k)
			}
			if !strings.Contains(err.Error(), "invalid key") {
				t.Errorf("error %q does not say the key is invalid", err)
			}
		})
	}
	for _, k := range []string{
		"demo.k8s.local/config",
		"demo.k8s.local/instancegroup/nodes",
		"demo.k8s.local/history/0000000001",
		"config",
		"a/.hidden",
		"a/..b",
	} {
		if err := store.ValidateKey(k); err != nil {
			t.Errorf("ValidateKey(%q) = %v", k, err)
		}
	}
}

func TestConflictErrorMessage(t *testing.T) {
	cases := []struct {
		name string
		err  *store.ConflictError
		want string
	}{
		{"stale", &store.ConflictError{Op: "writing", Key: "demo/config", Want: "1a2b3c4d", Got: "9f8e7d6c"},
			`conflict writing "demo/config": expected revision 1a2b3c4d, store has 9f8e7d6c`},
		{"exists", &store.ConflictError{Op: "writing", Key: "demo/config"},
			`conflict writing "demo/config": expected no object, one exists`},
		{"exists with revision", &store.ConflictError{Op: "writing", Key: "demo/config", Got: "9f8e"},
			`conflict writing "demo/config": expected no object, store has revision 9f8e`},
		{"gone", &store.ConflictError{Op: "deleting", Key: "demo/config", Want: "1a2b", Gone: true},
			`conflict deleting "demo/config": expected revision 1a2b, object is gone`},
		{"unknown", &store.ConflictError{Op: "writing", Key: "demo/config", Want: "1a2b"},
			`conflict writing "demo/config": expected revision 1a2b, store has another`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.err.Error(); got != tc.want {
				t.Errorf("Error() = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestOpen(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	cases := []struct {
		url     string
		wantURL string
		wantErr string
	}{
		{url: "file://" + dir, wantURL: "file://" + dir},
		{url: dir, wantURL: "file://" + dir},
		{url: "file://" + dir + "/", wantURL: "file://" + dir},
		{url: "memory://", wantURL: "memory://"},
		{url: "memory://t1", wantURL: "memory://t1"},
		{url: "s3://bucket", wantURL: "s3://bucket"},
		{url: "s3://bucket/", wantURL: "s3://bucket"},
		{url: "s3://bucket/a/b/", wantURL: "s3://bucket/a/b"},
		{url: "gs://bucket/x", wantErr: `unknown scheme "gs"`},
		{url: "file://", wantErr: "needs a directory"},
		{url: "s3://", wantErr: "no bucket"},
		{url: "s3://bucket/../x", wantErr: "invalid prefix"},
		{url: "", wantErr: "empty URL"},
	}
	for _, tc := range cases {
		t.Run(tc.url, func(t *testing.T) {
			s, err := store.Open(ctx, tc.url)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Open(%q) = %v, want error containing %q", tc.url, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Open(%q): %v", tc.url, err)
			}
			if got := s.URL(); got != tc.wantURL {
				t.Errorf("URL() = %q, want %q", got, tc.wantURL)
			}
		})
	}
}

func TestOpenRelativePath(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	s, err := store.Open(t.Context(), "state")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := s.URL(), "file://"+filepath.Join(dir, "state"); got != want {
		t.Errorf("URL() = %q, want %q", got, want)
	}
}

func TestOpenMemoryStoresAreIndependent(t *testing.T) {
	a, err := store.Open(t.Context(), "memory://same")
	if err != nil {
		t.Fatal(err)
	}
	b, err := store.Open(t.Context(), "memory://same")
	if err != nil {
		t.Fatal(err)
	}
	mustPut(t, a, "k", "v", store.IfAbsent())
	if _, err := b.Get(t.Context(), "k"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second memory store sees the first one's object: %v", err)
	}
}

func TestDefaultURL(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", "/cfg")
	t.Setenv("HOME", "/home/u")
	got, err := store.DefaultURL()
	if err != nil {
		t.Fatal(err)
	}
	if want := "file:///cfg/kapstan/state"; got != want {
		t.Errorf("DefaultURL() = %q, want %q", got, want)
	}
}

// raceRounds is how many times TestConcurrentIfMatch races two writers.
const raceRounds = 100

// raceIfMatch runs raceRounds rounds in which two writers read the same
// revision and both write with IfMatch(it): exactly one must win, and the
// other must get a *ConflictError. Writer i writes through stores[i].
func raceIfMatch(t *testing.T, stores [2]store.Store) {
	t.Helper()
	ctx := t.Context()
	const key = "demo.k8s.local/config"
	mustPut(t, stores[0], key, "round -1", store.IfAbsent())
	for round := range raceRounds {
		obj0, err := stores[0].Get(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		obj1, err := stores[1].Get(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		if obj0.Revision != obj1.Revision {
			t.Fatalf("round %d: the two handles read different revisions %q and %q", round, obj0.Revision, obj1.Revision)
		}
		var (
			wg    sync.WaitGroup
			start = make(chan struct{})
			revs  [2]store.Revision
			errs  [2]error
		)
		for i := range 2 {
			wg.Go(func() {
				data := fmt.Appendf(nil, "round %d writer %d", round, i)
				<-start
				revs[i], errs[i] = stores[i].Put(ctx, key, data, store.IfMatch(obj0.Revision))
			})
		}
		close(start)
		wg.Wait()

		winner := -1
		for i, err := range errs {
			switch {
			case err == nil:
				if winner >= 0 {
					t.Fatalf("round %d: both writers succeeded", round)
				}
				winner = i
			default:
				var ce *store.ConflictError
				if !errors.As(err, &ce) {
					t.Fatalf("round %d: writer %d: %v, want a *ConflictError", round, i, err)
				}
			}
		}
		if winner < 0 {
			t.Fatalf("round %d: both writers lost: %v; %v", round, errs[0], errs[1])
		}
		got, err := stores[1-winner].Get(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		if got.Revision != revs[winner] {
			t.Fatalf("round %d: store has revision %q, winner wrote %q", round, got.Revision, revs[winner])
		}
	}
}

func TestConcurrentIfMatch(t *testing.T) {
	t.Run("memory", func(t *testing.T) {
		t.Parallel()
		s := store.NewMemory("")
		raceIfMatch(t, [2]store.Store{s, s})
	})
	t.Run("file, one handle", func(t *testing.T) {
		t.Parallel()
		s := newFileStore(t, t.TempDir())
		raceIfMatch(t, [2]store.Store{s, s})
	})
	t.Run("file, two handles", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		raceIfMatch(t, [2]store.Store{newFileStore(t, dir), newFileStore(t, dir)})
	})
	t.Run("s3", func(t *testing.T) {
		t.Parallel()
		// moto checks a condition and then writes, in a threaded server, so
		// two racing conditional writes can both pass; S3 makes the pair
		// atomic. The writers reach moto through a proxy that forwards one
		// write at a time, which is S3's guarantee; moto still judges every
		// If-Match.
		proxy, err := faultproxy.Start(motoSrv.URL, faultproxy.Faults{SerializeWrites: true}, 1)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { proxy.Close() })
		client, bucket := newS3ClientAt(t, proxy.URL)
		raceIfMatch(t, [2]store.Store{
			store.NewS3(client, bucket, "p"),
			store.NewS3(client, bucket, "p"),
		})
	})
}
