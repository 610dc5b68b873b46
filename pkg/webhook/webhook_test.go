package webhook_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/scimless/scimless/pkg/webhook"
)

func TestSignVerify(t *testing.T) {
	secret := "whsec_test"
	body := []byte(`{"id":"1","type":"user.created"}`)
	now := time.Unix(1_800_000_000, 0)
	good := webhook.Sign(secret, now, body)
	if !strings.HasPrefix(good, "t=1800000000,v1=") || len(good) != len("t=1800000000,v1=")+64 {
		t.Fatalf("header %q", good)
	}
	// The documented formula, computed independently of Sign.
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte("1800000000." + string(body)))
	if want := "t=1800000000,v1=" + hex.EncodeToString(m.Sum(nil)); good != want {
		t.Fatalf("Sign = %s, want %s", good, want)
	}
	tests := []struct {
		name    string
		secret  string
		header  string
		body    []byte
		now     time.Time
		wantErr error
	}{
		{"valid", secret, good, body, now, nil},
		{"valid within tolerance", secret, good, body, now.Add(4 * time.Minute), nil},
		{"rotated: second v1 matches", secret, webhook.Sign("old", now, body) + "," + good[strings.Index(good, "v1="):], body, now, nil},
		{"unknown scheme ignored", secret, good + ",v0=abc", body, now, nil},
		{"tampered body", secret, good, []byte(`{"id":"1","type":"user.deleted"}`), now, webhook.ErrMismatch},
		{"wrong secret", "whsec_other", good, body, now, webhook.ErrMismatch},
		{"stale", secret, good, body, now.Add(6 * time.Minute), webhook.ErrStale},
		{"from the future", secret, good, body, now.Add(-6 * time.Minute), webhook.ErrStale},
		{"timestamp changed", secret, strings.Replace(good, "t=1800000000", "t=1800000001", 1), body, now, webhook.ErrMismatch},
		{"empty", secret, "", body, now, webhook.ErrBadHeader},
		{"no t", secret, good[strings.Index(good, "v1="):], body, now, webhook.ErrBadHeader},
		{"no v1", secret, "t=1800000000", body, now, webhook.ErrBadHeader},
		{"short v1", secret, "t=1800000000,v1=abcd", body, now, webhook.ErrBadHeader},
		{"two t", secret, "t=1," + good, body, now, webhook.ErrBadHeader},
		{"garbage", secret, "hello", body, now, webhook.ErrBadHeader},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := webhook.VerifyAt(tc.secret, tc.header, tc.body, 5*time.Minute, tc.now)
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
		})
	}
	if err := webhook.Verify(secret, webhook.Sign(secret, time.Now(), body), body, 0); err != nil {
		t.Fatalf("Verify now: %v", err)
	}
}

func TestNewSecret(t *testing.T) {
	a, err := webhook.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := webhook.NewSecret()
	if a == b || !strings.HasPrefix(a, "whsec_") || len(a) != 6+43 {
		t.Fatalf("secrets %q %q", a, b)
	}
}

func FuzzParseHeader(f *testing.F) {
	body := []byte(`{"id":"1"}`)
	f.Add(webhook.Sign("s", time.Unix(1_800_000_000, 0), body))
	f.Add("t=1,v1=zz")
	f.Add("t=,v1=")
	f.Add(",,,")
	f.Add("t=99999999999999999999,v1=00")
	f.Fuzz(func(t *testing.T, header string) {
		h, err := webhook.ParseHeader(header)
		if err != nil {
			if !errors.Is(err, webhook.ErrBadHeader) {
				t.Fatalf("error %v does not wrap ErrBadHeader", err)
			}
			return
		}
		if len(h.Signatures) == 0 {
			t.Fatal("parsed a header without signatures")
		}
		// A parsed header verifies only a body it signs: never this one
		// with a different secret.
		if err := webhook.VerifyAt("another secret", header, body, time.Hour, h.Time); err == nil {
			if webhook.Sign("another secret", h.Time, body) != header {
				t.Fatalf("header %q verified with the wrong secret", header)
			}
		}
	})
}
