package engine

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"
)

// retryable marks an error worth retrying: the cloud is eventually
// consistent (a new IAM instance profile is not usable at once) or busy.
type retryable struct {
	err error
}

func (r *retryable) Error() string { return r.err.Error() }
func (r *retryable) Unwrap() error { return r.err }

// Retryable marks err as worth retrying after a pause.
func Retryable(err error) error {
	if err == nil {
		return nil
	}
	return &retryable{err: err}
}

// IsRetryable reports whether err was marked with Retryable.
func IsRetryable(err error) bool {
	var r *retryable
	return errors.As(err, &r)
}

// Backoff retries retryable errors with exponential, jittered pauses until
// MaxElapsed has passed. Throttling and 5xx responses are retried by the
// AWS SDK itself; this is for the errors only the resource code can
// recognize as transient.
type Backoff struct {
	Initial    time.Duration
	Max        time.Duration
	MaxElapsed time.Duration
	// Sleep waits; tests replace it. It returns early with ctx's error.
	Sleep func(ctx context.Context, d time.Duration) error
}

// DefaultBackoff waits 250 ms, doubling up to 10 s, for at most 5 minutes:
// long enough for IAM's eventual consistency, short enough to notice a
// real failure.
func DefaultBackoff() *Backoff {
	return &Backoff{Initial: 250 * time.Millisecond, Max: 10 * time.Second, MaxElapsed: 5 * time.Minute, Sleep: sleepCtx}
}

// Do calls f until it succeeds, fails with an error that is not
// retryable, ctx ends or MaxElapsed passes. onRetry, if set, hears about
// each retry.
func (b *Backoff) Do(ctx context.Context, f func() error, onRetry func(error, time.Duration)) error {
	start := time.Now()
	wait := b.Initial
	for {
		err := f()
		if err == nil || !IsRetryable(err) {
			return err
		}
		if time.Since(start)+wait > b.MaxElapsed {
			return err
		}
		jittered := wait/2 + time.Duration(rand.Int64N(int64(wait/2)+1))
		if onRetry != nil {
			onRetry(err, jittered)
		}
		sleep := b.Sleep
		if sleep == nil {
			sleep = sleepCtx
		}
		if serr := sleep(ctx, jittered); serr != nil {
			return errors.Join(err, serr)
		}
		wait = min(wait*2, b.Max)
	}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
