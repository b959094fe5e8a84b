package assets

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/kapstan/kapstan/internal/channels"
	api "github.com/kapstan/kapstan/pkg/apis/kapstan/v1alpha1"
)

// Arch is the only machine architecture kapstan installs today: every
// default image and machine type is x86_64. Paths carry it so that arm64
// can be added beside it.
const Arch = "amd64"

// Names of the file assets, and the prefix of image assets' names.
const (
	NameNodeup     = "nodeup"
	NameContainerd = "containerd"
	NameRunc       = "runc"
	NameCNIPlugins = "cni-plugins"
	NameKubelet    = "kubelet"
	ImagePrefix    = "image/"
)

// Upstream places files come from.
const (
	kapstanReleases    = "https://github.com/kapstan/kapstan/releases/download"
	kubernetesReleases = "https://dl.k8s.io/release"
	containerdReleases = "https://github.com/containerd/containerd/releases/download"
	runcReleases       = "https://github.com/opencontainers/runc/releases/download"
	cniReleases        = "https://github.com/containernetworking/plugins/releases/download"
	kubernetesRegistry = "registry.k8s.io"
)

// addonImages are the channel's images each of kapstan's own add-ons runs,
// in the order the add-ons are applied; a CNI's images are needed only
// when it is the cluster's CNI. A test checks this table against the
// rendered add-on manifests.
var addonImages = []struct {
	addon  string
	images []string
}{
	{"coredns", []string{"coredns"}},
	{"cilium", []string{"cilium", "cilium-operator"}},
	{"aws-cloud-controller-manager", []string{"aws-cloud-controller-manager"}},
	{"aws-ebs-csi-driver", []string{"aws-ebs-csi-driver", "csi-provisioner", "csi-attacher", "csi-resizer", "csi-node-driver-registrar", "livenessprobe"}},
}

// Options are what ForCluster needs besides the spec and the channel.
type Options struct {
	// AgentVersion is the version of the node agent machines run: the
	// kapstan build's own version ("dev" when empty).
	AgentVersion string
}

// ForCluster lists every file and image the machines of a cluster need,
// at the versions the spec (Kubernetes) and the channel (everything else)
// give, files first, then images, in a fixed order. Hashes and sizes are
// left empty: the bill of materials written by a copy into the mirror
// holds them (see WithHashes). It is pure.
//
// Images of the add-ons are those of kapstan's own add-ons the cluster
// runs (a CNI kapstan does not install brings none); images in the user's
// add-ons (spec.addons) are not listed.
func ForCluster(m *api.Manifests, ch *channels.Channel, opts Options) ([]Asset, error) {
	if m == nil || m.Cluster == nil {
		return nil, errors.New("assets: the manifests hold no Cluster")
	}
	c := m.Cluster
	rel, err := ch.Release(c.Spec.KubernetesVersion)
	if err != nil {
		return nil, fmt.Errorf("assets of %s: %w", c.Metadata.Name, err)
	}
	k8s := strings.TrimPrefix(c.Spec.KubernetesVersion, "v")
	agent := opts.AgentVersion
	if agent == "" {
		agent = "dev"
	}
	var out []Asset
	files, err := fileAssets(rel, k8s, agent)
	if err != nil {
		return nil, fmt.Errorf("assets of %s: channel %s: %w", c.Metadata.Name, ch.Name(), err)
	}
	out = append(out, files...)

	type image struct{ name, ref string }
	var refs []image
	for _, name := range channels.RequiredImages() {
		ref, err := rel.Image(name)
		if err != nil {
			return nil, fmt.Errorf("assets of %s: channel %s: %w", c.Metadata.Name, ch.Name(), err)
		}
		refs = append(refs, image{name, ref})
	}
	for _, name := range []string{"kube-apiserver", "kube-controller-manager", "kube-scheduler", "kube-proxy"} {
		refs = append(refs, image{name, kubernetesRegistry + "/" + name + ":v" + k8s})
	}
	seen := map[string]bool{}
	for _, a := range addonImages {
		if slices.Contains(api.SupportedCNIs(), a.addon) && a.addon != c.Spec.Networking.CNI {
			continue
		}
		for _, name := range a.images {
			if seen[name] {
				continue
			}
			seen[name] = true
			ref, err := rel.Image(name)
			if err != nil {
				return nil, fmt.Errorf("assets of %s: add-on %s: channel %s: %w", c.Metadata.Name, a.addon, ch.Name(), err)
			}
			refs = append(refs, image{name, ref})
		}
	}
	for _, r := range refs {
		a, err := imageAsset(r.name, r.ref, c.ImageRepository())
		if err != nil {
			return nil, fmt.Errorf("assets of %s: %w", c.Metadata.Name, err)
		}
		out = append(out, a)
	}
	return out, nil
}

