package aws

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"

	"github.com/kapstan/kapstan/internal/engine"
)

// errorCode is the AWS error code of err ("InvalidVpcID.NotFound"), or "".
func errorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// hasCode reports whether err carries one of the AWS error codes.
func hasCode(err error, codes ...string) bool {
	code := errorCode(err)
	for _, c := range codes {
		if code == c {
			return true
		}
	}
	return false
}

// isNotFound reports whether err says the resource does not exist. AWS has
// a code per service and resource ("InvalidVpcID.NotFound",
// "NoSuchEntity", "LoadBalancerNotFound", ...); they share these shapes.
func isNotFound(err error) bool {
	code := errorCode(err)
	if code == "" {
		var re *awshttp.ResponseError
		return errors.As(err, &re) && re.HTTPStatusCode() == http.StatusNotFound
	}
	return strings.HasSuffix(code, ".NotFound") || strings.HasSuffix(code, "NotFound") ||
		strings.HasPrefix(code, "NoSuch") || code == "InvalidGroup.NotFound"
}

// isDependencyViolation reports whether err says something else still
// uses the resource, so deleting it must wait.
func isDependencyViolation(err error) bool {
	return hasCode(err, "DependencyViolation", "ResourceInUse", "DeleteConflict", "VolumeInUse", "InvalidIPAddress.InUse")
}

// deleteResult is the outcome of a delete call on what ("volume x
// (vol-1)"): already gone is success, in use is worth retrying (what uses
// it is being deleted too, or AWS has not caught up), anything else fails.
func deleteResult(err error, what string) error {
	switch {
	case err == nil, isNotFound(err):
		return nil
	case isDependencyViolation(err):
		return engine.Retryable(fmt.Errorf("deleting %s: %w", what, err))
	}
	return fmt.Errorf("deleting %s: %w", what, err)
}
