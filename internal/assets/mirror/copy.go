package mirror

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/kapstan/kapstan/internal/assets"
)

// DefaultConcurrency is how many files Copy writes at once by default.
const DefaultConcurrency = 4

// Action is what Copy did with one asset.
type Action string

// Actions of Copy.
const (
	// Copied: the asset was written into the mirror.
	Copied Action = "copied"
	// Skipped: the mirror already held the asset, with the same hash.
	Skipped Action = "skipped"
)

// Event tells Options.Progress what happened to one asset.
type Event struct {
	Asset  assets.Asset
	Action Action
}

// Options tune Copy.
type Options struct {
	// Replace overwrites a mirror file, or a bill of materials entry,
	// whose hash differs from the source folder's. Without it that is an
	// error naming the asset and both hashes: a released version's files
	// never change, so a difference means one side is wrong.
	Replace bool
	// Concurrency is how many files are written at once;
	// DefaultConcurrency when 0.
	Concurrency int
	// Progress, when set, is called once per asset copied or skipped,
	// from several goroutines.
	Progress func(Event)
}

// Result is what Copy did.
type Result struct {
	// BOM is the bill of materials written, at BOMURL.
	BOM    *assets.BOM
	BOMURL string
	// Copied and Skipped name the assets written and those already there.
	Copied, Skipped []string
	// NotCopied name the images machines pull from the image repository,
	// which Copy does not fill: push them there yourself.
	NotCopied []string
}

// SourcePath is where Copy looks for an asset in the source folder: at
// its path in the mirror, so a source folder is laid out as the mirror
// is (and a file:// mirror can be the source of another copy).
func SourcePath(from string, a assets.Asset) string {
	return filepath.Join(from, filepath.FromSlash(a.Path))
}

// source is one asset found in the source folder.
type source struct {
	asset assets.Asset
	file  string
	info  Info
}

// Copy copies into repo every asset of list (a listing of ForCluster's)
// that lives in the file repository, reading each from the folder from
// (see SourcePath), and then writes the bill of materials at
// assets.BOMPath. Each file is hashed before anything is written; an
// asset missing from the folder, or whose hash differs from what the
// mirror or its bill of materials holds (unless opts.Replace), stops the
// copy before it writes anything, naming the asset. A file the mirror
// already holds with the same hash is skipped. Each write is whole or
// absent, and the bill of materials is written last, only when every
// asset is in place: a failed copy leaves the previous one's bill of
// materials.
func Copy(ctx context.Context, repo Repository, from string, list *assets.BOM, opts Options) (*Result, error) {
	res := &Result{BOMURL: join(repo.URL(), assets.BOMPath(list.Cluster))}
	sources, err := findSources(from, list, res)
	if err != nil {
		return nil, err
	}
	old, err := checkAgainstBOM(ctx, repo, list.Cluster, sources, opts.Replace)
	if err != nil {
		return nil, err
	}
	hashes := map[string]Info{}
	for _, s := range sources {
		hashes[s.asset.Name] = s.info
	}
	if err := copyAll(ctx, repo, sources, opts, res); err != nil {
		return nil, err
	}
	bom := assets.NewBOM(assets.KindBOM, list.Cluster, list.FileRepository, list.ImageRepository, list.Assets)
	for i, a := range bom.Assets {
		if info, ok := hashes[a.Name]; ok {
			bom.Assets[i].SHA256, bom.Assets[i].Size = info.SHA256, info.Size
		}
	}
	res.BOM = bom
	if old != nil && sameBOM(old, bom) {
		return res, nil // a warm copy writes nothing
	}
	if err := WriteBOM(ctx, repo, bom); err != nil {
		return nil, err
	}
	return res, nil
}

