package aws

import (
	"testing"

	"github.com/kapstan/kapstan/internal/engine"
)

// TestRouteTableAssociationMove moves a subnet to another of the
// cluster's tables in one call.
func TestRouteTableAssociationMove(t *testing.T) {
	t.Parallel()
	c, counter := testCloud(t)
	n := networkPublic(c)
	n.rts["other"] = &RouteTable{Name: "other", VPC: engine.RefTo(KindVPC, "main"), Tags: networkTags(c, KindRouteTable, "other")}
	desired := n.all()
	converge(t, c, desired...)
	assertInSync(t, c, counter, desired...)

	n.assocs["public-b"].RouteTable = engine.RefTo(KindRouteTable, "other")
	networkAssertPlan(t, planOf(t, c, desired...), map[string]string{"RouteTableAssociation/public-b": "update routeTable"})
	counter.Reset()
	converge(t, c, desired...)
	if got := counter.Mutating(); got["EC2.ReplaceRouteTableAssociation"] != 1 || len(got) != 1 {
		t.Errorf("mutating calls = %v, want one ReplaceRouteTableAssociation", got)
	}
	assertInSync(t, c, counter, desired...)

	// The association moved: the table it left has nothing to delete, and
	// dropping it from the spec deletes it whatever table it is in.
	left := networkWithout(desired, n.assocs["public-b"].Address())
	networkAssertPlan(t, planOf(t, c, left...), map[string]string{"RouteTableAssociation/public-b": "delete"})
	converge(t, c, left...)
	assertInSync(t, c, counter, left...)
}
