package machine

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func testInstance() Instance {
	return Instance{
		ID:               "i-0123456789abcdef0",
		Region:           "us-east-1",
		AvailabilityZone: "us-east-1a",
		PrivateIP:        netip.MustParsePrefix("10.0.1.23/24"),
		InstanceType:     "t3.medium",
		ImageID:          "ami-0abcdef",
		SubnetID:         "subnet-1",
		Role:             "nodes.example.com",
		UserData:         []byte("#!/bin/sh\necho hi\n"),
	}
}

// imdsClient talks to a metadataService as the AWS SDK would.
type imdsClient struct {
	t   *testing.T
	srv *httptest.Server
}

func (c imdsClient) do(method, path string, hdr map[string]string) (int, string) {
	c.t.Helper()
	req, err := http.NewRequest(method, c.srv.URL+path, nil)
	if err != nil {
		c.t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.srv.Client().Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (c imdsClient) token(ttl string) string {
	c.t.Helper()
	code, tok := c.do(http.MethodPut, "/latest/api/token", map[string]string{tokenTTLHeader: ttl})
	if code != http.StatusOK || tok == "" {
		c.t.Fatalf("PUT token: %d %q", code, tok)
	}
	return tok
}

func TestMetadataService(t *testing.T) {
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	svc := newMetadataService(testInstance(), "0e:00:0a:00:01:17", func() time.Time { return now })
	srv := httptest.NewServer(svc)
	defer srv.Close()
	c := imdsClient{t: t, srv: srv}
	tok := c.token("60")
	auth := map[string]string{tokenHeader: tok}

	tests := []struct {
		name     string
		method   string
		path     string
		hdr      map[string]string
		wantCode int
		want     string
	}{
		{name: "instance id", path: "/latest/meta-data/instance-id", hdr: auth, wantCode: 200, want: "i-0123456789abcdef0"},
		{name: "zone", path: "/latest/meta-data/placement/availability-zone", hdr: auth, wantCode: 200, want: "us-east-1a"},
		{name: "region", path: "/latest/meta-data/placement/region", hdr: auth, wantCode: 200, want: "us-east-1"},
		{name: "local ipv4", path: "/latest/meta-data/local-ipv4", hdr: auth, wantCode: 200, want: "10.0.1.23"},
		{name: "default hostname", path: "/latest/meta-data/local-hostname", hdr: auth, wantCode: 200, want: "ip-10-0-1-23.ec2.internal"},
		{name: "role list", path: "/latest/meta-data/iam/security-credentials/", hdr: auth, wantCode: 200, want: "nodes.example.com"},
		{name: "user data", path: "/latest/user-data", hdr: auth, wantCode: 200, want: "#!/bin/sh\necho hi\n"},
		{name: "placement dir", path: "/latest/meta-data/placement", hdr: auth, wantCode: 200, want: "availability-zone\nregion"},
		{name: "subnet", path: "/latest/meta-data/network/interfaces/macs/0e:00:0a:00:01:17/subnet-ipv4-cidr-block", hdr: auth, wantCode: 200, want: "10.0.1.0/24"},
		{name: "IMDSv1 refused", path: "/latest/meta-data/instance-id", wantCode: 401},
		{name: "unknown token", path: "/latest/meta-data/instance-id", hdr: map[string]string{tokenHeader: "nope"}, wantCode: 401},
		{name: "missing path", path: "/latest/meta-data/nothing", hdr: auth, wantCode: 404},
		{name: "token without ttl", method: http.MethodPut, path: "/latest/api/token", wantCode: 400},
		{name: "token ttl too long", method: http.MethodPut, path: "/latest/api/token", hdr: map[string]string{tokenTTLHeader: "21601"}, wantCode: 400},
		{name: "proxied token", method: http.MethodPut, path: "/latest/api/token", hdr: map[string]string{tokenTTLHeader: "60", "X-Forwarded-For": "1.2.3.4"}, wantCode: 403},
		{name: "GET token", path: "/latest/api/token", wantCode: 405},
		{name: "POST data", method: http.MethodPost, path: "/latest/meta-data/instance-id", hdr: auth, wantCode: 405},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method := tt.method
			if method == "" {
				method = http.MethodGet
			}
			code, body := c.do(method, tt.path, tt.hdr)
			if code != tt.wantCode {
				t.Fatalf("%s %s: status %d, want %d (%q)", method, tt.path, code, tt.wantCode, body)
			}
			if tt.wantCode == 200 && body != tt.want {
				t.Errorf("%s %s:\n%s", method, tt.path, cmp.Diff(tt.want, body))
			}
		})
	}

	t.Run("identity document", func(t *testing.T) {
		code, body := c.do(http.MethodGet, "/latest/dynamic/instance-identity/document", auth)
		if code != 200 {
			t.Fatalf("status %d", code)
		}
		var got map[string]string
		if err := json.Unmarshal([]byte(body), &got); err != nil {
			t.Fatal(err)
		}
		want := map[string]string{
			"accountId": DefaultAccountID, "architecture": "x86_64", "availabilityZone": "us-east-1a",
			"imageId": "ami-0abcdef", "instanceId": "i-0123456789abcdef0", "instanceType": "t3.medium",
			"pendingTime": "2026-12-01T10:00:00Z", "privateIp": "10.0.1.23", "region": "us-east-1",
			"version": "2017-09-30",
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("document (-want +got):\n%s", d)
		}
	})

	t.Run("credentials", func(t *testing.T) {
		code, body := c.do(http.MethodGet, "/latest/meta-data/iam/security-credentials/nodes.example.com", auth)
		if code != 200 {
			t.Fatalf("status %d", code)
		}
		var got map[string]string
		if err := json.Unmarshal([]byte(body), &got); err != nil {
			t.Fatal(err)
		}
		want := map[string]string{
			"Code": "Success", "Type": "AWS-HMAC", "AccessKeyId": "test", "SecretAccessKey": "test", "Token": "test",
			"LastUpdated": "2026-12-01T10:00:00Z", "Expiration": "2026-12-01T16:00:00Z",
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("credentials (-want +got):\n%s", d)
		}
	})

	t.Run("token expires", func(t *testing.T) {
		short := c.token("1")
		now = now.Add(2 * time.Second)
		if code, _ := c.do(http.MethodGet, "/latest/meta-data/instance-id", map[string]string{tokenHeader: short}); code != 401 {
			t.Errorf("expired token: status %d, want 401", code)
		}
	})

	t.Run("meta-data listing", func(t *testing.T) {
		_, body := c.do(http.MethodGet, "/latest/meta-data/", auth)
		for _, want := range []string{"iam/", "instance-id", "placement/", "local-ipv4", "network/"} {
			if !strings.Contains("\n"+body+"\n", "\n"+want+"\n") {
				t.Errorf("listing lacks %q:\n%s", want, body)
			}
		}
	})
}

func TestMetadataServiceWithoutRole(t *testing.T) {
	in := testInstance()
	in.Role = ""
	in.UserData = nil
	in.Region = "eu-west-1"
	svc := newMetadataService(in, "0e:00:0a:00:01:17", time.Now)
	srv := httptest.NewServer(svc)
	defer srv.Close()
	c := imdsClient{t: t, srv: srv}
	auth := map[string]string{tokenHeader: c.token("60")}
	for _, p := range []string{"/latest/meta-data/iam/", "/latest/meta-data/iam/security-credentials/", "/latest/user-data"} {
		if code, body := c.do(http.MethodGet, p, auth); code != 404 {
			t.Errorf("%s: status %d (%q), want 404", p, code, body)
		}
	}
	if _, body := c.do(http.MethodGet, "/latest/meta-data/hostname", auth); body != "ip-10-0-1-23.eu-west-1.compute.internal" {
		t.Errorf("hostname %q", body)
	}
}
