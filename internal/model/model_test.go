package model

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	awscloud "github.com/kapstan/kapstan/internal/cloud/aws"
	"github.com/kapstan/kapstan/internal/engine"
	"github.com/kapstan/kapstan/internal/newcluster"
	api "github.com/kapstan/kapstan/pkg/apis/kapstan/v1alpha1"
)

var zones = []string{"us-east-1a", "us-east-1b", "us-east-1c"}

// What nodes are told about the agent. The hash is made up: nothing
// downloads the agent here.
const (
	agentURL    = "https://state.s3.us-east-1.amazonaws.com/prefix/demo/assets/kapstan/v0.1.0/linux/amd64/nodeup"
	agentSHA256 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
)

func build(t *testing.T, o newcluster.Options) []engine.Resource {
	t.Helper()
	m, err := newcluster.Build(o)
	if err != nil {
		t.Fatal(err)
	}
	rs, err := Build(m, Options{StateStore: "s3://state/prefix", AgentURL: agentURL, AgentSHA256: agentSHA256})
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func countKinds(rs []engine.Resource) map[string]int {
	n := map[string]int{}
	for _, r := range rs {
		n[r.Address().Kind]++
	}
	return n
}

func TestTopologies(t *testing.T) {
	cases := []struct {
		name string
		opts newcluster.Options
		want map[string]int
	}{
		{"public, new VPC", newcluster.Options{Name: "demo.k8s.local", Zones: zones, ControlPlaneCount: 3, NodeCount: 3},
			map[string]int{"VPC": 1, "InternetGateway": 1, "Subnet": 3, "RouteTable": 1, "Route": 1, "RouteTableAssociation": 3,
				"SecurityGroup": 3, "IAMRole": 2, "IAMRolePolicy": 2, "InstanceProfile": 2,
				"LaunchTemplate": 4, "AutoScalingGroup": 4, "Volume": 6, "LoadBalancer": 1, "TargetGroup": 1, "Listener": 1}},
		{"private with bastion and DNS", newcluster.Options{Name: "p.example.com", Zones: zones, ControlPlaneCount: 3, Topology: "private", Bastion: true},
			map[string]int{"VPC": 1, "InternetGateway": 1, "Subnet": 6, "RouteTable": 4, "Route": 4, "RouteTableAssociation": 6,
				"ElasticIP": 3, "NATGateway": 3, "SecurityGroup": 4, "IAMRole": 3, "IAMRolePolicy": 3, "InstanceProfile": 3,
				"LaunchTemplate": 5, "AutoScalingGroup": 5, "Volume": 6, "LoadBalancer": 1, "TargetGroup": 1, "Listener": 1, "DNSRecord": 2}},
		{"existing VPC", newcluster.Options{Name: "e.k8s.local", Zones: zones[:2], Topology: "private", VPC: "vpc-0abc",
			Subnets: []string{"subnet-01", "subnet-02"}, UtilitySubnets: []string{"subnet-03", "subnet-04"}, NATGateways: []string{"nat-01", "nat-02"}},
			map[string]int{"VPC": 1, "Subnet": 4, "NATGateway": 2, "SecurityGroup": 3, "IAMRole": 2, "IAMRolePolicy": 2, "InstanceProfile": 2,
				"LaunchTemplate": 2, "AutoScalingGroup": 2, "Volume": 2, "LoadBalancer": 1, "TargetGroup": 1, "Listener": 1}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rs := build(t, tc.opts)
			got := countKinds(rs)
			delete(got, awscloud.KindSecurityGroupRule) // counted below
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("resources by kind:\n got %v\nwant %v", got, tc.want)
			}
			checkGraph(t, rs)
		})
	}
}

