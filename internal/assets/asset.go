// Package assets names every file and container image a cluster's machines
// need, with its version, where it comes from, its SHA-256 and its size,
// and copies them into the cluster's mirror so that machines download
// from nowhere else.
//
// The package stays light: the node agent imports it to check what it
// downloads, so it must not pull in the CLI's dependencies.
package assets

// Kind says whether an asset is a file or a container image.
type Kind string

// Kinds of asset.
const (
	// KindFile is a file machines download from the file repository: a
	// binary (the node agent, the kubelet, runc) or an archive
	// (containerd, the CNI plugins).
	KindFile Kind = "file"
	// KindImage is a container image, pulled from the image repository or
	// imported from an image archive in the file repository.
	KindImage Kind = "image"
)

// Asset is one file or image a machine needs.
type Asset struct {
	// Name identifies the asset within a cluster: "kubelet", "containerd",
	// "cni-plugins", "nodeup", "image/pause", "image/kube-apiserver".
	Name string `json:"name"`
	Kind Kind   `json:"kind"`
	// Version is the version the channel or the spec gives, never "latest".
	Version string `json:"version"`
	// Source is where the asset comes from upstream: a URL for a file, an
	// image reference for an image.
	Source string `json:"source"`
	// Path is where the asset lives in the file repository, relative to
	// its root, e.g. "kubernetes/v1.36.3/linux/amd64/kubelet". For an
	// image it is the image archive's path, when images are mirrored as
	// archives.
	Path string `json:"path,omitempty"`
	// Image is the reference machines use for an image asset (in the
	// image repository when one is set).
	Image string `json:"image,omitempty"`
	// SHA256 is the hex SHA-256 of the file (or image archive). Empty
	// until the asset is known: copying it into the mirror records it.
	SHA256 string `json:"sha256,omitempty"`
	// Size is the file's size in bytes, 0 when not yet known.
	Size int64 `json:"size,omitempty"`
}
