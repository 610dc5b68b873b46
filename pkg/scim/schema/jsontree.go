package schema

// The line-numbered JSON tree of an extension file: every value keeps the
// offset of one of its bytes, so that an error names the line to fix.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
)

// A JSON value with the offset of one of its bytes (a value's line is the
// line of that byte: its opening delimiter or its last byte, which for a
// scalar is on the line it starts on).
type jnode struct {
	kind    jkind
	off     int
	str     string
	boolean bool
	num     string
	members []jmember
	elems   []*jnode
}

type jkind uint8

const (
	jNull jkind = iota
	jBool
	jNumber
	jString
	jObject
	jArray
)

type jmember struct {
	key    string
	keyOff int
	val    *jnode
}

func (n *jnode) member(key string) *jmember {
	for i := range n.members {
		if n.members[i].key == key {
			return &n.members[i]
		}
	}
	return nil
}

// describe names a value's JSON type for error messages.
func (n *jnode) describe() string {
	switch n.kind {
	case jNull:
		return "null"
	case jBool:
		return fmt.Sprint(n.boolean)
	case jNumber:
		return "the number " + clip(n.num)
	case jString:
		return "the string " + q(n.str)
	case jObject:
		return "an object"
	}
	return "an array"
}

type fileParser struct {
	data []byte
	nl   []int // offsets of the newlines
	dec  *json.Decoder
}

// line returns the 1-based line of the byte at off.
func (p *fileParser) line(off int) int {
	return sort.SearchInts(p.nl, off) + 1
}

func (p *fileParser) errAt(off int, format string, args ...any) *FileError {
	return &FileError{Line: p.line(off), Reason: fmt.Sprintf(format, args...)}
}

// jsonError turns a syntax error of the whole file into a FileError.
func (p *fileParser) jsonError(err error) *FileError {
	var se *json.SyntaxError
	if !errors.As(err, &se) {
		return &FileError{Line: 1, Reason: "invalid JSON: " + err.Error()}
	}
	// Offset counts the bytes read, the offending one included.
	off := int(se.Offset) - 1
	off = max(0, min(off, len(p.data)-1))
	reason := "invalid JSON: " + se.Error()
	if int(se.Offset) >= len(p.data) && strings.Contains(se.Error(), "end of JSON input") {
		reason = "invalid JSON: the file ends before the JSON does (a missing ']' or '}'?)"
		off = len(bytes.TrimRight(p.data, " \t\r\n")) - 1
	} else {
		switch c := p.data[off]; {
		case c == '}' || c == ']':
			if prev := bytes.TrimRight(p.data[:off], " \t\r\n"); len(prev) > 0 && prev[len(prev)-1] == ',' {
				reason += " (JSON allows no comma before '" + string(c) + "')"
			}
		case c == '/' || c == '#':
			reason += " (JSON has no comments)"
		case c == '\'':
			reason += ` (JSON strings use double quotes)`
		case strings.Contains(se.Error(), "after object key:value pair"), strings.Contains(se.Error(), "after array element"):
			reason += " (a missing comma?)"
		case strings.HasSuffix(se.Error(), "after object key"):
			reason += " (a missing ':'?)"
		}
	}
	return &FileError{Line: p.line(off), Reason: reason}
}

// decErr maps a decoder error on an already validated file (not expected).
func (p *fileParser) decErr(err error) *FileError {
	return p.errAt(int(p.dec.InputOffset()), "invalid JSON: %v", err)
}

// value reads the next JSON value into a tree.
func (p *fileParser) value(depth int) (*jnode, error) {
	tok, err := p.dec.Token()
	if err != nil {
		return nil, p.decErr(err)
	}
	off := int(p.dec.InputOffset()) - 1
	if depth > maxDepth {
		return nil, p.errAt(off, "JSON nested more than %d levels deep", maxDepth)
	}
	switch t := tok.(type) {
	case nil:
		return &jnode{kind: jNull, off: off}, nil
	case bool:
		return &jnode{kind: jBool, off: off, boolean: t}, nil
	case json.Number:
		return &jnode{kind: jNumber, off: off, num: string(t)}, nil
	case string:
		return &jnode{kind: jString, off: off, str: t}, nil
	case json.Delim:
		switch t {
		case '{':
			n := &jnode{kind: jObject, off: off}
			seen := map[string]int{}
			for p.dec.More() {
				kt, err := p.dec.Token()
				if err != nil {
					return nil, p.decErr(err)
				}
				key, _ := kt.(string)
				koff := int(p.dec.InputOffset()) - 1
				if first, dup := seen[key]; dup {
					return nil, p.errAt(koff, "duplicate key %s (first on line %d)", q(key), p.line(first))
				}
				seen[key] = koff
				v, err := p.value(depth + 1)
				if err != nil {
					return nil, err
				}
				n.members = append(n.members, jmember{key: key, keyOff: koff, val: v})
			}
			if _, err := p.dec.Token(); err != nil { // '}'
				return nil, p.decErr(err)
			}
			return n, nil
		case '[':
			n := &jnode{kind: jArray, off: off}
			for p.dec.More() {
				v, err := p.value(depth + 1)
				if err != nil {
					return nil, err
				}
				n.elems = append(n.elems, v)
			}
			if _, err := p.dec.Token(); err != nil { // ']'
				return nil, p.decErr(err)
			}
			return n, nil
		}
	}
	return nil, p.errAt(off, "invalid JSON: unexpected %v", tok)
}
