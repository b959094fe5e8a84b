package reconcile

import (
	"context"
	"errors"
	"strings"
	"testing"

	awscloud "github.com/kapstan/kapstan/internal/cloud/aws"
	"github.com/kapstan/kapstan/internal/newcluster"
	api "github.com/kapstan/kapstan/pkg/apis/kapstan/v1alpha1"
)

// TestPreflightNamesWhatIsWrong: a missing image, an instance type not
// offered in a zone, and existing network parts that do not exist are each
// named with their instance group or subnet, and nothing is created.
func TestPreflightNamesWhatIsWrong(t *testing.T) {
	cases := []struct {
		name  string
		opts  newcluster.Options
		edit  func(m *api.Manifests)
		wants []string
	}{
		{"image and instance type", newcluster.Options{Name: "demo.k8s.local", Zones: zones[:1]}, func(m *api.Manifests) {
			m.InstanceGroup("nodes").Spec.Image = "ami-0000000000000dead"
			m.InstanceGroup("control-plane-us-east-1a").Spec.MachineType = "x9.mega"
		}, []string{
			"instance group nodes: image ami-0000000000000dead does not exist",
			"instance group control-plane-us-east-1a: instance type x9.mega is not offered in us-east-1a",
		}},
		{"existing VPC that does not exist", newcluster.Options{Name: "e.k8s.local", Zones: zones[:1], VPC: "vpc-0123456789abcdef0",
			Subnets: []string{"subnet-0123456789abcdef0"}}, nil, []string{"spec.networkID: VPC vpc-0123456789abcdef0 does not exist"}},
		{"DNS zone that does not exist", newcluster.Options{Name: "demo.nowhere.example", Zones: zones[:1]}, nil,
			[]string{"spec.dnsZone: no Route 53 hosted zone is named nowhere.example"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			m, err := newcluster.Build(tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if tc.edit != nil {
				tc.edit(m)
			}
			snap, err := e.reg.Create(context.Background(), m, "create")
			if err != nil {
				t.Fatal(err)
			}
			e.counter.Reset()
			_, err = Plan(context.Background(), snap, e.opts())
			var pe *awscloud.PreflightError
			if !errors.As(err, &pe) {
				t.Fatalf("plan: got %v, want a *PreflightError", err)
			}
			for _, want := range tc.wants {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("preflight error lacks %q:\n%v", want, err)
				}
			}
			if m := e.counter.Mutating(); len(m) > 0 {
				t.Fatalf("preflight made changes: %v", m)
			}
		})
	}
}
