package machine

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// MetadataAddr is where a machine finds its metadata service, as on EC2.
const MetadataAddr = "169.254.169.254:80"

// IMDSv2 headers.
const (
	tokenHeader    = "X-aws-ec2-metadata-token"
	tokenTTLHeader = "X-aws-ec2-metadata-token-ttl-seconds"
	maxTokenTTL    = 21600
)

// metadataService answers one instance's IMDSv2 requests: a token from
// PUT /latest/api/token, then GETs under /latest/meta-data/,
// /latest/dynamic/instance-identity/document and /latest/user-data with
// that token. IMDSv1 (no token) is refused with 401, as with
// HttpTokens=required. It is an http.Handler, so it is tested without a
// machine.
type metadataService struct {
	inst  Instance // withDefaults applied
	mac   string
	now   func() time.Time
	start time.Time // the instance's pendingTime

	// tree maps each leaf path under /latest/ to its value; directories
	// are derived from it.
	tree map[string]string

	mu     sync.Mutex
	tokens map[string]time.Time // token -> expiry
}

var _ http.Handler = (*metadataService)(nil)

func newMetadataService(inst Instance, mac string, now func() time.Time) *metadataService {
	inst = inst.withDefaults()
	s := &metadataService{inst: inst, mac: mac, now: now, start: now().UTC(), tokens: map[string]time.Time{}}
	s.tree = s.buildTree()
	return s
}

// identityDocument is /latest/dynamic/instance-identity/document.
type identityDocument struct {
	AccountID        string `json:"accountId"`
	Architecture     string `json:"architecture"`
	AvailabilityZone string `json:"availabilityZone"`
	ImageID          string `json:"imageId"`
	InstanceID       string `json:"instanceId"`
	InstanceType     string `json:"instanceType"`
	PendingTime      string `json:"pendingTime"`
	PrivateIP        string `json:"privateIp"`
	Region           string `json:"region"`
	Version          string `json:"version"`
}

func (s *metadataService) buildTree() map[string]string {
	in := s.inst
	ip := in.PrivateIP.Addr().String()
	t := map[string]string{
		"meta-data/ami-id":                      in.ImageID,
		"meta-data/ami-launch-index":            "0",
		"meta-data/hostname":                    in.Hostname,
		"meta-data/instance-id":                 in.ID,
		"meta-data/instance-type":               in.InstanceType,
		"meta-data/local-hostname":              in.Hostname,
		"meta-data/local-ipv4":                  ip,
		"meta-data/mac":                         s.mac,
		"meta-data/placement/availability-zone": in.AvailabilityZone,
		"meta-data/placement/region":            in.Region,
		"meta-data/services/domain":             "amazonaws.com",
		"meta-data/services/partition":          "aws",
		"dynamic/instance-identity/document":    "", // computed per request
	}
	nic := "meta-data/network/interfaces/macs/" + s.mac + "/"
	t[nic+"device-number"] = "0"
	t[nic+"local-hostname"] = in.Hostname
	t[nic+"local-ipv4s"] = ip
	t[nic+"mac"] = s.mac
	t[nic+"subnet-ipv4-cidr-block"] = in.PrivateIP.Masked().String()
	if in.SubnetID != "" {
		t[nic+"subnet-id"] = in.SubnetID
	}
	if in.VPCID != "" {
		t[nic+"vpc-id"] = in.VPCID
	}
	if in.Role != "" {
		t["meta-data/iam/info"] = ""                          // computed per request
		t["meta-data/iam/security-credentials/"+in.Role] = "" // computed per request
	}
	if len(in.UserData) > 0 {
		t["user-data"] = string(in.UserData)
	}
	return t
}

func (s *metadataService) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/latest/api/token" {
		s.serveToken(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if !s.validToken(r.Header.Get(tokenHeader)) {
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	p, ok := strings.CutPrefix(r.URL.Path, "/latest/")
	if !ok {
		http.NotFound(w, r)
		return
	}
	if v, ok := s.leaf(p); ok {
		if p == "dynamic/instance-identity/document" || strings.HasPrefix(p, "meta-data/iam/") {
			w.Header().Set("Content-Type", "application/json")
		} else {
			w.Header().Set("Content-Type", "text/plain")
		}
		_, _ = w.Write([]byte(v))
		return
	}
	if entries := s.list(p); len(entries) > 0 {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte(strings.Join(entries, "\n")))
		return
	}
	http.NotFound(w, r)
}

