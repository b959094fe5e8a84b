package toolbox

import (
	"errors"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	api "github.com/kapstan/kapstan/pkg/apis/kapstan/v1alpha1"
)

func read(t *testing.T, path string) File {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return File{Name: path, Data: data}
}

// readmeSample is the fenced block between <!-- sample:NAME --> and
// <!-- /sample --> in the README.
func readmeSample(t *testing.T, name string) string {
	t.Helper()
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile("(?s)<!-- sample:" + regexp.QuoteMeta(name) + " -->\n```yaml\n(.*?)```\n<!-- /sample -->")
	m := re.FindSubmatch(readme)
	if m == nil {
		t.Fatalf("README.md has no sample %s", name)
	}
	return string(m[1])
}

// TestReadmeSampleRendersValidManifests renders the README's sample (kept
// equal to testdata/) and checks the result as create -f does.
func TestReadmeSampleRendersValidManifests(t *testing.T) {
	tmpl, vals := read(t, "testdata/cluster.tmpl.yaml"), read(t, "testdata/values.yaml")
	for _, f := range []File{tmpl, vals} {
		name := strings.TrimPrefix(f.Name, "testdata/")
		if d := cmp.Diff(string(f.Data), readmeSample(t, name)); d != "" {
			t.Errorf("README's %s differs from testdata (-testdata +README):\n%s", name, d)
		}
	}
	values, err := MergeValues([]File{vals})
	if err != nil {
		t.Fatal(err)
	}
	if err := values.Set("nodes.count=5"); err != nil {
		t.Fatal(err)
	}
	out, err := Render([]File{tmpl}, values)
	if err != nil {
		t.Fatal(err)
	}
	m, err := api.Decode("rendered", out)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	api.SetDefaults(m)
	if err := api.Validate(m); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if m.Cluster.Metadata.Name != "demo.k8s.local" || len(m.InstanceGroups) != 4 {
		t.Errorf("rendered %s with %d groups", m.Cluster.Metadata.Name, len(m.InstanceGroups))
	}
	if ig := m.InstanceGroup("nodes"); ig == nil || ig.Spec.MinSize != 5 || ig.Spec.MaxSize != 7 {
		t.Errorf("--set nodes.count=5 not used: %+v", ig)
	}
	if got := m.Cluster.Spec.Subnets[2].CIDR; got != "172.20.128.0/18" {
		t.Errorf("third subnet %s", got)
	}
}

func TestMissingValueIsNamed(t *testing.T) {
	tmpl := read(t, "testdata/cluster.tmpl.yaml")
	cases := []struct {
		name string
		drop func(v Values)
		key  string
		line int
	}{
		{"top level", func(v Values) { delete(v, "kubernetesVersion") }, "kubernetesVersion", 6},
		{"nested", func(v Values) { delete(v["nodes"].(map[string]any), "machineType") }, "nodes.machineType", 31},
		{"whole map", func(v Values) { delete(v, "controlPlane") }, "controlPlane", 21},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v, err := MergeValues([]File{read(t, "testdata/values.yaml")})
			if err != nil {
				t.Fatal(err)
			}
			tc.drop(v)
			_, err = Render([]File{tmpl}, v)
			var mv *MissingValueError
			if !errors.As(err, &mv) {
				t.Fatalf("got %v, want a MissingValueError", err)
			}
			want := MissingValueError{Template: "testdata/cluster.tmpl.yaml", Line: tc.line, Key: tc.key}
			if *mv != want {
				t.Fatalf("got %+v, want %+v", *mv, want)
			}
			if !strings.Contains(err.Error(), `value "`+tc.key+`" is not set`) {
				t.Errorf("message: %v", err)
			}
		})
	}
}

func TestValues(t *testing.T) {
	v, err := MergeValues([]File{
		{Name: "a.yaml", Data: []byte("a: {x: 1, y: [1, 2]}\nb: keep\n")},
		{Name: "b.yaml", Data: []byte("a: {y: [3], z: 2}\nc: new\n")},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"a.x=10,d.e=true", "v=1.36", "a.w=x=y"} {
		if err := v.Set(s); err != nil {
			t.Fatal(err)
		}
	}
	want := Values{
		"a": map[string]any{"x": int64(10), "y": []any{3}, "z": 2, "w": "x=y"},
		"b": "keep", "c": "new", "d": map[string]any{"e": true}, "v": "1.36",
	}
	if d := cmp.Diff(want, v); d != "" {
		t.Fatalf("(-want +got):\n%s", d)
	}
	for _, bad := range []string{"novalue", "=x", "b.c=1", "a..b=1"} {
		if err := v.Set(bad); err == nil {
			t.Errorf("--set %q accepted", bad)
		}
	}
}

func TestRenderJoinsTemplatesAndIncludes(t *testing.T) {
	out, err := Render([]File{
		{Name: "helpers.tmpl", Data: []byte(`{{ define "labels" }}team: {{ .team | upper }}{{ end }}`)},
		{Name: "a.yaml", Data: []byte("kind: A\nlabels: {{ include \"labels\" . | nindent 2 }}\n")},
		{Name: "b.yaml", Data: []byte("kind: B\nitems:\n{{ toYaml .items | indent 2 }}\n")},
	}, Values{"team": "web", "items": []any{"x", "y"}})
	if err != nil {
		t.Fatal(err)
	}
	want := "kind: A\nlabels: \n  team: WEB\n---\nkind: B\nitems:\n  - x\n  - \"y\"\n"
	if d := cmp.Diff(want, string(out)); d != "" {
		t.Fatalf("(-want +got):\n%s", d)
	}
}
