package xaas

import (
	"strings"
	"testing"
)

func TestMappingTemplates(t *testing.T) {
	attrs := map[string]string{"a": "A", "b": "B", "c": "C", "num": "12", "street": "Main St"}
	tests := []struct {
		tmpl string
		in   map[string]string
		want string
	}{
		{"{a}", attrs, "A"},
		{"{num} {street}", attrs, "12 Main St"},
		{"{num} {street}", map[string]string{"street": "Main St"}, "Main St"},
		{"{num} {street}", map[string]string{"num": "12"}, "12"},
		{"{num} {street}", nil, ""},
		{"{a}, {b}, {c}", map[string]string{"a": "A", "c": "C"}, "A, C"},
		{"Dept: {a}", attrs, "Dept: A"},
		{"Dept: {missing}", attrs, ""},
		{"{a} (x)", attrs, "A (x)"},
		{"{{{a}}}", attrs, "{A}"},
		{"  {a}  ", attrs, "A"},
	}
	for _, tc := range tests {
		parts, err := parseTemplate(tc.tmpl)
		if err != nil {
			t.Errorf("%q: %v", tc.tmpl, err)
			continue
		}
		var b strings.Builder
		if got := render(parts, tc.in, &b); got != tc.want {
			t.Errorf("%q with %v = %q, want %q", tc.tmpl, tc.in, got, tc.want)
		}
	}
	for _, bad := range []string{"", "plain text", "{a", "a}", "{}", "{a{b}}", "{\x01}"} {
		if _, err := parseTemplate(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestDefaultMappingOnSampleRecord(t *testing.T) {
	rec := map[string]string{"title": "Mr", "first_name": "Brad", "last_name": "Gibson", "street_number": "9278",
		"street_name": "New Road", "city": "Kilcoole", "state": "Waterford", "country": "IE", "postcode": "93027",
		"email": "brad.gibson@example.com", "phone": "011-962-7516", "cell": "081-454-0666", "dob": "1993-07-20T09:44:18.674Z"}
	u, err := DefaultMapping().Apply("brad.gibson@example.com", rec)
	if err != nil {
		t.Fatal(err)
	}
	p := u.Profile
	if p.UserName != "brad.gibson@example.com" || p.Email != p.UserName || p.FirstName != "Brad" || p.LastName != "Gibson" ||
		p.MobilePhone != "081-454-0666" || p.SecondEmail != "" || p.HomeAddress != "" {
		t.Errorf("base attributes %+v", p)
	}
	want := map[string]string{"title": "Mr", "displayName": "Brad Gibson", "primaryPhone": "011-962-7516",
		"streetAddress": "9278 New Road", "city": "Kilcoole", "state": "Waterford", "zipCode": "93027", "countryCode": "IE"}
	if !mapsEqual(p.Custom, want) {
		t.Errorf("custom attributes %v, want %v", p.Custom, want)
	}
}

func TestMappingValidation(t *testing.T) {
	m := DefaultMapping()
	tests := []struct {
		name    string
		attrs   map[string]string
		wantErr string
	}{
		{"no email", map[string]string{"first_name": "A"}, "userName is empty"},
		{"bad email", map[string]string{"email": "not-an-email"}, "email"},
		{"long first name", map[string]string{"email": "a@example.com", "first_name": strings.Repeat("n", 51)}, "firstName"},
		{"ok", map[string]string{"email": "a@example.com"}, ""},
	}
	for _, tc := range tests {
		_, err := m.Apply("x", tc.attrs)
		if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
			t.Errorf("%s: err %v, want %q", tc.name, err, tc.wantErr)
		}
	}
}

func TestParseMapping(t *testing.T) {
	tests := []struct {
		doc     string
		wantErr string
	}{
		{`{"attributes":{"userName":"{email}","zipCode":"{postcode}"}}`, ""},
		{`{"userName":"{login}","department":"{dept}"}`, ""},
		{`{"attributes":{"firstName":"{first}"}}`, "userName must be mapped"},
		{`{"userName":"{email}","bad-name":"{x}"}`, "invalid Okta attribute name"},
		{`{"userName":"email"}`, "names no field"},
		{`{"userName":3}`, "expected"},
		{`[]`, "not a JSON object"},
		{`{}`, "no attributes"},
	}
	for _, tc := range tests {
		m, err := ParseMapping([]byte(tc.doc))
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%s: err %v, want %q", tc.doc, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.doc, err)
			continue
		}
		b, _ := m.MarshalJSON()
		again, err := ParseMapping(b)
		if err != nil || !mapsEqual(again.Templates(), m.Templates()) {
			t.Errorf("%s: round trip %s: %v", tc.doc, b, err)
		}
	}
}
