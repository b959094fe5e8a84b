package mirror

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/kapstan/kapstan/internal/assets"
)

// badDigestS3 answers PutObject as S3 does when the body does not match
// x-amz-checksum-sha256 (moto does not check it).
type badDigestS3 struct{ S3API }

func (badDigestS3) PutObject(context.Context, *s3.PutObjectInput, ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	return nil, &smithy.GenericAPIError{Code: "BadDigest", Message: "The SHA256 you specified did not match the calculated checksum."}
}

func TestS3PutReportsBadDigest(t *testing.T) {
	repo := NewS3(badDigestS3{}, "mirror", "assets")
	sha, size, _ := assets.Sum(strings.NewReader("runc"))
	err := repo.Put(t.Context(), "runc/v1.4.0/linux/amd64/runc", strings.NewReader("runc"), Info{SHA256: sha, Size: size})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "BadDigest" || !strings.HasPrefix(err.Error(), "writing s3://mirror/assets/runc/v1.4.0/linux/amd64/runc: ") {
		t.Fatalf("got %v", err)
	}
}
