package reconcile

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/kapstan/kapstan/internal/engine"
	"github.com/kapstan/kapstan/internal/store"
)

// JournalRecord is what the journal of an apply holds: which plan it ran
// and which changes it finished. A record left in the store means the
// apply was interrupted.
type JournalRecord struct {
	Started     time.Time        `json:"started"`
	Updated     time.Time        `json:"updated"`
	Revision    int              `json:"specRevision"`
	Fingerprint string           `json:"fingerprint"`
	Total       int              `json:"total"`
	Done        []engine.Address `json:"done"`
	Failed      []string         `json:"failed,omitempty"`
}

// Journal records an apply's progress in the state store under
// NAME/journal/apply, so that a later run can say what an interrupted one
// had done. Resuming needs no journal — every resource is found again by
// its tags — but the journal is what tells the user that a run was
// interrupted, and how far it got. It is written when the apply starts,
// then at most every JournalInterval, and removed when the apply succeeds.
type Journal struct {
	st   store.Store
	key  string
	next engine.Progress

	mu    sync.Mutex
	rec   JournalRecord
	dirty bool
	stop  chan struct{}
	done  chan struct{}
}

// JournalInterval bounds how often the journal is written during an apply.
const JournalInterval = 2 * time.Second

func journalKey(cluster string) string { return cluster + "/journal/apply" }

// PreviousJournal returns the journal an interrupted apply left, or nil.
func PreviousJournal(ctx context.Context, st store.Store, cluster string) (*JournalRecord, error) {
	obj, err := st.Get(ctx, journalKey(cluster))
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the journal of cluster %q: %w", cluster, err)
	}
	var rec JournalRecord
	if err := json.Unmarshal(obj.Data, &rec); err != nil {
		return nil, fmt.Errorf("reading the journal of cluster %q: %w", cluster, err)
	}
	return &rec, nil
}

// StartJournal writes the journal of an apply of plan and returns a
// Progress that records finished changes and passes every event to next.
// The caller holds the cluster's lease, so it is the only writer.
func StartJournal(ctx context.Context, st store.Store, plan *engine.Plan, next engine.Progress) (*Journal, error) {
	n := plan.Count()
	now := time.Now().UTC()
	j := &Journal{st: st, key: journalKey(plan.Cluster), next: next, stop: make(chan struct{}), done: make(chan struct{}),
		rec: JournalRecord{Started: now, Updated: now, Revision: plan.SpecRevision, Fingerprint: plan.Fingerprint(),
			Total: n[engine.Create] + n[engine.Update] + n[engine.Delete]}}
	if err := j.flush(ctx); err != nil {
		return nil, err
	}
	go j.loop(context.WithoutCancel(ctx))
	return j, nil
}

func (j *Journal) loop(ctx context.Context) {
	defer close(j.done)
	t := time.NewTicker(JournalInterval)
	defer t.Stop()
	for {
		select {
		case <-j.stop:
			return
		case <-t.C:
			_ = j.flush(ctx) // best effort: the journal informs, it does not decide
		}
	}
}

func (j *Journal) flush(ctx context.Context) error {
	j.mu.Lock()
	j.rec.Updated = time.Now().UTC()
	data, err := json.Marshal(j.rec)
	j.dirty = false
	j.mu.Unlock()
	if err != nil {
		return err
	}
	if _, err := j.st.Put(ctx, j.key, data, store.Unconditionally()); err != nil {
		return fmt.Errorf("writing the apply journal: %w", err)
	}
	return nil
}

// Finish stops the journal: it is removed after a successful apply and
// written one last time after a failed one.
func (j *Journal) Finish(ctx context.Context, applyErr error) error {
	close(j.stop)
	<-j.done
	ctx = context.WithoutCancel(ctx)
	if applyErr != nil {
		return j.flush(ctx)
	}
	if err := j.st.Delete(ctx, j.key, store.Unconditionally()); err != nil {
		return fmt.Errorf("removing the apply journal: %w", err)
	}
	return nil
}

// Started implements engine.Progress.
func (j *Journal) Started(c *engine.Change) {
	if j.next != nil {
		j.next.Started(c)
	}
}

// Retrying implements engine.Progress.
func (j *Journal) Retrying(c *engine.Change, err error, wait time.Duration) {
	if j.next != nil {
		j.next.Retrying(c, err, wait)
	}
}

// Finished implements engine.Progress.
func (j *Journal) Finished(c *engine.Change, err error, took time.Duration) {
	j.mu.Lock()
	if err == nil {
		j.rec.Done = append(j.rec.Done, c.Address)
	} else {
		j.rec.Failed = append(j.rec.Failed, err.Error())
	}
	j.dirty = true
	j.mu.Unlock()
	if j.next != nil {
		j.next.Finished(c, err, took)
	}
}