func (s *metadataService) serveToken(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPut {
		w.Header().Set("Allow", "PUT")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if r.Header.Get("X-Forwarded-For") != "" { // EC2 refuses proxied token requests
		http.Error(w, "forbidden", http.StatusForbidden)
		return
	}
	ttl, err := strconv.Atoi(r.Header.Get(tokenTTLHeader))
	if err != nil || ttl < 1 || ttl > maxTokenTTL {
		http.Error(w, "bad request: "+tokenTTLHeader+" must be 1-21600", http.StatusBadRequest)
		return
	}
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	tok := hex.EncodeToString(b)
	s.mu.Lock()
	s.tokens[tok] = s.now().Add(time.Duration(ttl) * time.Second)
	s.mu.Unlock()
	w.Header().Set(tokenTTLHeader, strconv.Itoa(ttl))
	w.Header().Set("Content-Type", "text/plain")
	_, _ = w.Write([]byte(tok))
}

func (s *metadataService) validToken(tok string) bool {
	if tok == "" {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	exp, ok := s.tokens[tok]
	return ok && s.now().Before(exp)
}

// leaf returns the value at p, computing the time-dependent ones.
func (s *metadataService) leaf(p string) (string, bool) {
	v, ok := s.tree[p]
	if !ok {
		return "", false
	}
	in := s.inst
	switch {
	case p == "dynamic/instance-identity/document":
		return asJSON(identityDocument{
			AccountID:        in.AccountID,
			Architecture:     "x86_64",
			AvailabilityZone: in.AvailabilityZone,
			ImageID:          in.ImageID,
			InstanceID:       in.ID,
			InstanceType:     in.InstanceType,
			PendingTime:      s.start.Format(time.RFC3339),
			PrivateIP:        in.PrivateIP.Addr().String(),
			Region:           in.Region,
			Version:          "2017-09-30",
		})
	case p == "meta-data/iam/info":
		return asJSON(map[string]string{
			"Code":               "Success",
			"LastUpdated":        s.now().UTC().Format(time.RFC3339),
			"InstanceProfileArn": in.InstanceProfileARN,
			"InstanceProfileId":  "AIPA" + strings.ToUpper(hex.EncodeToString([]byte(in.Role))),
		})
	case p == "meta-data/iam/security-credentials/"+in.Role:
		now := s.now().UTC()
		return asJSON(map[string]string{
			"Code":            "Success",
			"LastUpdated":     now.Format(time.RFC3339),
			"Type":            "AWS-HMAC",
			"AccessKeyId":     in.Credentials.AccessKeyID,
			"SecretAccessKey": in.Credentials.SecretAccessKey,
			"Token":           in.Credentials.Token,
			"Expiration":      now.Add(6 * time.Hour).Format(time.RFC3339),
		})
	}
	return v, true
}

// list returns the entries under directory p ("meta-data", "meta-data/",
// "" ...), sub-directories with a trailing slash, as IMDS lists them.
func (s *metadataService) list(p string) []string {
	prefix := strings.TrimSuffix(p, "/")
	if prefix != "" {
		prefix += "/"
	}
	seen := map[string]bool{}
	for k := range s.tree {
		rest, ok := strings.CutPrefix(k, prefix)
		if !ok || rest == "" {
			continue
		}
		if i := strings.IndexByte(rest, '/'); i >= 0 {
			rest = rest[:i+1]
		}
		seen[rest] = true
	}
	out := make([]string, 0, len(seen))
	for k := range seen {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// asJSON encodes a leaf's document. These are flat structs and maps of
// strings, which always encode; were one not to, the leaf is absent (a
// 404) rather than half-written.
func asJSON(v any) (string, bool) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return "", false
	}
	return string(b), true
}
