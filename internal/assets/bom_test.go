package assets_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/yaml"

	"github.com/kapstan/kapstan/internal/assets"
)

const (
	sha1 = "1111111111111111111111111111111111111111111111111111111111111111"
	sha2 = "2222222222222222222222222222222222222222222222222222222222222222"
)

func sampleBOM() *assets.BOM {
	return assets.NewBOM(assets.KindBOM, "demo.k8s.local", "s3://state/demo.k8s.local/assets", "", []assets.Asset{
		{Name: "kubelet", Kind: assets.KindFile, Version: "1.36.3", Source: "https://dl.k8s.io/release/v1.36.3/bin/linux/amd64/kubelet",
			Path: "kubernetes/v1.36.3/linux/amd64/kubelet", SHA256: sha1, Size: 58000000},
		{Name: "image/pause", Kind: assets.KindImage, Version: "3.10.1", Source: "registry.k8s.io/pause:3.10.1",
			Path: "images/pause/3.10.1/linux/amd64/pause.tar", Image: "registry.k8s.io/pause:3.10.1", SHA256: sha2, Size: 320000},
	})
}

func TestBOMRoundTrip(t *testing.T) {
	want := sampleBOM()
	data, err := assets.EncodeBOM(want)
	if err != nil {
		t.Fatal(err)
	}
	got, err := assets.DecodeBOM("bom.yaml", data)
	if err != nil {
		t.Fatalf("%v\n%s", err, data)
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("round trip (-want +got):\n%s", d)
	}
}

func TestDecodeBOMRefuses(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(b *assets.BOM)
		edit   func(yaml string) string
		want   string
	}{
		{"another kind", func(b *assets.BOM) { b.Kind = assets.KindList }, nil, "is kapstan.io/v1alpha1 AssetList, want kapstan.io/v1alpha1 BillOfMaterials"},
		{"a file without hash", func(b *assets.BOM) { b.Assets[0].SHA256 = "" }, nil, `assets[0] (kubelet): sha256 "" is not 64 hex digits`},
		{"a short hash", func(b *assets.BOM) { b.Assets[1].SHA256 = "abc" }, nil, `assets[1] (image/pause): sha256 "abc" is not 64 hex digits`},
		{"a file without size", func(b *assets.BOM) { b.Assets[0].Size = 0 }, nil, "assets[0] (kubelet): size 0"},
		{"latest", func(b *assets.BOM) { b.Assets[0].Version = "latest" }, nil, `assets[0] (kubelet): version "latest" is not a version`},
		{"twice", func(b *assets.BOM) { b.Assets[1].Name = "kubelet" }, nil, "assets[1]: kubelet is listed twice"},
		{"an unknown field", nil, func(y string) string { return y + "signature: x\n" }, `unknown field "signature"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := sampleBOM()
			if tc.mutate != nil {
				tc.mutate(b)
			}
			// Encode without the checks, as another tool might write it.
			data, err := assets.EncodeBOM(sampleBOM())
			if err != nil {
				t.Fatal(err)
			}
			if tc.mutate != nil {
				data = []byte(rawYAML(t, b))
			}
			if tc.edit != nil {
				data = []byte(tc.edit(string(data)))
			}
			_, err = assets.DecodeBOM("bom.yaml", data)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "bill of materials bom.yaml: ") {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
}

func TestWithHashes(t *testing.T) {
	bom := sampleBOM()
	list := []assets.Asset{
		{Name: "kubelet", Version: "1.36.3", Path: "kubernetes/v1.36.3/linux/amd64/kubelet"},
		{Name: "image/pause", Version: "3.10.2", Path: "images/pause/3.10.2/linux/amd64/pause.tar"}, // newer than the BOM's
		{Name: "runc", Version: "1.4.0", Path: "runc/v1.4.0/linux/amd64/runc"},                      // not in it
	}
	got := assets.WithHashes(list, bom)
	if got[0].SHA256 != sha1 || got[0].Size != 58000000 {
		t.Errorf("kubelet: %+v", got[0])
	}
	if got[1].SHA256 != "" || got[2].SHA256 != "" {
		t.Errorf("hashes of assets the BOM does not name: %+v", got[1:])
	}
	if list[0].SHA256 != "" {
		t.Error("WithHashes changed its input")
	}
	if d := cmp.Diff(list, assets.WithHashes(list, nil)); d != "" {
		t.Errorf("a nil BOM changed the list:\n%s", d)
	}
}

func TestVerify(t *testing.T) {
	sha, size, err := assets.Sum(strings.NewReader("kubelet"))
	if err != nil {
		t.Fatal(err)
	}
	a := assets.Asset{Name: "kubelet", SHA256: sha, Size: size}
	if err := assets.Verify(a, "/tmp/kubelet", strings.NewReader("kubelet")); err != nil {
		t.Fatalf("the right file refused: %v", err)
	}
	err = assets.Verify(a, "/tmp/kubelet", strings.NewReader("kubeleT"))
	var mm *assets.MismatchError
	if !errors.As(err, &mm) || mm.Name != "kubelet" || mm.Want != sha || mm.Got == sha ||
		!strings.Contains(err.Error(), "asset kubelet: /tmp/kubelet has sha256 "+mm.Got+", want "+sha) {
		t.Fatalf("a changed byte: %v", err)
	}
	if err := assets.Verify(assets.Asset{Name: "runc"}, "x", strings.NewReader("")); err == nil {
		t.Fatal("an asset without a hash was verified")
	}
}

// rawYAML encodes b without EncodeBOM's checks.
func rawYAML(t *testing.T, b *assets.BOM) string {
	t.Helper()
	data, err := yaml.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}
