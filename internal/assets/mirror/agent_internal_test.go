package mirror

import "testing"

// TestFetchURL: the URL a machine fetches a mirror file from, for each
// kind of repository.
func TestFetchURL(t *testing.T) {
	const path = "kapstan/v0.1.0+dirty/linux/amd64/nodeup"
	for _, tc := range []struct {
		name string
		repo fetcher
		want string
	}{
		{"s3 on AWS", &S3{bucket: "mirror", prefix: "clusters/demo/assets/", region: "eu-west-1"},
			"https://mirror.s3.eu-west-1.amazonaws.com/clusters/demo/assets/kapstan/v0.1.0+dirty/linux/amd64/nodeup"},
		{"s3 without prefix", &S3{bucket: "mirror", region: "us-east-1"},
			"https://mirror.s3.us-east-1.amazonaws.com/kapstan/v0.1.0+dirty/linux/amd64/nodeup"},
		{"s3 endpoint overridden", &S3{bucket: "mirror", prefix: "assets/", region: "us-east-1", endpoint: "http://127.0.0.1:5000/"},
			"http://127.0.0.1:5000/mirror/assets/kapstan/v0.1.0+dirty/linux/amd64/nodeup"},
		{"https", NewHTTPS("https://mirror.example.com/k8s/", nil),
			"https://mirror.example.com/k8s/kapstan/v0.1.0+dirty/linux/amd64/nodeup"},
		{"file", NewFile("/srv/mirror"), "file:///srv/mirror/kapstan/v0.1.0+dirty/linux/amd64/nodeup"},
		{"escaped", NewHTTPS("https://mirror.example.com", nil), "https://mirror.example.com/kapstan/a%20b/nodeup"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := path
			if tc.name == "escaped" {
				p = "kapstan/a b/nodeup"
			}
			got, err := tc.repo.FetchURL(p)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}

// TestFetchURLRefuses: no URL for a path that leaves the mirror, an S3
// repository without a region, or an endpoint that is not http(s).
func TestFetchURLRefuses(t *testing.T) {
	for _, tc := range []struct {
		name string
		repo fetcher
		path string
	}{
		{"dot-dot", NewFile("/srv/mirror"), "../secret"},
		{"absolute", NewHTTPS("https://mirror.example.com", nil), "/etc/passwd"},
		{"s3 without region", &S3{bucket: "mirror"}, "nodeup"},
		{"s3 endpoint without scheme", &S3{bucket: "mirror", region: "us-east-1", endpoint: "localhost:5000"}, "nodeup"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got, err := tc.repo.FetchURL(tc.path); err == nil {
				t.Errorf("got %s, want an error", got)
			}
		})
	}
}
