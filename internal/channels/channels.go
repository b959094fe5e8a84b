// Package channels reads channels: small YAML files that list the
// Kubernetes versions kapstan supports, the recommended patch of each
// minor, and the add-on versions and images that go with it. The stable
// channel is built in; another can be given as a file.
//
// It is pure: parsing, lookups and the upgrade rule (one minor at a time,
// never down) need no store and no cluster.
package channels

import (
	_ "embed"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/util/version"
	"sigs.k8s.io/yaml"
)

//go:embed stable.yaml
var stableYAML []byte

// Kind is the kind of a channel file.
const Kind = "Channel"

// Channel is a channel file.
type Channel struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Spec struct {
		// Releases are the supported minors, oldest first.
		Releases []Release `json:"releases"`
	} `json:"spec"`
}

// Release is one supported minor version of Kubernetes.
type Release struct {
	// Minor is "MAJOR.MINOR", e.g. "1.36".
	Minor string `json:"minor"`
	// Recommended is the patch release upgrades go to, e.g. "1.36.3".
	Recommended string `json:"recommended"`
	// Addons are the versions of kapstan's add-ons, by add-on name.
	Addons map[string]string `json:"addons"`
	// Images are container images by component: those of the add-ons,
	// and "etcd" and "pause", which every control-plane node (etcd) and
	// every node (pause) runs. The control-plane images and kube-proxy
	// follow the Kubernetes version and are not listed.
	Images map[string]string `json:"images"`
	// Components are the versions of what nodes install from files
	// besides Kubernetes' own binaries, by name: "containerd", "runc" and
	// "cni-plugins" (see Required).
	Components map[string]string `json:"components,omitempty"`
}

// Names of components and images every release must give for machines to
// be installed: `get assets` and the node configuration read them.
const (
	ComponentContainerd = "containerd"
	ComponentRunc       = "runc"
	ComponentCNIPlugins = "cni-plugins"
	ImageEtcd           = "etcd"
	ImagePause          = "pause"
)

// RequiredComponents are the components a release must version.
func RequiredComponents() []string {
	return []string{ComponentContainerd, ComponentRunc, ComponentCNIPlugins}
}

// RequiredImages are the node images a release must name, besides the
// add-ons' images.
func RequiredImages() []string { return []string{ImagePause, ImageEtcd} }

// Component is the version of a component of r, or an error saying the
// channel lacks it.
func (r *Release) Component(name string) (string, error) {
	if v := r.Components[name]; v != "" {
		return v, nil
	}
	return "", fmt.Errorf("Kubernetes %s: the channel gives no version of %s (spec.releases[].components.%s)", r.Minor, name, name)
}

// Image is the image of a component of r, or an error saying the channel
// lacks it.
func (r *Release) Image(name string) (string, error) {
	if v := r.Images[name]; v != "" {
		return v, nil
	}
	return "", fmt.Errorf("Kubernetes %s: the channel names no %s image (spec.releases[].images.%s)", r.Minor, name, name)
}

// Name is the channel's name ("stable" for the built-in one).
func (c *Channel) Name() string { return c.Metadata.Name }

// Stable is the built-in channel.
func Stable() (*Channel, error) { return Parse("stable.yaml (built in)", stableYAML) }

// StableYAML is the built-in channel's file, for users who want to start
// their own from it.
func StableYAML() []byte { return slices.Clone(stableYAML) }

// Load reads a channel file.
func Load(path string) (*Channel, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading channel: %w", err)
	}
	return Parse(path, data)
}

// Parse decodes a channel strictly and checks it: each minor once, in
// order, with a recommended patch of that minor. source names the file in
// errors.
func Parse(source string, data []byte) (*Channel, error) {
	var c Channel
	if err := yaml.UnmarshalStrict(data, &c); err != nil {
		return nil, fmt.Errorf("channel %s: %w", source, err)
	}
	if err := c.check(); err != nil {
		return nil, fmt.Errorf("channel %s: %w", source, err)
	}
	return &c, nil
}

func (c *Channel) check() error {
	if c.Kind != Kind {
		return fmt.Errorf("kind is %q, want %s", c.Kind, Kind)
	}
	if c.Metadata.Name == "" {
		return errors.New("metadata.name is empty")
	}
	if len(c.Spec.Releases) == 0 {
		return errors.New("spec.releases is empty")
	}
	var prev *version.Version
	for i, r := range c.Spec.Releases {
		p := fmt.Sprintf("spec.releases[%d]", i)
		minor, err := parseMinor(r.Minor)
		if err != nil {
			return fmt.Errorf("%s.minor: %w", p, err)
		}
		if prev != nil && !prev.LessThan(minor) {
			return fmt.Errorf("%s.minor: %s comes after %s: list each minor once, oldest first", p, r.Minor, prev)
		}
		prev = minor
		rec, err := version.ParseSemantic(r.Recommended)
		if err != nil {
			return fmt.Errorf("%s.recommended: %w", p, err)
		}
		if rec.Major() != minor.Major() || rec.Minor() != minor.Minor() {
			return fmt.Errorf("%s.recommended: %s is not a %s release", p, r.Recommended, r.Minor)
		}
		for name, v := range r.Components {
			if err := checkComponentVersion(v); err != nil {
				return fmt.Errorf("%s.components.%s: %w", p, name, err)
			}
		}
	}
	return nil
}

