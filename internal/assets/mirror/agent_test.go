package mirror_test

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/kapstan/kapstan/internal/assets"
	"github.com/kapstan/kapstan/internal/assets/mirror"
)

// withAgent is listing() with the node agent first.
func withAgent() *assets.BOM {
	list := listing()
	list.Assets = append([]assets.Asset{{Name: assets.NameNodeup, Kind: assets.KindFile, Version: "0.1.0",
		Source: "https://github.com/kapstan/kapstan/releases/download/v0.1.0/nodeup-linux-amd64",
		Path:   "kapstan/v0.1.0/linux/amd64/nodeup"}}, list.Assets...)
	return list
}

// TestReadAgentFromFileMirror: the agent's URL and hash come from the bill
// of materials; a mirror without one, or one that names no agent, is an
// error naming the mirror and the command that fills it.
func TestReadAgentFromFileMirror(t *testing.T) {
	const fill = "kapstan get assets demo.k8s.local --copy --from DIR"
	for _, tc := range []struct {
		name    string
		list    *assets.BOM // copied first, unless nil
		wantErr []string
	}{
		{"agent", withAgent(), nil},
		{"no bill of materials", nil, []string{"has no bill of materials", "bom/demo.k8s.local.yaml", fill}},
		{"no agent in it", listing(), []string{"names no nodeup file", fill}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			repo := mirror.NewFile(dir)
			var sha string
			if tc.list != nil {
				from := sourceDir(t, tc.list, func(a assets.Asset) string { return a.Name + " " + a.Version })
				res, err := mirror.Copy(t.Context(), repo, from, tc.list, mirror.Options{})
				if err != nil {
					t.Fatal(err)
				}
				if a, ok := res.BOM.Asset(assets.NameNodeup); ok {
					sha = a.SHA256
				}
			}
			agent, err := mirror.ReadAgent(t.Context(), repo.URL(), "us-east-1", "demo.k8s.local")
			if tc.wantErr != nil {
				if err == nil {
					t.Fatalf("got %+v, want an error", agent)
				}
				for _, w := range append(tc.wantErr, repo.URL()) {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not say %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := mirror.Agent{URL: repo.URL() + "/kapstan/v0.1.0/linux/amd64/nodeup", SHA256: sha, Version: "0.1.0"}
			if agent != want {
				t.Errorf("got %+v, want %+v", agent, want)
			}
			data, err := os.ReadFile(filepath.Join(dir, "kapstan/v0.1.0/linux/amd64/nodeup"))
			if err != nil || string(data) != "nodeup 0.1.0" {
				t.Errorf("the agent's file holds %q (%v)", data, err)
			}
		})
	}
}

// TestReadAgentFromS3Mirror opens an s3:// mirror as the CLI does, from
// the environment (AWS_ENDPOINT_URL pointing at moto): the URL is path
// style under the endpoint, and fetching it without credentials, as a
// machine's curl does, gives the agent.
func TestReadAgentFromS3Mirror(t *testing.T) {
	for _, kv := range motoSrv.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	// The environment's client sends no account header: the bucket is in
	// moto's default account, where anonymous requests land too.
	cfg, err := motoSrv.Config(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	client := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
	bucket := "kapstan-agent-" + strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-"))
	if _, err := client.CreateBucket(t.Context(), &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatalf("CreateBucket: %v", err)
	}
	fileRepo := "s3://" + bucket + "/state/demo.k8s.local/assets"
	repo, err := mirror.Open(t.Context(), fileRepo, "us-east-1")
	if err != nil {
		t.Fatal(err)
	}
	list := withAgent()
	from := sourceDir(t, list, func(a assets.Asset) string { return "content of " + a.Name })
	if _, err := mirror.Copy(t.Context(), repo, from, list, mirror.Options{}); err != nil {
		t.Fatal(err)
	}

	agent, err := mirror.ReadAgent(t.Context(), fileRepo, "us-east-1", "demo.k8s.local")
	if err != nil {
		t.Fatal(err)
	}
	wantURL := strings.TrimSuffix(motoSrv.URL, "/") + "/" + bucket + "/state/demo.k8s.local/assets/kapstan/v0.1.0/linux/amd64/nodeup"
	if agent.URL != wantURL {
		t.Errorf("URL %s, want %s", agent.URL, wantURL)
	}
	// Copy writes private objects (many buckets refuse ACLs), so the
	// agent needs making readable, as the README says, before a machine
	// can fetch it.
	if status, _ := get(t, agent.URL); status != http.StatusForbidden {
		t.Errorf("GET %s of a private object: %d, want 403", agent.URL, status)
	}
	if _, err := client.PutObjectAcl(t.Context(), &s3.PutObjectAclInput{Bucket: aws.String(bucket),
		Key: aws.String("state/demo.k8s.local/assets/kapstan/v0.1.0/linux/amd64/nodeup"), ACL: types.ObjectCannedACLPublicRead}); err != nil {
		t.Fatal(err)
	}
	status, body := get(t, agent.URL)
	sha, _, _ := assets.Sum(strings.NewReader(body))
	if status != http.StatusOK || body != "content of nodeup" || sha != agent.SHA256 {
		t.Errorf("GET %s: %d %q (sha256 %s), want the agent with sha256 %s", agent.URL, status, body, sha, agent.SHA256)
	}
}

// get fetches url without credentials, as curl on a new machine does.
func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}
