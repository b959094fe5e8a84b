package cloudformation_test

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kapstan/kapstan/internal/engine"
	"github.com/kapstan/kapstan/internal/render/cloudformation"
	"github.com/kapstan/kapstan/internal/testing/clusters"
	"github.com/kapstan/kapstan/internal/testing/golden"
	"github.com/kapstan/kapstan/internal/testing/moto"
)

var motoSrv *moto.Server

func TestMain(m *testing.M) { os.Exit(moto.RunMain(m, &motoSrv)) }

func renderTopology(t *testing.T, tp clusters.Topology) []byte {
	t.Helper()
	c := tp.Manifests.Cluster
	files, err := cloudformation.Render(clusters.Resources(t, tp.Manifests), cloudformation.Options{Cluster: c.Metadata.Name, Region: c.Spec.Region, Revision: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 1 || files[cloudformation.MainFile] == nil {
		t.Fatalf("want only %s, got %d files", cloudformation.MainFile, len(files))
	}
	return files[cloudformation.MainFile]
}

// TestGolden renders each topology and compares it with testdata/NAME.json;
// go test -update rewrites them.
func TestGolden(t *testing.T) {
	for _, tp := range clusters.All(t) {
		t.Run(tp.Name, func(t *testing.T) {
			golden.Assert(t, renderTopology(t, tp), filepath.Join("testdata", tp.Name+".json"))
		})
	}
}

// TestDeterministic renders each topology twice, from specs built twice.
func TestDeterministic(t *testing.T) {
	for i, tp := range clusters.All(t) {
		t.Run(tp.Name, func(t *testing.T) {
			if !bytes.Equal(renderTopology(t, tp), renderTopology(t, clusters.All(t)[i])) {
				t.Error("two renders differ")
			}
		})
	}
}

// template is the part of a template the tests read.
type template struct {
	Parameters map[string]json.RawMessage `json:"Parameters"`
	Resources  map[string]struct {
		Type       string         `json:"Type"`
		DependsOn  []string       `json:"DependsOn"`
		Properties map[string]any `json:"Properties"`
	} `json:"Resources"`
	Outputs map[string]json.RawMessage `json:"Outputs"`
}

func parse(t *testing.T, data []byte) template {
	t.Helper()
	var tmpl template
	if err := json.Unmarshal(data, &tmpl); err != nil {
		t.Fatal(err)
	}
	return tmpl
}

// TestReferencesResolve walks each template and checks that every Ref,
// Fn::GetAtt and DependsOn names a resource or parameter of it, and that
// every resource that can carry tags carries the cluster's.
func TestReferencesResolve(t *testing.T) {
	for _, tp := range clusters.All(t) {
		t.Run(tp.Name, func(t *testing.T) {
			data := renderTopology(t, tp)
			tmpl := parse(t, data)
			var raw any
			_ = json.Unmarshal(data, &raw)
			known := func(id string) bool {
				_, r := tmpl.Resources[id]
				_, p := tmpl.Parameters[id]
				return r || p || strings.HasPrefix(id, "AWS::")
			}
			walkRefs(raw, func(id string) {
				if !known(id) {
					t.Errorf("reference to %s, which the template does not declare", id)
				}
			})
			cluster := tp.Manifests.Cluster.Metadata.Name
			for id, r := range tmpl.Resources {
				for _, d := range r.DependsOn {
					if !known(d) {
						t.Errorf("%s depends on %s, which the template does not declare", id, d)
					}
				}
				tags, taggable := r.Properties["Tags"].([]any)
				if !taggable {
					if untaggable[r.Type] {
						continue
					}
					if lt, ok := r.Properties["TagSpecifications"].([]any); ok && len(lt) == 1 {
						tags = lt[0].(map[string]any)["Tags"].([]any)
					} else {
						t.Errorf("%s (%s) has no tags", id, r.Type)
						continue
					}
				}
				if !hasTag(tags, "kubernetes.io/cluster/"+cluster, "owned") || !hasTag(tags, "KubernetesCluster", cluster) {
					t.Errorf("%s (%s) lacks the cluster's tags: %v", id, r.Type, tags)
				}
			}
		})
	}
}

// untaggable are the types CloudFormation has no tags for.
var untaggable = map[string]bool{
	"AWS::EC2::VPCGatewayAttachment": true, "AWS::EC2::Route": true, "AWS::EC2::SubnetRouteTableAssociation": true,
	"AWS::EC2::SecurityGroupIngress": true, "AWS::IAM::Policy": true, "AWS::IAM::InstanceProfile": true,
	"AWS::ElasticLoadBalancingV2::Listener": true, "AWS::Route53::RecordSet": true,
}

func hasTag(tags []any, key, value string) bool {
	for _, tag := range tags {
		m := tag.(map[string]any)
		if m["Key"] == key && m["Value"] == value {
			return true
		}
	}
	return false
}

// walkRefs calls f with the target of every Ref and Fn::GetAtt in v.
func walkRefs(v any, f func(string)) {
	switch x := v.(type) {
	case map[string]any:
		if id, ok := x["Ref"].(string); ok && len(x) == 1 {
			f(id)
		}
		if ga, ok := x["Fn::GetAtt"].([]any); ok && len(x) == 1 {
			f(ga[0].(string))
		}
		for _, e := range x {
			walkRefs(e, f)
		}
	case []any:
		for _, e := range x {
			walkRefs(e, f)
		}
	}
}

// TestExistingNetwork checks that an existing VPC, subnets and NAT
// gateways appear as ids, never as resources.
func TestExistingNetwork(t *testing.T) {
	ids := clusters.ExistingIDs
	data := renderTopology(t, clusters.Shared(t, ids))
	for id, r := range parse(t, data).Resources {
		switch r.Type {
		case "AWS::EC2::VPC", "AWS::EC2::Subnet", "AWS::EC2::NatGateway", "AWS::EC2::EIP", "AWS::EC2::RouteTable", "AWS::EC2::Route", "AWS::EC2::InternetGateway":
			t.Errorf("an existing network renders %s (%s)", id, r.Type)
		}
	}
	for _, id := range append(append([]string{ids.VPC}, ids.Subnets...), ids.UtilitySubnets...) {
		if !bytes.Contains(data, []byte(`"`+id+`"`)) {
			t.Errorf("%s is not in the template", id)
		}
	}
}

// TestCfnLint lints the three templates in one cfn-lint run (each run
// costs seconds of start-up). Exit code 2 means errors; 4, warnings only,
// is allowed: the templates name availability zones (W3010), as the spec
// does.
func TestCfnLint(t *testing.T) {
	t.Parallel() // beside the moto deploys: cfn-lint takes seconds
	bin, err := exec.LookPath("cfn-lint")
	if err != nil {
		t.Fatalf("cfn-lint not found on PATH: this test needs it (pip install cfn-lint): %v", err)
	}
	dir := t.TempDir()
	var paths []string
	for _, tp := range clusters.All(t) {
		p := filepath.Join(dir, tp.Name+".json")
		if err := os.WriteFile(p, renderTopology(t, tp), 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	out, err := exec.Command(bin, paths...).CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	// cfn-lint's exit code is a bit mask: 2 errors, 4 warnings, 8 informational.
	if code&2 != 0 || code&1 != 0 {
		t.Fatalf("cfn-lint exited %d:\n%s", code, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, "W") && !strings.HasPrefix(line, "W3010 ") {
			t.Errorf("cfn-lint warning other than W3010: %s", line)
		}
	}
	t.Logf("cfn-lint exit %d", code)
}

// fake is a resource of a kind no target knows.
type fake struct{ name string }

func (f *fake) Address() engine.Address                              { return engine.Address{Kind: "Fake", Name: f.name} }
func (f *fake) Dependencies() []engine.Address                       { return nil }
func (f *fake) Diff(engine.Resource, engine.Refs) []engine.FieldDiff { return nil }

type dangling struct{ fake }

func (d *dangling) RenderCloudFormation(t *cloudformation.Template) error {
	t.Add(t.LogicalID(d.Address()), "AWS::X::Y", map[string]any{"Other": t.Ref(engine.RefTo("VPC", "missing"))})
	return nil
}

type twin struct{ fake }

func (d *twin) RenderCloudFormation(t *cloudformation.Template) error {
	t.Add(t.LogicalID(d.Address()), "AWS::X::Y", map[string]any{"Name": d.name})
	return nil
}

func TestTemplateErrors(t *testing.T) {
	opts := cloudformation.Options{Cluster: "c", Region: "r"}
	if _, err := cloudformation.Render([]engine.Resource{&fake{"x"}}, opts); err == nil || !strings.Contains(err.Error(), "cannot be rendered to CloudFormation") {
		t.Errorf("a resource of an unknown kind: got %v", err)
	}
	if _, err := cloudformation.Render([]engine.Resource{&dangling{fake{"x"}}}, opts); err == nil || !strings.Contains(err.Error(), "refers to VPCMissing") {
		t.Errorf("a dangling reference: got %v", err)
	}
	files, err := cloudformation.Render([]engine.Resource{&twin{fake{"a.b"}}, &twin{fake{"a-b"}}}, opts)
	if err != nil {
		t.Fatalf("names that come out alike: %v", err)
	}
	res := parse(t, files[cloudformation.MainFile]).Resources
	if len(res) != 2 {
		t.Errorf("names that come out alike are not told apart: %v", res)
	}
	for id := range res {
		if !strings.HasPrefix(id, "FakeAB") || len(id) != len("FakeAB")+8 {
			t.Errorf("logical id %s: want FakeAB and a hash", id)
		}
	}
	if got := cloudformation.Camel("private-us-east-1a"); got != "PrivateUsEast1a" {
		t.Errorf("Camel: got %s", got)
	}
}