// checkGraph checks what every graph must satisfy: unique addresses,
// dependencies that exist, tags on every taggable resource, AWS name limits.
func checkGraph(t *testing.T, rs []engine.Resource) {
	t.Helper()
	seen := map[engine.Address]bool{}
	for _, r := range rs {
		if seen[r.Address()] {
			t.Errorf("duplicate address %s", r.Address())
		}
		seen[r.Address()] = true
	}
	for _, r := range rs {
		for _, d := range r.Dependencies() {
			if !seen[d] {
				t.Errorf("%s depends on %s, which is not built", r.Address(), d)
			}
		}
		switch v := r.(type) {
		case *awscloud.TargetGroup:
			if len(v.TGName) > 32 {
				t.Errorf("target group name %q is longer than 32", v.TGName)
			}
		case *awscloud.LoadBalancer:
			if len(v.LBName) > 32 || strings.ContainsAny(v.LBName, ".") {
				t.Errorf("load balancer name %q breaks AWS rules", v.LBName)
			}
		case *awscloud.IAMRole:
			if len(v.RoleName) > 64 {
				t.Errorf("role name %q is longer than 64", v.RoleName)
			}
		}
		if tags := tagsOf(r); tags != nil {
			if tags[awscloud.TagClusterPrefix+clusterOf(tags)] == "" {
				t.Errorf("%s lacks the kubernetes.io/cluster tag: %v", r.Address(), tags)
			}
			if tags["kubernetes.io/cluster/"+clusterOf(tags)] == "owned" && (tags[awscloud.TagKubernetesCluster] == "" || tags[awscloud.TagAddress] != r.Address().String()) {
				t.Errorf("%s owned but without KubernetesCluster or its address: %v", r.Address(), tags)
			}
		}
	}
}

func tagsOf(r engine.Resource) awscloud.Tags {
	v := reflect.ValueOf(r).Elem().FieldByName("Tags")
	if !v.IsValid() {
		return nil
	}
	return v.Interface().(awscloud.Tags)
}

func clusterOf(tags awscloud.Tags) string {
	for k := range tags {
		if c, ok := strings.CutPrefix(k, awscloud.TagClusterPrefix); ok {
			return c
		}
	}
	return ""
}

func TestBuildIsDeterministic(t *testing.T) {
	o := newcluster.Options{Name: "p.example.com", Zones: zones, ControlPlaneCount: 3, Topology: "private", Bastion: true}
	a, b := build(t, o), build(t, o)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("two builds of the same spec differ")
	}
}

func TestLongClusterNameFitsAWSLimits(t *testing.T) {
	name := "a-very-long-cluster-name-for-testing-limits.team-platform.k8s.local"
	rs := build(t, newcluster.Options{Name: name, Zones: zones[:1]})
	checkGraph(t, rs)
	other := build(t, newcluster.Options{Name: strings.Replace(name, "testing", "testin9", 1), Zones: zones[:1]})
	tgName := func(rs []engine.Resource) string {
		for _, r := range rs {
			if tg, ok := r.(*awscloud.TargetGroup); ok {
				return tg.TGName
			}
		}
		return ""
	}
	if tgName(rs) == tgName(other) {
		t.Fatalf("two long cluster names share target group name %q", tgName(rs))
	}
}

func TestSecurityRules(t *testing.T) {
	rs := build(t, newcluster.Options{Name: "p.example.com", Zones: zones, Topology: "private", Bastion: true})
	var rules []string
	for _, r := range rs {
		if rule, ok := r.(*awscloud.SecurityGroupRule); ok {
			rules = append(rules, rule.Name)
		}
	}
	slices.Sort(rules)
	for _, want := range []string{
		"api-lb-ingress-tcp-443-443-from-0.0.0.0/0",
		"bastion-ingress-tcp-22-22-from-0.0.0.0/0",
		"control-plane-ingress-tcp-22-22-from-bastion",
		"control-plane-ingress-tcp-443-443-from-api-lb",
		"control-plane-ingress-tcp-443-443-from-nodes",
		"nodes-ingress-all-0-0-from-control-plane",
	} {
		if !slices.Contains(rules, want) {
			t.Errorf("missing rule %s in %v", want, rules)
		}
	}
	for _, r := range rules {
		if strings.Contains(r, "control-plane-ingress-tcp-22-22-from-0.0.0.0") {
			t.Errorf("private topology opens SSH to the control plane from the internet: %s", r)
		}
	}
}

