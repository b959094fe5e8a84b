package nodeup_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/kapstan/kapstan/internal/assets"
	"github.com/kapstan/kapstan/internal/nodeup"
	"github.com/kapstan/kapstan/internal/store"
)

// fakeIMDS is an IMDSv2 metadata service: a token is PUT first, and every
// read without it is refused.
func fakeIMDS(t *testing.T) *httptest.Server {
	t.Helper()
	const token = "token-1"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodPut && r.URL.Path == "/latest/api/token":
			if r.Header.Get("X-aws-ec2-metadata-token-ttl-seconds") == "" {
				http.Error(w, "no ttl", http.StatusBadRequest)
				return
			}
			w.Header().Set("X-aws-ec2-metadata-token-ttl-seconds", "21600")
			io.WriteString(w, token)
		case r.Header.Get("X-aws-ec2-metadata-token") != token:
			http.Error(w, "IMDSv2 only", http.StatusUnauthorized)
		case r.URL.Path == "/latest/dynamic/instance-identity/document":
			json.NewEncoder(w).Encode(map[string]string{
				"instanceId": "i-0123456789abcdef0", "region": "eu-west-3", "availabilityZone": "eu-west-3b",
				"accountId": "123456789012", "architecture": "x86_64", "imageId": "ami-1", "instanceType": "t3.medium",
			})
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestNewMachine takes the region and identity from IMDSv2, at the
// endpoint given or the one AWS_EC2_METADATA_SERVICE_ENDPOINT names, and
// makes the S3 client in that region.
func TestNewMachine(t *testing.T) {
	srv := fakeIMDS(t)
	for _, tc := range []struct {
		name     string
		endpoint string
		env      string
	}{
		{"option", srv.URL, ""},
		{"environment", "", srv.URL},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", tc.env)
			t.Setenv("AWS_REGION", "")
			t.Setenv("AWS_DEFAULT_REGION", "")
			m, err := nodeup.NewMachine(t.Context(), nodeup.MachineOptions{IMDSEndpoint: tc.endpoint, Backoff: fast})
			if err != nil {
				t.Fatal(err)
			}
			want := nodeup.Identity{InstanceID: "i-0123456789abcdef0", Region: "eu-west-3", AvailabilityZone: "eu-west-3b"}
			if m.Identity != want {
				t.Errorf("identity %+v, want %+v", m.Identity, want)
			}
			if got := m.S3.Options().Region; got != "eu-west-3" {
				t.Errorf("S3 client in region %q, want eu-west-3", got)
			}
			s, err := m.OpenStore(t.Context(), "s3://state/clusters")
			if err != nil || s.URL() != "s3://state/clusters" {
				t.Errorf("OpenStore: %v, %v", s, err)
			}
		})
	}
}

// flakyIMDS fails n times, then answers.
type flakyIMDS struct{ n atomic.Int32 }

func (f *flakyIMDS) GetInstanceIdentityDocument(context.Context, *imds.GetInstanceIdentityDocumentInput, ...func(*imds.Options)) (*imds.GetInstanceIdentityDocumentOutput, error) {
	if f.n.Add(-1) >= 0 {
		return nil, errors.New("connection refused")
	}
	out := &imds.GetInstanceIdentityDocumentOutput{}
	out.InstanceID, out.Region, out.AvailabilityZone = "i-1", "us-west-2", "us-west-2a"
	return out, nil
}

// TestInstanceIdentityWaits: the metadata service not answering yet is
// waited for, within the backoff's attempts.
func TestInstanceIdentityWaits(t *testing.T) {
	for _, tc := range []struct {
		name     string
		failures int32
		ok       bool
	}{
		{"answers at once", 0, true},
		{"answers on the third try", 2, true},
		{"never answers", 3, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &flakyIMDS{}
			f.n.Store(tc.failures)
			id, err := nodeup.InstanceIdentity(t.Context(), f, fast)
			if (err == nil) != tc.ok {
				t.Fatalf("err %v, want ok=%v", err, tc.ok)
			}
			if tc.ok && id.Region != "us-west-2" {
				t.Errorf("region %q", id.Region)
			}
		})
	}
}

