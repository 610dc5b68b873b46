package localdb

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"
)

// A direct decoder for DynamoDB JSON items and values: encoding/json would
// otherwise decode every attribute value twice (once to find it, once into
// its typed form). encoding/json has already validated the input when these
// run, so syntax errors here only guard against misuse.

// UnmarshalJSON decodes an item in DynamoDB JSON.
func (it *item) UnmarshalJSON(data []byte) error {
	d := &avDecoder{b: data}
	d.ws()
	if d.peek() == 'n' { // null
		*it = nil
		return nil
	}
	m, err := d.object()
	if err != nil {
		return err
	}
	*it = m
	return nil
}

type avDecoder struct {
	b []byte
	i int
}

var errAVSyntax = errors.New("malformed attribute value")

func (d *avDecoder) ws() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

func (d *avDecoder) peek() byte {
	if d.i < len(d.b) {
		return d.b[d.i]
	}
	return 0
}

func (d *avDecoder) expect(c byte) error {
	d.ws()
	if d.peek() != c {
		return errAVSyntax
	}
	d.i++
	return nil
}

// str reads a JSON string.
func (d *avDecoder) str() (string, error) {
	d.ws()
	if d.peek() != '"' {
		return "", errAVSyntax
	}
	start := d.i
	d.i++
	escaped := false
	for d.i < len(d.b) {
		c := d.b[d.i]
		switch {
		case c == '\\':
			escaped = true
			d.i += 2
			continue
		case c == '"':
			d.i++
			if !escaped && utf8.Valid(d.b[start+1:d.i-1]) {
				return string(d.b[start+1 : d.i-1]), nil
			}
			var s string
			if err := json.Unmarshal(d.b[start:d.i], &s); err != nil {
				return "", err
			}
			return s, nil
		}
		d.i++
	}
	return "", errAVSyntax
}

// members reads {"name": member, ...}, calling member for each name with
// the decoder at the member's value.
func (d *avDecoder) members(member func(name string) error) error {
	if err := d.expect('{'); err != nil {
		return err
	}
	d.ws()
	if d.peek() == '}' {
		d.i++
		return nil
	}
	for {
		k, err := d.str()
		if err != nil {
			return err
		}
		if err := d.expect(':'); err != nil {
			return err
		}
		if err := member(k); err != nil {
			return err
		}
		d.ws()
		switch d.peek() {
		case ',':
			d.i++
		case '}':
			d.i++
			return nil
		default:
			return errAVSyntax
		}
	}
}

// object reads {"name": value, ...}.
func (d *avDecoder) object() (map[string]value, error) { return objectOf(d, d.value) }

// set reads a set of kind k (type name typ): a non-empty list of strings,
// each converted by conv when it is not nil. empty is DynamoDB's message
// for an empty set of that type.
func (d *avDecoder) set(k kind, typ, empty string, conv func(string) (string, error)) (value, error) {
	l, err := d.strings()
	if err != nil {
		return value{}, err
	}
	if len(l) == 0 {
		return value{}, validationf("One or more parameter values were invalid: %s", empty)
	}
	if conv != nil {
		for i, x := range l {
			if l[i], err = conv(x); err != nil {
				return value{}, err
			}
		}
	}
	s, err := newSet(l, typ)
	return value{k: k, c: s}, err
}

// objectOf reads {"name": member, ...}, each member read by read.
func objectOf[V any](d *avDecoder, read func() (V, error)) (map[string]V, error) {
	m := map[string]V{}
	err := d.members(func(k string) error {
		v, err := read()
		m[k] = v
		return err
	})
	if err != nil {
		return nil, err
	}
	return m, nil
}

// value reads one attribute value {"T": ...}.
func (d *avDecoder) value() (value, error) {
	if err := d.expect('{'); err != nil {
		return value{}, err
	}
	var v value
	n := 0
	d.ws()
	if d.peek() == '}' {
		d.i++
		return value{}, validationf("Supplied AttributeValue is empty, must contain exactly one of the supported datatypes")
	}
	for {
		typ, err := d.str()
		if err != nil {
			return value{}, err
		}
		if err := d.expect(':'); err != nil {
			return value{}, err
		}
		d.ws()
		if d.peek() == 'n' { // "T": null counts as absent, as in encoding/json
			d.i += 4
		} else {
			n++
			if v, err = d.typed(typ); err != nil {
				return value{}, err
			}
		}
		d.ws()
		switch d.peek() {
		case ',':
			d.i++
			continue
		case '}':
			d.i++
		default:
			return value{}, errAVSyntax
		}
		break
	}
	switch {
	case n == 0:
		return value{}, validationf("Supplied AttributeValue is empty, must contain exactly one of the supported datatypes")
	case n > 1:
		return value{}, validationf("Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes")
	}
	return v, nil
}

func (d *avDecoder) strings() ([]string, error) {
	if err := d.expect('['); err != nil {
		return nil, err
	}
	out := []string{}
	d.ws()
	if d.peek() == ']' {
		d.i++
		return out, nil
	}
	for {
		s, err := d.str()
		if err != nil {
			return nil, err
		}
		out = append(out, s)
		d.ws()
		switch d.peek() {
		case ',':
			d.i++
		case ']':
			d.i++
			return out, nil
		default:
			return nil, errAVSyntax
		}
	}
}

