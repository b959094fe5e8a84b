package newcluster

import (
	"strings"
	"testing"

	api "github.com/kapstan/kapstan/pkg/apis/kapstan/v1alpha1"
)

func TestBuild(t *testing.T) {
	zones := []string{"us-east-1a", "us-east-1b", "us-east-1c"}
	cases := []struct {
		name    string
		opts    Options
		igs     []string // names and roles, "name:Role"
		subnets []string // "name:Type:cidr"
		wantErr string
	}{
		{
			name: "public HA",
			opts: Options{Name: "demo.k8s.local", Zones: zones, ControlPlaneCount: 3, NodeCount: 3},
			igs:  []string{"control-plane-us-east-1a:ControlPlane", "control-plane-us-east-1b:ControlPlane", "control-plane-us-east-1c:ControlPlane", "nodes:Node"},
			subnets: []string{"us-east-1a:Public:172.20.0.0/18", "us-east-1b:Public:172.20.64.0/18",
				"us-east-1c:Public:172.20.128.0/18"},
		},
		{
			name: "private with bastion",
			opts: Options{Name: "p.example.com", Zones: zones, Topology: "private", Bastion: true, NetworkCIDR: "10.4.0.0/16"},
			igs:  []string{"control-plane-us-east-1a:ControlPlane", "nodes:Node", "bastions:Bastion"},
			subnets: []string{"us-east-1a:Private:10.4.0.0/18", "us-east-1b:Private:10.4.64.0/18", "us-east-1c:Private:10.4.128.0/18",
				"utility-us-east-1a:Utility:10.4.192.0/21", "utility-us-east-1b:Utility:10.4.200.0/21", "utility-us-east-1c:Utility:10.4.208.0/21"},
		},
		{
			name:    "existing VPC",
			opts:    Options{Name: "e.k8s.local", Zones: zones[:2], VPC: "vpc-0abc", Subnets: []string{"subnet-01", "subnet-02"}},
			igs:     []string{"control-plane-us-east-1a:ControlPlane", "nodes:Node"},
			subnets: []string{"us-east-1a:Public:", "us-east-1b:Public:"},
		},
		{name: "no zones", opts: Options{Name: "x.k8s.local"}, wantErr: "--zones is required"},
		{name: "even control plane", opts: Options{Name: "x.k8s.local", Zones: zones, ControlPlaneCount: 2}, wantErr: "odd number"},
		{name: "bastion needs private", opts: Options{Name: "x.k8s.local", Zones: zones, Bastion: true}, wantErr: "spec.topology.bastion"},
		{name: "subnets without vpc", opts: Options{Name: "x.k8s.local", Zones: zones, Subnets: []string{"subnet-1"}}, wantErr: "--vpc"},
		{name: "vpc with too few subnets", opts: Options{Name: "x.k8s.local", Zones: zones, VPC: "vpc-01", Subnets: []string{"subnet-1"}}, wantErr: "one subnet id per zone"},
		{name: "control plane zone outside zones", opts: Options{Name: "x.k8s.local", Zones: zones[:1], ControlPlaneZones: []string{"us-east-1b"}}, wantErr: "not one of --zones"},
		{name: "bad topology", opts: Options{Name: "x.k8s.local", Zones: zones, Topology: "hybrid"}, wantErr: "--topology"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Build(tc.opts)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var igs []string
			for _, ig := range m.InstanceGroups {
				igs = append(igs, ig.Metadata.Name+":"+string(ig.Spec.Role))
			}
			if strings.Join(igs, " ") != strings.Join(tc.igs, " ") {
				t.Errorf("instance groups %v, want %v", igs, tc.igs)
			}
			var subnets []string
			for _, sn := range m.Cluster.Spec.Subnets {
				subnets = append(subnets, sn.Name+":"+string(sn.Type)+":"+sn.CIDR)
			}
			if strings.Join(subnets, " ") != strings.Join(tc.subnets, " ") {
				t.Errorf("subnets %v, want %v", subnets, tc.subnets)
			}
			// The result is already defaulted: defaulting again changes nothing.
			before, _ := api.Encode(m)
			api.SetDefaults(m)
			after, _ := api.Encode(m)
			if string(before) != string(after) {
				t.Error("Build's output was not fully defaulted")
			}
		})
	}
}
