package xaas

import (
	"errors"
	"io"
	"strings"
	"testing"
)

func TestRecordFromJSON(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		pathID  string
		want    Record
		wantErr string
	}{
		{name: "sample items API shape", body: `{"id":"a@example.com","active":true,"first_name":"A","postcode":75001,"email":"a@example.com"}`,
			want: Record{ExternalID: "a@example.com", Active: true, Attrs: map[string]string{"first_name": "A", "postcode": "75001", "email": "a@example.com"}}},
		{name: "externalId key, active string", body: `{"externalId":"x","active":"false","n":1.50,"b":true}`,
			want: Record{ExternalID: "x", Attrs: map[string]string{"n": "1.50", "b": "true"}}},
		{name: "empty and null values left out, meta ignored", body: `{"id":"x","a":"","b":null,"meta":{"version":3}}`,
			want: Record{ExternalID: "x", Active: true, Attrs: map[string]string{}}},
		{name: "key from the path", body: `{"first_name":"A"}`, pathID: "p1",
			want: Record{ExternalID: "p1", Active: true, Attrs: map[string]string{"first_name": "A"}}},
		{name: "path and body agree", body: `{"externalId":"p1"}`, pathID: "p1",
			want: Record{ExternalID: "p1", Active: true, Attrs: map[string]string{}}},
		{name: "path and body differ", body: `{"externalId":"p2"}`, pathID: "p1", wantErr: "differs"},
		{name: "id and externalId differ", body: `{"id":"a","externalId":"b"}`, wantErr: "differ"},
		{name: "missing key", body: `{"first_name":"A"}`, wantErr: "missing externalId"},
		{name: "nested value", body: `{"id":"x","address":{"city":"Paris"}}`, wantErr: "must be a string, number or boolean"},
		{name: "array value", body: `{"id":"x","tags":["a"]}`, wantErr: "must be a string"},
		{name: "bad active", body: `{"id":"x","active":"maybe"}`, wantErr: "active"},
		{name: "not an object", body: `["x"]`, wantErr: "JSON object"},
		{name: "malformed", body: `{"id":"x",`, wantErr: "malformed"},
		{name: "trailing data", body: `{"id":"x"} {"id":"y"}`, wantErr: "trailing"},
		{name: "key too long", body: `{"id":"` + strings.Repeat("x", 513) + `"}`, wantErr: "longer than 512"},
		{name: "control character in key", body: `{"id":"a\u0001b"}`, wantErr: "control"},
		{name: "value too long", body: `{"id":"x","v":"` + strings.Repeat("v", MaxValueLen+1) + `"}`, wantErr: "longer than"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := recordFromJSON([]byte(tc.body), tc.pathID)
			if tc.wantErr != "" {
				var re *errRecord
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errors.As(err, &re) {
					t.Fatalf("err = %v, want a record error containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.ExternalID != tc.want.ExternalID || got.Active != tc.want.Active || !mapsEqual(got.Attrs, tc.want.Attrs) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestHashRecord(t *testing.T) {
	a := hashRecord(true, false, map[string]string{"a": "1", "b": "2"})
	if b := hashRecord(true, false, map[string]string{"b": "2", "a": "1"}); a != b {
		t.Error("hash depends on map order")
	}
	for name, h := range map[string]string{
		"inactive":       hashRecord(false, false, map[string]string{"a": "1", "b": "2"}),
		"deleted":        hashRecord(true, true, map[string]string{"a": "1", "b": "2"}),
		"value changed":  hashRecord(true, false, map[string]string{"a": "1", "b": "3"}),
		"shifted bytes":  hashRecord(true, false, map[string]string{"a": "12", "b": ""}),
		"attribute gone": hashRecord(true, false, map[string]string{"a": "1"}),
	} {
		if h == a {
			t.Errorf("%s: same hash", name)
		}
	}
}

func TestGroupFromJSON(t *testing.T) {
	tests := []struct {
		name        string
		body        string
		wantMembers string
		wantErr     string
	}{
		{name: "ids", body: `{"displayName":"Eng","members":["b","a","b"]}`, wantMembers: "a,b"},
		{name: "objects", body: `{"displayName":"Eng","members":[{"externalId":"a"},{"value":"c"}]}`, wantMembers: "a,c"},
		{name: "no members", body: `{"displayName":"Eng","description":"d"}`},
		{name: "no name", body: `{"members":["a"]}`, wantErr: "displayName"},
		{name: "unknown field", body: `{"displayName":"Eng","owner":"x"}`, wantErr: "unknown field"},
		{name: "empty member", body: `{"displayName":"Eng","members":[""]}`, wantErr: "non-empty"},
		{name: "other key", body: `{"externalId":"other","displayName":"Eng"}`, wantErr: "differs"},
		{name: "member too long", body: `{"displayName":"Eng","members":["` + strings.Repeat("m", 256) + `"]}`, wantErr: "255"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g, err := groupFromJSON([]byte(tc.body), "g1")
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(g.Members, ",") != tc.wantMembers || g.ExternalID != "g1" {
				t.Errorf("group %+v", g)
			}
		})
	}
	many := `{"displayName":"Big","members":["` + strings.Repeat(`m","`, MaxGroupMembers) + `last"]}`
	if _, err := groupFromJSON([]byte(strings.ReplaceAll(many, `"m"`, `"m"`)), "g"); err == nil {
		// duplicates collapse: build distinct ids instead
		var b strings.Builder
		b.WriteString(`{"displayName":"Big","members":[`)
		for i := 0; i <= MaxGroupMembers; i++ {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(`"` + userID(i) + `"`)
		}
		b.WriteString("]}")
		if _, err := groupFromJSON([]byte(b.String()), "g"); !errors.Is(err, errTooManyMembers) {
			t.Errorf("%d members: err = %v, want errTooManyMembers", MaxGroupMembers+1, err)
		}
	}
}

// readAll reads every row of a reader.
func readAll(t testing.TB, rr RowReader) ([]Row, error) {
	var rows []Row
	for {
		r, err := rr.Next()
		if err == io.EOF {
			return rows, nil
		}
		if err != nil {
			return rows, err
		}
		rows = append(rows, r)
	}
}

func TestRowReaders(t *testing.T) {
	type want struct {
		id  string
		err string
	}
	tests := []struct {
		name    string
		format  string
		body    string
		rows    []want
		badBody string // NewRowReader refuses the body
		fatal   string // the stream breaks after rows
	}{
		{name: "csv", format: FormatCSV, body: "id,active,first_name\na,true,A\nb,false,B\n",
			rows: []want{{id: "a"}, {id: "b"}}},
		{name: "csv externalId column, CRLF, BOM, blank line", format: FormatCSV, body: "\ufeffname,ExternalId\r\nA,a\r\n\r\nB,b\r\n",
			rows: []want{{id: "a"}, {id: "b"}}},
		{name: "csv bad rows do not stop the others", format: FormatCSV,
			body: "id,active,x\na,true,1\nb,maybe,2\nc,true\n,true,4\nd,true,\"q\"x\ne,true,5\n",
			rows: []want{{id: "a"}, {id: "b", err: "active"}, {id: "c", err: "fields"}, {err: "missing externalId"}, {id: "d", err: "malformed CSV"}, {id: "e"}}},
		{name: "csv without key column", format: FormatCSV, body: "name,email\nA,a\n", badBody: "no id or externalId"},
		{name: "csv duplicate column", format: FormatCSV, body: "id,x,x\n", badBody: "twice"},
		{name: "csv empty", format: FormatCSV, body: "", badBody: "empty"},
		{name: "ndjson", format: FormatNDJSON, body: "{\"id\":\"a\"}\n\n{\"externalId\":\"b\",\"active\":false}\r\n{bad\n{\"x\":1}\n",
			rows: []want{{id: "a"}, {id: "b"}, {err: "malformed"}, {err: "missing externalId"}}},
		{name: "ndjson long line", format: FormatNDJSON, body: "{\"id\":\"" + strings.Repeat("x", MaxRecordBytes) + "\"}\n{\"id\":\"b\"}",
			rows: []want{{err: "longer than"}, {id: "b"}}},
		{name: "json array", format: FormatJSON, body: ` [{"id":"a"},{"id":"b","x":[1]},{"externalId":"c"}] `,
			rows: []want{{id: "a"}, {id: "b", err: "must be a string"}, {id: "c"}}},
		{name: "json single object", format: FormatJSON, body: `{"id":"a"}`, rows: []want{{id: "a"}}},
		{name: "json syntax error ends the body", format: FormatJSON, body: `[{"id":"a"},{"id":"b"`,
			rows: []want{{id: "a"}, {err: "malformed JSON"}}},
		{name: "json not an array", format: FormatJSON, body: `"x"`, badBody: "expected a JSON array"},
		{name: "sniffed csv", body: "id\na\n", rows: []want{{id: "a"}}},
		{name: "sniffed json", body: "\n [{\"id\":\"a\"}]", rows: []want{{id: "a"}}},
		{name: "sniffed ndjson", body: "{\"id\":\"a\"}\n{\"id\":\"b\"}", rows: []want{{id: "a"}, {id: "b"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rr, err := NewRowReader(strings.NewReader(tc.body), tc.format)
			if tc.badBody != "" {
				if !errors.Is(err, ErrBadBody) || !strings.Contains(err.Error(), tc.badBody) {
					t.Fatalf("err = %v, want ErrBadBody with %q", err, tc.badBody)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			rows, err := readAll(t, rr)
			if err != nil && (tc.fatal == "" || !strings.Contains(err.Error(), tc.fatal)) {
				t.Fatalf("stream error %v", err)
			}
			if len(rows) != len(tc.rows) {
				t.Fatalf("%d rows %+v, want %d", len(rows), rows, len(tc.rows))
			}
			for i, w := range tc.rows {
				r := rows[i]
				if r.N != i+1 || r.ExternalID != w.id {
					t.Errorf("row %d: N %d id %q, want %d %q", i, r.N, r.ExternalID, i+1, w.id)
				}
				if w.err == "" && r.Err != nil || w.err != "" && (r.Err == nil || !strings.Contains(r.Err.Error(), w.err)) {
					t.Errorf("row %d: err %v, want %q", i, r.Err, w.err)
				}
			}
		})
	}
}

func TestBulkFormat(t *testing.T) {
	for ct, want := range map[string]string{
		"text/csv; charset=utf-8": FormatCSV, "application/x-ndjson": FormatNDJSON, "application/json": FormatJSON,
		"": "", "text/plain": "unsupported", "application/jsonl": FormatNDJSON, ";;": "unsupported",
	} {
		if got := BulkFormat(ct); got != want {
			t.Errorf("BulkFormat(%q) = %q, want %q", ct, got, want)
		}
	}
}