// fileAssets are the files every machine installs.
func fileAssets(rel *channels.Release, k8s, agent string) ([]Asset, error) {
	versions := map[string]string{}
	for _, name := range channels.RequiredComponents() {
		v, err := rel.Component(name)
		if err != nil {
			return nil, err
		}
		versions[name] = strings.TrimPrefix(v, "v")
	}
	ctrd, runc, cni := versions[channels.ComponentContainerd], versions[channels.ComponentRunc], versions[channels.ComponentCNIPlugins]
	ctrdFile := fmt.Sprintf("containerd-%s-linux-%s.tar.gz", ctrd, Arch)
	cniFile := fmt.Sprintf("cni-plugins-linux-%s-v%s.tgz", Arch, cni)
	return []Asset{
		{
			Name: NameNodeup, Kind: KindFile, Version: strings.TrimPrefix(agent, "v"),
			Source: fmt.Sprintf("%s/%s/nodeup-linux-%s", kapstanReleases, agent, Arch),
			Path:   fmt.Sprintf("kapstan/%s/linux/%s/nodeup", agent, Arch),
		},
		{
			Name: NameContainerd, Kind: KindFile, Version: ctrd,
			Source: fmt.Sprintf("%s/v%s/%s", containerdReleases, ctrd, ctrdFile),
			Path:   fmt.Sprintf("containerd/v%s/linux/%s/%s", ctrd, Arch, ctrdFile),
		},
		{
			Name: NameRunc, Kind: KindFile, Version: runc,
			Source: fmt.Sprintf("%s/v%s/runc.%s", runcReleases, runc, Arch),
			Path:   fmt.Sprintf("runc/v%s/linux/%s/runc", runc, Arch),
		},
		{
			Name: NameCNIPlugins, Kind: KindFile, Version: cni,
			Source: fmt.Sprintf("%s/v%s/%s", cniReleases, cni, cniFile),
			Path:   fmt.Sprintf("cni-plugins/v%s/linux/%s/%s", cni, Arch, cniFile),
		},
		{
			Name: NameKubelet, Kind: KindFile, Version: k8s,
			Source: fmt.Sprintf("%s/v%s/bin/linux/%s/kubelet", kubernetesReleases, k8s, Arch),
			Path:   fmt.Sprintf("kubernetes/v%s/linux/%s/kubelet", k8s, Arch),
		},
	}, nil
}

// imageAsset is the asset of image name, upstream at ref. With an image
// repository, machines pull it from there under its upstream path and it
// has no archive; without, its archive is in the file repository and
// machines import it under its upstream reference.
func imageAsset(name, ref, imageRepository string) (Asset, error) {
	repo, tag, err := splitReference(ref)
	if err != nil {
		return Asset{}, fmt.Errorf("image %s: %w", name, err)
	}
	a := Asset{Name: ImagePrefix + name, Kind: KindImage, Version: strings.TrimPrefix(tag, "v"), Source: ref}
	if imageRepository != "" {
		a.Image = imageRepository + "/" + withoutRegistry(repo) + ":" + tag
		return a, nil
	}
	a.Image = ref
	a.Path = fmt.Sprintf("images/%s/%s/linux/%s/%s.tar", name, tag, Arch, name)
	return a, nil
}

// splitReference splits "HOST/PATH:TAG" into "HOST/PATH" and "TAG". A
// reference without a tag, or by digest, is refused: versions are named.
func splitReference(ref string) (repo, tag string, err error) {
	if strings.Contains(ref, "@") {
		return "", "", fmt.Errorf("%q: a reference by digest is not supported; name a tag", ref)
	}
	i := strings.LastIndex(ref, ":")
	if i < 0 || strings.Contains(ref[i:], "/") || i == len(ref)-1 {
		return "", "", fmt.Errorf("%q has no tag: name the version", ref)
	}
	if tag = ref[i+1:]; tag == "latest" {
		return "", "", fmt.Errorf("%q: the tag latest is not a version", ref)
	}
	return ref[:i], tag, nil
}

// withoutRegistry drops the registry host from a repository, when it has
// one: "registry.k8s.io/coredns/coredns" → "coredns/coredns".
func withoutRegistry(repo string) string {
	host, rest, ok := strings.Cut(repo, "/")
	if ok && (strings.ContainsAny(host, ".:") || host == "localhost") {
		return rest
	}
	return repo
}
