package nodeup

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Backoff is how a boot step that waits for something (the metadata
// service, the state store, the asset mirror) retries: after a failure it
// waits Initial, then twice as long each time up to Max, and gives up
// after Attempts tries. The context ends the wait at once.
type Backoff struct {
	Initial  time.Duration
	Max      time.Duration
	Attempts int
}

// DefaultBackoff retries for about ten minutes: long enough for an
// instance profile's credentials to reach the metadata service and for a
// mirror that is being filled, short enough that systemd's restart of the
// agent gets to log the error.
func DefaultBackoff() Backoff {
	return Backoff{Initial: time.Second, Max: 30 * time.Second, Attempts: 25}
}

// permanentError marks an error that no retry can fix.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// Permanent marks err as not worth retrying: Retry returns it at once.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err: err}
}

// IsPermanent reports whether err was marked with [Permanent].
func IsPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}

// Retry calls op until it succeeds, returns a [Permanent] error, the
// attempts run out or ctx ends. It returns op's last error, wrapped with
// the number of attempts when there were several.
func (b Backoff) Retry(ctx context.Context, what string, op func(ctx context.Context) error) error {
	wait := b.Initial
	attempts := max(b.Attempts, 1)
	for i := 1; ; i++ {
		err := op(ctx)
		if err == nil {
			return nil
		}
		if IsPermanent(err) {
			return err
		}
		if i >= attempts {
			if i == 1 {
				return err
			}
			return fmt.Errorf("%s: gave up after %d attempts: %w", what, i, err)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%s: %w (last error: %w)", what, ctx.Err(), err)
		case <-t.C:
		}
		if wait = 2 * wait; b.Max > 0 && wait > b.Max {
			wait = b.Max
		}
	}
}
