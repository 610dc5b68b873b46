package xaas

import (
	"bytes"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// TestStrictInput: bad cursors and records that encoding/json would
// silently change are refused with 400 in the XaaS error shape, and
// nothing is stored.
func TestStrictInput(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	h.pushUsers(3, "")
	if rec := h.doJSON("PUT", Prefix+"/groups/g1", map[string]any{"displayName": "G"}); rec.Code != 201 {
		t.Fatalf("group: %d %s", rec.Code, rec.Body)
	}
	usersCursor := decode[struct{ Next string }](t, h.do("GET", Prefix+"/users?limit=1", "", nil)).Next
	if usersCursor == "" {
		t.Fatal("no next cursor")
	}
	foreign := encodeCursor(cursorUsers, "another-tenant", userID(0))
	raw := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	tests := []struct {
		name, method, path, ctype, body string
		stored                          string // a path that must still be 404 afterwards
	}{
		{name: "garbage users cursor", method: "GET", path: "/users?cursor=garbage"},
		{name: "garbage changed cursor", method: "GET", path: "/users?changedSince=2020-01-01T00:00:00Z&cursor=garbage"},
		{name: "users cursor for changed", method: "GET", path: "/users?changedSince=2020-01-01T00:00:00Z&cursor=" + usersCursor},
		{name: "garbage failed cursor", method: "GET", path: "/users?failed=true&cursor=%00"},
		{name: "bad failed flag", method: "GET", path: "/users?failed=maybe"},
		{name: "cursor of another tenant", method: "GET", path: "/users?cursor=" + foreign},
		{name: "cursor with a control character", method: "GET", path: "/users?cursor=" + raw("x1.u."+tenantTag(testTenant)+".a\x01")},
		{name: "cursor of another version", method: "GET", path: "/users?cursor=" + raw("x0.u."+tenantTag(testTenant)+".a")},
		{name: "overlong cursor", method: "GET", path: "/users?cursor=" + strings.Repeat("A", maxCursorLen+4)},
		{name: "garbage groups cursor", method: "GET", path: "/groups?cursor=garbage"},
		{name: "users cursor for groups", method: "GET", path: "/groups?cursor=" + usersCursor},
		{name: "garbage syncs cursor", method: "GET", path: "/syncs?cursor=garbage"},
		{name: "garbage items cursor", method: "GET", path: "/items?cursor=garbage"},
		{name: "users cursor for items", method: "GET", path: "/items?cursor=" + usersCursor},
		{name: "invalid UTF-8 in a value", method: "PUT", path: "/users/bad1", body: "{\"email\":\"a\xff@example.com\"}", stored: "/users/bad1"},
		{name: "invalid UTF-8 in the key", method: "PUT", path: "/items", body: "{\"id\":\"bad\xfe2\",\"email\":\"b@example.com\"}"},
		{name: "NUL in the path key", method: "PUT", path: "/users/bad%003", body: `{"email":"c@example.com"}`},
		{name: "control character in the body key", method: "PUT", path: "/items", body: `{"id":"bad\u00014","email":"d@example.com"}`},
		{name: "NUL in a value", method: "PUT", path: "/users/bad5", body: `{"email":"e\u0000@example.com"}`, stored: "/users/bad5"},
		{name: "invalid UTF-8 in the path key", method: "PUT", path: "/users/bad%FF6", body: `{"email":"f@example.com"}`},
		{name: "control character in a group name", method: "PUT", path: "/groups/bad7", body: `{"displayName":"G\u0007"}`, stored: "/groups/bad7"},
		{name: "invalid UTF-8 in a group", method: "PUT", path: "/groups/bad8", body: "{\"displayName\":\"G\xc0\"}", stored: "/groups/bad8"},
		{name: "control character in a member", method: "PUT", path: "/groups/bad9", body: `{"displayName":"G","members":["a\u0000"]}`, stored: "/groups/bad9"},
		{name: "get with a control character", method: "GET", path: "/users/a%01b"},
		{name: "delete with invalid UTF-8", method: "DELETE", path: "/groups/a%FFb"},
		{name: "get item with NUL", method: "GET", path: "/items/a%00"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := tc.path
			if !strings.HasPrefix(path, "/items") {
				path = Prefix + path
			}
			var body *bytes.Reader
			if tc.body != "" {
				body = bytes.NewReader([]byte(tc.body))
			} else {
				body = bytes.NewReader(nil)
			}
			rec := h.do(tc.method, path, "application/json", body)
			if rec.Code != http.StatusBadRequest {
				t.Fatalf("%d %s, want 400", rec.Code, rec.Body)
			}
			b := decode[map[string]any](t, rec)
			if b["status"] != 400.0 || b["detail"] == "" || len(b) != 2 {
				t.Errorf("error body %v, want {status, detail}", b)
			}
			if tc.stored != "" {
				p := tc.stored
				if !strings.HasPrefix(p, "/items") {
					p = Prefix + p
				}
				if rec := h.do("GET", p, "", nil); rec.Code != http.StatusNotFound {
					t.Errorf("GET %s after the refused write: %d %s", p, rec.Code, rec.Body)
				}
			}
		})
	}
	t.Run("bulk rows", func(t *testing.T) {
		body := "{\"id\":\"ok1\",\"email\":\"ok@example.com\"}\n{\"id\":\"bad\xff\"}\n{\"id\":\"ok2\",\"x\":\"\\u0000\"}\n"
		rec := h.do("POST", Prefix+"/users:bulk", "application/x-ndjson", strings.NewReader(body))
		res := decode[BulkResult](t, rec)
		if rec.Code != 200 || res.Created != 1 || res.Failed != 2 {
			t.Errorf("%d %+v, want 1 created and 2 failed", rec.Code, res)
		}
	})
}

