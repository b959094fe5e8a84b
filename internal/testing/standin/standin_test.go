package standin

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/kapstan/kapstan/internal/assets"
)

// TestFill: a stand-in for each file asset, the real file where one is
// given, nothing for an image pulled from a registry.
func TestFill(t *testing.T) {
	real := filepath.Join(t.TempDir(), "nodeup")
	if err := os.WriteFile(real, []byte("the agent"), 0o644); err != nil {
		t.Fatal(err)
	}
	list := []assets.Asset{
		{Name: assets.NameNodeup, Version: "0.1.0", Path: "kapstan/v0.1.0/linux/amd64/nodeup"},
		{Name: assets.NameRunc, Version: "1.4.0", Path: "runc/v1.4.0/linux/amd64/runc"},
		{Name: "image/coredns", Version: "1.13.1"},
	}
	dir := t.TempDir()
	n, err := Fill(dir, list, map[string]string{assets.NameNodeup: real})
	if err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Errorf("%d stand-ins, want 1", n)
	}
	for _, tc := range []struct{ name, path, want string }{
		{"real file", "kapstan/v0.1.0/linux/amd64/nodeup", "the agent"},
		{"stand-in", "runc/v1.4.0/linux/amd64/runc", "kapstan stand-in for runc 1.4.0: no machine runs this file\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := os.ReadFile(filepath.Join(dir, tc.path))
			if err != nil || string(got) != tc.want {
				t.Errorf("%s holds %q (%v), want %q", tc.path, got, err, tc.want)
			}
		})
	}
}
