package nodeup

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// EC2API is the part of EC2 that finding and attaching a volume needs.
type EC2API interface {
	DescribeVolumes(ctx context.Context, in *ec2.DescribeVolumesInput, opts ...func(*ec2.Options)) (*ec2.DescribeVolumesOutput, error)
	AttachVolume(ctx context.Context, in *ec2.AttachVolumeInput, opts ...func(*ec2.Options)) (*ec2.AttachVolumeOutput, error)
}

var _ EC2API = (*ec2.Client)(nil)

// Disk puts a file system on an attached volume and mounts it.
type Disk interface {
	// FormatAndMount finds the block device of volumeID (attached as
	// device), creates a file system if it has none, and mounts it at
	// mountPath unless it is mounted there already.
	FormatAndMount(ctx context.Context, volumeID, device, mountPath string) error
}

// AWSVolumes attaches a control-plane instance's etcd volumes: it finds
// the volume by its tags in the instance's zone, attaches it to the
// instance and hands it to Disk.
//
// A volume still attached to another instance (the one this instance
// replaces, being terminated) is waited for until it becomes available,
// for at most Timeout.
type AWSVolumes struct {
	EC2        EC2API
	InstanceID string
	Zone       string
	Disk       Disk
	// Poll and Timeout bound the waits; zero means 5 s and 10 minutes.
	Poll, Timeout time.Duration
}

var _ Volumes = (*AWSVolumes)(nil)

// Mount implements Volumes.
func (a *AWSVolumes) Mount(ctx context.Context, v EtcdVolume) (string, error) {
	poll, timeout := a.Poll, a.Timeout
	if poll == 0 {
		poll = 5 * time.Second
	}
	if timeout == 0 {
		timeout = 10 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	id, device, err := a.attach(ctx, v, poll)
	if err != nil {
		return "", err
	}
	if a.Disk == nil {
		return "", fmt.Errorf("volume %s: attached as %s, but nothing mounts it", id, device)
	}
	if err := a.Disk.FormatAndMount(ctx, id, device, v.MountPath); err != nil {
		return "", fmt.Errorf("volume %s: %w", id, err)
	}
	return v.MountPath, nil
}

// attach returns the volume's id and the device it is attached as, once it
// is attached to this instance.
func (a *AWSVolumes) attach(ctx context.Context, v EtcdVolume, poll time.Duration) (string, string, error) {
	attachedOnce := false
	waiting := "" // what the last round was waiting for, for the timeout's message
	for {
		vol, err := a.find(ctx, v.Tags)
		if err != nil {
			if ctx.Err() != nil && waiting != "" {
				return "", "", fmt.Errorf("waiting for %s: %w", waiting, ctx.Err())
			}
			return "", "", err
		}
		id := aws.ToString(vol.VolumeId)
		mine, other := a.attachment(vol)
		waiting = "volume " + id + " to be attached"
		if other != nil {
			waiting = "volume " + id + " to be released by instance " + aws.ToString(other.InstanceId)
		}
		switch {
		case mine != nil && mine.State == ec2types.VolumeAttachmentStateAttached:
			return id, aws.ToString(mine.Device), nil
		case mine != nil:
			// Attaching: wait.
		case other != nil:
			// Still on the instance this one replaces; it detaches when
			// that instance terminates.
		case vol.State == ec2types.VolumeStateAvailable && !attachedOnce:
			if _, err := a.EC2.AttachVolume(ctx, &ec2.AttachVolumeInput{
				VolumeId: vol.VolumeId, InstanceId: aws.String(a.InstanceID), Device: aws.String(v.Device),
			}); err != nil {
				return "", "", fmt.Errorf("attaching volume %s to %s as %s: %w", id, a.InstanceID, v.Device, err)
			}
			attachedOnce = true
			continue
		}
		select {
		case <-ctx.Done():
			return "", "", fmt.Errorf("waiting for %s: %w", waiting, ctx.Err())
		case <-time.After(poll):
		}
	}
}

// find returns the one volume in the instance's zone with all the tags.
func (a *AWSVolumes) find(ctx context.Context, tags map[string]string) (*ec2types.Volume, error) {
	filters := []ec2types.Filter{{Name: aws.String("availability-zone"), Values: []string{a.Zone}}}
	keys := make([]string, 0, len(tags))
	for k := range tags {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		filters = append(filters, ec2types.Filter{Name: aws.String("tag:" + k), Values: []string{tags[k]}})
	}
	out, err := a.EC2.DescribeVolumes(ctx, &ec2.DescribeVolumesInput{Filters: filters})
	if err != nil {
		return nil, fmt.Errorf("finding the etcd volume tagged %v in %s: %w", tags, a.Zone, err)
	}
	switch len(out.Volumes) {
	case 1:
		return &out.Volumes[0], nil
	case 0:
		return nil, fmt.Errorf("no volume tagged %v in %s: %w", tags, a.Zone, errNoVolume)
	default:
		var ids []string
		for _, v := range out.Volumes {
			ids = append(ids, aws.ToString(v.VolumeId))
		}
		return nil, fmt.Errorf("%d volumes tagged %v in %s (%v): exactly one is expected", len(ids), tags, a.Zone, ids)
	}
}

var errNoVolume = errors.New("etcd volume not found")

// attachment splits the volume's attachments into this instance's and
// another's.
func (a *AWSVolumes) attachment(v *ec2types.Volume) (mine, other *ec2types.VolumeAttachment) {
	for i := range v.Attachments {
		at := &v.Attachments[i]
		if at.State == ec2types.VolumeAttachmentStateDetached {
			continue
		}
		if aws.ToString(at.InstanceId) == a.InstanceID {
			mine = at
		} else {
			other = at
		}
	}
	return mine, other
}