func (d *avDecoder) boolean() (bool, error) {
	d.ws()
	switch {
	case len(d.b)-d.i >= 4 && string(d.b[d.i:d.i+4]) == "true":
		d.i += 4
		return true, nil
	case len(d.b)-d.i >= 5 && string(d.b[d.i:d.i+5]) == "false":
		d.i += 5
		return false, nil
	}
	return false, errAVSyntax
}

func decodeB64(s string) (string, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return "", &apiError{typ: "SerializationException", msg: "invalid base64 in a binary attribute value"}
	}
	return string(b), nil
}

// typed decodes the value of an attribute value of type typ (S, N, B, BOOL,
// NULL, SS, NS, BS, L, M). It is long because it is one switch over
// DynamoDB's ten types, each with its own validation.
func (d *avDecoder) typed(typ string) (value, error) {
	switch typ {
	case "S":
		s, err := d.str()
		return value{k: kS, s: s}, err
	case "N":
		s, err := d.str()
		if err != nil {
			return value{}, err
		}
		c, err := canonicalNumber(s)
		return value{k: kN, s: c}, err
	case "B":
		s, err := d.str()
		if err != nil {
			return value{}, err
		}
		b, err := decodeB64(s)
		return value{k: kB, s: b}, err
	case "BOOL":
		b, err := d.boolean()
		return value{k: kBOOL, b: b}, err
	case "NULL":
		b, err := d.boolean()
		if err == nil && !b {
			return value{}, validationf("One or more parameter values were invalid: Null attribute value types must have the value of true")
		}
		return value{k: kNULL, b: true}, err
	case "SS":
		return d.set(kSS, "SS", "An string set  may not be empty", nil)
	case "NS":
		return d.set(kNS, "NS", "An number set  may not be empty", canonicalNumber)
	case "BS":
		return d.set(kBS, "BS", "Binary sets should not be empty", decodeB64)
	case "L":
		if err := d.expect('['); err != nil {
			return value{}, err
		}
		l := []value{}
		d.ws()
		if d.peek() == ']' {
			d.i++
			return value{k: kL, c: l}, nil
		}
		for {
			e, err := d.value()
			if err != nil {
				return value{}, err
			}
			l = append(l, e)
			d.ws()
			switch d.peek() {
			case ',':
				d.i++
				continue
			case ']':
				d.i++
				return value{k: kL, c: l}, nil
			}
			return value{}, errAVSyntax
		}
	case "M":
		m, err := d.object()
		return value{k: kM, c: m}, err
	}
	return value{}, &apiError{typ: "SerializationException", msg: fmt.Sprintf("Unknown attribute value type %q", typ)}
}

// rawKey reads an object's member name that has no escapes and returns its
// bytes, without copying them (ok is false for any other name).
func (d *avDecoder) rawKey() (k []byte, ok bool) {
	d.ws()
	if d.peek() != '"' {
		return nil, false
	}
	for j := d.i + 1; j < len(d.b); j++ {
		switch d.b[j] {
		case '\\':
			return nil, false
		case '"':
			k = d.b[d.i+1 : j]
			d.i = j + 1
			return k, true
		}
	}
	return nil, false
}

// stringMap reads {"name": "string", ...}.
func (d *avDecoder) stringMap() (map[string]string, error) { return objectOf(d, d.str) }

// getItemRequest is a GetItem request.
type getItemRequest struct {
	TableName string
	Key       item
	projectionInput
	ConsistentRead bool
}

// decodeGetItem decodes a GetItem request. A request in the shape the SDK
// sends (only the members below, spelled as DynamoDB spells them, none of
// them null) is read directly, without encoding/json's reflection; any
// other goes through decode, so the result and every error are the same
// either way.
func decodeGetItem(body []byte, req *getItemRequest) error {
	if json.Valid(body) && fastGetItem(body, req) {
		return nil
	}
	*req = getItemRequest{}
	return decode(body, req)
}

func fastGetItem(body []byte, req *getItemRequest) bool {
	d := avDecoder{b: body}
	if d.expect('{') != nil {
		return false
	}
	d.ws()
	if d.peek() == '}' {
		return false // decode says what is missing
	}
	for {
		k, ok := d.rawKey()
		if !ok || d.expect(':') != nil {
			return false
		}
		d.ws()
		if d.peek() == 'n' {
			return false // null: encoding/json leaves the member as it is
		}
		var err error
		switch string(k) {
		case "TableName":
			req.TableName, err = d.str()
		case "Key":
			req.Key, err = d.object()
		case "ConsistentRead":
			req.ConsistentRead, err = d.boolean()
		case "ProjectionExpression":
			var s string
			s, err = d.str()
			req.ProjectionExpression = &s
		case "ExpressionAttributeNames":
			if req.ExpressionAttributeNames != nil {
				return false // encoding/json merges a repeated map
			}
			req.ExpressionAttributeNames, err = d.stringMap()
		case "AttributesToGet":
			req.AttributesToGet, err = d.strings()
		default:
			return false
		}
		if err != nil {
			return false
		}
		d.ws()
		switch d.peek() {
		case ',':
			d.i++
		case '}':
			d.i++
			d.ws()
			return d.i == len(d.b)
		default:
			return false
		}
	}
}
