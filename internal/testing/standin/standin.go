// Package standin fills a folder laid out as an asset mirror (each asset
// at mirror.SourcePath) with small stand-in files, so that tests and the
// demo can run `get assets NAME --copy --from DIR` and then plan and
// apply. No machine boots in them and nothing runs what the mirror holds,
// so the files need only exist: their hashes go into the bill of
// materials and the boot scripts, and that is all.
package standin

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/kapstan/kapstan/internal/assets"
	"github.com/kapstan/kapstan/internal/assets/mirror"
)

// Fill writes into dir, for every asset of list that lives in the file
// repository (it has a path), the file real names for the asset's name, or
// else a stand-in: one line naming the asset and its version. It returns
// how many stand-ins it wrote.
func Fill(dir string, list []assets.Asset, real map[string]string) (int, error) {
	n := 0
	for _, a := range list {
		if a.Path == "" {
			continue
		}
		dst := mirror.SourcePath(dir, a)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return n, fmt.Errorf("stand-in for %s: %w", a.Name, err)
		}
		if src, ok := real[a.Name]; ok {
			if err := copyFile(dst, src); err != nil {
				return n, fmt.Errorf("asset %s from %s: %w", a.Name, src, err)
			}
			continue
		}
		body := fmt.Sprintf("kapstan stand-in for %s %s: no machine runs this file\n", a.Name, a.Version)
		if err := os.WriteFile(dst, []byte(body), 0o644); err != nil {
			return n, fmt.Errorf("stand-in for %s: %w", a.Name, err)
		}
		n++
	}
	return n, nil
}

// copyFile copies src to dst, which it makes executable: real files are
// binaries.
func copyFile(dst, src string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
