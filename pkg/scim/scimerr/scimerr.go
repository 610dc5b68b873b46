// Package scimerr defines SCIM protocol errors (RFC 7644 §3.12): an HTTP
// status, an optional scimType and a human-readable detail. The SCIM handler
// renders them as error bodies; the filter, PATCH and schema packages return
// them so that every failure reaches the client with the right status.
package scimerr

import (
	"errors"
	"fmt"
	"net/http"
)

// SCIM error types from RFC 7644 §3.12 and RFC 9865.
const (
	InvalidFilterType = "invalidFilter"
	TooManyType       = "tooMany"
	UniquenessType    = "uniqueness"
	MutabilityType    = "mutability"
	InvalidSyntaxType = "invalidSyntax"
	InvalidPathType   = "invalidPath"
	NoTargetType      = "noTarget"
	InvalidValueType  = "invalidValue"
	InvalidVersType   = "invalidVers"
	SensitiveType     = "sensitive"
	InvalidCursorType = "invalidCursor"
	ExpiredCursorType = "expiredCursor"
	InvalidCountType  = "invalidCount"
)

// Error is a SCIM error. Detail is shown to the client (and to Okta or Entra
// administrators), so it must not contain secrets or internals.
type Error struct {
	Status   int
	ScimType string
	Detail   string
	// RetryAfter, when positive, is sent as a Retry-After header (seconds).
	RetryAfter int
}

func (e *Error) Error() string {
	if e.ScimType != "" {
		return fmt.Sprintf("scim %d %s: %s", e.Status, e.ScimType, e.Detail)
	}
	return fmt.Sprintf("scim %d: %s", e.Status, e.Detail)
}

// New returns an error with the given status, scimType and formatted detail.
func New(status int, scimType, format string, args ...any) *Error {
	return &Error{Status: status, ScimType: scimType, Detail: fmt.Sprintf(format, args...)}
}

// BadRequest returns a 400 error with the given scimType.
func BadRequest(scimType, format string, args ...any) *Error {
	return New(http.StatusBadRequest, scimType, format, args...)
}

// InvalidFilter returns a 400 invalidFilter error.
func InvalidFilter(format string, args ...any) *Error {
	return BadRequest(InvalidFilterType, format, args...)
}

// InvalidPath returns a 400 invalidPath error.
func InvalidPath(format string, args ...any) *Error {
	return BadRequest(InvalidPathType, format, args...)
}

// InvalidValue returns a 400 invalidValue error.
func InvalidValue(format string, args ...any) *Error {
	return BadRequest(InvalidValueType, format, args...)
}

// InvalidSyntax returns a 400 invalidSyntax error.
func InvalidSyntax(format string, args ...any) *Error {
	return BadRequest(InvalidSyntaxType, format, args...)
}

// Mutability returns a 400 mutability error.
func Mutability(format string, args ...any) *Error {
	return BadRequest(MutabilityType, format, args...)
}

// NoTarget returns a 400 noTarget error.
func NoTarget(format string, args ...any) *Error {
	return BadRequest(NoTargetType, format, args...)
}

// NotFound returns a 404 error.
func NotFound(format string, args ...any) *Error {
	return New(http.StatusNotFound, "", format, args...)
}

// Conflict returns a 409 uniqueness error.
func Conflict(format string, args ...any) *Error {
	return New(http.StatusConflict, UniquenessType, format, args...)
}

// As reports whether err is or wraps an *Error and returns it.
func As(err error) (*Error, bool) {
	var e *Error
	if errors.As(err, &e) {
		return e, true
	}
	return nil, false
}
