package scim

import (
	"errors"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/scimless/scimless/pkg/scim/scimerr"
	"github.com/scimless/scimless/pkg/store"
)

// Backoff between attempts of a write that lost a race: full jitter over an
// exponentially growing window, so that many clients writing one resource at
// once spread out instead of colliding again in lockstep.
const (
	retryBaseWait = 2 * time.Millisecond
	retryMaxWait  = 200 * time.Millisecond
)

// retryWrite runs attempt, a read-modify-write of one resource, until it is
// applied or fails for a reason other than a lost race.
//
// A version conflict means another write changed the resource between this
// request's read and its conditional write. Without If-Match the client asked
// for no precondition, so the change is re-applied to the new state: the
// client gets the outcome of its change, never a 412 it did not ask for.
// With If-Match the conflict is the client's precondition failing, and it is
// returned (412). A transaction that collided with another one in DynamoDB
// (store.ErrBusy) is retried in both cases: it changed nothing.
//
// Retries stop before the request's deadline (DefaultRequestTimeout when the
// context has none): the client then gets 503 with Retry-After, and nothing
// of this request was applied.
func (s *Server) retryWrite(r *http.Request, attempt func() error) error {
	ctx := r.Context()
	pinned := r.Header.Get("If-Match") != ""
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(DefaultRequestTimeout)
	}
	window := retryBaseWait
	for {
		err := attempt()
		if err == nil {
			return nil
		}
		busy := errors.Is(err, store.ErrBusy)
		if !busy && (pinned || !errors.Is(err, store.ErrVersion)) {
			return err
		}
		wait := rand.N(window) + time.Millisecond
		// Keep time for one more attempt after the wait, so the answer is
		// this handler's and not the request timeout's.
		if time.Until(deadline) < wait+2*window {
			return contended()
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return contended()
		case <-t.C:
		}
		window = min(2*window, retryMaxWait)
	}
}

// contended is the error of a write that kept losing races with other writes
// of the same resource until the request ran out of time. Nothing of it was
// applied; the client retries after Retry-After.
func contended() *scimerr.Error {
	e := scimerr.New(http.StatusServiceUnavailable, "", "the resource is being changed by many requests at once and this change could not be applied in time; retry it (a retry is safe: the change is applied once)")
	e.RetryAfter = 1
	return e
}
