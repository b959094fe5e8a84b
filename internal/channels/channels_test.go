package channels

import (
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/util/version"

	api "github.com/kapstan/kapstan/pkg/apis/kapstan/v1alpha1"
)

func stable(t *testing.T) *Channel {
	t.Helper()
	c, err := Stable()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestStableCoversTheSupportedRange checks the built-in channel against
// what validation accepts: every minor it lists is supported, the default
// version is a recommended one, and every release names the same add-ons
// and images.
func TestStableCoversTheSupportedRange(t *testing.T) {
	c := stable(t)
	if !strings.HasPrefix(api.MinKubernetesVersion, c.Spec.Releases[0].Minor+".") {
		t.Errorf("oldest minor %s, validation starts at %s", c.Spec.Releases[0].Minor, api.MinKubernetesVersion)
	}
	newest, _ := ParseVersion(c.Spec.Releases[len(c.Spec.Releases)-1].Recommended)
	if !newest.LessThan(version.MustParseSemantic(api.MaxKubernetesVersion)) {
		t.Errorf("newest release %s is not below %s", newest, api.MaxKubernetesVersion)
	}
	r, err := c.Release(api.DefaultKubernetesVersion)
	if err != nil || r.Recommended != api.DefaultKubernetesVersion {
		t.Errorf("default version %s is not the recommended one of its minor: %v %v", api.DefaultKubernetesVersion, r, err)
	}
	keys := func(m map[string]string) []string {
		return slices.Sorted(maps.Keys(m))
	}
	first := c.Spec.Releases[0]
	for _, r := range c.Spec.Releases[1:] {
		if d := cmp.Diff(keys(first.Addons), keys(r.Addons)); d != "" {
			t.Errorf("%s names other add-ons than %s:\n%s", r.Minor, first.Minor, d)
		}
		if d := cmp.Diff(keys(first.Images), keys(r.Images)); d != "" {
			t.Errorf("%s names other images than %s:\n%s", r.Minor, first.Minor, d)
		}
	}
	for _, r := range c.Spec.Releases {
		for _, name := range RequiredComponents() {
			if _, err := r.Component(name); err != nil {
				t.Error(err)
			}
		}
		for _, name := range RequiredImages() {
			if _, err := r.Image(name); err != nil {
				t.Error(err)
			}
		}
	}
}

func TestParseRefusesComponentVersions(t *testing.T) {
	for _, v := range []string{"latest", "", "2.2"} {
		t.Run(v, func(t *testing.T) {
			data := "apiVersion: kapstan.io/v1alpha1\nkind: Channel\nmetadata: {name: x}\nspec:\n  releases:\n  - minor: \"1.36\"\n    recommended: 1.36.3\n    components: {containerd: \"" + v + "\"}\n"
			_, err := Parse("x.yaml", []byte(data))
			if err == nil || !strings.Contains(err.Error(), "spec.releases[0].components.containerd: \""+v+"\" is not a released version") {
				t.Fatalf("got %v", err)
			}
		})
	}
}

func TestNext(t *testing.T) {
	c := stable(t)
	cases := []struct {
		current, want string
		upToDate      bool
	}{
		{"1.33.2", "1.34.5", false},
		{"1.34.1", "1.35.4", false}, // two minors behind the default: only the next one
		{"1.35.4", "1.36.3", false},
		{"1.37.0", "1.37.1", false}, // newest minor: its recommended patch
		{"1.37.1", "", true},
	}
	for _, tc := range cases {
		t.Run(tc.current, func(t *testing.T) {
			got, err := c.Next(tc.current)
			if tc.upToDate {
				if !errors.Is(err, ErrUpToDate) {
					t.Fatalf("got %q, %v; want ErrUpToDate", got, err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("Next(%s) = %q, %v; want %s", tc.current, got, err, tc.want)
			}
		})
	}
}

func TestCheckUpgrade(t *testing.T) {
	c := stable(t)
	cases := []struct {
		name, current, target, wantErr string
	}{
		{"next minor", "1.34.5", "1.35.4", ""},
		{"any patch of the next minor", "1.34.5", "1.35.1", ""},
		{"patch", "1.34.1", "1.34.5", ""},
		{"skips a minor", "1.34.5", "1.36.3", "1.36.3 skips Kubernetes 1.35: upgrade one minor at a time, to 1.35 first"},
		{"downgrade", "1.35.4", "1.34.5", "1.34.5 is older than the cluster's 1.35.4: kapstan does not downgrade"},
		{"same", "1.35.4", "1.35.4", "the cluster already runs Kubernetes 1.35.4"},
		{"not in the channel", "1.37.1", "1.38.0", "channel stable has no Kubernetes 1.38"},
		{"not a version", "1.35.4", "latest", `kubernetes version "latest"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := c.CheckUpgrade(tc.current, tc.target)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("got %v, want %q", err, tc.wantErr)
			}
		})
	}
}

func TestParseRejects(t *testing.T) {
	cases := []struct{ name, yaml, want string }{
		{"unknown field", "kind: Channel\nmetadata: {name: x}\nspec:\n  releases: [{minor: '1.35', recommended: 1.35.1, extra: 1}]\n", `unknown field "extra"`},
		{"wrong kind", "kind: Cluster\nmetadata: {name: x}\n", `kind is "Cluster"`},
		{"out of order", "kind: Channel\nmetadata: {name: x}\nspec:\n  releases: [{minor: '1.35', recommended: 1.35.1}, {minor: '1.34', recommended: 1.34.1}]\n", "spec.releases[1].minor: 1.34 comes after 1.35"},
		{"recommended of another minor", "kind: Channel\nmetadata: {name: x}\nspec:\n  releases: [{minor: '1.35', recommended: 1.36.1}]\n", "spec.releases[0].recommended: 1.36.1 is not a 1.35 release"},
		{"bad minor", "kind: Channel\nmetadata: {name: x}\nspec:\n  releases: [{minor: '1', recommended: 1.36.1}]\n", "spec.releases[0].minor"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("test.yaml", []byte(tc.yaml))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
}

func TestDiff(t *testing.T) {
	from := &Release{Addons: map[string]string{"coredns": "1.12.1", "cilium": "1.18.2"}, Images: map[string]string{"coredns": "c:1", "old": "o:1"},
		Components: map[string]string{"runc": "1.3.0", "containerd": "2.1.4"}}
	to := &Release{Addons: map[string]string{"coredns": "1.12.4", "cilium": "1.18.2"}, Images: map[string]string{"coredns": "c:2", "new": "n:1"},
		Components: map[string]string{"runc": "1.3.0", "containerd": "2.2.1"}}
	want := []Change{
		{What: "addon coredns", From: "1.12.1", To: "1.12.4"},
		{What: "component containerd", From: "2.1.4", To: "2.2.1"},
		{What: "image coredns", From: "c:1", To: "c:2"},
		{What: "image new", From: "", To: "n:1"},
		{What: "image old", From: "o:1", To: ""},
	}
	if d := cmp.Diff(want, Diff(from, to)); d != "" {
		t.Fatalf("(-want +got):\n%s", d)
	}
}