func TestCursorRoundTrip(t *testing.T) {
	for _, pos := range []string{"a", "hr/42", "2026-01-05T09:00:00.000000000Z#u1@example.com", "a.b.c", strings.Repeat("é", 256), "2026-01-05T09:00:00.000000000Z#" + strings.Repeat("x", MaxExternalIDLen)} {
		c := encodeCursor(cursorChanged, "t1", pos)
		if url.QueryEscape(c) != c {
			t.Errorf("cursor %q needs escaping in a URL", c)
		}
		got, err := decodeCursor(cursorChanged, "t1", c)
		if err != nil || got != pos {
			t.Errorf("decode(encode(%q)) = %q, %v", pos, got, err)
		}
		if _, err := decodeCursor(cursorUsers, "t1", c); err == nil {
			t.Errorf("a changed cursor was taken for users")
		}
		if _, err := decodeCursor(cursorChanged, "t2", c); err == nil {
			t.Errorf("a cursor of t1 was taken for t2")
		}
	}
	if c := encodeCursor(cursorUsers, "t1", ""); c != "" {
		t.Errorf("no position: cursor %q, want none", c)
	}
}

func FuzzCursor(f *testing.F) {
	f.Add("garbage")
	f.Add(encodeCursor(cursorUsers, "t1", "u1"))
	f.Add(base64.RawURLEncoding.EncodeToString([]byte("x1.u.")))
	f.Fuzz(func(t *testing.T, c string) {
		pos, err := decodeCursor(cursorUsers, "t1", c)
		if err != nil || c == "" {
			return
		}
		if pos == "" || len(pos) > maxCursorPos || !utf8.ValidString(pos) || strings.IndexFunc(pos, unicode.IsControl) >= 0 {
			t.Fatalf("decoded a position %q that is no key", pos)
		}
		if again, err := decodeCursor(cursorUsers, "t1", encodeCursor(cursorUsers, "t1", pos)); err != nil || again != pos {
			t.Fatalf("round trip of %q: %q %v", pos, again, err)
		}
	})
}

// TestCleanPaths: repeated slashes and dot segments are served, not
// redirected; an escaped slash in a key stays part of the key.
func TestCleanPaths(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	if rec := h.doJSON("PUT", Prefix+"/users/hr%2F42", map[string]any{"email": "x@example.com"}); rec.Code != http.StatusCreated {
		t.Fatalf("PUT: %d %s", rec.Code, rec.Body)
	}
	for _, tc := range []struct {
		path string
		code int
		id   string
	}{
		{Prefix + "//users", http.StatusOK, ""},
		{Prefix + "/users/", http.StatusOK, ""},
		{"/xaas//v1/./users//hr%2F42", http.StatusOK, "hr/42"},
		{Prefix + "/users/hr%2F42/", http.StatusOK, "hr/42"},
		{"//items", http.StatusOK, ""},
		{Prefix + "/users/../groups", http.StatusOK, ""},
	} {
		rec := h.do("GET", tc.path, "", nil)
		if rec.Code != tc.code {
			t.Errorf("GET %s: %d %s, want %d", tc.path, rec.Code, rec.Body, tc.code)
			continue
		}
		if tc.id != "" {
			if b := decode[map[string]any](t, rec); b["externalId"] != tc.id {
				t.Errorf("GET %s: %v", tc.path, b)
			}
		}
	}
}
