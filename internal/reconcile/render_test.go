package reconcile

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kapstan/kapstan/internal/registry"
	"github.com/kapstan/kapstan/internal/render"
	"github.com/kapstan/kapstan/internal/store"
	"github.com/kapstan/kapstan/internal/testing/clusters"
)

func renderOpts() RenderOptions {
	return RenderOptions{StateStore: clusters.StateStore, AgentURL: clusters.AgentURL, AgentSHA256: clusters.AgentSHA256}
}

// TestRenderWritesAndMarks renders a cluster for Terraform, checks the
// files against RenderFiles and the store's mark, then checks that a
// direct apply and a switch to CloudFormation are refused unless forced.
func TestRenderWritesAndMarks(t *testing.T) {
	ctx := context.Background()
	reg := registry.New(store.NewMemory("t"))
	snap, err := reg.Create(ctx, clusters.Public(t).Manifests, "create")
	if err != nil {
		t.Fatal(err)
	}
	name := snap.Manifests.Cluster.Metadata.Name
	if mark, err := CheckDirect(ctx, reg, name, false); err != nil || mark != nil {
		t.Fatalf("an unrendered cluster: mark %v, err %v", mark, err)
	}

	dir := t.TempDir()
	r, err := Render(ctx, reg, snap, render.Terraform, dir, renderOpts())
	if err != nil {
		t.Fatal(err)
	}
	want, n, err := RenderFiles(snap.Manifests, snap.Revision, render.Terraform, renderOpts())
	if err != nil {
		t.Fatal(err)
	}
	if r.Resources != n || len(r.Files) != len(want) || r.Dir != dir {
		t.Errorf("Rendered %+v; want %d resources, %d files in %s", r, n, len(want), dir)
	}
	for rel, data := range want {
		got, err := os.ReadFile(filepath.Join(dir, rel))
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("%s: not what RenderFiles gives (%v)", rel, err)
		}
	}

	mark, err := reg.Target(ctx, name)
	if err != nil || mark == nil {
		t.Fatalf("mark: %v, %v", mark, err)
	}
	if mark.Target != "terraform" || mark.Revision != snap.Revision || mark.Out != dir {
		t.Errorf("mark %+v", mark)
	}

	_, err = CheckDirect(ctx, reg, name, false)
	var me *ManagedElsewhereError
	if !errors.As(err, &me) {
		t.Fatalf("direct apply of a terraform cluster: got %v", err)
	}
	wantMsg := fmt.Sprintf("cluster %s is managed by terraform (files in %s, rendered from revision 1); use terraform apply, or --force to apply directly", name, dir)
	if err.Error() != wantMsg {
		t.Errorf("refusal:\n got %s\nwant %s", err, wantMsg)
	}
	if _, err := CheckDirect(ctx, reg, name, true); err != nil {
		t.Errorf("forced: %v", err)
	}

	if _, err := Render(ctx, reg, snap, render.CloudFormation, t.TempDir(), renderOpts()); err == nil || !strings.Contains(err.Error(), "use --force to switch") {
		t.Errorf("switch to cloudformation without --force: got %v", err)
	}
	forced := renderOpts()
	forced.Force = true
	cfnDir := t.TempDir()
	if _, err := Render(ctx, reg, snap, render.CloudFormation, cfnDir, forced); err != nil {
		t.Fatal(err)
	}
	if _, err := CheckDirect(ctx, reg, name, false); err == nil || !strings.Contains(err.Error(), "managed by cloudformation") || !strings.Contains(err.Error(), "aws cloudformation deploy") {
		t.Errorf("after the switch: got %v", err)
	}
	// Rendering again for the same target needs no force.
	if _, err := Render(ctx, reg, snap, render.CloudFormation, cfnDir, renderOpts()); err != nil {
		t.Errorf("rendering again: %v", err)
	}
}

// BenchmarkRender times RenderFiles (model and render, no IO) for 6, 30
// and 100 instance groups, for each target.
func BenchmarkRender(b *testing.B) {
	for _, target := range []render.Target{render.Terraform, render.CloudFormation} {
		for _, n := range []int{6, 30, 100} {
			m, err := clusters.Scaled(n)
			if err != nil {
				b.Fatal(err)
			}
			b.Run(fmt.Sprintf("%s/%d", target, n), func(b *testing.B) {
				for b.Loop() {
					if _, _, err := RenderFiles(m, 1, target, renderOpts()); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
