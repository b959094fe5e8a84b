package aws

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/kapstan/kapstan/internal/engine"
)

// volumeAPI is the EC2 calls for EBS volumes.
type volumeAPI interface {
	DescribeVolumes(ctx context.Context, params *ec2.DescribeVolumesInput, optFns ...func(*ec2.Options)) (*ec2.DescribeVolumesOutput, error)
	CreateVolume(ctx context.Context, params *ec2.CreateVolumeInput, optFns ...func(*ec2.Options)) (*ec2.CreateVolumeOutput, error)
	ModifyVolume(ctx context.Context, params *ec2.ModifyVolumeInput, optFns ...func(*ec2.Options)) (*ec2.ModifyVolumeOutput, error)
	DeleteVolume(ctx context.Context, params *ec2.DeleteVolumeInput, optFns ...func(*ec2.Options)) (*ec2.DeleteVolumeOutput, error)
	CreateTags(ctx context.Context, params *ec2.CreateTagsInput, optFns ...func(*ec2.Options)) (*ec2.CreateTagsOutput, error)
}

// Volume is an etcd member's EBS volume. Its tags name the etcd cluster
// and member, so that the node running the member finds and attaches it.
type Volume struct {
	Name      string
	ID        string
	Zone      string
	Size      int32
	Type      string
	Encrypted bool
	Tags      Tags
}

// Address implements engine.Resource.
func (r *Volume) Address() engine.Address { return engine.Address{Kind: KindVolume, Name: r.Name} }

// Dependencies implements engine.Resource.
func (r *Volume) Dependencies() []engine.Address { return nil }

// CloudID implements engine.Identified.
func (r *Volume) CloudID() string { return r.ID }

// Summary implements engine.Summarizer.
func (r *Volume) Summary() string {
	return fmt.Sprintf("%d GiB %s in %s", r.Size, r.Type, r.Zone)
}

// securityVolumeShrinkPath is the FieldDiff path of a smaller size than the
// volume has: EBS volumes only grow, so it forces replacement, which
// kapstan refuses to do behind the user's back (the volume holds etcd's
// data).
const securityVolumeShrinkPath = "size (EBS volumes cannot shrink)"

// Diff implements engine.Resource. ModifyVolume changes size and type in
// place; zone and encryption are fixed at creation.
func (r *Volume) Diff(actual engine.Resource, refs engine.Refs) []engine.FieldDiff {
	a := actual.(*Volume)
	var d engine.Differ
	d.Immutable("zone", a.Zone, r.Zone)
	d.Immutable("encrypted", fmt.Sprint(a.Encrypted), fmt.Sprint(r.Encrypted))
	if r.Size < a.Size {
		d.Immutable(securityVolumeShrinkPath, fmt.Sprint(a.Size), fmt.Sprint(r.Size))
	} else {
		d.Int("size", int64(a.Size), int64(r.Size))
	}
	d.String("type", a.Type, r.Type)
	d.Tags(a.Tags, r.Tags)
	return d.Diffs()
}

// securityVolumesKey caches the plan's one DescribeVolumes.
const securityVolumesKey = "security/volumes"

// securityVolumes lists the volumes this cluster made, in one paginated
// DescribeVolumes filtered by the cluster's tags. Volumes being deleted
// are left out: they are gone as far as a plan is concerned, and a new one
// may be needed in their place.
func (c *Cloud) securityVolumes(ctx context.Context) ([]ec2types.Volume, error) {
	return cached(ctx, c, securityVolumesKey, func(ctx context.Context) ([]ec2types.Volume, error) {
		var out []ec2types.Volume
		p := ec2.NewDescribeVolumesPaginator(c.EC2, &ec2.DescribeVolumesInput{Filters: c.ownedFilters(KindVolume)})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return nil, fmt.Errorf("listing volumes: %w", err)
			}
			for _, v := range page.Volumes {
				if v.State != ec2types.VolumeStateDeleting && v.State != ec2types.VolumeStateDeleted {
					out = append(out, v)
				}
			}
		}
		return out, nil
	})
}