// flakyStore fails reads n times with an access error, as a store does
// before the instance profile's credentials work.
type flakyStore struct {
	store.Store
	n atomic.Int32
}

func (f *flakyStore) Get(ctx context.Context, key string) (*store.Object, error) {
	if f.n.Add(-1) >= 0 {
		return nil, errors.New("AccessDenied")
	}
	return f.Store.Get(ctx, key)
}

// TestWaitForConfig retries a store that cannot be read yet, and does not
// retry a configuration that does not decode or is not there.
func TestWaitForConfig(t *testing.T) {
	m := gossipCluster(t)
	s, ks := withPKI(t, m, "lb.example.com")
	if _, err := nodeup.WriteConfigs(t.Context(), s, m, ks, "lb.example.com"); err != nil {
		t.Fatal(err)
	}
	name := m.Cluster.Metadata.Name
	if _, err := s.Put(t.Context(), nodeup.ConfigKey(name, "broken"), []byte("kind: Nope"), store.IfAbsent()); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		ig       string
		failures int32
		want     string // in the error; "" for success
		calls    int32
	}{
		{"readable", "nodes", 0, "", 1},
		{"readable after two failures", "nodes", 2, "", 3},
		{"never readable", "nodes", 5, "AccessDenied", 3},
		{"not a node configuration", "broken", 0, "apiVersion", 1},
		{"no such group", "nope", 0, "nodeup/nope", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &flakyStore{Store: s}
			f.n.Store(tc.failures)
			cfg, err := nodeup.WaitForConfig(t.Context(), f, name, tc.ig, fast)
			if tc.want == "" {
				if err != nil || cfg.InstanceGroup != tc.ig {
					t.Fatalf("got %v, %v", cfg, err)
				}
			} else if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error with %q", err, tc.want)
			}
			if calls := tc.failures - f.n.Load(); calls != tc.calls {
				t.Errorf("%d reads, want %d", calls, tc.calls)
			}
		})
	}
}

// TestCgroupVersion: on a cgroup v1 host the kubelet is told not to fail
// (failCgroupV1: false); on v2 the field is left alone. On both, the
// kubelet's cgroup driver is the one containerd uses.
func TestCgroupVersion(t *testing.T) {
	cfg := nodeConfig(t, gossipCluster(t), "nodes", "api.example.com")
	for _, tc := range []struct {
		name string
		v2   bool
		want string // the failCgroupV1 line, "" for none
	}{
		{"v1", false, "failCgroupV1: false"},
		{"v2", true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			if tc.v2 {
				p := filepath.Join(root, "sys/fs/cgroup/cgroup.controllers")
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte("cpu memory pids\n"), 0o444); err != nil {
					t.Fatal(err)
				}
			}
			host, err := nodeup.DetectHost(root)
			if err != nil {
				t.Fatal(err)
			}
			if host.CgroupV1 == tc.v2 {
				t.Errorf("detected %+v", host)
			}
			if _, err := nodeup.Run(t.Context(), cfg, nodeup.Options{Root: root}); err != nil {
				t.Fatal(err)
			}
			kubelet := readThrough(t, root, nodeup.KubeletConfigPath)
			if got := strings.Contains(kubelet, "failCgroupV1"); got != (tc.want != "") || !strings.Contains(kubelet, tc.want) {
				t.Errorf("kubelet configuration, want %q:\n%s", tc.want, kubelet)
			}
			containerd := readThrough(t, root, nodeup.ContainerdConfigPath)
			kc, err := nodeup.KubeletConfiguration(cfg, host)
			if err != nil {
				t.Fatal(err)
			}
			systemd := strings.Contains(containerd, "SystemdCgroup = true")
			if !systemd && !strings.Contains(containerd, "SystemdCgroup = false") {
				t.Fatalf("containerd's configuration sets no SystemdCgroup:\n%s", containerd)
			}
			if (kc.CgroupDriver == "systemd") != systemd {
				t.Errorf("kubelet cgroupDriver %q, containerd SystemdCgroup %t", kc.CgroupDriver, systemd)
			}
		})
	}
}

