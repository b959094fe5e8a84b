package terraform_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"github.com/kapstan/kapstan/internal/engine"
	"github.com/kapstan/kapstan/internal/render"
	"github.com/kapstan/kapstan/internal/render/terraform"
	"github.com/kapstan/kapstan/internal/testing/clusters"
	"github.com/kapstan/kapstan/internal/testing/golden"
)

func renderTopology(t *testing.T, tp clusters.Topology) map[string][]byte {
	t.Helper()
	c := tp.Manifests.Cluster
	files, err := terraform.Render(clusters.Resources(t, tp.Manifests), terraform.Options{Cluster: c.Metadata.Name, Region: c.Spec.Region, Revision: 1})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// TestGolden renders each topology and compares it with testdata/NAME/;
// go test -update rewrites them.
func TestGolden(t *testing.T) {
	for _, tp := range clusters.All(t) {
		t.Run(tp.Name, func(t *testing.T) {
			golden.AssertDir(t, renderTopology(t, tp), filepath.Join("testdata", tp.Name))
		})
	}
}

// TestDeterministic renders each topology twice, from specs built twice.
func TestDeterministic(t *testing.T) {
	for i, tp := range clusters.All(t) {
		t.Run(tp.Name, func(t *testing.T) {
			first := renderTopology(t, tp)
			second := renderTopology(t, clusters.All(t)[i])
			if len(first) != len(second) {
				t.Fatalf("%d files, then %d", len(first), len(second))
			}
			for name, data := range first {
				if !bytes.Equal(data, second[name]) {
					t.Errorf("%s differs between two renders", name)
				}
			}
		})
	}
}

// TestReferencesResolve parses each kubernetes.tf with hclparse and checks
// that every reference in it names a declared resource, data source,
// variable or local, and every file() a file that was rendered.
func TestReferencesResolve(t *testing.T) {
	for _, tp := range clusters.All(t) {
		t.Run(tp.Name, func(t *testing.T) {
			files := renderTopology(t, tp)
			for _, problem := range unresolved(t, files) {
				t.Error(problem)
			}
		})
	}
}

// unresolved lists the references of the configuration that resolve to
// nothing.
func unresolved(t *testing.T, files map[string][]byte) []string {
	t.Helper()
	f, diags := hclparse.NewParser().ParseHCL(files[terraform.MainFile], terraform.MainFile)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	body := f.Body.(*hclsyntax.Body)
	declared := map[string]bool{"path.module": true}
	for _, b := range body.Blocks {
		switch b.Type {
		case "resource":
			declared[b.Labels[0]+"."+b.Labels[1]] = true
		case "data":
			declared["data."+b.Labels[0]+"."+b.Labels[1]] = true
		case "variable":
			declared["var."+b.Labels[0]] = true
		case "locals":
			for name := range b.Body.Attributes {
				declared["local."+name] = true
			}
		}
	}
	var problems []string
	var walk func(where string, b *hclsyntax.Body)
	walk = func(where string, b *hclsyntax.Body) {
		for name, attr := range b.Attributes {
			for _, tr := range attr.Expr.Variables() {
				if key := refKey(tr); !declared[key] {
					problems = append(problems, fmt.Sprintf("%s.%s refers to %s, which is not declared", where, name, key))
				}
			}
			problems = append(problems, checkFileCalls(files, where+"."+name, attr.Expr)...)
		}
		for _, nested := range b.Blocks {
			walk(where+"."+nested.Type, nested.Body)
		}
	}
	for _, b := range body.Blocks {
		walk(strings.Join(append([]string{b.Type}, b.Labels...), "."), b.Body)
	}
	return problems
}

// refKey is what a traversal must find declared: TYPE.NAME for a resource,
// data.TYPE.NAME, var.NAME, local.NAME, path.module.
func refKey(tr hcl.Traversal) string {
	parts := []string{tr.RootName()}
	n := 2
	if parts[0] == "data" {
		n = 3
	}
	for _, step := range tr[1:] {
		if len(parts) == n {
			break
		}
		if a, ok := step.(hcl.TraverseAttr); ok {
			parts = append(parts, a.Name)
		}
	}
	return strings.Join(parts, ".")
}

// checkFileCalls checks that file(...) and filebase64(...) read a file
// the render wrote.
func checkFileCalls(files map[string][]byte, where string, e hclsyntax.Expression) []string {
	var problems []string
	hclsyntax.VisitAll(e, func(n hclsyntax.Node) hcl.Diagnostics {
		call, ok := n.(*hclsyntax.FunctionCallExpr)
		if !ok || (call.Name != "file" && call.Name != "filebase64") {
			return nil
		}
		tmpl, ok := call.Args[0].(*hclsyntax.TemplateExpr)
		if !ok || len(tmpl.Parts) != 2 {
			problems = append(problems, where+": "+call.Name+" of something other than \"${path.module}/PATH\"")
			return nil
		}
		lit, ok := tmpl.Parts[1].(*hclsyntax.LiteralValueExpr)
		if !ok {
			problems = append(problems, where+": "+call.Name+" path is not literal")
			return nil
		}
		path := strings.TrimPrefix(lit.Val.AsString(), "/")
		if _, ok := files[path]; !ok {
			problems = append(problems, fmt.Sprintf("%s: %s(%q): no such file rendered", where, call.Name, path))
		}
		return nil
	})
	return problems
}

// TestTerraformFmt writes every topology under one folder and runs
// terraform fmt -check -recursive on it once.
func TestTerraformFmt(t *testing.T) {
	bin, err := exec.LookPath("terraform")
	if err != nil {
		t.Fatalf("terraform not found on PATH: this test needs the terraform CLI (it runs terraform fmt -check): %v", err)
	}
	dir := t.TempDir()
	for _, tp := range clusters.All(t) {
		if err := render.WriteDir(filepath.Join(dir, tp.Name), renderTopology(t, tp)); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(bin, "fmt", "-check", "-recursive", "-diff", dir)
	cmd.Env = append(os.Environ(), "TF_IN_AUTOMATION=1", "CHECKPOINT_DISABLE=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("terraform fmt -check -recursive: %v\n%s", err, out)
	}
}

// TestExistingNetwork checks that an existing VPC, subnets and NAT
// gateways appear as ids and tags, never as resources.
func TestExistingNetwork(t *testing.T) {
	ids := clusters.ExistingIDs
	tf := string(renderTopology(t, clusters.Shared(t, ids))[terraform.MainFile])
	for _, typ := range []string{`resource "aws_vpc"`, `resource "aws_subnet"`, `resource "aws_nat_gateway"`, `resource "aws_eip"`, `resource "aws_route`, `resource "aws_internet_gateway"`} {
		if strings.Contains(tf, typ) {
			t.Errorf("an existing network renders %s", typ)
		}
	}
	all := append(append(append([]string{ids.VPC}, ids.Subnets...), ids.UtilitySubnets...), ids.NATGateways...)
	for _, id := range all {
		if !regexp.MustCompile(`resource_id\s+= "` + id + `"`).MatchString(tf) {
			t.Errorf("%s is not tagged with aws_ec2_tag", id)
		}
	}
	if !regexp.MustCompile(`vpc_id\s+= "` + ids.VPC + `"`).MatchString(tf) {
		t.Errorf("the target group does not use the existing VPC's id")
	}
}

// fake is a resource of a kind no target knows.
type fake struct{ name string }

func (f *fake) Address() engine.Address                              { return engine.Address{Kind: "Fake", Name: f.name} }
func (f *fake) Dependencies() []engine.Address                       { return nil }
func (f *fake) Diff(engine.Resource, engine.Refs) []engine.FieldDiff { return nil }

// dangling renders a reference to a resource nobody declares.
type dangling struct{ fake }

func (d *dangling) RenderTerraform(t *terraform.Target) error {
	t.Resource("aws_thing", d.Address()).Expr("other", t.Ref("aws_vpc", engine.RefTo("VPC", "missing"), "id"))
	return nil
}

// twin declares a resource under a name another address sanitizes to.
type twin struct{ fake }

func (d *twin) RenderTerraform(t *terraform.Target) error {
	t.Resource("aws_thing", d.Address()).String("name", d.name)
	return nil
}

func TestTargetErrors(t *testing.T) {
	opts := terraform.Options{Cluster: "c", Region: "r"}
	if _, err := terraform.Render([]engine.Resource{&fake{"x"}}, opts); err == nil || !strings.Contains(err.Error(), "cannot be rendered to Terraform") {
		t.Errorf("a resource of an unknown kind: got %v", err)
	}
	if _, err := terraform.Render([]engine.Resource{&dangling{fake{"x"}}}, opts); err == nil || !strings.Contains(err.Error(), "refers to aws_vpc.missing, which nothing declares") {
		t.Errorf("a dangling reference: got %v", err)
	}
	files, err := terraform.Render([]engine.Resource{&twin{fake{"a.b"}}, &twin{fake{"a_b"}}}, opts)
	if err != nil {
		t.Fatalf("names that sanitize alike: %v", err)
	}
	tf := string(files[terraform.MainFile])
	if strings.Count(tf, `resource "aws_thing" "a_b_`) != 2 {
		t.Errorf("names that sanitize alike are not told apart by a hash:\n%s", tf)
	}
}

// TestUnresolvedFindsProblems checks the checker itself on a broken file.
func TestUnresolvedFindsProblems(t *testing.T) {
	files := map[string][]byte{terraform.MainFile: []byte(`
data "aws_ami" "img" {}
resource "aws_vpc" "a" {}
resource "aws_x" "b" {
  ok    = aws_vpc.a.id
  img   = data.aws_ami.img.id
  bad   = aws_vpc.missing.id
  nodat = data.aws_ami.other.id
  f     = file("${path.module}/data/nope")
  nested {
    v = var.undeclared
  }
}
`)}
	got := unresolved(t, files)
	want := []string{"aws_vpc.missing", "data.aws_ami.other", `"data/nope"`, "var.undeclared"}
	if len(got) != len(want) {
		t.Fatalf("got %d problems, want %d: %q", len(got), len(want), got)
	}
	all := strings.Join(got, "\n")
	for _, w := range want {
		if !strings.Contains(all, w) {
			t.Errorf("no problem names %s:\n%s", w, all)
		}
	}
}
