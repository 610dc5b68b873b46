package selftest

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseFlows(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
		err  string
	}{
		{"okta", []string{"okta"}, ""},
		{"xaas, OKTA ,groups", []string{"okta", "groups", "xaas"}, ""},
		{"all", AllFlows(), ""},
		{"okta,okta", []string{"okta"}, ""},
		{"", nil, "no flows"},
		{"okta,,entra", nil, "empty flow name"},
		{"okta,bulk", nil, `unknown flow "bulk"`},
	} {
		got, err := ParseFlows(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseFlows(%q) error %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("ParseFlows(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

func FuzzParseFlows(f *testing.F) {
	for _, s := range []string{"okta", "all", "okta,entra,groups", " X ,", "okta,,", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseFlows(s)
		if err != nil {
			return
		}
		if len(got) == 0 {
			t.Fatalf("ParseFlows(%q): no flows and no error", s)
		}
		all := AllFlows()
		last := -1
		for _, g := range got {
			i := slices.Index(all, g)
			if i <= last {
				t.Fatalf("ParseFlows(%q) = %v: unknown, repeated or out of order", s, got)
			}
			last = i
		}
	})
}

func TestParseListResponse(t *testing.T) {
	const ok = `{"schemas":["urn:ietf:params:scim:api:messages:2.0:ListResponse"],"totalResults":3,"startIndex":1,"itemsPerPage":2,"Resources":[{"id":"a"},{"id":"b"}]}`
	for _, tc := range []struct{ body, err string }{
		{ok, ""},
		{`{"schemas":["urn:ietf:params:scim:api:messages:2.0:ListResponse"],"totalResults":0,"startIndex":1,"itemsPerPage":0,"Resources":[]}`, ""},
		{`{"schemas":["urn:ietf:params:scim:api:messages:2.0:ListResponse"],"totalResults":0}`, ""},
		{`{"totalResults":0}`, "schemas lacks"},
		{`{"schemas":["urn:ietf:params:scim:api:messages:2.0:ListResponse"]}`, "totalResults is missing"},
		{`{"schemas":["urn:ietf:params:scim:api:messages:2.0:ListResponse"],"totalResults":"1","Resources":[{}]}`, "is a string"},
		{`{"schemas":["urn:ietf:params:scim:api:messages:2.0:ListResponse"],"totalResults":1.5}`, "not a non-negative integer"},
		{`{"schemas":["urn:ietf:params:scim:api:messages:2.0:ListResponse"],"totalResults":1,"resources":[{"id":"a"}]}`, `spelt "resources"`},
		{`{"schemas":["urn:ietf:params:scim:api:messages:2.0:ListResponse"],"totalResults":1,"Resources":null}`, "Resources is missing"},
		{`{"schemas":["urn:ietf:params:scim:api:messages:2.0:ListResponse"],"totalResults":1,"Resources":{}}`, "not an array"},
		{`{"schemas":["urn:ietf:params:scim:api:messages:2.0:ListResponse"],"totalResults":2,"itemsPerPage":1,"Resources":[{},{}]}`, "itemsPerPage is 1"},
		{`{"schemas":["urn:ietf:params:scim:api:messages:2.0:ListResponse"],"totalResults":1,"Resources":[{},{}]}`, "less than"},
		{`[1]`, "not a JSON object"},
		{`{`, "not JSON"},
	} {
		_, err := parseListResponse([]byte(tc.body))
		if (tc.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("parseListResponse(%s) = %v, want %q", tc.body, err, tc.err)
		}
	}
}

func FuzzParseListResponse(f *testing.F) {
	f.Add([]byte(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:ListResponse"],"totalResults":3,"startIndex":1,"itemsPerPage":2,"Resources":[{"id":"a"},{"id":"b"}]}`))
	f.Add([]byte(`{"totalResults":"x","Resources":null}`))
	f.Add([]byte(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:ListResponse"],"totalResults":1e400}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := parseListResponse(b)
		if err != nil {
			return
		}
		if l.TotalResults < len(l.Resources) || (l.ItemsPerPage >= 0 && l.ItemsPerPage != len(l.Resources)) {
			t.Fatalf("accepted inconsistent counters: %+v", l)
		}
		_ = l.ids()
	})
}

func TestParseEventPage(t *testing.T) {
	for _, tc := range []struct{ body, err string }{
		{`{"data":[{"id":"1","type":"user.created","tenant":"t","time":"2026-01-01T00:00:00Z","data":{"id":"u"},"changed":["active"],"actor":{"token":"x"}}],"next":"c1"}`, ""},
		{`{"data":[],"next":""}`, ""},
		{`{"next":"c"}`, `"data" is missing`},
		{`{"data":[{"type":"x"}]}`, "lacks an id"},
		{`{"data":[1]}`, "data[0]"},
		{`{"data":{}}`, "events page"},
		{`nope`, "events page"},
	} {
		_, err := ParseEventPage([]byte(tc.body))
		if (tc.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("ParseEventPage(%s) = %v, want %q", tc.body, err, tc.err)
		}
	}
}

func FuzzParseEventPage(f *testing.F) {
	f.Add([]byte(`{"data":[{"id":"1","type":"user.created","data":{"id":"u"}}],"next":"c1"}`))
	f.Add([]byte(`{"data":null}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParseEventPage(b)
		if err != nil {
			return
		}
		for _, e := range p.Data {
			if e.ID == "" || e.Type == "" {
				t.Fatalf("accepted an event without id or type: %+v", e)
			}
		}
	})
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		v    string
		want time.Duration
		ok   bool
	}{
		{"3", 3 * time.Second, true},
		{" 0 ", 0, true},
		{"-1", 0, false},
		{"", 0, false},
		{"soon", 0, false},
		{"Thu, 01 Jan 2026 00:00:05 GMT", 5 * time.Second, true},
		{"Wed, 31 Dec 2025 23:59:00 GMT", 0, true},
	} {
		got, ok := retryAfter(tc.v, now)
		if got != tc.want || ok != tc.ok {
			t.Errorf("retryAfter(%q) = %v, %v; want %v, %v", tc.v, got, ok, tc.want, tc.ok)
		}
	}
}

func FuzzRetryAfter(f *testing.F) {
	for _, s := range []string{"1", "Thu, 01 Jan 2026 00:00:05 GMT", "-5", "99999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if d, ok := retryAfter(s, time.Now()); ok && d < 0 {
			t.Fatalf("retryAfter(%q) = %v: negative wait", s, d)
		}
	})
}
