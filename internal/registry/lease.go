package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/kapstan/kapstan/internal/store"
)

// LeaseTTL is how long a lease lasts without renewal. Its holder renews it
// every LeaseTTL/3, so a lease outlives its holder by at most LeaseTTL.
const LeaseTTL = 2 * time.Minute

// leaseRecord is the stored form of a lease.
type leaseRecord struct {
	Holder   string    `json:"holder"`
	Host     string    `json:"host"`
	PID      int       `json:"pid"`
	Acquired time.Time `json:"acquired"`
	Expires  time.Time `json:"expires"`
}

// LeaseHeldError says that another run holds the cluster's lease.
type LeaseHeldError struct {
	Cluster string
	Holder  string
	Host    string
	PID     int
	Since   time.Time
	Expires time.Time
}

func (e *LeaseHeldError) Error() string {
	return fmt.Sprintf("cluster %q is locked by %q (pid %d on %s) since %s; it expires at %s unless renewed. Wait for it to finish, or, if that process is gone, for the lock to expire",
		e.Cluster, e.Holder, e.PID, e.Host, e.Since.UTC().Format(time.RFC3339), e.Expires.UTC().Format(time.RFC3339))
}

// Lease is a held lease; Release gives it back.
type Lease struct {
	reg    *Registry
	key    string
	mu     sync.Mutex
	rev    store.Revision
	rec    leaseRecord
	stop   context.CancelFunc
	done   chan struct{}
	renewE error
}

func leaseKey(cluster string) string { return cluster + "/lease" }

// AcquireLease takes the cluster's lease for holder (a description such as
// "update cluster --yes"): one writer of the cloud at a time. It fails
// with a *LeaseHeldError while another live run holds it. A lease whose
// holder is dead — expired, or held by a process of this host that no
// longer exists — is taken over. The lease is renewed in the background
// until Release.
func (r *Registry) AcquireLease(ctx context.Context, cluster, holder string) (*Lease, error) {
	host, _ := os.Hostname()
	now := r.now().UTC()
	rec := leaseRecord{Holder: holder, Host: host, PID: os.Getpid(), Acquired: now, Expires: now.Add(LeaseTTL)}
	data, err := json.Marshal(rec)
	if err != nil {
		return nil, err
	}
	key := leaseKey(cluster)
	for range 3 {
		cur, err := r.store.Get(ctx, key)
		pre := store.IfAbsent()
		switch {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			return nil, fmt.Errorf("reading the lease of cluster %q: %w", cluster, err)
		default:
			var held leaseRecord
			if json.Unmarshal(cur.Data, &held) == nil && !r.leaseDead(held, host, now) {
				return nil, &LeaseHeldError{Cluster: cluster, Holder: held.Holder, Host: held.Host, PID: held.PID, Since: held.Acquired, Expires: held.Expires}
			}
			pre = store.IfMatch(cur.Revision)
		}
		rev, err := r.store.Put(ctx, key, data, pre)
		if errors.Is(err, store.ErrConflict) {
			continue // someone took or renewed it meanwhile: look again
		}
		if err != nil {
			return nil, fmt.Errorf("taking the lease of cluster %q: %w", cluster, err)
		}
		l := &Lease{reg: r, key: key, rev: rev, rec: rec, done: make(chan struct{})}
		rctx, stop := context.WithCancel(context.WithoutCancel(ctx))
		l.stop = stop
		go l.renew(rctx)
		return l, nil
	}
	return nil, fmt.Errorf("taking the lease of cluster %q: it keeps changing hands", cluster)
}

// leaseDead reports whether a lease's holder is gone: the lease expired, or
// its holder was a process of this host that has ended.
func (r *Registry) leaseDead(l leaseRecord, host string, now time.Time) bool {
	if now.After(l.Expires) {
		return true
	}
	if l.Host != host || l.PID <= 0 {
		return false
	}
	// Signal 0 checks that the process exists without touching it.
	err := syscall.Kill(l.PID, 0)
	return errors.Is(err, syscall.ESRCH)
}

func (l *Lease) renew(ctx context.Context) {
	defer close(l.done)
	t := time.NewTicker(LeaseTTL / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		l.mu.Lock()
		l.rec.Expires = l.reg.now().UTC().Add(LeaseTTL)
		data, _ := json.Marshal(l.rec)
		rev, err := l.reg.store.Put(ctx, l.key, data, store.IfMatch(l.rev))
		if err == nil {
			l.rev = rev
		} else if ctx.Err() == nil {
			l.renewE = err
		}
		l.mu.Unlock()
	}
}

// Release gives the lease back. It is safe to call more than once.
func (l *Lease) Release(ctx context.Context) error {
	l.stop()
	<-l.done
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.rev == "" {
		return nil
	}
	err := l.reg.store.Delete(ctx, l.key, store.IfMatch(l.rev))
	l.rev = ""
	if err != nil && !errors.Is(err, store.ErrNotFound) && !errors.Is(err, store.ErrConflict) {
		return fmt.Errorf("releasing the lease: %w", err)
	}
	return nil
}
