package scim

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/scimless/scimless/pkg/auth"
	"github.com/scimless/scimless/pkg/reqlog"
	"github.com/scimless/scimless/pkg/scim/schema"
	"github.com/scimless/scimless/pkg/scim/scimerr"
	"github.com/scimless/scimless/pkg/store"
)

// contentType is the media type of every SCIM response body.
const contentType = "application/scim+json"

type errorBody struct {
	Schemas  []string `json:"schemas"`
	Status   string   `json:"status"`
	ScimType string   `json:"scimType,omitempty"`
	Detail   string   `json:"detail,omitempty"`
}

// toSCIM maps any error to the SCIM error the client sees. Errors that are not
// the client's fault become a 500 whose detail reveals nothing internal.
func (s *Server) toSCIM(err error) *scimerr.Error {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		// The request's time ran out (or its client left) while work such
		// as a PATCH was still running: the same 503 as the timeout answer.
		return s.timedOut()
	}
	return toSCIM(err)
}

// toSCIM maps err to a SCIM error (see Server.toSCIM, which also knows the
// request timeout).
func toSCIM(err error) *scimerr.Error {
	if e, ok := scimerr.As(err); ok {
		return e
	}
	if se := (*store.SizeError)(nil); errors.As(err, &se) {
		return scimerr.InvalidValue("the resource would take %d bytes when stored, over the %d-byte (400 KB) limit of a DynamoDB item; shorten or remove attribute values", se.Size, store.MaxItemBytes)
	}
	switch {
	case errors.Is(err, store.ErrNotFound):
		return scimerr.NotFound("resource not found")
	case errors.Is(err, store.ErrConflict):
		return scimerr.Conflict("a resource with this unique value already exists")
	case errors.Is(err, store.ErrVersion):
		return scimerr.New(http.StatusPreconditionFailed, "", "the resource was modified by another request; read it again and retry")
	case errors.Is(err, store.ErrBusy):
		return contended()
	case errors.Is(err, store.ErrTooLarge):
		return scimerr.InvalidValue("a value exceeds the size the service accepts (%d bytes for identifiers, 400 KB per resource)", store.MaxKeyValue)
	case errors.Is(err, auth.ErrThrottled): // wraps ErrUnauthorized: check first
		return throttledClient(err)
	case errors.Is(err, auth.ErrSuspended): // wraps ErrUnauthorized: check first
		return scimerr.New(http.StatusForbidden, "", "this tenant is suspended; its operator can resume it with: scimless tenant resume")
	case errors.Is(err, auth.ErrUnauthorized):
		return scimerr.New(http.StatusUnauthorized, "", "a valid bearer token is required")
	}
	return scimerr.New(http.StatusInternalServerError, "", "internal error; the request was not applied or may be retried")
}

// writeError writes err as an RFC 7644 §3.12 error body and logs server faults.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	e := s.toSCIM(err)
	if e.Status >= 500 {
		s.log.ErrorContext(r.Context(), "request failed", "err", err.Error(), "request_id", reqlog.IDFrom(r.Context()))
	}
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(e.RetryAfter))
	}
	if e.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="scimless"`)
	}
	writeJSON(w, e.Status, errorBody{
		Schemas: []string{schema.ErrorURN}, Status: strconv.Itoa(e.Status), ScimType: e.ScimType, Detail: e.Detail,
	})
}

// writeJSON writes v as a SCIM JSON body with the given status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"schemas":["` + schema.ErrorURN + `"],"status":"500","detail":"internal error"}`)
	}
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
