package jsonstr

import (
	"bytes"
	"encoding/json"
	"testing"
)

var samples = []string{
	"",
	"plain ascii",
	`quote " and backslash \ and slash /`,
	"control \x00 \x01 \b \f \x1f \n \r \t \x7f",
	"html <a href='x'>&amp;</a>",
	"unicode é ß 日本 🙂",
	"separators \u2028 \u2029",
	"invalid \xff \xc3 \xed\xa0\x80 end",
}

func marshalNoHTML(t testing.TB, s string) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// TestAppendMatchesEncodingJSON: Append is encoding/json without HTML
// escaping, byte for byte.
func TestAppendMatchesEncodingJSON(t *testing.T) {
	for _, s := range samples {
		if got, want := Append([]byte("x"), s), append([]byte("x"), marshalNoHTML(t, s)...); !bytes.Equal(got, want) {
			t.Errorf("Append(%q) = %s, want %s", s, got, want)
		}
	}
}

// TestQuotedLenMatchesEncodingJSON: QuotedLen is the length of
// json.Marshal's string encoding, without the quotes.
func TestQuotedLenMatchesEncodingJSON(t *testing.T) {
	for _, s := range samples {
		want, _ := json.Marshal(s)
		if got := QuotedLen([]byte(s)); got != len(want)-2 {
			t.Errorf("QuotedLen(%q) = %d, want %d", s, got, len(want)-2)
		}
	}
}

func FuzzQuotedLen(f *testing.F) {
	for _, s := range samples {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, _ := json.Marshal(s)
		if got := QuotedLen([]byte(s)); got != len(want)-2 {
			t.Errorf("QuotedLen(%q) = %d, want %d", s, got, len(want)-2)
		}
		if got, want := Append(nil, s), marshalNoHTML(t, s); !bytes.Equal(got, want) {
			t.Errorf("Append(%q) = %s, want %s", s, got, want)
		}
	})
}

func BenchmarkAppend(b *testing.B) {
	s := `Barbara "Babs" Jensen <bjensen@example.com>, Überstraße 7, 日本`
	buf := make([]byte, 0, 256)
	b.SetBytes(int64(len(s)))
	for b.Loop() {
		buf = Append(buf[:0], s)
	}
}

func BenchmarkQuotedLen(b *testing.B) {
	body, _ := json.Marshal(map[string]any{"userName": "bjensen@example.com", "title": "Tour <Guide> & \"Lead\"", "addresses": []any{map[string]any{"streetAddress": "Überstraße 7\nBerlin"}}})
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		_ = QuotedLen(body)
	}
}
