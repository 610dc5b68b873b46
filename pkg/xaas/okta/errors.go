package okta

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"
)

// Okta error codes returned by the Identity Sources API.
const (
	CodeValidation   = "E0000001" // API validation failed (bad state, empty or oversized batch, …)
	CodeBadRequest   = "E0000003" // missing or malformed body, invalid entityType
	CodeForbidden    = "E0000006" // the token lacks the permission or scope
	CodeNotFound     = "E0000007" // unknown identity source or session
	CodeUnauthorized = "E0000011" // invalid token
	CodeRateLimited  = "E0000047" // rate limit exceeded
)

// APIError is an error response from Okta or its token endpoint: a 4xx other
// than 429, or the last response of a request whose retries ran out (429 or
// 5xx). It never holds credentials.
type APIError struct {
	// StatusCode is the HTTP status of the response.
	StatusCode int
	// Method is the HTTP method of the request that failed.
	Method string
	// Path is the URL path of the request that failed (no query, no host).
	Path string
	// ErrorCode is Okta's error code (such as CodeValidation) or, for the
	// token endpoint, the OAuth 2.0 error (such as "invalid_client").
	ErrorCode string
	// ErrorSummary is Okta's message, or the OAuth 2.0 error_description.
	ErrorSummary string
	// ErrorLink is Okta's errorLink (usually the error code again).
	ErrorLink string
	// ErrorID is Okta's errorId, which Okta support can look up.
	ErrorID string
	// ErrorCauses are Okta's detailed causes, often one per invalid field.
	ErrorCauses []ErrorCause
	// RequestID is the X-Okta-Request-Id response header.
	RequestID string
	// RateLimitReset is when the rate-limit window resets, from the
	// X-Rate-Limit-Reset header; zero when the header is absent.
	RateLimitReset time.Time
	// Attempts is how many times the request was sent.
	Attempts int
}

// ErrorCause is one entry of an Okta error's errorCauses.
type ErrorCause struct {
	// ErrorSummary describes the cause, often naming a field.
	ErrorSummary string `json:"errorSummary"`
}

// Error returns the method, path, status, Okta code, summary and causes.
func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString("okta: ")
	if e.Method != "" {
		b.WriteString(e.Method)
		b.WriteByte(' ')
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	fmt.Fprintf(&b, "%d %s", e.StatusCode, http.StatusText(e.StatusCode))
	if e.ErrorCode != "" {
		b.WriteString(" (")
		b.WriteString(e.ErrorCode)
		b.WriteByte(')')
	}
	if e.ErrorSummary != "" {
		b.WriteString(": ")
		b.WriteString(e.ErrorSummary)
	}
	for i, c := range e.ErrorCauses {
		if i == 0 {
			b.WriteString(" [")
		} else {
			b.WriteString("; ")
		}
		b.WriteString(c.ErrorSummary)
		if i == len(e.ErrorCauses)-1 {
			b.WriteByte(']')
		}
	}
	if e.Attempts > 1 {
		fmt.Fprintf(&b, " after %d attempts", e.Attempts)
	}
	return b.String()
}

// Temporary reports whether the request may succeed if sent again later:
// the status is 429 or 5xx.
func (e *APIError) Temporary() bool {
	return e.StatusCode == http.StatusTooManyRequests || e.StatusCode >= 500
}

// HasCode reports whether err is an [*APIError] with the given Okta error code.
func HasCode(err error, code string) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.ErrorCode == code
}

// maxErrorText bounds the summary taken from a response body that is not
// JSON, and each string decoded from an error body.
const maxErrorText = 512

// maxErrorCauses bounds the number of causes kept from an error body.
const maxErrorCauses = 50

// decodeError parses an error response body: Okta's
// {"errorCode","errorSummary","errorLink","errorId","errorCauses"} or the
// OAuth 2.0 {"error","error_description"} of the token endpoint. A body that
// is neither gives an error whose ErrorSummary is the start of the body as
// text. Method, Path, RequestID, RateLimitReset and Attempts are left for the
// caller to fill in.
func decodeError(status int, body []byte) *APIError {
	e := &APIError{StatusCode: status}
	var fields map[string]json.RawMessage
	if json.Unmarshal(body, &fields) != nil || fields == nil {
		e.ErrorSummary = clean(string(body))
		return e
	}
	// Each field on its own, so that one of an unexpected type does not
	// lose the others.
	str := func(name string) string {
		var s string
		if raw, ok := fields[name]; ok && json.Unmarshal(raw, &s) == nil {
			return clean(s)
		}
		return ""
	}
	e.ErrorCode = str("errorCode")
	e.ErrorSummary = str("errorSummary")
	e.ErrorLink = str("errorLink")
	e.ErrorID = str("errorId")
	if e.ErrorCode == "" {
		e.ErrorCode = str("error")
	}
	if e.ErrorSummary == "" {
		e.ErrorSummary = str("error_description")
	}
	var rawCauses []json.RawMessage
	if json.Unmarshal(fields["errorCauses"], &rawCauses) != nil {
		return e
	}
	for _, rc := range rawCauses {
		if len(e.ErrorCauses) == maxErrorCauses {
			break
		}
		var c struct {
			ErrorSummary string `json:"errorSummary"`
		}
		if json.Unmarshal(rc, &c) != nil && json.Unmarshal(rc, &c.ErrorSummary) != nil {
			continue
		}
		if s := clean(c.ErrorSummary); s != "" {
			e.ErrorCauses = append(e.ErrorCauses, ErrorCause{ErrorSummary: s})
		}
	}
	return e
}

// clean makes s safe to show in an error: valid UTF-8, one line, at most
// maxErrorText bytes.
func clean(s string) string {
	if len(s) > 4*maxErrorText {
		s = s[:4*maxErrorText]
	}
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	if len(s) > maxErrorText {
		i := maxErrorText
		for i > 0 && !utf8.RuneStart(s[i]) {
			i--
		}
		s = s[:i]
	}
	return s
}

// ValidationError reports an entity that the client refused to send because
// Okta would reject it, or because it would break a per-request limit.
type ValidationError struct {
	// Index is the entity's position in the batch, or -1 for the whole batch.
	Index int
	// ExternalID is the entity's externalId, when it has one.
	ExternalID string
	// Field is the offending JSON field, such as "profile.email".
	Field string
	// Reason says what is wrong.
	Reason string
}

// Error returns the entity position, field and reason.
func (e *ValidationError) Error() string {
	var b strings.Builder
	b.WriteString("okta: invalid ")
	if e.Index >= 0 {
		fmt.Fprintf(&b, "entity %d", e.Index)
		if e.ExternalID != "" {
			fmt.Fprintf(&b, " (externalId %q)", e.ExternalID)
		}
	} else {
		b.WriteString("batch")
	}
	if e.Field != "" {
		b.WriteString(": ")
		b.WriteString(e.Field)
	}
	b.WriteString(": ")
	b.WriteString(e.Reason)
	return b.String()
}
