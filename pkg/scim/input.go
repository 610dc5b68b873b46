package scim

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/scimless/scimless/pkg/scim/schema"
	"github.com/scimless/scimless/pkg/scim/scimerr"
)

// Strict input: what a client sends is stored as sent or refused with a SCIM
// 400, never silently changed. JSON decoding would turn invalid UTF-8 and
// unpaired UTF-16 surrogate escapes into U+FFFD, so bodies are checked
// first; identifiers that become keys, appear in logs and are matched by
// filters may not contain control characters.

// checkText refuses a body that is not valid UTF-8 or that holds a \u escape
// of an unpaired UTF-16 surrogate (400 invalidSyntax).
func checkText(b []byte) error {
	if !utf8.Valid(b) {
		at := 0
		for at < len(b) {
			r, size := utf8.DecodeRune(b[at:])
			if r == utf8.RuneError && size == 1 {
				break
			}
			at += size
		}
		return scimerr.InvalidSyntax("the request body is not valid UTF-8 (byte %d)", at)
	}
	for i := 0; i < len(b); i++ {
		if b[i] != '\\' || i+1 >= len(b) {
			continue
		}
		if b[i+1] != 'u' {
			i++ // an escape such as \\ or \": skip the escaped byte
			continue
		}
		r, ok := hex4(b, i+2)
		if !ok {
			continue // not a valid escape: the JSON decoder reports it
		}
		switch {
		case r >= 0xD800 && r < 0xDC00: // high surrogate: a low one must follow
			lo, ok := hex4(b, i+8)
			if !ok || i+7 >= len(b) || b[i+6] != '\\' || b[i+7] != 'u' || lo < 0xDC00 || lo > 0xDFFF {
				return scimerr.InvalidSyntax("the request body has an unpaired UTF-16 surrogate escape at byte %d", i)
			}
			i += 11
		case r >= 0xDC00 && r <= 0xDFFF:
			return scimerr.InvalidSyntax("the request body has an unpaired UTF-16 surrogate escape at byte %d", i)
		default:
			i += 5
		}
	}
	return nil
}

// hex4 parses the four hex digits at b[at:].
func hex4(b []byte, at int) (rune, bool) {
	if at < 0 || at+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[at : at+4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

// hasControl reports whether s contains a control character (Unicode Cc:
// U+0000–U+001F, U+007F–U+009F).
func hasControl(s string) bool {
	return strings.IndexFunc(s, unicode.IsControl) >= 0
}

// checkIdentifier refuses an identifier value (userName, externalId, a
// group's displayName, a member id) with a control character.
func checkIdentifier(attr, v string) error {
	if hasControl(v) {
		return scimerr.InvalidValue("%s must not contain control characters", attr)
	}
	return nil
}

// checkSchemas validates a resource's "schemas": an array of strings, each
// the resource type's schema or one of its extensions. Other URNs are refused
// (400 invalidSyntax, as an unknown extension is) unless the tenant passes unknown extensions through.
func checkSchemas(rt *schema.ResourceType, v any, passThrough bool) error {
	if v == nil {
		return nil
	}
	list, ok := v.([]any)
	if !ok {
		return scimerr.InvalidSyntax("schemas must be an array of schema URNs")
	}
	for _, e := range list {
		urn, ok := e.(string)
		if !ok {
			return scimerr.InvalidSyntax("schemas must be an array of schema URNs")
		}
		if s, _ := rt.SchemaByURN(urn); s != nil || passThrough {
			continue
		}
		return scimerr.InvalidSyntax("schemas: %q is not a schema of a %s (declare an extension with scimless schema set, or allow pass-through with tenant setting extensionPassThrough=true)", truncateID(urn), rt.Name)
	}
	return nil
}
