package selftest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Schema URNs the flows send and check.
const (
	userSchema       = "urn:ietf:params:scim:schemas:core:2.0:User"
	groupSchema      = "urn:ietf:params:scim:schemas:core:2.0:Group"
	enterpriseSchema = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	patchSchema      = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
	listSchema       = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
	errorSchema      = "urn:ietf:params:scim:api:messages:2.0:Error"
	spcSchema        = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
)

// object is a decoded JSON object.
type object map[string]any

// decodeObject decodes a JSON object, keeping numbers exact.
func decodeObject(b []byte) (object, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("body is not JSON: %w", err)
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("body is not a JSON object")
	}
	return object(m), nil
}

// get returns the value at a dotted path ("name.givenName"); attribute names
// match case-insensitively, as RFC 7643 says. A key that itself contains a
// dot (an extension URN) is found whole first.
func (o object) get(path string) (any, bool) {
	if v, ok := o.key(path); ok {
		return v, true
	}
	head, rest, found := strings.Cut(path, ".")
	v, ok := o.key(head)
	if !ok || !found {
		return v, ok
	}
	sub, isObj := v.(map[string]any)
	if !isObj {
		return nil, false
	}
	return object(sub).get(rest)
}

func (o object) key(k string) (any, bool) {
	if v, ok := o[k]; ok {
		return v, true
	}
	for name, v := range o {
		if strings.EqualFold(name, k) {
			return v, true
		}
	}
	return nil, false
}

// str returns the string at path, or "".
func (o object) str(path string) string {
	v, _ := o.get(path)
	s, _ := v.(string)
	return s
}

// boolean returns the boolean at path; ok is false when it is missing or of
// another type.
func (o object) boolean(path string) (b, ok bool) {
	v, _ := o.get(path)
	b, ok = v.(bool)
	return b, ok
}

// list returns the array at path.
func (o object) list(path string) []any {
	v, _ := o.get(path)
	l, _ := v.([]any)
	return l
}

// strings returns the string values of the array at path.
func (o object) strings(path string) []string {
	var out []string
	for _, e := range o.list(path) {
		if s, ok := e.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// memberIDs returns the "value" of each element of the array at path.
func (o object) memberIDs(path string) []string {
	var out []string
	for _, e := range o.list(path) {
		if m, ok := e.(map[string]any); ok {
			if s, ok := m["value"].(string); ok {
				out = append(out, s)
			}
		}
	}
	return out
}

// hasSchema reports whether the object's schemas list urn.
func (o object) hasSchema(urn string) bool {
	for _, s := range o.strings("schemas") {
		if strings.EqualFold(s, urn) {
			return true
		}
	}
	return false
}

// scimErrorDetail returns a short description of a SCIM error body, or of
// an unexpected body.
func scimErrorDetail(b []byte) string {
	o, err := decodeObject(b)
	if err != nil {
		return clip(strings.TrimSpace(string(b)), 120)
	}
	d := o.str("detail")
	if t := o.str("scimType"); t != "" {
		d = t + ": " + d
	}
	if d == "" {
		if m := o.str("message"); m != "" {
			d = m
		} else {
			d = clip(strings.TrimSpace(string(b)), 120)
		}
	}
	return clip(d, 160)
}

// clip shortens s to at most n bytes on one line.
func clip(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) <= n {
		return s
	}
	for n > 0 && n < len(s) && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n] + "…"
}

// decodeInto decodes a JSON body into v.
func decodeInto(b []byte, v any) error {
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("body: %w", err)
	}
	return nil
}
