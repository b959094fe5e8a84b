package faultproxy

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/smithy-go"
)

// TestThrottleShapes checks that each protocol's throttling error is read
// by the real SDK as that service's throttling code, which is what makes
// the SDK retry it.
func TestThrottleShapes(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("a throttled request reached the backend: %s", r.URL)
	}))
	defer backend.Close()
	p, err := Start(backend.URL, Faults{Throttle: 1}, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	cfg := aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(p.URL), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider("a", "b", "")}
	ctx := context.Background()
	cases := []struct {
		name string
		call func() error
		code string
	}{
		{"ec2", func() error { _, err := ec2.NewFromConfig(cfg).DescribeVpcs(ctx, &ec2.DescribeVpcsInput{}); return err }, "RequestLimitExceeded"},
		{"autoscaling (query)", func() error {
			_, err := autoscaling.NewFromConfig(cfg).DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{})
			return err
		}, "Throttling"},
		{"ssm (json)", func() error {
			_, err := ssm.NewFromConfig(cfg).GetParameters(ctx, &ssm.GetParametersInput{Names: []string{"x"}})
			return err
		}, "ThrottlingException"},
		{"s3", func() error {
			_, err := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true }).GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("b"), Key: aws.String("k")})
			return err
		}, "SlowDown"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			var ae smithy.APIError
			if !errors.As(err, &ae) || ae.ErrorCode() != tc.code {
				t.Fatalf("got %v, want API error %s", err, tc.code)
			}
		})
	}
}

func TestDropClosesTheConnection(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer backend.Close()
	p, err := Start(backend.URL, Faults{Drop: 1}, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	_, err = http.Post(p.URL, "text/plain", strings.NewReader("Action=X"))
	if err == nil {
		t.Fatal("a dropped connection answered")
	}
}
