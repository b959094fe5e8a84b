// Package addons renders and applies a cluster's add-ons: kapstan's own
// (kube-proxy, the CNI, CoreDNS, the AWS cloud controller manager and the
// EBS CSI driver), at the versions the channel gives for the cluster's
// Kubernetes minor, and the user's (spec.addons).
//
// Rendering is pure: spec and channel in, manifests out. `update cluster
// --yes` writes the rendered manifests to the state store; Apply reads them
// back and applies them with server-side apply (field manager "kapstan"),
// labels every object kapstan.io/addon=NAME, records what it applied, and
// deletes what an earlier apply made that the new manifests no longer hold.
//
// In the state store, under the cluster's name:
//
//	NAME/addons/index.yaml            the add-ons to apply, in order, with versions
//	NAME/addons/ADDON/manifest.yaml   an add-on's rendered objects
//	NAME/addons/ADDON/applied.json    what the last apply of ADDON made
package addons

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"text/template"

	"github.com/kapstan/kapstan/internal/channels"
	"github.com/kapstan/kapstan/internal/pki"
	"github.com/kapstan/kapstan/internal/store"
	api "github.com/kapstan/kapstan/pkg/apis/kapstan/v1alpha1"
)

//go:embed manifests/*.yaml
var manifests embed.FS

// Names of kapstan's own add-ons, besides the CNI's, which is named after
// the CNI.
const (
	KubeProxy  = "kube-proxy"
	CoreDNS    = "coredns"
	CloudCM    = "aws-cloud-controller-manager"
	EBSCSI     = "aws-ebs-csi-driver"
	apiPort    = 443 // the apiserver's port on the control plane and the load balancer
	hashLength = 12
)

// Addon is one rendered add-on.
type Addon struct {
	// Name is the add-on's name, the value of its objects'
	// kapstan.io/addon label.
	Name string `json:"name"`
	// Version is the add-on's version: the channel's for kapstan's own,
	// the manifest's digest for a user's.
	Version string `json:"version"`
	// Manifest holds the objects, as YAML documents.
	Manifest []byte `json:"-"`
}

// Hash is a digest of the add-on's version and manifest.
func (a *Addon) Hash() string {
	h := sha256.New()
	h.Write([]byte(a.Name + "\x00" + a.Version + "\x00"))
	h.Write(a.Manifest)
	return hex.EncodeToString(h.Sum(nil))[:hashLength]
}

// Set is a cluster's add-ons, in the order they are applied.
type Set struct {
	Addons []*Addon
	// Notes say what was left out and why, e.g. a CNI kapstan has no
	// manifest for.
	Notes []string
}

// Names lists the add-ons' names in order.
func (s *Set) Names() []string {
	var out []string
	for _, a := range s.Addons {
		out = append(out, a.Name)
	}
	return out
}

// Options are what rendering needs besides the spec.
type Options struct {
	// Channel gives the add-on versions and images.
	Channel *channels.Channel
	// LoadBalancerDNS is the API load balancer's name; workers of a
	// .k8s.local cluster reach the API through it. "" while unknown.
	LoadBalancerDNS string
	// Store holds user add-ons named store:KEY.
	Store store.Store
	// ReadFile reads user add-ons named by a file path; nil means
	// os.ReadFile.
	ReadFile func(string) ([]byte, error)
}

// ErrNoAPIAddress is wrapped when a .k8s.local cluster's API load balancer
// is not known yet: kube-proxy and the CNI reach the API through it.
var ErrNoAPIAddress = errors.New("the API load balancer's name is not known yet (it is after the first update --yes)")

// values are what the templates see.
type values struct {
	ClusterName       string
	Region            string
	KubernetesVersion string
	ServiceCIDR       string
	PodCIDR           string
	ClusterDNSIP      string
	ClusterDNSDomain  string
	// APIServer is the URL nodes reach the API at; APIServerHost and
	// APIServerPort are its parts.
	APIServer      string
	APIServerHost  string
	APIServerPort  string
	KubeProxyImage string
}

// cniManifests are the CNIs kapstan has manifests for.
var cniManifests = map[string]bool{"cilium": true}