// findSources finds and hashes every asset of list in the folder from.
// Every missing asset is named in the error.
func findSources(from string, list *assets.BOM, res *Result) ([]source, error) {
	var out []source
	var errs []error
	for _, a := range list.Assets {
		if a.Path == "" {
			res.NotCopied = append(res.NotCopied, a.Name)
			continue
		}
		file := SourcePath(from, a)
		info, err := hashFile(file)
		switch {
		case errors.Is(err, os.ErrNotExist):
			errs = append(errs, fmt.Errorf("asset %s (%s %s): not in the source folder: looked for %s", a.Name, a.Kind, a.Version, file))
		case err != nil:
			errs = append(errs, fmt.Errorf("asset %s: %w", a.Name, err))
		default:
			out = append(out, source{asset: a, file: file, info: info})
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("nothing copied: %w", errors.Join(errs...))
	}
	return out, nil
}

func hashFile(path string) (Info, error) {
	f, err := os.Open(path)
	if err != nil {
		return Info{}, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return Info{}, err
	}
	if !st.Mode().IsRegular() {
		return Info{}, fmt.Errorf("%s is not a regular file", path)
	}
	sha, size, err := assets.Sum(f)
	if err != nil {
		return Info{}, fmt.Errorf("reading %s: %w", path, err)
	}
	return Info{SHA256: sha, Size: size}, nil
}

// checkAgainstBOM refuses sources whose hash differs from what the
// mirror's current bill of materials records for the same asset at the
// same version and path. It returns that bill of materials, nil when
// there is none.
func checkAgainstBOM(ctx context.Context, repo Repository, cluster string, sources []source, replace bool) (*assets.BOM, error) {
	old, err := ReadBOM(ctx, repo, cluster)
	if errors.Is(err, ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var errs []error
	for _, s := range sources {
		was, ok := old.Asset(s.asset.Name)
		if !ok || was.Path != s.asset.Path || was.Version != s.asset.Version || was.SHA256 == s.info.SHA256 || replace {
			continue
		}
		errs = append(errs, fmt.Errorf("asset %s %s: %s has sha256 %s, but the bill of materials %s records %s for %s (a version's files never change: find which is right, or copy with --replace)",
			s.asset.Name, s.asset.Version, s.file, s.info.SHA256, join(repo.URL(), assets.BOMPath(cluster)), was.SHA256, s.asset.Path))
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("nothing copied: %w", errors.Join(errs...))
	}
	return old, nil
}

// copyAll copies sources into repo, opts.Concurrency at a time, and
// records what it did in res.
func copyAll(ctx context.Context, repo Repository, sources []source, opts Options, res *Result) error {
	n := opts.Concurrency
	if n <= 0 {
		n = DefaultConcurrency
	}
	actions := make([]Action, len(sources))
	errs := make([]error, len(sources))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(n, len(sources)) {
		wg.Go(func() {
			for i := range next {
				actions[i], errs[i] = copyOne(ctx, repo, sources[i], opts.Replace)
				if errs[i] == nil && opts.Progress != nil {
					opts.Progress(Event{Asset: sources[i].asset, Action: actions[i]})
				}
			}
		})
	}
feed:
	for i := range sources {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("copying assets: %w", err)
	}
	for i, s := range sources {
		switch actions[i] {
		case Copied:
			res.Copied = append(res.Copied, s.asset.Name)
		case Skipped:
			res.Skipped = append(res.Skipped, s.asset.Name)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("copying assets (no bill of materials written; run again to finish): %w", err)
	}
	return nil
}

// copyOne copies one asset unless the mirror holds it already, and
// checks what the mirror then holds.
func copyOne(ctx context.Context, repo Repository, s source, replace bool) (Action, error) {
	where := join(repo.URL(), s.asset.Path)
	have, err := repo.Stat(ctx, s.asset.Path)
	switch {
	case err == nil && have == s.info:
		return Skipped, nil
	case err == nil && !replace:
		return "", &assets.MismatchError{Name: s.asset.Name, Where: where + " (already in the mirror; --replace overwrites it with " + s.file + ")",
			Want: s.info.SHA256, Got: have.SHA256, WantSize: s.info.Size, GotSize: have.Size}
	case err != nil && !isNotExist(err):
		return "", fmt.Errorf("asset %s: %w", s.asset.Name, err)
	}
	f, err := os.Open(s.file)
	if err != nil {
		return "", fmt.Errorf("asset %s: %w", s.asset.Name, err)
	}
	defer f.Close()
	if err := repo.Put(ctx, s.asset.Path, f, s.info); err != nil {
		return "", fmt.Errorf("asset %s: %w", s.asset.Name, err)
	}
	got, err := repo.Stat(ctx, s.asset.Path)
	if err != nil {
		return "", fmt.Errorf("asset %s: checking the copy: %w", s.asset.Name, err)
	}
	if got != s.info {
		return "", &assets.MismatchError{Name: s.asset.Name, Where: where + " (just copied)", Want: s.info.SHA256, Got: got.SHA256, WantSize: s.info.Size, GotSize: got.Size}
	}
	return Copied, nil
}

// sameBOM reports whether two bills of materials say the same.
func sameBOM(a, b *assets.BOM) bool {
	x, errA := assets.EncodeBOM(a)
	y, errB := assets.EncodeBOM(b)
	return errA == nil && errB == nil && bytes.Equal(x, y)
}

// ReadBOM reads a cluster's bill of materials from its mirror. The error
// wraps ErrNotExist when there is none.
func ReadBOM(ctx context.Context, repo Repository, cluster string) (*assets.BOM, error) {
	path := assets.BOMPath(cluster)
	body, err := repo.Get(ctx, path)
	if err != nil {
		return nil, err
	}
	defer body.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(body); err != nil {
		return nil, fmt.Errorf("reading %s: %w", join(repo.URL(), path), err)
	}
	bom, err := assets.DecodeBOM(join(repo.URL(), path), buf.Bytes())
	if err != nil {
		return nil, err
	}
	if bom.Cluster != cluster {
		return nil, fmt.Errorf("%s is the bill of materials of %s, not %s", join(repo.URL(), path), bom.Cluster, cluster)
	}
	return bom, nil
}

// WriteBOM writes a bill of materials into its mirror, whole or not at
// all.
func WriteBOM(ctx context.Context, repo Repository, bom *assets.BOM) error {
	data, err := assets.EncodeBOM(bom)
	if err != nil {
		return err
	}
	sha, size, err := assets.Sum(bytes.NewReader(data))
	if err != nil {
		return err
	}
	if err := repo.Put(ctx, assets.BOMPath(bom.Cluster), bytes.NewReader(data), Info{SHA256: sha, Size: size}); err != nil {
		return fmt.Errorf("writing the bill of materials: %w", err)
	}
	return nil
}
