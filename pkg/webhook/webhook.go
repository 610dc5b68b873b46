// Package webhook signs scimless webhook deliveries and verifies them. It is
// small and depends only on the standard library, so a receiver can import
// it alone.
//
// Each delivery is an HTTP POST of one event (JSON) with two headers:
//
//	Scimless-Event-Id: <event id>
//	Scimless-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, t + "." + body)>
//
// A receiver calls Verify with the endpoint's signing secret, the header and
// the raw body, and acknowledges with any 2xx status. Delivery is at least
// once: the same event may arrive more than once, with the same
// Scimless-Event-Id.
package webhook

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Header names of a delivery.
const (
	SignatureHeader = "Scimless-Signature"
	EventIDHeader   = "Scimless-Event-Id"
)

// DefaultTolerance is the age past which Verify refuses a signature when
// given no tolerance: it bounds replays of a captured delivery.
const DefaultTolerance = 5 * time.Minute

// Errors of Verify. Test them with errors.Is.
var (
	// ErrBadHeader means the signature header is missing or malformed.
	ErrBadHeader = errors.New("webhook: malformed signature header")
	// ErrStale means the signature's timestamp is outside the tolerance.
	ErrStale = errors.New("webhook: signature timestamp outside the tolerance")
	// ErrMismatch means no signature in the header matches the body.
	ErrMismatch = errors.New("webhook: signature does not match")
)

// maxHeader bounds the header Verify parses.
const maxHeader = 4096

// Sign returns the Scimless-Signature header value for body sent at t.
func Sign(secret string, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac(secret, ts, body))
}

func mac(secret, ts string, body []byte) []byte {
	h := hmac.New(sha256.New, []byte(secret))
	h.Write([]byte(ts))
	h.Write([]byte{'.'})
	h.Write(body)
	return h.Sum(nil)
}

// Verify checks that header (a Scimless-Signature value) signs body with
// secret and that its timestamp is within tolerance of now
// (DefaultTolerance when tolerance ≤ 0). A header may carry several v1
// signatures (while a secret is rotated); one match is enough.
func Verify(secret, header string, body []byte, tolerance time.Duration) error {
	return VerifyAt(secret, header, body, tolerance, time.Now())
}

// VerifyAt is Verify with the current time given.
func VerifyAt(secret, header string, body []byte, tolerance time.Duration, now time.Time) error {
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	h, err := ParseHeader(header)
	if err != nil {
		return err
	}
	age := now.Sub(h.Time)
	if age > tolerance || age < -tolerance {
		return fmt.Errorf("%w: signed at %s, %s from now", ErrStale, h.Time.UTC().Format(time.RFC3339), age.Round(time.Second))
	}
	want := mac(secret, strconv.FormatInt(h.Time.Unix(), 10), body)
	for _, sig := range h.Signatures {
		if hmac.Equal(sig, want) {
			return nil
		}
	}
	return ErrMismatch
}

// Header is a parsed Scimless-Signature header.
type Header struct {
	Time       time.Time
	Signatures [][]byte // the v1 signatures
}

// ParseHeader parses a Scimless-Signature value: comma-separated key=value
// pairs with exactly one t (Unix seconds) and at least one v1 (64 hex
// digits). Unknown keys are ignored, so newer schemes can be added beside v1.
func ParseHeader(header string) (Header, error) {
	var h Header
	if header == "" {
		return h, fmt.Errorf("%w: empty", ErrBadHeader)
	}
	if len(header) > maxHeader {
		return h, fmt.Errorf("%w: longer than %d bytes", ErrBadHeader, maxHeader)
	}
	haveT := false
	for _, part := range strings.Split(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return Header{}, fmt.Errorf("%w: %q is not key=value", ErrBadHeader, part)
		}
		switch k {
		case "t":
			if haveT {
				return Header{}, fmt.Errorf("%w: more than one t", ErrBadHeader)
			}
			sec, err := strconv.ParseInt(v, 10, 64)
			if err != nil || sec < 0 || sec > 1<<40 {
				return Header{}, fmt.Errorf("%w: t is not a Unix time", ErrBadHeader)
			}
			h.Time, haveT = time.Unix(sec, 0), true
		case "v1":
			sig, err := hex.DecodeString(v)
			if err != nil || len(sig) != sha256.Size {
				return Header{}, fmt.Errorf("%w: v1 is not %d hex digits", ErrBadHeader, 2*sha256.Size)
			}
			h.Signatures = append(h.Signatures, sig)
		}
	}
	if !haveT {
		return Header{}, fmt.Errorf("%w: no t", ErrBadHeader)
	}
	if len(h.Signatures) == 0 {
		return Header{}, fmt.Errorf("%w: no v1 signature", ErrBadHeader)
	}
	return h, nil
}

// NewSecret returns a new random signing secret ("whsec_" and 43 base64url
// characters: 256 bits).
func NewSecret() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("new webhook secret: %w", err)
	}
	return "whsec_" + base64.RawURLEncoding.EncodeToString(b[:]), nil
}
