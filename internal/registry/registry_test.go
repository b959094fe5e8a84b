package registry

import (
	"context"
	"errors"
	"fmt"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/kapstan/kapstan/internal/testing/faultproxy"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/kapstan/kapstan/internal/newcluster"
	"github.com/kapstan/kapstan/internal/store"
	"github.com/kapstan/kapstan/internal/testing/moto"
	api "github.com/kapstan/kapstan/pkg/apis/kapstan/v1alpha1"
)

var motoSrv *moto.Server

func TestMain(m *testing.M) { os.Exit(moto.RunMain(m, &motoSrv)) }

// stores returns a fresh store of each kind, the S3 one on moto.
func stores(t *testing.T) map[string]func(t *testing.T) store.Store {
	return map[string]func(t *testing.T) store.Store{
		"memory": func(t *testing.T) store.Store { return store.NewMemory("test") },
		"file": func(t *testing.T) store.Store {
			s, err := store.NewFile(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		"s3": newS3Store,
	}
}

func newS3Store(t *testing.T) store.Store {
	t.Helper()
	ctx := context.Background()
	account := moto.NewAccountID()
	// moto checks a write's condition and then writes, in a threaded
	// server: two racing conditional writes can both pass. S3 makes the
	// pair atomic; a proxy that forwards one write at a time gives the
	// tests that guarantee, while moto still judges every condition.
	proxy, err := faultproxy.Start(motoSrv.URL, faultproxy.Faults{SerializeWrites: true}, 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { proxy.Close() })
	cfg, err := motoSrv.Config(ctx, moto.WithAccount(account), config.WithBaseEndpoint(proxy.URL))
	if err != nil {
		t.Fatal(err)
	}
	client := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
	bucket := "state-" + account // one bucket namespace across moto accounts
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}
	return store.NewS3(client, bucket, "clusters")
}

func demo(t *testing.T) *api.Manifests {
	t.Helper()
	m, err := newcluster.Build(newcluster.Options{
		Name: "demo.k8s.local", Zones: []string{"us-east-1a", "us-east-1b", "us-east-1c"},
		ControlPlaneCount: 3, NodeCount: 3,
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestCreateGetUpdateHistory(t *testing.T) {
	for kind, open := range stores(t) {
		t.Run(kind, func(t *testing.T) {
			ctx := context.Background()
			s := open(t)
			reg := New(s)
			first, err := reg.Create(ctx, demo(t), "create cluster")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := reg.Create(ctx, demo(t), "again"); !errors.Is(err, ErrExists) {
				t.Fatalf("second create: got %v, want ErrExists", err)
			}
			keys, err := s.List(ctx, "demo.k8s.local/")
			if err != nil {
				t.Fatal(err)
			}
			want := []string{"demo.k8s.local/config", "demo.k8s.local/history/0000000001",
				"demo.k8s.local/instancegroup/control-plane-us-east-1a", "demo.k8s.local/instancegroup/control-plane-us-east-1b",
				"demo.k8s.local/instancegroup/control-plane-us-east-1c", "demo.k8s.local/instancegroup/nodes"}
			if strings.Join(keys, " ") != strings.Join(want, " ") {
				t.Fatalf("store layout:\n got %v\nwant %v", keys, want)
			}

			next := first.Manifests.DeepCopy()
			next.InstanceGroup("nodes").Spec.MaxSize = 6
			second, err := reg.Update(ctx, first, next, "edit instancegroup nodes")
			if err != nil {
				t.Fatal(err)
			}
			if second.Revision != 2 {
				t.Fatalf("revision %d, want 2", second.Revision)
			}
			// Only the changed object gets the new generation.
			if g := second.Manifests.InstanceGroup("nodes").Metadata.Generation; g != 2 {
				t.Errorf("nodes generation %d, want 2", g)
			}
			if g := second.Manifests.Cluster.Metadata.Generation; g != 1 {
				t.Errorf("cluster generation %d, want 1 (unchanged)", g)
			}
			// The view follows.
			obj, err := s.Get(ctx, InstanceGroupKey("demo.k8s.local", "nodes"))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(obj.Data), "maxSize: 6") {
				t.Fatalf("instancegroup/nodes not updated:\n%s", obj.Data)
			}
			// An update that changes nothing writes nothing.
			same, err := reg.Update(ctx, second, second.Manifests, "noop")
			if err != nil || same.Revision != 2 {
				t.Fatalf("no-op update: revision %v, err %v", same, err)
			}
			// Removing an instance group removes its object.
			third := second.Manifests.DeepCopy()
			third.InstanceGroups = third.InstanceGroups[:3]
			if _, err := reg.Update(ctx, second, third, "delete instancegroup nodes"); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Get(ctx, InstanceGroupKey("demo.k8s.local", "nodes")); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("instancegroup/nodes still there: %v", err)
			}
			// Rollback restores revision 2 as revision 4.
			back, err := reg.Rollback(ctx, "demo.k8s.local", 2)
			if err != nil {
				t.Fatal(err)
			}
			if back.Revision != 4 || back.Manifests.InstanceGroup("nodes") == nil || back.Manifests.InstanceGroup("nodes").Spec.MaxSize != 6 {
				t.Fatalf("rollback gave revision %d with nodes %+v", back.Revision, back.Manifests.InstanceGroup("nodes"))
			}
			hist, err := reg.History(ctx, "demo.k8s.local")
			if err != nil {
				t.Fatal(err)
			}
			var reasons []string
			for i, h := range hist {
				if h.Revision != i+1 {
					t.Fatalf("history gap: entry %d is revision %d", i, h.Revision)
				}
				reasons = append(reasons, h.Reason)
			}
			if got := strings.Join(reasons, "|"); got != "create cluster|edit instancegroup nodes|delete instancegroup nodes|rollback to revision 2" {
				t.Fatalf("history reasons %q", got)
			}
			names, err := reg.List(ctx)
			if err != nil || len(names) != 1 || names[0] != "demo.k8s.local" {
				t.Fatalf("List = %v, %v", names, err)
			}
			if err := reg.Delete(ctx, "demo.k8s.local"); err != nil {
				t.Fatal(err)
			}
			if keys, _ := s.List(ctx, "demo.k8s.local/"); len(keys) != 0 {
				t.Fatalf("objects left after Delete: %v", keys)
			}
			if _, err := reg.Get(ctx, "demo.k8s.local"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("Get after Delete: %v", err)
			}
		})
	}
}

func TestInvalidSpecIsNeverWritten(t *testing.T) {
	ctx := context.Background()
	s := store.NewMemory("t")
	reg := New(s)
	m := demo(t)
	m.Cluster.Spec.Subnets[1].CIDR = m.Cluster.Spec.Subnets[0].CIDR
	if _, err := reg.Create(ctx, m, "create"); err == nil || !strings.Contains(err.Error(), "spec.subnets[1].cidr") {
		t.Fatalf("invalid create: %v", err)
	}
	if keys, _ := s.List(ctx, ""); len(keys) != 0 {
		t.Fatalf("invalid create wrote %v", keys)
	}
	snap, err := reg.Create(ctx, demo(t), "create")
	if err != nil {
		t.Fatal(err)
	}
	bad := snap.Manifests.DeepCopy()
	bad.InstanceGroup("nodes").Spec.MinSize = 10
	if _, err := reg.Update(ctx, snap, bad, "edit"); err == nil || !strings.Contains(err.Error(), "spec.maxSize") {
		t.Fatalf("invalid update: %v", err)
	}
	if hist, _ := reg.History(ctx, "demo.k8s.local"); len(hist) != 1 {
		t.Fatalf("invalid update made a revision: %d revisions", len(hist))
	}
}

func TestConflictSaysWhatChanged(t *testing.T) {
	ctx := context.Background()
	reg := New(store.NewMemory("t"))
	base, err := reg.Create(ctx, demo(t), "create")
	if err != nil {
		t.Fatal(err)
	}
	a := base.Manifests.DeepCopy()
	a.InstanceGroup("nodes").Spec.MaxSize = 9
	if _, err := reg.Update(ctx, base, a, "edit instancegroup nodes"); err != nil {
		t.Fatal(err)
	}
	b := base.Manifests.DeepCopy()
	b.Cluster.Spec.KubernetesVersion = "1.35.0"
	_, err = reg.Update(ctx, base, b, "edit cluster")
	var ce *ConflictError
	if !errors.As(err, &ce) || !errors.Is(err, store.ErrConflict) {
		t.Fatalf("got %v, want a *ConflictError", err)
	}
	for _, want := range []string{"revision 1", "revision 2", "edit instancegroup nodes", `InstanceGroup "nodes": spec.maxSize`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("conflict message lacks %q: %v", want, err)
		}
	}
}

// TestConcurrentWriters races two writers on the same revision, 100 times:
// exactly one commits each round, the other gets a typed conflict, and the
// history ends with no gap and every winner's change in it.
func TestConcurrentWriters(t *testing.T) {
	for _, kind := range []string{"file", "s3"} {
		t.Run(kind, func(t *testing.T) {
			ctx := context.Background()
			s := stores(t)[kind](t)
			reg := New(s)
			if kind == "file" {
				// A second handle on the same folder, as a second process has.
				other, err := store.NewFile(s.(*store.FileStore).Dir())
				if err != nil {
					t.Fatal(err)
				}
				regB := New(other)
				raceRounds(t, ctx, reg, regB)
				return
			}
			raceRounds(t, ctx, reg, reg)
		})
	}
}

func raceRounds(t *testing.T, ctx context.Context, regA, regB *Registry) {
	const rounds = 100
	if _, err := regA.Create(ctx, demo(t), "create"); err != nil {
		t.Fatal(err)
	}
	for round := range rounds {
		base, err := regA.Get(ctx, "demo.k8s.local")
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for w, reg := range []*Registry{regA, regB} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				next := base.Manifests.DeepCopy()
				next.InstanceGroup("nodes").Spec.MaxSize = int32(100 + 2*round + w)
				_, errs[w] = reg.Update(ctx, base, next, fmt.Sprintf("round %d writer %d", round, w))
			}()
		}
		wg.Wait()
		wins := 0
		for w, err := range errs {
			var ce *ConflictError
			switch {
			case err == nil:
				wins++
			case !errors.As(err, &ce):
				t.Fatalf("round %d writer %d: want a *ConflictError, got %v", round, w, err)
			}
		}
		if wins != 1 {
			t.Fatalf("round %d: %d writers won, want exactly 1 (%v)", round, wins, errs)
		}
	}
	hist, err := regA.History(ctx, "demo.k8s.local")
	if err != nil {
		t.Fatal(err)
	}
	if len(hist) != rounds+1 {
		t.Fatalf("%d revisions, want %d", len(hist), rounds+1)
	}
	for i, h := range hist {
		if h.Revision != i+1 {
			t.Fatalf("history gap at %d: revision %d", i, h.Revision)
		}
		if i == 0 {
			continue
		}
		got := h.Manifests.InstanceGroup("nodes").Spec.MaxSize
		if want := fmt.Sprintf("round %d writer %d", i-1, got-int32(100+2*(i-1))); h.Reason != want {
			t.Fatalf("revision %d holds maxSize %d but says %q: a lost or mixed update", h.Revision, got, h.Reason)
		}
	}
	// The view ends at the newest revision.
	head := hist[len(hist)-1]
	obj, err := regA.Store().Get(ctx, InstanceGroupKey("demo.k8s.local", "nodes"))
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("maxSize: %d", head.Manifests.InstanceGroup("nodes").Spec.MaxSize); !strings.Contains(string(obj.Data), want) {
		t.Fatalf("instancegroup/nodes is not at the head revision (%s):\n%s", want, obj.Data)
	}
}