// Render makes the add-ons of a cluster: kapstan's own at the channel's
// versions for the cluster's minor, then the user's, in spec order.
func Render(ctx context.Context, m *api.Manifests, opts Options) (*Set, error) {
	if m.Cluster == nil {
		return nil, errors.New("add-ons: the manifests hold no Cluster")
	}
	c := m.Cluster
	s := c.Spec
	rel, err := opts.Channel.Release(s.KubernetesVersion)
	if err != nil {
		return nil, fmt.Errorf("add-ons of %s: %w", c.Metadata.Name, err)
	}
	dnsIP, err := pki.ServiceIP(s.ServiceClusterIPRange, 10)
	if err != nil {
		return nil, fmt.Errorf("add-ons of %s: cluster DNS address: %w", c.Metadata.Name, err)
	}
	host := pki.APIInternalName(c.Metadata.Name)
	if api.IsGossip(c.Metadata.Name) {
		host = opts.LoadBalancerDNS
	}
	if host == "" {
		return nil, fmt.Errorf("add-ons of %s: %w", c.Metadata.Name, ErrNoAPIAddress)
	}
	set := &Set{}
	v := values{
		ClusterName: c.Metadata.Name, Region: s.Region,
		KubernetesVersion: strings.TrimPrefix(s.KubernetesVersion, "v"),
		ServiceCIDR:       s.ServiceClusterIPRange, PodCIDR: s.PodCIDR,
		ClusterDNSIP: dnsIP.String(), ClusterDNSDomain: s.ClusterDNSDomain,
		APIServer: "https://" + host, APIServerHost: host, APIServerPort: strconv.Itoa(apiPort),
		KubeProxyImage: "registry.k8s.io/kube-proxy:v" + strings.TrimPrefix(s.KubernetesVersion, "v"),
	}
	builtin := []struct{ name, version string }{
		{KubeProxy, v.KubernetesVersion},
		{s.Networking.CNI, rel.Addons[s.Networking.CNI]},
		{CoreDNS, rel.Addons[CoreDNS]},
		{CloudCM, rel.Addons[CloudCM]},
		{EBSCSI, rel.Addons[EBSCSI]},
	}
	for _, b := range builtin {
		switch {
		case b.name == s.Networking.CNI && !cniManifests[b.name]:
			set.Notes = append(set.Notes, fmt.Sprintf("CNI %s: kapstan has no manifest for it yet; install it yourself", b.name))
			continue
		case b.version == "":
			return nil, fmt.Errorf("add-ons of %s: channel %s gives no version of %s for Kubernetes %s", c.Metadata.Name, opts.Channel.Name(), b.name, rel.Minor)
		}
		data, err := renderBuiltin(b.name, v, rel.Images)
		if err != nil {
			return nil, fmt.Errorf("add-on %s: %w", b.name, err)
		}
		set.Addons = append(set.Addons, &Addon{Name: b.name, Version: b.version, Manifest: data})
	}
	for i, u := range s.Addons {
		data, err := readUserManifest(ctx, u.Manifest, opts)
		if err != nil {
			return nil, fmt.Errorf("spec.addons[%d] (%s): %w", i, u.Name, err)
		}
		a := &Addon{Name: u.Name, Manifest: data}
		sum := sha256.Sum256(data)
		a.Version = hex.EncodeToString(sum[:])[:hashLength]
		if _, err := a.Objects(); err != nil {
			return nil, fmt.Errorf("spec.addons[%d] (%s): %w", i, u.Name, err)
		}
		set.Addons = append(set.Addons, a)
	}
	return set, nil
}

// renderBuiltin executes the template of one of kapstan's add-ons.
func renderBuiltin(name string, v values, images map[string]string) ([]byte, error) {
	src, err := manifests.ReadFile("manifests/" + name + ".yaml")
	if err != nil {
		return nil, err
	}
	funcs := template.FuncMap{"image": func(component string) (string, error) {
		img, ok := images[component]
		if !ok || img == "" {
			return "", fmt.Errorf("the channel gives no image for %s", component)
		}
		return img, nil
	}}
	t, err := template.New(name).Funcs(funcs).Option("missingkey=error").Parse(string(src))
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	if err := t.Execute(&out, v); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// readUserManifest reads a user add-on's manifest from the store or a file.
func readUserManifest(ctx context.Context, where string, opts Options) ([]byte, error) {
	if key, ok := strings.CutPrefix(where, api.StoreManifestPrefix); ok {
		if opts.Store == nil {
			return nil, errors.New("no state store to read " + where + " from")
		}
		obj, err := opts.Store.Get(ctx, key)
		if err != nil {
			return nil, fmt.Errorf("reading %s from the state store: %w", key, err)
		}
		return obj.Data, nil
	}
	read := opts.ReadFile
	if read == nil {
		read = os.ReadFile
	}
	data, err := read(where)
	if err != nil {
		return nil, fmt.Errorf("reading manifest: %w", err)
	}
	return data, nil
}
