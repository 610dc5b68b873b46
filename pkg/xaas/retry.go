package xaas

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/scimless/scimless/pkg/store"
)

// Writes that lose a race for a record (a conditional write that finds a
// newer version) are retried inside the request, after a fresh read, with
// "full jitter" exponential backoff: attempt n waits a random time below
// min(conflictMaxDelay, conflictBaseDelay·2ⁿ), so that parallel writers of
// one record spread out instead of colliding again in lockstep. The last
// write to be applied wins, as with an unconditional put, but every write
// is applied on top of the version it read, never half-merged.
const (
	conflictBaseDelay = 2 * time.Millisecond
	conflictMaxDelay  = 100 * time.Millisecond
	// maxConflictRetries bounds the retries of a request that has no
	// deadline (the local run); on Lambda the request timeout ends it first.
	maxConflictRetries = 200
)

// errBusy means a record kept changing under a write for
// maxConflictRetries attempts; the client gets 503 with Retry-After.
var errBusy = errors.New("the record kept changing concurrently; retry the request")

// retryConflicts calls write until it returns anything but
// store.ErrVersion, waiting a jittered backoff between attempts. It stops
// with ctx's error when ctx ends during a wait, and with errBusy after
// maxConflictRetries conflicts.
func retryConflicts(ctx context.Context, write func() error) error {
	for attempt := 0; ; attempt++ {
		err := write()
		if !errors.Is(err, store.ErrVersion) {
			return err
		}
		if attempt >= maxConflictRetries {
			return fmt.Errorf("%w: %w", errBusy, err)
		}
		if err := sleepCtx(ctx, conflictDelay(attempt)); err != nil {
			return err
		}
	}
}

// conflictDelay returns the jittered wait before retry attempt+1.
func conflictDelay(attempt int) time.Duration {
	ceiling := min(conflictMaxDelay, conflictBaseDelay<<min(attempt, 16))
	return rand.N(ceiling) + 1
}

// sleepCtx waits d, or until ctx ends (then its error).
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
