package e2e

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	api "github.com/kapstan/kapstan/pkg/apis/kapstan/v1alpha1"
)

// TestCreateClusterS3ToFile creates a cluster in an S3 bucket on moto,
// checks the objects it writes, and copies it through `get -o yaml | create
// -f -` into a file store, where it must print byte for byte the same.
func TestCreateClusterS3ToFile(t *testing.T) {
	t.Parallel()
	client, bucket := newBucket(t)
	s3URL := "s3://" + bucket
	env := newEnv(t, "")

	out := mustRun(t, env, "", "create", "cluster", demoName,
		"--zones", "us-east-1a,us-east-1b,us-east-1c", "--control-plane-count", "3", "--node-count", "3",
		"--state", s3URL)
	if !strings.Contains(out, "created in "+s3URL) {
		t.Errorf("create cluster: stdout does not name the store %s:\n%s", s3URL, out)
	}
	want := []string{
		"demo.k8s.local/config",
		"demo.k8s.local/history/0000000001",
		"demo.k8s.local/instancegroup/control-plane-us-east-1a",
		"demo.k8s.local/instancegroup/control-plane-us-east-1b",
		"demo.k8s.local/instancegroup/control-plane-us-east-1c",
		"demo.k8s.local/instancegroup/nodes",
	}
	if diff := cmp.Diff(want, bucketKeys(t, client, bucket)); diff != "" {
		t.Fatalf("objects in s3://%s (-want +got):\n%s", bucket, diff)
	}

	fromS3 := mustRun(t, env, "", "get", "cluster", demoName, "-o", "yaml", "--state", s3URL)
	dir, fileURL := fileStore(t)
	mustRun(t, env, fromS3, "create", "-f", "-", "--state", fileURL)
	fromFile := mustRun(t, env, "", "get", "cluster", demoName, "-o", "yaml", "--state", fileURL)
	if fromFile != fromS3 {
		t.Errorf("get cluster -o yaml differs between the stores (-s3 +file):\n%s", cmp.Diff(fromS3, fromFile))
	}
	if diff := cmp.Diff(want, storeFiles(t, dir)); diff != "" {
		t.Errorf("objects in the file store (-want +got):\n%s", diff)
	}
}

// badManifest is a Cluster whose spec.zones and spec.subnets lines are
// given, followed by a control-plane InstanceGroup. Line 1 is apiVersion, so
// the first subnet line is line 8.
func badManifest(zones string, subnets ...string) string {
	return `apiVersion: kapstan.io/v1alpha1
kind: Cluster
metadata:
  name: bad.k8s.local
spec:
  zones: ` + zones + `
  subnets:
` + strings.Join(subnets, "\n") + `
---
apiVersion: kapstan.io/v1alpha1
kind: InstanceGroup
metadata:
  name: control-plane
spec:
  role: ControlPlane
  subnets: [us-east-1a]
`
}

// TestCreateRejectsInvalidManifest checks that `create -f` of a wrong
// manifest exits non-zero, names the field (and its line, for decoding
// errors), and writes nothing.
func TestCreateRejectsInvalidManifest(t *testing.T) {
	t.Parallel()
	const (
		subnetA = "  - {name: us-east-1a, zone: us-east-1a, type: Public, cidr: 172.20.0.0/18}"
		subnetB = "  - {name: us-east-1b, zone: us-east-1b, type: Public, cidr: 172.20.64.0/18}"
	)
	tests := []struct {
		name     string
		manifest string
		wantErr  []string // each must be in stderr
	}{
		{
			name: "unknown field",
			manifest: badManifest("[us-east-1a, us-east-1b]", subnetA,
				"  - name: us-east-1b", // line 9
				"    colour: blue",     // line 10
				"    zone: us-east-1b",
				"    type: Public",
				"    cidr: 172.20.64.0/18"),
			wantErr: []string{"bad.yaml:10: spec.subnets[1].colour: unknown field"},
		},
		{
			name: "overlapping subnet CIDR",
			manifest: badManifest("[us-east-1a, us-east-1b]", subnetA, subnetB,
				"  - {name: extra, zone: us-east-1b, type: Public, cidr: 172.20.32.0/20}"),
			wantErr: []string{`spec.subnets[2].cidr: Invalid value: "172.20.32.0/20": overlaps spec.subnets[0]`},
		},
		{
			name: "subnet in a zone outside spec.zones",
			manifest: badManifest("[us-east-1a, us-east-1b]", subnetA, subnetB,
				"  - {name: us-east-1c, zone: us-east-1c, type: Public, cidr: 172.20.128.0/18}"),
			wantErr: []string{`spec.subnets[2].zone: Invalid value: "us-east-1c": is not one of spec.zones`},
		},
		{
			name:     "zone without subnets",
			manifest: badManifest("[us-east-1a, us-east-1b, us-east-1c]", subnetA, subnetB),
			wantErr:  []string{`spec.zones[2]: Invalid value: "us-east-1c": has no Public subnet`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir, url := fileStore(t)
			file := writeFile(t, "bad.yaml", tt.manifest)
			r := run(t, newEnv(t, url), "", "create", "-f", file)
			if r.code == 0 {
				t.Fatalf("create -f: exit 0, want non-zero\n%s", r)
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(r.stderr, want) {
					t.Errorf("stderr does not contain %q:\n%s", want, r.stderr)
				}
			}
			if got := storeFiles(t, dir); len(got) > 0 {
				t.Errorf("the store holds %q after a failed create, want nothing", got)
			}
		})
	}
}