func TestImagesFromFacts(t *testing.T) {
	m, err := newcluster.Build(newcluster.Options{Name: "demo.k8s.local", Zones: zones[:1]})
	if err != nil {
		t.Fatal(err)
	}
	facts := awscloud.Facts{Images: map[string]string{api.DefaultImage: "ami-0123"}}
	rs, err := Build(m, Options{StateStore: "file:///tmp/s", AgentURL: agentURL, AgentSHA256: agentSHA256, Facts: facts})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		if lt, ok := r.(*awscloud.LaunchTemplate); ok {
			if lt.ImageID != "ami-0123" {
				t.Fatalf("launch template %s image %q, want the resolved ami-0123", lt.Name, lt.ImageID)
			}
			if !strings.Contains(lt.UserData, "nodeup") || !lt.RootVolumeEncrypted {
				t.Fatalf("launch template %s: user data or encryption missing", lt.Name)
			}
		}
	}
}

func TestPlanScales(t *testing.T) {
	for _, n := range []int{1, 10, 100} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			m := manyGroups(t, n)
			rs, err := Build(m, Options{StateStore: "s3://b", AgentURL: agentURL, AgentSHA256: agentSHA256})
			if err != nil {
				t.Fatal(err)
			}
			if got := countKinds(rs)[awscloud.KindAutoScalingGroup]; got != n+1 {
				t.Fatalf("%d Auto Scaling groups, want %d", got, n+1)
			}
		})
	}
}

// manyGroups is a one-zone cluster with n node groups and one control
// plane group.
func manyGroups(t testing.TB, n int) *api.Manifests {
	m, err := newcluster.Build(newcluster.Options{Name: "bench.k8s.local", Zones: zones[:1]})
	if err != nil {
		t.Fatal(err)
	}
	nodes := m.InstanceGroup("nodes")
	m.InstanceGroups = m.InstanceGroups[:1]
	for i := range n {
		ig := *nodes
		ig.Metadata.Name = fmt.Sprintf("nodes-%03d", i)
		m.InstanceGroups = append(m.InstanceGroups, &ig)
	}
	return m
}

// TestUserDataFollowsNodeSpec: what nodes run (version, labels) is in the
// boot script, so changing it makes a new launch-template version for
// rolling-update to find; the group's size is not, so scaling rolls
// nothing.
func TestUserDataFollowsNodeSpec(t *testing.T) {
	m, err := newcluster.Build(newcluster.Options{Name: "u.k8s.local", Zones: zones[:1], ControlPlaneCount: 1, NodeCount: 2})
	if err != nil {
		t.Fatal(err)
	}
	userData := func(m *api.Manifests) map[string]string {
		t.Helper()
		rs, err := Build(m, Options{StateStore: "s3://state/prefix", AgentURL: agentURL, AgentSHA256: agentSHA256})
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for _, r := range rs {
			if lt, ok := r.(*awscloud.LaunchTemplate); ok {
				if !strings.Contains(lt.UserData, "# node configuration: sha256:") {
					t.Fatalf("%s: user-data carries no node-configuration hash:\n%s", lt.Name, lt.UserData)
				}
				out[lt.Name] = lt.UserData
			}
		}
		return out
	}
	base := userData(m)

	scaled := m.DeepCopy()
	scaled.InstanceGroup("nodes").Spec.MaxSize = 9
	if got := userData(scaled); !reflect.DeepEqual(got, base) {
		t.Errorf("changing maxSize changed a boot script")
	}

	labelled := m.DeepCopy()
	labelled.InstanceGroup("nodes").Spec.NodeLabels = map[string]string{"team": "a"}
	got := userData(labelled)
	if got["nodes"] == base["nodes"] {
		t.Errorf("a new node label left the group's boot script unchanged")
	}
	if got["control-plane-us-east-1a"] != base["control-plane-us-east-1a"] {
		t.Errorf("a node group's label changed the control plane's boot script")
	}

	upgraded := m.DeepCopy()
	upgraded.Cluster.Spec.KubernetesVersion = "1.37.0"
	for name, ud := range userData(upgraded) {
		if ud == base[name] {
			t.Errorf("%s: a new Kubernetes version left the boot script unchanged", name)
		}
	}
}
