package filter

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	fp "github.com/scim2/filter-parser/v2"

	"github.com/scimless/scimless/pkg/scim/schema"
	"github.com/scimless/scimless/pkg/scim/scimerr"
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
		fe, err := parseFP(s)
		if err != nil {
			return
		}
		e, err := fromFP(fe)
		if err != nil {
			return // a string filter-parser took with an invalid escape
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

// fromFP converts a filter-parser expression to this package's, decoding
// the JSON escapes of strings (filter-parser keeps them) and normalising
// operators.
func fromFP(e fp.Expression) (Expr, error) {
	path := func(p fp.AttributePath) AttrPath {
		return AttrPath{URN: p.URI(), Name: p.AttributeName, Sub: p.SubAttributeName()}
	}
	switch x := e.(type) {
	case *fp.AttributeExpression:
		v := x.CompareValue
		switch y := v.(type) {
		case string:
			s, err := unquote(y)
			if err != nil {
				return nil, err
			}
			v = s
		case int:
			v = float64(y)
		}
		return &Comparison{Path: path(x.AttributePath), Op: Op(strings.ToLower(string(x.Operator))), Value: v}, nil
	case *fp.LogicalExpression:
		l, err := fromFP(x.Left)
		if err != nil {
			return nil, err
		}
		r, err := fromFP(x.Right)
		if err != nil {
			return nil, err
		}
		return &Logical{Op: Op(strings.ToLower(string(x.Operator))), Operands: []Expr{l, r}}, nil
	case *fp.NotExpression:
		y, err := fromFP(x.Expression)
		if err != nil {
			return nil, err
		}
		return &Not{X: y}, nil
	case *fp.ValuePath:
		f, err := fromFP(x.ValueFilter)
		if err != nil {
			return nil, err
		}
		return &ValuePath{Path: path(x.AttributePath), Filter: f}, nil
	}
	return nil, fmt.Errorf("unexpected filter-parser expression %T", e)
}

func parseFP(s string) (fp.Expression, error) {
	return recovered(func() (fp.Expression, error) { return fp.ParseFilter([]byte(s)) })
}

func parseFPPath(s string) (fp.Path, error) {
	return recovered(func() (fp.Path, error) { return fp.ParsePath([]byte(s)) })
}

// recovered calls f, turning a panic of filter-parser into an error.
func recovered[T any](f func() (T, error)) (v T, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("filter-parser panicked: %v", r)
		}
	}()
	return f()
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

// FuzzParsePath checks that ParsePath never panics, that its errors are 400
// invalidPath, that the String form of a path parses to the same path, and
// that paths github.com/scim2/filter-parser accepts mean the same when
// parsed by ParsePath.
func FuzzParsePath(f *testing.F) {
	for _, s := range []string{
		"userName", "name.givenName", " NAME.givenname ", "emails", `emails[type eq "work"]`, `emails[type eq "work"].value`,
		`emails [ TYPE EQ "work" ].Value`, `emails[type eq "work" and value co "@x" and primary eq true]`,
		`emails[(type eq "work" or type eq "home") and not (primary eq false)]`, `members[value eq "u\"1"]`,
		`emails[value eq "a]b\"c"]`, `manager[value eq "m1"]`, "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
		`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager[value eq "m1"].displayName`,
		"urn:ietf:params:scim:schemas:core:2.0:User:name.givenName", "$ref", "a.b.c", "emails[", "emails]",
		"emails[type eq 1.5e3]", "emails[type eq 01]", "emails[type eq work]", `roles[primary eq "True"].value`,
		`emails[type eq "work"][value pr]`, `emails[type[x eq 1]]`, "", " ", "\xff",
		"emails[type eq wo" + strings.Repeat("\x10", 700) + "rk]", // String escapes it beyond the length limit
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePath(s)
		if err != nil {
			e, ok := scimerr.As(err)
			if !ok || e.Status != http.StatusBadRequest || e.ScimType != scimerr.InvalidPathType {
				t.Fatalf("ParsePath(%q): error %v is not a 400 invalidPath", s, err)
			}
		} else if len(p.String()) <= maxLength { // escapes can make it longer
			again, err := ParsePath(p.String())
			if err != nil {
				t.Fatalf("ParsePath(%q): its String %q does not parse: %v", s, p, err)
			}
			if again.String() != p.String() {
				t.Fatalf("ParsePath(%q): its String %q parses as %q", s, p, again)
			}
		}

		if len(s) > 256 || hasLongNumber(s) {
			return
		}
		fpp, ferr := parseFPPath(s)
		if ferr != nil {
			return
		}
		want := Path{
			Attr: AttrPath{URN: fpp.AttributePath.URI(), Name: fpp.AttributePath.AttributeName, Sub: fpp.AttributePath.SubAttributeName()},
			Sub:  fpp.SubAttributeName(),
		}
		if fpp.ValueExpression != nil {
			if want.Filter, ferr = fromFP(fpp.ValueExpression); ferr != nil {
				return // a string filter-parser took with an invalid escape
			}
			want.Filter = flatten(want.Filter)
		}
		switch {
		case err != nil:
			if glued(s) {
				return
			}
			t.Fatalf("ParsePath(%q): %v; filter-parser accepts it as %s", s, err, want)
		case p.String() != want.String():
			t.Fatalf("ParsePath(%q) = %s; filter-parser reads %s", s, p, want)
		}
	})
}

// flatten merges nested operations of the same kind, as in filter-parser's
// binary trees, into one Logical, as the parser builds them.
func flatten(e Expr) Expr {
	switch x := e.(type) {
	case *Logical:
		out := &Logical{Op: x.Op}
		for _, y := range x.Operands {
			y = flatten(y)
			if l, ok := y.(*Logical); ok && l.Op == x.Op {
				out.Operands = append(out.Operands, l.Operands...)
			} else {
				out.Operands = append(out.Operands, y)
			}
		}
		return out
	case *Not:
		return &Not{X: flatten(x.X)}
	case *ValuePath:
		return &ValuePath{Path: x.Path, Filter: flatten(x.Filter)}
	}
	return e
}