// TestCreateClusterDryRun checks that --dry-run writes nothing and prints
// manifests that create -f accepts and stores unchanged.
func TestCreateClusterDryRun(t *testing.T) {
	t.Parallel()
	dir, url := fileStore(t)
	env := newEnv(t, url)
	out := mustRun(t, env, "", "create", "cluster", demoName,
		"--zones", "us-east-1a,us-east-1b,us-east-1c", "--control-plane-count", "3", "--node-count", "3",
		"--dry-run", "-o", "yaml")
	if got := storeFiles(t, dir); len(got) > 0 {
		t.Fatalf("create cluster --dry-run wrote %q, want nothing", got)
	}
	printed := decode(t, out)
	if printed.Cluster == nil || len(printed.InstanceGroups) != 4 {
		t.Fatalf("--dry-run printed %d instance groups and cluster %v, want a Cluster and 4:\n%s",
			len(printed.InstanceGroups), printed.Cluster != nil, out)
	}

	mustRun(t, env, out, "create", "-f", "-")
	stored := decode(t, mustRun(t, env, "", "get", "cluster", demoName, "-o", "yaml"))
	// The store stamps each object with the revision it last changed in;
	// everything else must be as printed.
	stored.Cluster.Metadata.Generation = 0
	for _, ig := range stored.InstanceGroups {
		ig.Metadata.Generation = 0
	}
	if diff := cmp.Diff(printed, stored); diff != "" {
		t.Errorf("stored spec differs from the --dry-run output (-printed +stored):\n%s", diff)
	}
}

// TestCreateClusterTopologies checks the specs create cluster builds for a
// private topology with a bastion and for an existing VPC, and that a
// bastion in a public topology is refused with the field named.
func TestCreateClusterTopologies(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		args    []string
		wantErr string // non-empty: must fail with this in stderr
		check   func(t *testing.T, m *api.Manifests)
	}{
		{
			name: "private topology with bastion",
			args: []string{"--zones", "us-east-1a,us-east-1b", "--topology", "private", "--bastion"},
			check: func(t *testing.T, m *api.Manifests) {
				b := m.InstanceGroup("bastions")
				if b == nil {
					t.Fatalf("no bastions instance group; have %v", igNames(m))
				}
				if b.Spec.Role != api.RoleBastion {
					t.Errorf("bastions role = %s, want %s", b.Spec.Role, api.RoleBastion)
				}
				if diff := cmp.Diff([]string{"utility-us-east-1a", "utility-us-east-1b"}, b.Spec.Subnets); diff != "" {
					t.Errorf("bastions subnets (-want +got):\n%s", diff)
				}
				for _, name := range b.Spec.Subnets {
					i := slices.IndexFunc(m.Cluster.Spec.Subnets, func(sn api.ClusterSubnet) bool { return sn.Name == name })
					if i < 0 || m.Cluster.Spec.Subnets[i].Type != api.SubnetTypeUtility {
						t.Errorf("bastion subnet %s is not a Utility subnet of the cluster: %+v", name, m.Cluster.Spec.Subnets)
					}
				}
				if !m.Cluster.Spec.Topology.Bastion {
					t.Error("spec.topology.bastion = false, want true")
				}
			},
		},
		{
			name: "existing VPC and subnets",
			args: []string{"--zones", "us-east-1a,us-east-1b", "--vpc", "vpc-0abc", "--subnets", "subnet-01,subnet-02"},
			check: func(t *testing.T, m *api.Manifests) {
				if got := m.Cluster.Spec.NetworkID; got != "vpc-0abc" {
					t.Errorf("spec.networkID = %q, want vpc-0abc", got)
				}
				want := []api.ClusterSubnet{
					{Name: "us-east-1a", Zone: "us-east-1a", Type: api.SubnetTypePublic, ID: "subnet-01"},
					{Name: "us-east-1b", Zone: "us-east-1b", Type: api.SubnetTypePublic, ID: "subnet-02"},
				}
				if diff := cmp.Diff(want, m.Cluster.Spec.Subnets); diff != "" {
					t.Errorf("spec.subnets (-want +got):\n%s", diff)
				}
			},
		},
		{
			name:    "bastion needs a private topology",
			args:    []string{"--zones", "us-east-1a", "--bastion"},
			wantErr: "spec.topology.bastion",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir, url := fileStore(t)
			env := newEnv(t, url)
			args := append([]string{"create", "cluster", "topo.k8s.local", "--dry-run", "-o", "yaml"}, tt.args...)
			r := run(t, env, "", args...)
			if tt.wantErr != "" {
				if r.code == 0 || !strings.Contains(r.stderr, tt.wantErr) {
					t.Errorf("want a non-zero exit naming %s, got %s", tt.wantErr, r)
				}
				return
			}
			if r.code != 0 {
				t.Fatalf("create cluster --dry-run: %s", r)
			}
			tt.check(t, decode(t, r.stdout))
			if got := storeFiles(t, dir); len(got) > 0 {
				t.Fatalf("--dry-run wrote %q, want nothing", got)
			}
			mustRun(t, env, r.stdout, "create", "-f", "-")
		})
	}
}

func igNames(m *api.Manifests) []string {
	var names []string
	for _, ig := range m.InstanceGroups {
		names = append(names, ig.Metadata.Name)
	}
	return names
}
