package nodeup_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/kapstan/kapstan/internal/nodeup"
	"github.com/kapstan/kapstan/internal/testing/moto"
)

// fakeDisk records what it was asked to mount.
type fakeDisk struct{ calls []string }

func (d *fakeDisk) FormatAndMount(_ context.Context, volumeID, device, mountPath string) error {
	d.calls = append(d.calls, volumeID+" "+device+" "+mountPath)
	return nil
}

// TestAWSVolumesOnMoto finds, attaches and hands over an etcd volume by
// its tags, against moto's EC2. Formatting and mounting need a machine and
// are faked.
func TestAWSVolumesOnMoto(t *testing.T) {
	t.Parallel() // the two tests that start servers overlap
	ctx := t.Context()
	srv, err := moto.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Stop() })
	cfg, err := srv.Config(ctx)
	if err != nil {
		t.Fatal(err)
	}
	client := ec2.NewFromConfig(cfg)

	images, err := client.DescribeImages(ctx, &ec2.DescribeImagesInput{})
	if err != nil || len(images.Images) == 0 {
		t.Fatalf("moto has no image to run: %v", err)
	}
	run := func() string {
		out, err := client.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: images.Images[0].ImageId, MinCount: aws.Int32(1), MaxCount: aws.Int32(1),
			Placement: &ec2types.Placement{AvailabilityZone: aws.String("us-east-1a")}})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(out.Instances[0].InstanceId)
	}
	volume := func(zone, member string) string {
		out, err := client.CreateVolume(ctx, &ec2.CreateVolumeInput{AvailabilityZone: aws.String(zone), Size: aws.Int32(20),
			TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeVolume, Tags: []ec2types.Tag{
				{Key: aws.String(nodeup.TagKubernetesCluster), Value: aws.String("demo.k8s.local")},
				{Key: aws.String(nodeup.EtcdTagPrefix + "main"), Value: aws.String(member)},
			}}}})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(out.VolumeId)
	}
	spec := func(member string) nodeup.EtcdVolume {
		return nodeup.EtcdVolume{Device: "/dev/xvdu", MountPath: "/mnt/kapstan/etcd-main",
			Tags: map[string]string{nodeup.TagKubernetesCluster: "demo.k8s.local", nodeup.EtcdTagPrefix + "main": member}}
	}

	me, other := run(), run()
	mine := volume("us-east-1a", "a")
	volume("us-east-1b", "a") // same member tag, other zone: not ours
	disk := &fakeDisk{}
	vols := &nodeup.AWSVolumes{EC2: client, InstanceID: me, Zone: "us-east-1a", Disk: disk, Poll: 50 * time.Millisecond, Timeout: 5 * time.Second}

	where, err := vols.Mount(ctx, spec("a"))
	if err != nil {
		t.Fatal(err)
	}
	if where != "/mnt/kapstan/etcd-main" || len(disk.calls) != 1 || disk.calls[0] != mine+" /dev/xvdu /mnt/kapstan/etcd-main" {
		t.Errorf("Mount: %q, disk calls %v", where, disk.calls)
	}
	got, err := client.DescribeVolumes(ctx, &ec2.DescribeVolumesInput{VolumeIds: []string{mine}})
	if err != nil {
		t.Fatal(err)
	}
	if at := got.Volumes[0].Attachments; len(at) != 1 || aws.ToString(at[0].InstanceId) != me {
		t.Errorf("volume %s attachments %+v, want attached to %s", mine, at, me)
	}
	// Again (nodeup runs on every boot): already attached, nothing to do.
	if _, err := vols.Mount(ctx, spec("a")); err != nil {
		t.Errorf("second Mount: %v", err)
	}

	t.Run("held by the instance being replaced", func(t *testing.T) {
		held := volume("us-east-1a", "b")
		if _, err := client.AttachVolume(ctx, &ec2.AttachVolumeInput{VolumeId: aws.String(held), InstanceId: aws.String(other), Device: aws.String("/dev/xvdu")}); err != nil {
			t.Fatal(err)
		}
		short := *vols
		short.Timeout = 2 * time.Second
		_, err := short.Mount(ctx, spec("b"))
		if err == nil || !strings.Contains(err.Error(), "released by instance "+other) || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Mount of a volume another instance holds: %v", err)
		}
	})
	t.Run("missing", func(t *testing.T) {
		_, err := vols.Mount(ctx, spec("zz"))
		if err == nil || !strings.Contains(err.Error(), "no volume tagged") {
			t.Errorf("Mount of a missing volume: %v", err)
		}
	})
	t.Run("ambiguous", func(t *testing.T) {
		volume("us-east-1a", "twice")
		volume("us-east-1a", "twice")
		_, err := vols.Mount(ctx, spec("twice"))
		if err == nil || !strings.Contains(err.Error(), "2 volumes tagged") {
			t.Errorf("Mount with two matching volumes: %v", err)
		}
	})
}
