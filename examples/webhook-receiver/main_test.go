package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/scimless/scimless/pkg/webhook"
)

func TestReceiver(t *testing.T) {
	var out bytes.Buffer
	rc := &receiver{secret: "whsec_example", out: &out, seen: map[string]time.Time{}}
	body := []byte(`{"id":"0001","type":"user.created","tenant":"acme","time":"2026-01-01T00:00:00Z","data":{"id":"u1"},"changed":[],"actor":{}}`)
	post := func(sig string, b []byte) int {
		req := httptest.NewRequest(http.MethodPost, "/scimless", bytes.NewReader(b))
		req.Header.Set(webhook.SignatureHeader, sig)
		req.Header.Set(webhook.EventIDHeader, "0001")
		w := httptest.NewRecorder()
		rc.ServeHTTP(w, req)
		return w.Code
	}
	good := webhook.Sign("whsec_example", time.Now(), body)
	tests := []struct {
		name string
		sig  string
		body []byte
		want int
	}{
		{"valid", good, body, 204},
		{"redelivery", webhook.Sign("whsec_example", time.Now(), body), body, 204},
		{"tampered", good, bytes.Replace(body, []byte("created"), []byte("deleted"), 1), 401},
		{"stale", webhook.Sign("whsec_example", time.Now().Add(-time.Hour), body), body, 401},
		{"wrong secret", webhook.Sign("whsec_other", time.Now(), body), body, 401},
		{"no signature", "", body, 400},
	}
	for _, tc := range tests {
		if got := post(tc.sig, tc.body); got != tc.want {
			t.Errorf("%s: status %d, want %d", tc.name, got, tc.want)
		}
	}
	if n := strings.Count(out.String(), "user.created"); n != 1 {
		t.Fatalf("printed %d times (a redelivery must be skipped):\n%s", n, out.String())
	}
}