// TestHTTPMirror downloads from an https-style mirror: a 503 is retried, a
// 404 is not, and the path is the asset's under the mirror's prefix.
func TestHTTPMirror(t *testing.T) {
	m := newMirror(t)
	a := m.put(t, "kubelet", "1.36.3", "kubernetes/v1.36.3/kubelet", []byte("kubelet"))
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := requests.Add(1)
		if n == 1 {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		http.StripPrefix("/mirror/", http.FileServer(http.Dir(m.dir))).ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	cfg := nodeConfig(t, gossipCluster(t), "nodes", "api.example.com")
	cfg.Assets, cfg.AssetsMirror = []assets.Asset{a}, srv.URL+"/mirror"
	root := t.TempDir()
	if _, err := nodeup.Run(t.Context(), cfg, nodeup.Options{Root: root, Host: &nodeup.Host{}, Backoff: fast}); err != nil {
		t.Fatal(err)
	}
	if got := readThrough(t, root, nodeup.KubeletBinary); got != "kubelet" {
		t.Errorf("kubelet holds %q", got)
	}
	if n := requests.Load(); n != 2 {
		t.Errorf("%d requests, want 2 (one 503, one retry)", n)
	}

	a.Path, a.Version = "kubernetes/v1.36.4/kubelet", "1.36.4"
	cfg.Assets = []assets.Asset{a}
	requests.Store(1)
	_, err := nodeup.Run(t.Context(), cfg, nodeup.Options{Root: root, Host: &nodeup.Host{}, Backoff: fast})
	if err == nil || !strings.Contains(err.Error(), "404") || !nodeup.IsPermanent(err) {
		t.Errorf("missing asset: %v, want a permanent 404", err)
	}
	if n := requests.Load(); n != 2 {
		t.Errorf("a 404 was retried: %d requests", n-1)
	}
}

// fakeS3 serves GetObject from a map, and NoSuchKey otherwise.
type fakeS3 struct {
	objects map[string]string
	keys    []string
}

func (f *fakeS3) GetObject(_ context.Context, in *s3.GetObjectInput, _ ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	key := aws.ToString(in.Bucket) + "/" + aws.ToString(in.Key)
	f.keys = append(f.keys, key)
	data, ok := f.objects[key]
	if !ok {
		return nil, &smithy.GenericAPIError{Code: "NoSuchKey", Message: "The specified key does not exist."}
	}
	return &s3.GetObjectOutput{Body: io.NopCloser(strings.NewReader(data))}, nil
}

// TestS3Mirror reads assets from s3://bucket/prefix with the machine's
// client; a missing object is not retried.
func TestS3Mirror(t *testing.T) {
	m := newMirror(t)
	a := m.put(t, "kubelet", "1.36.3", "kubernetes/v1.36.3/kubelet", []byte("kubelet"))
	f := &fakeS3{objects: map[string]string{"assets/mirror/kubernetes/v1.36.3/kubelet": "kubelet"}}
	cfg := nodeConfig(t, gossipCluster(t), "nodes", "api.example.com")
	cfg.Assets, cfg.AssetsMirror = []assets.Asset{a}, "s3://assets/mirror"
	root := t.TempDir()
	if _, err := nodeup.Run(t.Context(), cfg, nodeup.Options{Root: root, Host: &nodeup.Host{}, S3: f, Backoff: fast}); err != nil {
		t.Fatal(err)
	}
	if got := readThrough(t, root, nodeup.KubeletBinary); got != "kubelet" {
		t.Errorf("kubelet holds %q", got)
	}
	a.Version, a.Path = "1.36.4", "kubernetes/v1.36.4/kubelet"
	cfg.Assets = []assets.Asset{a}
	f.keys = nil
	_, err := nodeup.Run(t.Context(), cfg, nodeup.Options{Root: root, Host: &nodeup.Host{}, S3: f, Backoff: fast})
	if err == nil || !strings.Contains(err.Error(), "s3://assets/mirror/kubernetes/v1.36.4/kubelet") || len(f.keys) != 1 {
		t.Errorf("missing object: %v after %d reads, want one read and an error naming it", err, len(f.keys))
	}
	if _, err := nodeup.OpenMirror("s3://assets", nil, nil); err == nil {
		t.Error("an s3:// mirror opened without a client")
	}
}