// TestViewIsRepairedAfterACrash simulates a writer that died after its
// commit but before it updated the config and instancegroup objects: the
// next commit brings them up to date, and reads never used them.
func TestViewIsRepairedAfterACrash(t *testing.T) {
	ctx := context.Background()
	s := store.NewMemory("t")
	reg := New(s)
	base, err := reg.Create(ctx, demo(t), "create")
	if err != nil {
		t.Fatal(err)
	}
	crashed := base.Manifests.DeepCopy()
	crashed.InstanceGroup("nodes").Spec.MaxSize = 7
	setGenerations(base.Manifests, crashed, 2)
	if err := reg.commit(ctx, &Snapshot{Revision: 2, Reason: "crashed", Manifests: crashed}); err != nil {
		t.Fatal(err)
	}
	head, err := reg.Get(ctx, "demo.k8s.local")
	if err != nil || head.Manifests.InstanceGroup("nodes").Spec.MaxSize != 7 {
		t.Fatalf("read does not see the committed revision: %v", err)
	}
	next := head.Manifests.DeepCopy()
	next.Cluster.Spec.KubernetesVersion = "1.35.2"
	if _, err := reg.Update(ctx, head, next, "edit cluster"); err != nil {
		t.Fatal(err)
	}
	obj, err := s.Get(ctx, InstanceGroupKey("demo.k8s.local", "nodes"))
	if err != nil || !strings.Contains(string(obj.Data), "maxSize: 7") {
		t.Fatalf("view not repaired: %v\n%s", err, obj.Data)
	}
}

