package aws

import (
	"strings"
	"testing"

	"github.com/kapstan/kapstan/internal/engine"
)

// TestAddOwned: only the cluster's resources of the kind are filed, by
// address; a second one with the same address is an error naming both.
func TestAddOwned(t *testing.T) {
	c := &Cloud{Cluster: "c.k8s.local"}
	addr := engine.Address{Kind: KindTargetGroup, Name: "api"}
	byAddr := map[engine.Address]*TargetGroup{}
	id := func(g *TargetGroup) string { return g.ARN }
	add := func(tags Tags, arn string) (engine.Address, bool, error) {
		return addOwned(c, KindTargetGroup, "target groups", byAddr, tags, &TargetGroup{ARN: arn}, id)
	}

	if _, ok, err := add(OwnedTags("other.k8s.local", addr, "api", nil), "arn:other"); ok || err != nil {
		t.Errorf("another cluster's target group filed (ok %v, err %v)", ok, err)
	}
	if _, ok, err := add(OwnedTags("c.k8s.local", engine.Address{Kind: KindLoadBalancer, Name: "api"}, "api", nil), "arn:lb"); ok || err != nil {
		t.Errorf("a load balancer's address filed as a target group (ok %v, err %v)", ok, err)
	}
	if _, ok, err := add(Tags{TagKubernetesCluster: "c.k8s.local"}, "arn:untagged"); ok || err != nil {
		t.Errorf("a target group without an address filed (ok %v, err %v)", ok, err)
	}
	got, ok, err := add(OwnedTags("c.k8s.local", addr, "api", nil), "arn:one")
	if !ok || err != nil || got != addr || byAddr[addr].ARN != "arn:one" {
		t.Fatalf("the cluster's target group: got %v ok %v err %v", got, ok, err)
	}
	_, ok, err = add(OwnedTags("c.k8s.local", addr, "api", nil), "arn:two")
	if ok || err == nil || !strings.Contains(err.Error(), "target groups arn:one and arn:two both carry") {
		t.Fatalf("duplicate: ok %v, err %v", ok, err)
	}
	if len(byAddr) != 1 || byAddr[addr].ARN != "arn:one" {
		t.Fatalf("the duplicate replaced the first: %v", byAddr)
	}
}
