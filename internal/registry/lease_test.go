package registry

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/kapstan/kapstan/internal/store"
)

func TestLease(t *testing.T) {
	ctx := context.Background()
	s := store.NewMemory("t")
	reg := New(s)
	first, err := reg.AcquireLease(ctx, "demo.k8s.local", "update cluster --yes")
	if err != nil {
		t.Fatal(err)
	}
	_, err = reg.AcquireLease(ctx, "demo.k8s.local", "delete cluster --yes")
	var held *LeaseHeldError
	if !errors.As(err, &held) || held.Holder != "update cluster --yes" || held.PID != os.Getpid() {
		t.Fatalf("second acquire: %v", err)
	}
	if !strings.Contains(err.Error(), "locked by \"update cluster --yes\"") {
		t.Fatalf("message does not say who holds it: %v", err)
	}
	if err := first.Release(ctx); err != nil {
		t.Fatal(err)
	}
	second, err := reg.AcquireLease(ctx, "demo.k8s.local", "delete cluster --yes")
	if err != nil {
		t.Fatalf("acquire after release: %v", err)
	}
	_ = second.Release(ctx)

	// A lease of a process of this host that has ended is taken over.
	dead := leaseRecord{Holder: "crashed", Host: hostname(), PID: deadPID(t), Acquired: time.Now(), Expires: time.Now().Add(time.Hour)}
	data, _ := json.Marshal(dead)
	if _, err := s.Put(ctx, leaseKey("demo.k8s.local"), data, store.Unconditionally()); err != nil {
		t.Fatal(err)
	}
	if l, err := reg.AcquireLease(ctx, "demo.k8s.local", "update"); err != nil {
		t.Fatalf("a dead holder's lease was not taken over: %v", err)
	} else {
		_ = l.Release(ctx)
	}

	// An expired lease of another host is taken over; a live one is not.
	for _, tc := range []struct {
		expires time.Time
		ok      bool
	}{{time.Now().Add(-time.Second), true}, {time.Now().Add(time.Hour), false}} {
		rec := leaseRecord{Holder: "elsewhere", Host: "other-host", PID: 1, Acquired: time.Now(), Expires: tc.expires}
		data, _ := json.Marshal(rec)
		if _, err := s.Put(ctx, leaseKey("c.k8s.local"), data, store.Unconditionally()); err != nil {
			t.Fatal(err)
		}
		l, err := reg.AcquireLease(ctx, "c.k8s.local", "update")
		if (err == nil) != tc.ok {
			t.Fatalf("lease expiring %s: err %v", tc.expires, err)
		}
		if l != nil {
			_ = l.Release(ctx)
		}
	}
}

func hostname() string { h, _ := os.Hostname(); return h }

// deadPID returns the pid of a process that has exited.
func deadPID(t *testing.T) int {
	t.Helper()
	p, err := os.StartProcess("/bin/true", []string{"true"}, &os.ProcAttr{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Wait(); err != nil {
		t.Fatal(err)
	}
	return p.Pid
}
