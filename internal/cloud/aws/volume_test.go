package aws

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/smithy-go"
	"github.com/google/go-cmp/cmp"

	"github.com/kapstan/kapstan/internal/engine"
)

func testVolume(c *Cloud, name, zone string) *Volume {
	addr := engine.Address{Kind: KindVolume, Name: name}
	return &Volume{
		Name:      name,
		Zone:      zone,
		Size:      20,
		Type:      "gp3",
		Encrypted: true,
		Tags:      OwnedTags(c.Cluster, addr, name+"."+c.Cluster, Tags{"k8s.io/etcd/main": name + "/a,b,c"}),
	}
}

func TestVolumeLifecycle(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c, counter := testCloud(t)
	a, b := testVolume(c, "a.etcd-main", "us-east-1a"), testVolume(c, "b.etcd-main", "us-east-1b")

	converge(t, c, a, b)
	assertInSync(t, c, counter, a, b)
	if n := counter.Calls()["EC2.DescribeVolumes"]; n != 1 {
		t.Errorf("a plan of 2 volumes made %d DescribeVolumes calls, want 1", n)
	}

	t.Run("size grows and type changes in place", func(t *testing.T) {
		changed := *a
		changed.Size, changed.Type = 30, "gp2"
		changed.Tags = mergeTags(a.Tags, Tags{"team": "infra"})
		securityAssertChanges(t, planOf(t, c, &changed, b), "update Volume/a.etcd-main: size,type,tags[team]")
		converge(t, c, &changed, b)
		assertInSync(t, c, counter, &changed, b)
		out, err := c.EC2.DescribeVolumes(ctx, &ec2.DescribeVolumesInput{Filters: c.ownedFilters(KindVolume)})
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range out.Volumes {
			if fromEC2Tags(v.Tags)[TagAddress] == a.Address().String() && (aws.ToInt32(v.Size) != 30 || v.VolumeType != "gp2") {
				t.Errorf("volume %s is %d GiB %s, want 30 GiB gp2", aws.ToString(v.VolumeId), aws.ToInt32(v.Size), v.VolumeType)
			}
		}
		a = &changed
	})

	t.Run("changes AWS cannot make refuse the plan", func(t *testing.T) {
		tests := []struct {
			name   string
			change func(v *Volume)
			want   []string
		}{
			{"shrink", func(v *Volume) { v.Size = 10 }, []string{"Volume/a.etcd-main: " + securityVolumeShrinkPath}},
			{"zone", func(v *Volume) { v.Zone = "us-east-1c" }, []string{"Volume/a.etcd-main: zone"}},
			{"encryption", func(v *Volume) { v.Encrypted = false }, []string{"Volume/a.etcd-main: encrypted"}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				changed := *a
				tt.change(&changed)
				if diff := cmp.Diff(tt.want, securityReplacement(t, c, &changed, b)); diff != "" {
					t.Errorf("refused fields (-want +got):\n%s", diff)
				}
			})
		}
	})

	t.Run("orphan is deleted", func(t *testing.T) {
		securityAssertChanges(t, planOf(t, c, a), "delete Volume/b.etcd-main")
		converge(t, c, a)
		assertInSync(t, c, counter, a)
		owned, err := fresh(c).ownedVolumes(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(owned) != 1 || owned[0].Address() != a.Address() {
			t.Errorf("volumes left: %v, want only %s", owned, a.Address())
		}
	})
}

// TestVolumeDeleteInUseIsRetryable covers a volume still attached to an
// instance the same apply is terminating: AWS (and moto) refuse with
// VolumeInUse until it is detached.
func TestVolumeDeleteInUseIsRetryable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		err       error
		wantErr   bool
		retryable bool
	}{
		{"attached", &smithy.GenericAPIError{Code: "VolumeInUse", Message: "Volume vol-0123456789abcdef0 is currently attached to i-0123456789abcdef0"}, true, true},
		{"already gone", &smithy.GenericAPIError{Code: "InvalidVolume.NotFound", Message: "The volume 'vol-0123456789abcdef0' does not exist."}, false, false},
		{"other", &smithy.GenericAPIError{Code: "UnauthorizedOperation", Message: "You are not authorized to perform this operation."}, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := New(Clients{EC2: &fakeSecurityEC2{err: tt.err}}, "test.k8s.local", "us-east-1")
			err := (&Volume{Name: "a.etcd-main", ID: "vol-0123456789abcdef0"}).delete(context.Background(), c)
			if (err != nil) != tt.wantErr || engine.IsRetryable(err) != tt.retryable {
				t.Errorf("delete: got %v (retryable %v), want error %v, retryable %v", err, engine.IsRetryable(err), tt.wantErr, tt.retryable)
			}
		})
	}
}
