package nodeup

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
)

// Identity is who the instance is, from its identity document.
type Identity struct {
	InstanceID       string
	Region           string
	AvailabilityZone string
}

// IMDSAPI is the part of the metadata service client nodeup uses.
// *imds.Client implements it, with IMDSv2: a session token is PUT first,
// then sent with every read.
type IMDSAPI interface {
	GetInstanceIdentityDocument(ctx context.Context, in *imds.GetInstanceIdentityDocumentInput, optFns ...func(*imds.Options)) (*imds.GetInstanceIdentityDocumentOutput, error)
}

var _ IMDSAPI = (*imds.Client)(nil)

// InstanceIdentity reads the instance identity document, retrying with b
// while the metadata service does not answer (early in the boot, or a
// test's metadata service not up yet).
func InstanceIdentity(ctx context.Context, c IMDSAPI, b Backoff) (Identity, error) {
	var doc *imds.GetInstanceIdentityDocumentOutput
	err := b.Retry(ctx, "reading the instance identity document", func(ctx context.Context) error {
		var err error
		doc, err = c.GetInstanceIdentityDocument(ctx, &imds.GetInstanceIdentityDocumentInput{})
		return err
	})
	if err != nil {
		return Identity{}, fmt.Errorf("reading this instance's identity from the metadata service: %w", err)
	}
	id := Identity{InstanceID: doc.InstanceID, Region: doc.Region, AvailabilityZone: doc.AvailabilityZone}
	if id.InstanceID == "" || id.Region == "" || id.AvailabilityZone == "" {
		return Identity{}, fmt.Errorf("the instance identity document lacks the instance id, region or zone: %+v", id)
	}
	return id, nil
}
