package model

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	awscloud "github.com/kapstan/kapstan/internal/cloud/aws"
	"github.com/kapstan/kapstan/internal/newcluster"
	api "github.com/kapstan/kapstan/pkg/apis/kapstan/v1alpha1"
)

// TestNodesReadOnlyTheirNodeConfiguration: in the state store, a role's
// instances may read the node configurations of that role's groups and
// the asset mirror (by default NAME/assets), and nothing else (the
// cluster's private keys live beside them); a bastion reads nothing.
func TestNodesReadOnlyTheirNodeConfiguration(t *testing.T) {
	rs := build(t, newcluster.Options{Name: "demo.example.com", Zones: zones, ControlPlaneCount: 3, NodeCount: 2,
		Topology: "private", Bastion: true})
	want := map[string][]string{
		"control-plane": {
			"arn:aws:s3:::state/prefix/demo.example.com/nodeup/control-plane-us-east-1a",
			"arn:aws:s3:::state/prefix/demo.example.com/nodeup/control-plane-us-east-1b",
			"arn:aws:s3:::state/prefix/demo.example.com/nodeup/control-plane-us-east-1c",
			"arn:aws:s3:::state/prefix/demo.example.com/assets/*",
		},
		"nodes":   {"arn:aws:s3:::state/prefix/demo.example.com/nodeup/nodes", "arn:aws:s3:::state/prefix/demo.example.com/assets/*"},
		"bastion": nil,
	}
	seen := 0
	for _, r := range rs {
		p, ok := r.(*awscloud.IAMRolePolicy)
		if !ok {
			continue
		}
		role, _, _ := strings.Cut(p.Name, ".")
		var doc struct {
			Statement []struct {
				Action   []string
				Resource []string
			}
		}
		if err := json.Unmarshal([]byte(p.Document), &doc); err != nil {
			t.Fatalf("%s: %v", p.Name, err)
		}
		var objects []string
		for _, st := range doc.Statement {
			for _, a := range st.Action {
				if strings.HasPrefix(a, "s3:") && a != "s3:GetObject" && a != "s3:GetBucketLocation" {
					t.Errorf("%s allows %s", p.Name, a)
				}
			}
			if slices.Contains(st.Action, "s3:GetObject") {
				objects = append(objects, st.Resource...)
			}
		}
		w, ok := want[role]
		if !ok {
			t.Errorf("unexpected role policy %s", p.Name)
			continue
		}
		seen++
		if !slices.Equal(objects, w) {
			t.Errorf("%s reads %v from the state store, want %v", p.Name, objects, w)
		}
	}
	if seen != len(want) {
		t.Errorf("checked %d role policies, want %d", seen, len(want))
	}
}

// TestNodesReadTheMirror: nodes may read the objects of an S3 asset
// mirror, wherever it is; another kind of mirror needs no IAM.
func TestNodesReadTheMirror(t *testing.T) {
	for _, tc := range []struct {
		name, store, repo string
		want              []string
	}{
		{"default in the store", "s3://state/prefix", "", []string{"arn:aws:s3:::state/prefix/m.k8s.local/assets/*"}},
		{"own bucket", "s3://state/prefix", "s3://mirror/k8s/", []string{"arn:aws:s3:::mirror/k8s/*"}},
		{"bucket root", "s3://state", "s3://mirror", []string{"arn:aws:s3:::mirror/*"}},
		{"https mirror", "s3://state", "https://mirror.example.com/k8s", nil},
		{"file store", "file:///tmp/state", "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := newcluster.Build(newcluster.Options{Name: "m.k8s.local", Zones: zones[:1]})
			if err != nil {
				t.Fatal(err)
			}
			if tc.repo != "" {
				m.Cluster.Spec.Assets = &api.AssetsSpec{FileRepository: tc.repo}
			}
			b := &builder{m: m, cluster: "m.k8s.local", opts: Options{StateStore: tc.store}}
			var got []string
			for _, st := range b.mirrorRead() {
				if slices.Contains(st.Action, "s3:GetObject") {
					got = append(got, st.Resource...)
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("reads %v, want %v", got, tc.want)
			}
		})
	}
}