// TestOlderWriterCannotRegressTheView: a slow writer materializing an old
// revision after a newer one must leave the newer objects alone.
func TestOlderWriterCannotRegressTheView(t *testing.T) {
	ctx := context.Background()
	s := store.NewMemory("t")
	reg := New(s)
	first, err := reg.Create(ctx, demo(t), "create")
	if err != nil {
		t.Fatal(err)
	}
	next := first.Manifests.DeepCopy()
	next.InstanceGroup("nodes").Spec.MaxSize = 8
	second, err := reg.Update(ctx, first, next, "edit")
	if err != nil {
		t.Fatal(err)
	}
	if err := reg.writeView(ctx, first); err != nil { // the slow writer of revision 1
		t.Fatal(err)
	}
	obj, err := s.Get(ctx, InstanceGroupKey("demo.k8s.local", "nodes"))
	if err != nil || !strings.Contains(string(obj.Data), "maxSize: 8") {
		t.Fatalf("revision %d's view regressed: %v\n%s", second.Revision, err, obj.Data)
	}
}

// FuzzChanges diffs a spec against arbitrary edits of it: no panic, and a
// spec never differs from itself.
func FuzzChanges(f *testing.F) {
	base, err := api.Encode(demoManifests(f))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(base)
	f.Add([]byte(strings.Replace(string(base), "maxSize: 3", "maxSize: 9", 1)))
	f.Fuzz(func(t *testing.T, data []byte) {
		other, err := api.Decode("fuzz.yaml", data)
		if err != nil || other.Cluster == nil {
			return
		}
		m := demoManifests(t)
		_ = Changes(m, other)
		_ = Changes(other, m)
		if c := Changes(other, other); len(c) != 0 {
			t.Fatalf("a spec differs from itself: %v", c)
		}
	})
}

func demoManifests(t testing.TB) *api.Manifests {
	m, err := newcluster.Build(newcluster.Options{Name: "demo.k8s.local", Zones: []string{"us-east-1a", "us-east-1b", "us-east-1c"}, ControlPlaneCount: 3, NodeCount: 3})
	if err != nil {
		t.Fatal(err)
	}
	return m
}
