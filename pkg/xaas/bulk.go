package xaas

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"strings"
)

// Bulk body formats.
const (
	FormatCSV    = "text/csv"
	FormatNDJSON = "application/x-ndjson"
	FormatJSON   = "application/json"
)

// Row is one record of a bulk body, or the reason it could not be read.
type Row struct {
	// N is the row's 1-based position among the body's records (for CSV,
	// the data rows after the header).
	N int
	// Record is the row's record when Err is nil.
	Record Record
	// ExternalID is the row's key when it could be read, even if Err is set.
	ExternalID string
	// Err says what is wrong with this row; the other rows are unaffected.
	Err error
}

// RowReader reads a bulk body row by row, holding one row at a time.
type RowReader interface {
	// Next returns the next row. It returns io.EOF after the last row, and
	// another error when the rest of the body cannot be read (the body is
	// cut, too large, or not the format at all); rows returned before stay
	// valid.
	Next() (Row, error)
}

// ErrBadBody means a bulk body cannot be read at all (no header, not an
// array, …): the request is refused.
var ErrBadBody = errors.New("bad bulk body")

// BulkFormat returns the bulk format of a Content-Type header value, or ""
// for an unsupported one. A missing Content-Type is sniffed from the body's
// first byte by NewRowReader.
func BulkFormat(contentType string) string {
	if contentType == "" {
		return ""
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return "unsupported"
	}
	switch mt {
	case "text/csv", "application/csv":
		return FormatCSV
	case "application/x-ndjson", "application/ndjson", "application/jsonl", "application/x-jsonlines", "application/json-seq":
		return FormatNDJSON
	case "application/json":
		return FormatJSON
	}
	return "unsupported"
}

// NewRowReader returns a reader of body in the given format ("" sniffs it:
// '[' is a JSON array, '{' NDJSON, anything else CSV). A body that cannot
// be read at all (empty, a CSV header without a key column, …) yields an
// error wrapping ErrBadBody.
func NewRowReader(body io.Reader, format string) (RowReader, error) {
	br := bufio.NewReaderSize(body, 64<<10)
	skipBOM(br)
	if format == "" {
		b, err := peekNonSpace(br)
		if err != nil {
			return nil, fmt.Errorf("%w: empty body", ErrBadBody)
		}
		switch b {
		case '[':
			format = FormatJSON
		case '{':
			format = FormatNDJSON
		default:
			format = FormatCSV
		}
	}
	switch format {
	case FormatCSV:
		return newCSVReader(br)
	case FormatNDJSON:
		return &ndjsonReader{r: br}, nil
	case FormatJSON:
		return newJSONReader(br)
	}
	return nil, fmt.Errorf("%w: unsupported format %q", ErrBadBody, format)
}

func skipBOM(br *bufio.Reader) {
	if b, err := br.Peek(3); err == nil && bytes.Equal(b, []byte("\xef\xbb\xbf")) {
		_, _ = br.Discard(3)
	}
}

func peekNonSpace(br *bufio.Reader) (byte, error) {
	for {
		b, err := br.ReadByte()
		if err != nil {
			return 0, err
		}
		if b != ' ' && b != '\t' && b != '\r' && b != '\n' {
			_ = br.UnreadByte()
			return b, nil
		}
	}
}

// csvReader reads CSV with a header row. The "id" or "externalId" column
// (any case) is the key; "active" is the active flag; every other column is
// an attribute named by its header. Empty cells are left out.
type csvReader struct {
	r       *csv.Reader
	header  []string
	key     int
	active  int
	n       int
	lastErr error
}

func newCSVReader(br *bufio.Reader) (*csvReader, error) {
	r := csv.NewReader(br)
	r.FieldsPerRecord = -1
	r.ReuseRecord = true
	header, err := r.Read()
	if err == io.EOF {
		return nil, fmt.Errorf("%w: empty CSV (a header row is required)", ErrBadBody)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: CSV header: %v", ErrBadBody, err)
	}
	c := &csvReader{r: r, header: make([]string, len(header)), key: -1, active: -1}
	seen := map[string]bool{}
	for i, h := range header {
		h = strings.TrimSpace(h)
		c.header[i] = h
		switch {
		case strings.EqualFold(h, fieldExternalID) || strings.EqualFold(h, fieldID):
			if c.key >= 0 {
				return nil, fmt.Errorf("%w: CSV header has both id and externalId columns", ErrBadBody)
			}
			c.key = i
		case strings.EqualFold(h, fieldActive):
			c.active = i
		case strings.EqualFold(h, fieldMeta):
			return nil, fmt.Errorf("%w: CSV column %q is reserved", ErrBadBody, h)
		default:
			if err := checkName(h); err != nil {
				return nil, fmt.Errorf("%w: CSV header: %v", ErrBadBody, err)
			}
		}
		if seen[h] {
			return nil, fmt.Errorf("%w: CSV header names column %q twice", ErrBadBody, h)
		}
		seen[h] = true
	}
	if c.key < 0 {
		return nil, fmt.Errorf("%w: CSV header has no id or externalId column", ErrBadBody)
	}
	if len(c.header) > MaxAttributes+2 {
		return nil, fmt.Errorf("%w: more than %d CSV columns", ErrBadBody, MaxAttributes+2)
	}
	return c, nil
}

