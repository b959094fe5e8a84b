package reconcile

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kapstan/kapstan/internal/channels"
	awscloud "github.com/kapstan/kapstan/internal/cloud/aws"
	"github.com/kapstan/kapstan/internal/engine"
	"github.com/kapstan/kapstan/internal/newcluster"
	"github.com/kapstan/kapstan/internal/nodeup"
)

// TestUpgradeChangesLaunchTemplates converges a cluster two minors behind
// the default, takes the channel's proposal (the next minor only), writes
// it as upgrade cluster --yes does, and plans: every launch template, and
// nothing else, gets a new user-data carrying the new node configuration
// hash, and each Auto Scaling group moves to its template's new version.
func TestUpgradeChangesLaunchTemplates(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	snap := e.create(t, newcluster.Options{Name: "upgrade.k8s.local", Zones: zones[:1], NodeCount: 1, KubernetesVersion: "1.34.5"})
	e.converge(t, snap)
	e.assertConverged(t, snap)

	ch, err := channels.Stable()
	if err != nil {
		t.Fatal(err)
	}
	next, err := ch.Next("1.34.5")
	if err != nil || next != "1.35.4" {
		t.Fatalf("proposal %q, %v; want 1.35.4, the next minor only", next, err)
	}
	if err := ch.CheckUpgrade("1.34.5", "1.36.3"); err == nil {
		t.Fatal("skipping 1.35 was allowed")
	}
	m := snap.Manifests.DeepCopy()
	m.Cluster.Spec.KubernetesVersion = next
	upgraded, err := e.reg.Update(ctx, snap, m, "upgrade cluster to "+next)
	if err != nil {
		t.Fatal(err)
	}

	p, err := Plan(ctx, upgraded, e.opts())
	if err != nil {
		t.Fatal(err)
	}
	var changed, templates []string
	for _, c := range p.Plan.Changes {
		if c.Address.Kind == awscloud.KindLaunchTemplate {
			templates = append(templates, c.Address.Name)
		}
		if c.Action == engine.NoOp {
			continue
		}
		changed = append(changed, c.Address.Kind+"/"+c.Address.Name)
		if c.Action == engine.Update && c.Address.Kind == awscloud.KindAutoScalingGroup {
			if len(c.Fields) != 1 || c.Fields[0].Path != "launchTemplate.version" {
				t.Errorf("%s: changes %v, want only its launch template version", c.Address, c.Fields)
			}
			continue
		}
		if c.Action != engine.Update || c.Address.Kind != awscloud.KindLaunchTemplate {
			continue
		}
		if !slices.ContainsFunc(c.Fields, func(f engine.FieldDiff) bool { return f.Path == "userData" }) {
			t.Errorf("%s: changes %v but not its user-data", c.Address, c.Fields)
		}
		lt := c.Desired().(*awscloud.LaunchTemplate)
		hash, err := nodeup.SpecHash(upgraded.Manifests, c.Address.Name)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(lt.UserData, "# node configuration: sha256:"+hash) {
			t.Errorf("%s: user-data lacks the new node configuration hash %s", c.Address, hash)
		}
	}
	var want []string
	for _, name := range templates {
		// The group follows its template's new version.
		want = append(want, awscloud.KindLaunchTemplate+"/"+name, awscloud.KindAutoScalingGroup+"/"+name)
	}
	slices.Sort(changed)
	slices.Sort(want)
	if len(want) < 2 {
		t.Fatalf("only launch templates %v", templates)
	}
	if d := cmp.Diff(want, changed); d != "" {
		t.Fatalf("changes after the upgrade (-want every launch template and its group +got):\n%s\n%s", d, p.Plan)
	}
	t.Logf("plan after upgrade cluster --yes:\n%s", p.Plan)
}