// securityVolumeFrom converts a described volume to an actual resource.
func securityVolumeFrom(addr engine.Address, v ec2types.Volume) *Volume {
	return &Volume{
		Name:      addr.Name,
		ID:        aws.ToString(v.VolumeId),
		Zone:      aws.ToString(v.AvailabilityZone),
		Size:      aws.ToInt32(v.Size),
		Type:      string(v.VolumeType),
		Encrypted: aws.ToBool(v.Encrypted),
		Tags:      fromEC2Tags(v.Tags),
	}
}

func (r *Volume) find(ctx context.Context, c *Cloud, refs engine.Refs) (engine.Resource, error) {
	vols, err := c.securityVolumes(ctx)
	if err != nil {
		return nil, err
	}
	for _, v := range vols {
		if addr, ok := addressOf(KindVolume, fromEC2Tags(v.Tags)); ok && addr == r.Address() {
			return securityVolumeFrom(addr, v), nil
		}
	}
	return nil, nil
}

func (r *Volume) create(ctx context.Context, c *Cloud, refs engine.Refs) (engine.Resource, error) {
	out, err := c.EC2.CreateVolume(ctx, &ec2.CreateVolumeInput{
		AvailabilityZone:  aws.String(r.Zone),
		Size:              aws.Int32(r.Size),
		VolumeType:        ec2types.VolumeType(r.Type),
		Encrypted:         aws.Bool(r.Encrypted),
		TagSpecifications: ec2TagSpec(ec2types.ResourceTypeVolume, r.Tags),
	})
	if err != nil {
		return nil, fmt.Errorf("creating volume %s: %w", r.Name, err)
	}
	return &Volume{
		Name:      r.Name,
		ID:        aws.ToString(out.VolumeId),
		Zone:      aws.ToString(out.AvailabilityZone),
		Size:      aws.ToInt32(out.Size),
		Type:      string(out.VolumeType),
		Encrypted: aws.ToBool(out.Encrypted),
		Tags:      r.Tags,
	}, nil
}

// update grows the volume or changes its type with one ModifyVolume, and
// adds tags. AWS allows one modification per volume every six hours
// (VolumeModificationRateExceeded), so size and type go in the same call;
// the file system still has to be grown on the node.
func (r *Volume) update(ctx context.Context, c *Cloud, actual engine.Resource, diffs []engine.FieldDiff, refs engine.Refs) (engine.Resource, error) {
	a := *actual.(*Volume)
	in := &ec2.ModifyVolumeInput{VolumeId: aws.String(a.ID)}
	modify := false
	if securityHasDiff(diffs, "size") {
		in.Size, a.Size, modify = aws.Int32(r.Size), r.Size, true
	}
	if securityHasDiff(diffs, "type") {
		in.VolumeType, a.Type, modify = ec2types.VolumeType(r.Type), r.Type, true
	}
	if modify {
		if _, err := c.EC2.ModifyVolume(ctx, in); err != nil {
			return nil, fmt.Errorf("modifying volume %s (%s): %w", r.Name, a.ID, err)
		}
	}
	if err := tagEC2(ctx, c, a.ID, a.Tags, r.Tags); err != nil {
		return nil, fmt.Errorf("tagging volume %s (%s): %w", r.Name, a.ID, err)
	}
	a.Tags = mergeTags(a.Tags, r.Tags)
	return &a, nil
}

// delete removes the volume. AWS refuses while it is attached
// (VolumeInUse, which moto enforces too): the instance that holds it is
// being terminated by the same apply, so that is retried.
func (r *Volume) delete(ctx context.Context, c *Cloud) error {
	_, err := c.EC2.DeleteVolume(ctx, &ec2.DeleteVolumeInput{VolumeId: aws.String(r.ID)})
	return deleteResult(err, fmt.Sprintf("volume %s (%s)", r.Name, r.ID))
}

// ownedVolumes lists the volumes carrying this cluster's address tag for
// the kind.
func (c *Cloud) ownedVolumes(ctx context.Context) ([]engine.Resource, error) {
	vols, err := c.securityVolumes(ctx)
	if err != nil {
		return nil, err
	}
	var out []engine.Resource
	for _, v := range vols {
		if addr, ok := addressOf(KindVolume, fromEC2Tags(v.Tags)); ok {
			out = append(out, securityVolumeFrom(addr, v))
		}
	}
	return out, nil
}