// Next implements RowReader.
func (c *csvReader) Next() (Row, error) {
	for {
		fields, err := c.r.Read()
		if err == io.EOF {
			return Row{}, io.EOF
		}
		var pe *csv.ParseError
		if err != nil && !errors.As(err, &pe) {
			return Row{}, fmt.Errorf("reading CSV: %w", err)
		}
		if err == nil && len(fields) == 1 && fields[0] == "" && len(c.header) > 1 {
			continue // a blank line
		}
		c.n++
		row := Row{N: c.n}
		if c.key < len(fields) {
			row.ExternalID = strings.TrimSpace(fields[c.key])
		}
		if err != nil {
			if errors.Is(err, csv.ErrQuote) && pe.Line != pe.StartLine {
				// An unterminated quote swallowed the rest of the body.
				row.Err = recordErr("malformed CSV from line %d: %v", pe.StartLine, pe.Err)
			} else {
				row.Err = recordErr("malformed CSV at line %d: %v", pe.StartLine, pe.Err)
			}
			return row, nil
		}
		if len(fields) != len(c.header) {
			row.Err = recordErr("%d fields, the header has %d", len(fields), len(c.header))
			return row, nil
		}
		rec := Record{ExternalID: row.ExternalID, Active: true, Attrs: make(map[string]string, len(fields))}
		for i, v := range fields {
			switch i {
			case c.key:
			case c.active:
				b, ok := parseBool(v)
				if !ok {
					row.Err = recordErr("active must be true or false, not %q", v)
					return row, nil
				}
				rec.Active = b
			default:
				if v == "" {
					continue
				}
				if err := checkValue(c.header[i], v); err != nil {
					row.Err = err
					return row, nil
				}
				rec.Attrs[c.header[i]] = strings.Clone(v) // fields are reused
			}
		}
		if err := checkExternalID(rec.ExternalID); err != nil {
			row.Err = err
			return row, nil
		}
		rec.ExternalID = strings.Clone(rec.ExternalID)
		row.ExternalID = rec.ExternalID
		row.Record = rec
		return row, nil
	}
}

// ndjsonReader reads one JSON object per line; blank lines are skipped.
type ndjsonReader struct {
	r *bufio.Reader
	n int
}

// Next implements RowReader.
func (d *ndjsonReader) Next() (Row, error) {
	for {
		line, tooLong, err := readLine(d.r, MaxRecordBytes)
		if err != nil && (err != io.EOF || (len(line) == 0 && !tooLong)) {
			if err == io.EOF {
				return Row{}, io.EOF
			}
			return Row{}, fmt.Errorf("reading NDJSON: %w", err)
		}
		trimmed := bytes.TrimSpace(line)
		if len(trimmed) == 0 && !tooLong {
			if err == io.EOF {
				return Row{}, io.EOF
			}
			continue
		}
		d.n++
		row := Row{N: d.n}
		if tooLong {
			row.Err = recordErr("line longer than %d bytes", MaxRecordBytes)
			return row, nil
		}
		return decodedRow(row, trimmed), nil
	}
}

// decodedRow completes row with the record raw holds, or why it holds none.
func decodedRow(row Row, raw []byte) Row {
	rec, err := recordFromJSON(raw, "")
	row.ExternalID = rec.ExternalID
	if err != nil {
		row.Err = err
		return row
	}
	row.Record = rec
	return row
}

// readLine reads one line (without its end) of at most max bytes; a longer
// line is skipped to its end and reported with tooLong.
func readLine(r *bufio.Reader, max int) (line []byte, tooLong bool, err error) {
	var buf []byte
	for {
		chunk, err := r.ReadSlice('\n')
		if len(buf)+len(chunk) > max+2 {
			tooLong = true
			buf = nil
		} else if !tooLong {
			buf = append(buf, chunk...)
		}
		switch {
		case err == bufio.ErrBufferFull:
			continue
		case err != nil:
			return buf, tooLong, err
		}
		return bytes.TrimRight(buf, "\r\n"), tooLong, nil
	}
}

// jsonReader reads a JSON array of objects (or a single object) with a
// streaming decoder: one element in memory at a time. A syntax error ends
// the body (the decoder cannot find the next element after one).
type jsonReader struct {
	dec    *json.Decoder
	n      int
	single bool
	done   bool
}

func newJSONReader(br *bufio.Reader) (*jsonReader, error) {
	b, err := peekNonSpace(br)
	if err != nil {
		return nil, fmt.Errorf("%w: empty body", ErrBadBody)
	}
	d := &jsonReader{dec: json.NewDecoder(br)}
	switch b {
	case '[':
		if _, err := d.dec.Token(); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrBadBody, err)
		}
	case '{':
		d.single = true
	default:
		return nil, fmt.Errorf("%w: expected a JSON array of records", ErrBadBody)
	}
	return d, nil
}

// Next implements RowReader.
func (d *jsonReader) Next() (Row, error) {
	if d.done {
		return Row{}, io.EOF
	}
	if !d.single && !d.dec.More() {
		d.done = true
		if _, err := d.dec.Token(); err != nil {
			return Row{}, fmt.Errorf("reading JSON: %w", err)
		}
		return Row{}, io.EOF
	}
	var raw json.RawMessage
	err := d.dec.Decode(&raw)
	d.n++
	row := Row{N: d.n}
	if d.single {
		d.done = true
	}
	if err != nil {
		d.done = true
		var se *json.SyntaxError
		if errors.As(err, &se) || errors.Is(err, io.ErrUnexpectedEOF) {
			row.Err = recordErr("malformed JSON (the rest of the body was not read): %v", err)
			return row, nil
		}
		return Row{}, fmt.Errorf("reading JSON: %w", err)
	}
	if len(raw) > MaxRecordBytes {
		row.Err = recordErr("record longer than %d bytes", MaxRecordBytes)
		return row, nil
	}
	return decodedRow(row, raw), nil
}
