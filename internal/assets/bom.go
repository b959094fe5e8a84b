package assets

import (
	"errors"
	"fmt"
	"regexp"

	"sigs.k8s.io/yaml"
)

// APIVersion and the kinds of the documents this package writes.
const (
	APIVersion = "kapstan.io/v1alpha1"
	// KindBOM is a bill of materials: every asset of a cluster with its
	// hash and size, written into the mirror by a copy.
	KindBOM = "BillOfMaterials"
	// KindList is the listing `get assets` prints: the same fields, with
	// hashes only where a bill of materials gives them.
	KindList = "AssetList"
)

// BOM is a bill of materials: what a cluster's machines download, from
// where, with the SHA-256 and size of each file. `get assets --copy`
// writes it last, into the file repository at BOMPath, once every asset
// it names is there; the node configuration takes hashes from it, and
// machines refuse a download whose hash differs.
type BOM struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	// Cluster is the cluster's name.
	Cluster string `json:"cluster"`
	// FileRepository is the mirror the paths are relative to.
	FileRepository string `json:"fileRepository"`
	// ImageRepository is the registry images are pulled from; empty when
	// images are archives in the file repository.
	ImageRepository string `json:"imageRepository,omitempty"`
	// Assets are the assets, in ForCluster's order.
	Assets []Asset `json:"assets"`
}

// BOMPath is where a cluster's bill of materials is in its file
// repository: "bom/NAME.yaml", beside the assets it names.
func BOMPath(cluster string) string { return "bom/" + cluster + ".yaml" }

// NewBOM makes a bill of materials (or, with kind KindList, a listing).
func NewBOM(kind, cluster, fileRepository, imageRepository string, list []Asset) *BOM {
	return &BOM{
		APIVersion: APIVersion, Kind: kind, Cluster: cluster,
		FileRepository: fileRepository, ImageRepository: imageRepository,
		Assets: append([]Asset{}, list...),
	}
}

// Asset returns the asset named name.
func (b *BOM) Asset(name string) (Asset, bool) {
	for _, a := range b.Assets {
		if a.Name == name {
			return a, true
		}
	}
	return Asset{}, false
}

// EncodeBOM writes a bill of materials as YAML.
func EncodeBOM(b *BOM) ([]byte, error) {
	if err := b.check(); err != nil {
		return nil, err
	}
	data, err := yaml.Marshal(b)
	if err != nil {
		return nil, fmt.Errorf("encoding the bill of materials of %s: %w", b.Cluster, err)
	}
	return data, nil
}

// DecodeBOM reads a bill of materials strictly and checks it: its kind,
// unique names, and a SHA-256 and size for every asset with a path.
// source names it in errors.
func DecodeBOM(source string, data []byte) (*BOM, error) {
	var b BOM
	if err := yaml.UnmarshalStrict(data, &b); err != nil {
		return nil, fmt.Errorf("bill of materials %s: %w", source, err)
	}
	if b.Kind != KindBOM || b.APIVersion != APIVersion {
		return nil, fmt.Errorf("bill of materials %s: is %s %s, want %s %s", source, b.APIVersion, b.Kind, APIVersion, KindBOM)
	}
	if err := b.check(); err != nil {
		return nil, fmt.Errorf("bill of materials %s: %w", source, err)
	}
	return &b, nil
}

var sha256Hex = regexp.MustCompile(`^[0-9a-f]{64}$`)

// check is what every bill of materials must hold.
func (b *BOM) check() error {
	if b.Cluster == "" {
		return errors.New("cluster is empty")
	}
	seen := map[string]bool{}
	for i, a := range b.Assets {
		switch {
		case a.Name == "":
			return fmt.Errorf("assets[%d]: name is empty", i)
		case seen[a.Name]:
			return fmt.Errorf("assets[%d]: %s is listed twice", i, a.Name)
		case a.Version == "" || a.Version == "latest":
			return fmt.Errorf("assets[%d] (%s): version %q is not a version", i, a.Name, a.Version)
		case b.Kind == KindBOM && a.Path != "" && !sha256Hex.MatchString(a.SHA256):
			return fmt.Errorf("assets[%d] (%s): sha256 %q is not 64 hex digits", i, a.Name, a.SHA256)
		case b.Kind == KindBOM && a.Path != "" && a.Size <= 0:
			return fmt.Errorf("assets[%d] (%s): size %d: a mirrored file has a size", i, a.Name, a.Size)
		}
		seen[a.Name] = true
	}
	return nil
}

// WithHashes returns list with the SHA-256 and size of each asset taken
// from the bill of materials, where it names the same asset at the same
// version and path; others keep no hash (a bill of materials of an older
// spec says nothing of a new version). A nil bill of materials changes
// nothing.
func WithHashes(list []Asset, b *BOM) []Asset {
	out := append([]Asset{}, list...)
	if b == nil {
		return out
	}
	for i, a := range out {
		if got, ok := b.Asset(a.Name); ok && got.Version == a.Version && got.Path == a.Path && a.Path != "" {
			out[i].SHA256, out[i].Size = got.SHA256, got.Size
		}
	}
	return out
}