// checkComponentVersion accepts a released version, with or without its
// "v" ("2.2.1", "v1.9.0"): never "latest", never empty.
func checkComponentVersion(v string) error {
	if _, err := version.ParseSemantic(strings.TrimPrefix(v, "v")); err != nil {
		return fmt.Errorf("%q is not a released version: %w", v, err)
	}
	return nil
}

func parseMinor(s string) (*version.Version, error) {
	major, minor, ok := strings.Cut(s, ".")
	if !ok {
		return nil, fmt.Errorf("%q: want MAJOR.MINOR, e.g. 1.36", s)
	}
	if _, err := strconv.ParseUint(major, 10, 32); err != nil {
		return nil, fmt.Errorf("%q: want MAJOR.MINOR, e.g. 1.36", s)
	}
	if _, err := strconv.ParseUint(minor, 10, 32); err != nil {
		return nil, fmt.Errorf("%q: want MAJOR.MINOR, e.g. 1.36", s)
	}
	return version.MustParseGeneric(s), nil
}

// minorOf is "MAJOR.MINOR" of v.
func minorOf(v *version.Version) string { return fmt.Sprintf("%d.%d", v.Major(), v.Minor()) }

// ParseVersion parses a Kubernetes version, with or without its "v".
func ParseVersion(s string) (*version.Version, error) {
	v, err := version.ParseSemantic(strings.TrimPrefix(s, "v"))
	if err != nil {
		return nil, fmt.Errorf("kubernetes version %q: %w", s, err)
	}
	return v, nil
}

// Release is the entry of kubernetesVersion's minor.
func (c *Channel) Release(kubernetesVersion string) (*Release, error) {
	v, err := ParseVersion(kubernetesVersion)
	if err != nil {
		return nil, err
	}
	for i := range c.Spec.Releases {
		if c.Spec.Releases[i].Minor == minorOf(v) {
			return &c.Spec.Releases[i], nil
		}
	}
	return nil, fmt.Errorf("channel %s has no Kubernetes %s (it lists %s)", c.Name(), minorOf(v), strings.Join(c.Minors(), ", "))
}

// Minors lists the channel's minors, oldest first.
func (c *Channel) Minors() []string {
	var out []string
	for _, r := range c.Spec.Releases {
		out = append(out, r.Minor)
	}
	return out
}

// Recommended lists the recommended version of each minor, oldest first.
func (c *Channel) Recommended() []string {
	var out []string
	for _, r := range c.Spec.Releases {
		out = append(out, r.Recommended)
	}
	return out
}

// ErrUpToDate is returned by Next when the channel offers nothing newer.
var ErrUpToDate = errors.New("already on the newest version the channel offers")

// Next is the version a cluster on current upgrades to: the recommended
// patch of the next minor; or, on the newest minor, its recommended patch
// if that is newer. It never skips a minor and never goes down.
func (c *Channel) Next(current string) (string, error) {
	cur, err := ParseVersion(current)
	if err != nil {
		return "", err
	}
	next := minorOf(version.MajorMinor(cur.Major(), cur.Minor()+1))
	for _, r := range c.Spec.Releases {
		if r.Minor == next {
			return r.Recommended, nil
		}
	}
	if r, err := c.Release(current); err == nil {
		if rec := version.MustParseSemantic(r.Recommended); cur.LessThan(rec) {
			return r.Recommended, nil
		}
	}
	return "", fmt.Errorf("%s: %w (%s)", current, ErrUpToDate, c.Name())
}

// CheckUpgrade says whether a cluster on current may go to target: target
// must be newer, in the channel, and at most one minor ahead.
func (c *Channel) CheckUpgrade(current, target string) error {
	cur, err := ParseVersion(current)
	if err != nil {
		return err
	}
	to, err := ParseVersion(target)
	if err != nil {
		return err
	}
	switch {
	case to.EqualTo(cur):
		return fmt.Errorf("the cluster already runs Kubernetes %s", current)
	case to.LessThan(cur):
		return fmt.Errorf("%s is older than the cluster's %s: kapstan does not downgrade (kapstan rollback cluster restores an earlier spec)", target, current)
	case to.Major() != cur.Major():
		return fmt.Errorf("%s is another major version than the cluster's %s", target, current)
	case to.Minor() > cur.Minor()+1:
		step := minorOf(version.MajorMinor(cur.Major(), cur.Minor()+1))
		return fmt.Errorf("%s skips Kubernetes %s: upgrade one minor at a time, to %s first", target, step, step)
	}
	if _, err := c.Release(target); err != nil {
		return err
	}
	return nil
}

// Change is one thing an upgrade changes: a version or an image.
type Change struct {
	// What names it, e.g. "addon coredns", "component containerd" or
	// "image cilium".
	What string `json:"what"`
	From string `json:"from"`
	To   string `json:"to"`
}

// Diff lists the add-on versions, component versions and images that
// differ between two releases, add-ons first, then components, then
// images, each sorted by name. A missing entry is "".
func Diff(from, to *Release) []Change {
	var out []Change
	for _, part := range []struct {
		what     string
		old, new map[string]string
	}{{"addon", from.Addons, to.Addons}, {"component", from.Components, to.Components}, {"image", from.Images, to.Images}} {
		var names []string
		for n := range part.old {
			names = append(names, n)
		}
		for n := range part.new {
			if _, ok := part.old[n]; !ok {
				names = append(names, n)
			}
		}
		slices.Sort(names)
		for _, n := range names {
			if part.old[n] != part.new[n] {
				out = append(out, Change{What: part.what + " " + n, From: part.old[n], To: part.new[n]})
			}
		}
	}
	return out
}
