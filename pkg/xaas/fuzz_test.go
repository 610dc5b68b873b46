package xaas

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"
)

// fuzzRows reads a body with every reader and checks the invariants of a
// row stream: rows are numbered 1, 2, …; a row without error has a valid
// key and valid attributes; reading ends (no endless loop) with io.EOF or
// one error.
func fuzzRows(t *testing.T, body []byte, format string) {
	rr, err := NewRowReader(bytes.NewReader(body), format)
	if err != nil {
		return
	}
	n := 0
	for {
		row, err := rr.Next()
		if err != nil {
			return
		}
		n++
		if n > len(body)+1 {
			t.Fatalf("more rows (%d) than bytes (%d)", n, len(body))
		}
		if row.N != n {
			t.Fatalf("row %d numbered %d", n, row.N)
		}
		if row.Err != nil {
			continue
		}
		rec := row.Record
		if checkExternalID(rec.ExternalID) != nil || rec.ExternalID != row.ExternalID {
			t.Fatalf("row %d: invalid key %q accepted", n, rec.ExternalID)
		}
		for k, v := range rec.Attrs {
			if checkName(k) != nil || v == "" || !utf8.ValidString(v) || len(v) > MaxValueLen {
				t.Fatalf("row %d: invalid attribute %q=%q accepted", n, k, v)
			}
		}
	}
}

func FuzzBulkCSV(f *testing.F) {
	f.Add([]byte("id,active,first_name,email\na,true,A,a@example.com\nb,false,B,\n"))
	f.Add([]byte("externalId,x\n\"a\nb\",\"c\"\"d\"\n,\n"))
	f.Add([]byte("id\n\"unterminated\n"))
	f.Add([]byte("\ufeffid;x\r\na;b\r\n"))
	f.Fuzz(func(t *testing.T, body []byte) { fuzzRows(t, body, FormatCSV) })
}

func FuzzBulkNDJSON(f *testing.F) {
	f.Add([]byte("{\"id\":\"a\",\"n\":1}\n{\"externalId\":\"b\",\"active\":false}\n"))
	f.Add([]byte("{bad\n\n{\"id\":\"\\u0000\"}\n"))
	f.Add([]byte(`[{"id":"a"},{"id":"b","x":{"y":1}}]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		fuzzRows(t, body, FormatNDJSON)
		fuzzRows(t, body, FormatJSON)
		fuzzRows(t, body, "")
	})
}

func FuzzMapping(f *testing.F) {
	f.Add("{street_number} {street_name}", "12", "Main St")
	f.Add("{{literal}} {a}", "", "x")
	f.Add("Dept: {a}, {b}", "\x00", "é")
	f.Fuzz(func(t *testing.T, tmpl, a, b string) {
		parts, err := parseTemplate(tmpl)
		if err != nil {
			return
		}
		attrs := map[string]string{"a": a, "b": b, "street_number": a, "street_name": b}
		var sb strings.Builder
		out := render(parts, attrs, &sb)
		if out != strings.TrimSpace(out) {
			t.Fatalf("untrimmed %q", out)
		}
		m, err := NewMapping(map[string]string{"userName": tmpl, "custom": tmpl})
		if err != nil {
			t.Fatalf("a valid template fails as a mapping: %v", err)
		}
		u, err := m.Apply("ext", attrs)
		if err == nil {
			if u.Profile.UserName == "" || u.Validate() != nil {
				t.Fatalf("invalid profile accepted: %+v", u)
			}
		}
	})
}
