package v1alpha1

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDecodeIsStrict(t *testing.T) {
	cases := []struct {
		name string
		doc  string
		want string
	}{
		{"unknown field with its line", `apiVersion: kapstan.io/v1alpha1
kind: InstanceGroup
metadata:
  name: nodes
spec:
  role: Node
  machinetype: t3.large
`, `m.yaml:7: spec.machinetype: unknown field`},
		{"unknown nested field", `apiVersion: kapstan.io/v1alpha1
kind: Cluster
metadata: {name: a.k8s.local}
spec:
  subnets:
  - name: a
    zone: us-east-1a
  - name: b
    colour: red
`, `m.yaml:9: spec.subnets[1].colour: unknown field`},
		{"duplicate field", "apiVersion: kapstan.io/v1alpha1\nkind: InstanceGroup\nmetadata: {name: a}\nspec:\n  role: Node\n  role: Bastion\n", `duplicate`},
		{"wrong type", "apiVersion: kapstan.io/v1alpha1\nkind: InstanceGroup\nmetadata: {name: a}\nspec:\n  minSize: three\n", `m.yaml:5: spec.minSize: cannot unmarshal string`},
		{"wrong apiVersion", "apiVersion: kops.k8s.io/v1alpha2\nkind: Cluster\n", `m.yaml:1: apiVersion: "kops.k8s.io/v1alpha2" is not supported`},
		{"unknown kind", "apiVersion: kapstan.io/v1alpha1\nkind: Node\n", `m.yaml:2: kind: "Node" is not a kind`},
		{"two clusters", "apiVersion: kapstan.io/v1alpha1\nkind: Cluster\nmetadata: {name: a.k8s.local}\n---\napiVersion: kapstan.io/v1alpha1\nkind: Cluster\nmetadata: {name: b.k8s.local}\n", `a second Cluster`},
		{"not yaml", "spec: [unclosed\n", `not valid YAML`},
		{"empty", "---\n", `holds no Cluster or InstanceGroup`},
		{"a list", "- a\n- b\n", `must be a mapping`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode("m.yaml", []byte(tc.doc))
			if err == nil {
				t.Fatal("decoded without error")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not contain %q", err, tc.want)
			}
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("error is not a *DecodeError: %T", err)
			}
		})
	}
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	for _, name := range []string{"public-3zone.yaml", "private-bastion.yaml", "existing-vpc.yaml"} {
		t.Run(name, func(t *testing.T) {
			m := load(t, name)
			first, err := Encode(m)
			if err != nil {
				t.Fatal(err)
			}
			back, err := Decode(name, first)
			if err != nil {
				t.Fatalf("decoding encoded manifests: %v", err)
			}
			second, err := Encode(back)
			if err != nil {
				t.Fatal(err)
			}
			if string(first) != string(second) {
				t.Fatalf("round trip changed the manifests:\n%s\n---\n%s", first, second)
			}
			if got, want := len(back.InstanceGroups), len(m.InstanceGroups); got != want {
				t.Fatalf("%d instance groups after the round trip, want %d", got, want)
			}
		})
	}
}

// FuzzDecodeValidate feeds arbitrary bytes through the whole intake path:
// decode, default, validate, encode. None of it may panic, and whatever
// decodes and validates must survive an encode/decode round trip.
func FuzzDecodeValidate(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.yaml"))
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("apiVersion: kapstan.io/v1alpha1\nkind: InstanceGroup\nmetadata: {name: a}\nspec: {minSize: -1}\n"))
	f.Add([]byte("---\n---\n"))
	f.Add([]byte("apiVersion: kapstan.io/v1alpha1\nkind: Cluster\nspec: {subnets: [{cidr: 300.0.0.0/8}]}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Decode("fuzz.yaml", data)
		if err != nil {
			return
		}
		SetDefaults(m)
		if Validate(m) != nil {
			return
		}
		out, err := Encode(m)
		if err != nil {
			t.Fatalf("valid manifests do not encode: %v", err)
		}
		if _, err := Decode("again.yaml", out); err != nil {
			t.Fatalf("encoded manifests do not decode: %v\n%s", err, out)
		}
	})
}
