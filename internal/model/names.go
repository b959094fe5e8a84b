package model

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// AWS name limits kapstan meets.
const (
	maxELBName     = 32 // load balancers and target groups
	maxIAMName     = 64 // roles and instance profiles
	maxGroupName   = 255
	maxTemplateLen = 128
)

// limitName returns name if it fits in max characters; otherwise a prefix
// of it and a hash of the whole, so that long cluster names still give
// distinct, stable names.
func limitName(name string, max int) string {
	if len(name) <= max {
		return name
	}
	sum := sha256.Sum256([]byte(name))
	suffix := hex.EncodeToString(sum[:])[:8]
	prefix := strings.TrimRight(name[:max-len(suffix)-1], "-.")
	return prefix + "-" + suffix
}

// elbName makes a load balancer or target group name: letters, digits and
// hyphens only, no hyphen at either end, at most 32 characters.
func elbName(prefix, cluster string) string {
	var b strings.Builder
	for _, r := range prefix + "-" + cluster {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	return strings.Trim(limitName(strings.Trim(b.String(), "-"), maxELBName), "-")
}

// dotted joins a short name to the cluster's, as tags and most AWS names
// show it: "nodes.demo.example.com".
func dotted(name, cluster string) string { return name + "." + cluster }
