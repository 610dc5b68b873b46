package filter

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	fp "github.com/scim2/filter-parser/v2"

	"github.com/scimless/scimless/pkg/scim/schema"
)

// FuzzParse checks that Parse never panics, that its errors are 400
// invalidFilter, that the canonical form of a filter parses to the same
// filter, and that filters github.com/scim2/filter-parser accepts mean the
// same when parsed by Parse.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`userName eq "bjensen@example.com"`,
		`userName Eq "Test.User@okta.local"`,
		`someuppercaseusername`,
		`externalId eq "00ujl29u0le5T6Aj10h7"`,
		`externalId eq jyoung`,
		`displayName eq "Tour Guides"`,
		`members[value eq "2819c223-7f76-453a-919d-413861904646"]`,
		`emails[type eq "work"].value eq "user@contoso.com"`,
		`emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]`,
		`userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")`,
		`userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")`,
		`title pr and userType eq "Employee"`,
		`title pr or userType eq "Intern"`,
		`meta.lastModified gt "2011-05-13T04:42:34Z"`,
		`meta.lastModified le "2011-05-13T04:42:34.5+02:00"`,
		`active eq "False"`,
		`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "701984"`,
		`urn:ietf:params:scim:schemas:core:2.0:User:name.familyName sw "J\u00e9"`,
		`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager[value eq "26118915"]`,
		`name.givenName eq "Ba\"bs\\"`,
		`emails[not (type eq "work")] and phoneNumbers pr`,
		`((userName sw "a" or userName sw "b") and not (active eq false)) or id eq "1"`,
		`groups.value eq null`,
		`x509Certificates.value gt "abc"`,
		`userName eq 1e999`,
		"userName\teq\n\"x\"",
	} {
		f.Add(s)
	}
	users, groups := schema.UserResourceType(), schema.GroupResourceType()
	resources := decode(f, usersJSON)
	resources = append(resources, decode(f, groupsJSON)...)
	f.Fuzz(func(t *testing.T, s string) {
		for _, rt := range []*schema.ResourceType{users, groups} {
			flt, err := Parse(rt, s)
			if err != nil {
				if e := checkInvalidFilter(t, err); e.Detail == internalDetail {
					t.Fatalf("Parse(%q) panicked", s)
				}
				if flt != nil {
					t.Fatalf("Parse(%q) returned a filter with an error", s)
				}
				continue
			}
			flt.IndexEquality()
			canonical := flt.String()
			if len(canonical) > maxLength {
				continue // escapes and canonical names can make it longer
			}
			again, err := Parse(rt, canonical)
			if err != nil {
				t.Fatalf("Parse(%q): canonical form %q does not parse: %v", s, canonical, err)
			}
			if again.String() != canonical {
				t.Fatalf("Parse(%q): canonical form %q parses as %q", s, canonical, again)
			}
			for _, r := range resources {
				if flt.Match(r) != again.Match(r) {
					t.Fatalf("Parse(%q): canonical form %q matches %v differently", s, canonical, r["id"])
				}
			}
		}

		// Differential check against filter-parser, on short inputs (its
		// backtracking parser is slow on long ones). It wraps integers that
		// do not fit in an int around, so skip long digit runs.
		if len(s) > 256 || hasLongNumber(s) {
			return
		}
		e, err := parseFP(s)
		if err != nil {
			return
		}
		want, werr := Compile(users, e)
		got, gerr := Parse(users, s)
		switch {
		case gerr != nil && werr == nil:
			// filter-parser accepts "and" and "or" without spaces inside
			// value filters (emails[type eq "x"andvalue pr]), which RFC 7644
			// does not allow.
			if glued(s) && strings.Contains(gerr.Error(), "syntax error") {
				return
			}
			t.Fatalf("Parse(%q): %v; filter-parser accepts it as %s", s, gerr, want)
		case gerr == nil && werr == nil && got.String() != want.String():
			t.Fatalf("Parse(%q) = %s; filter-parser reads %s", s, got, want)
		}
	})
}

func parseFP(s string) (e fp.Expression, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("filter-parser panicked: %v", r)
		}
	}()
	return fp.ParseFilter([]byte(s))
}

// glued reports whether s has "and" or "or" (in any case) not surrounded by
// spaces or brackets.
func glued(s string) bool {
	sep := func(i int) bool {
		return i < 0 || i >= len(s) || isSpace(s[i]) || isDelim(s[i]) && s[i] != '"'
	}
	l := strings.ToLower(s)
	for _, kw := range []string{"and", "or"} {
		for i := 0; ; {
			j := strings.Index(l[i:], kw)
			if j < 0 {
				break
			}
			j += i
			if !sep(j-1) || !sep(j+len(kw)) {
				return true
			}
			i = j + 1
		}
	}
	return false
}

func hasLongNumber(s string) bool {
	n := 0
	for i := 0; i < len(s); i++ {
		if isDigit(s[i]) {
			if n++; n > 15 {
				return true
			}
		} else {
			n = 0
		}
	}
	return false
}

// TestParseHostile checks inputs that stress the parser's limits.
func TestParseHostile(t *testing.T) {
	rt := schema.UserResourceType()
	for _, s := range []string{
		strings.Repeat("(", 4000),
		strings.Repeat("not (", 800),
		strings.Repeat(`emails[`, 500),
		strings.Repeat(`"`, 4095),
		strings.Repeat(`\`, 4096),
		strings.Repeat("userName pr and ", 255) + "userName pr",
		"userName eq \"\xff\xfe\"",
		"userName eq \x00",
	} {
		f, err := Parse(rt, s)
		if err != nil {
			if e := checkInvalidFilter(t, err); e.Detail == internalDetail || e.Status != http.StatusBadRequest {
				t.Errorf("Parse(%.20q…): %v", s, err)
			}
			continue
		}
		f.Match(map[string]any{"userName": "x"})
	}
}
