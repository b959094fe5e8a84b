// Package golden compares test output with files kept under testdata/.
//
// Run the tests with -update to rewrite the files from what the code
// produces now; the test still fails once, so that the change is reviewed
// in the diff (git diff testdata/) before it is committed, as kops does
// with HACK_UPDATE_EXPECTED_IN_PLACE.
package golden

import (
	"bytes"
	"flag"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/ from the current output")

// Assert compares got with the file at path.
func Assert(t *testing.T, got []byte, path string) {
	t.Helper()
	AssertDir(t, map[string][]byte{filepath.Base(path): got}, filepath.Dir(path), filepath.Base(path))
}

// AssertDir compares files (by slash-separated path relative to dir) with
// the files under dir. With only, just those names at dir's top level and
// everything under them are compared; otherwise every file under dir is,
// and a file there that got lacks is an error.
func AssertDir(t *testing.T, got map[string][]byte, dir string, only ...string) {
	t.Helper()
	want := map[string][]byte{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		rel = filepath.ToSlash(rel)
		if len(only) > 0 && !slices.Contains(only, topLevel(rel)) {
			return nil
		}
		data, err := os.ReadFile(path)
		want[rel] = data
		return err
	})
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	if *update {
		rewrite(t, dir, want, got)
		t.Errorf("golden files under %s rewritten: review the diff, then run again without -update", dir)
		return
	}
	for _, name := range slices.Sorted(maps.Keys(got)) {
		w, ok := want[name]
		switch {
		case !ok:
			t.Errorf("%s: not in %s (run with -update to add it)", name, dir)
		case !bytes.Equal(w, got[name]):
			t.Errorf("%s differs from %s (-want +got, run with -update to accept):\n%s", name, filepath.Join(dir, name), cmp.Diff(string(w), string(got[name])))
		}
	}
	for _, name := range slices.Sorted(maps.Keys(want)) {
		if _, ok := got[name]; !ok {
			t.Errorf("%s: in %s but no longer produced (run with -update to remove it)", name, dir)
		}
	}
}

func topLevel(rel string) string {
	for i := 0; i < len(rel); i++ {
		if rel[i] == '/' {
			return rel[:i]
		}
	}
	return rel
}

func rewrite(t *testing.T, dir string, old, got map[string][]byte) {
	t.Helper()
	for name := range old {
		if _, keep := got[name]; !keep {
			if err := os.Remove(filepath.Join(dir, filepath.FromSlash(name))); err != nil {
				t.Fatal(err)
			}
		}
	}
	for name, data := range got {
		path := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
