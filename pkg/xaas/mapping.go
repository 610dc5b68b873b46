package xaas

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/scimless/scimless/pkg/store"
	"github.com/scimless/scimless/pkg/xaas/okta"
)

// A Mapping turns a source record into an Okta identity source profile:
// one template per profile attribute. A template is text with {field}
// placeholders naming record attributes ("{first_name}", "{street_number}
// {street_name}"); "{{" and "}}" are literal braces. Every value is a
// string. An attribute whose fields are all empty is left out; text between
// two fields is kept only when both sides produced text, so a missing
// street number does not leave a leading space.
//
// The targets are Okta's base attributes (userName, firstName, lastName,
// email, secondEmail, mobilePhone, homeAddress) and custom attributes of the
// Custom Identity Source app's profile (which must exist in Okta). A record
// that maps to a profile Okta would refuse (no userName, a malformed email,
// a name over 50 characters, …) is reported and not sent.
type Mapping struct {
	attrs []mappedAttr // sorted by target
}

type mappedAttr struct {
	target string
	src    string
	parts  []tmplPart
}

type tmplPart struct {
	field string // a placeholder; else literal
	lit   string
}

// defaultTemplates is the built-in mapping, for the record shape of the
// sample items API (id, active, title, first_name, last_name,
// street_number, street_name, city, state, country, postcode, email, phone,
// cell, dob) and the custom attributes the Anything-as-a-Source how-to adds
// to its Custom Identity Source app (title, displayName, primaryPhone,
// zipCode, streetAddress, city, state, countryCode).
func defaultTemplates() map[string]string {
	return map[string]string{
		"userName":      "{email}",
		"email":         "{email}",
		"firstName":     "{first_name}",
		"lastName":      "{last_name}",
		"mobilePhone":   "{cell}",
		"primaryPhone":  "{phone}",
		"displayName":   "{first_name} {last_name}",
		"title":         "{title}",
		"streetAddress": "{street_number} {street_name}",
		"city":          "{city}",
		"state":         "{state}",
		"zipCode":       "{postcode}",
		"countryCode":   "{country}",
	}
}

// DefaultMapping returns the built-in mapping for the record shape of the sample items API.
func DefaultMapping() *Mapping {
	m, err := NewMapping(defaultTemplates())
	if err != nil {
		panic(err) // the built-in templates are valid
	}
	return m
}

// maxTemplateLen bounds a template.
const maxTemplateLen = 1024

// NewMapping compiles target → template pairs.
func NewMapping(templates map[string]string) (*Mapping, error) {
	if len(templates) == 0 {
		return nil, errors.New("mapping: no attributes")
	}
	if len(templates) > MaxAttributes {
		return nil, fmt.Errorf("mapping: more than %d attributes", MaxAttributes)
	}
	m := &Mapping{}
	for target, src := range templates {
		if !validTarget(target) {
			return nil, fmt.Errorf("mapping: invalid Okta attribute name %q (letters, digits and _; at most 100)", target)
		}
		parts, err := parseTemplate(src)
		if err != nil {
			return nil, fmt.Errorf("mapping: %s: %w", target, err)
		}
		m.attrs = append(m.attrs, mappedAttr{target: target, src: src, parts: parts})
	}
	slices.SortFunc(m.attrs, func(a, b mappedAttr) int { return strings.Compare(a.target, b.target) })
	if !slices.ContainsFunc(m.attrs, func(a mappedAttr) bool { return a.target == "userName" }) {
		return nil, errors.New("mapping: userName must be mapped (Okta requires it)")
	}
	return m, nil
}

func validTarget(s string) bool {
	if s == "" || len(s) > 100 {
		return false
	}
	for i, c := range s {
		ok := c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || (i > 0 && c >= '0' && c <= '9')
		if !ok {
			return false
		}
	}
	return true
}

func parseTemplate(s string) ([]tmplPart, error) {
	if len(s) > maxTemplateLen {
		return nil, fmt.Errorf("template longer than %d bytes", maxTemplateLen)
	}
	if !utf8.ValidString(s) {
		return nil, errors.New("template is not valid UTF-8")
	}
	var parts []tmplPart
	var lit strings.Builder
	fields := 0
	for i := 0; i < len(s); {
		switch {
		case strings.HasPrefix(s[i:], "{{"):
			lit.WriteByte('{')
			i += 2
		case strings.HasPrefix(s[i:], "}}"):
			lit.WriteByte('}')
			i += 2
		case s[i] == '{':
			end := strings.IndexByte(s[i+1:], '}')
			if end < 0 {
				return nil, fmt.Errorf("unclosed { in %q", s)
			}
			name := s[i+1 : i+1+end]
			if strings.ContainsAny(name, "{") || checkName(name) != nil {
				return nil, fmt.Errorf("invalid field name %q in %q", name, s)
			}
			if lit.Len() > 0 {
				parts = append(parts, tmplPart{lit: lit.String()})
				lit.Reset()
			}
			parts = append(parts, tmplPart{field: name})
			fields++
			i += end + 2
		case s[i] == '}':
			return nil, fmt.Errorf("unmatched } in %q", s)
		default:
			lit.WriteByte(s[i])
			i++
		}
	}
	if lit.Len() > 0 {
		parts = append(parts, tmplPart{lit: lit.String()})
	}
	if fields == 0 {
		return nil, fmt.Errorf("template %q names no field", s)
	}
	return parts, nil
}

// render fills a template from attrs; "" when every field is empty.
func render(parts []tmplPart, attrs map[string]string, b *strings.Builder) string {
	b.Reset()
	wrote := false
	pending := "" // text after a field, written only if another field follows
	for i, p := range parts {
		if p.field == "" {
			switch {
			case i == 0: // leading text
				b.WriteString(p.lit)
			case i == len(parts)-1: // trailing text
				if wrote {
					b.WriteString(p.lit)
				}
			default:
				pending = p.lit
			}
			continue
		}
		v := attrs[p.field]
		if v == "" {
			if !wrote {
				pending = ""
			}
			continue
		}
		if wrote {
			b.WriteString(pending)
		}
		pending = ""
		b.WriteString(v)
		wrote = true
	}
	if !wrote {
		return ""
	}
	return strings.TrimSpace(b.String())
}

// Templates returns the mapping as target → template.
func (m *Mapping) Templates() map[string]string {
	out := make(map[string]string, len(m.attrs))
	for _, a := range m.attrs {
		out[a.target] = a.src
	}
	return out
}

// MarshalJSON encodes the mapping as {"attributes": {target: template}}.
func (m *Mapping) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Attributes map[string]string `json:"attributes"`
	}{m.Templates()})
}

// ParseMapping decodes a mapping document: {"attributes": {target:
// template, …}} or the bare {target: template, …} object.
func ParseMapping(data []byte) (*Mapping, error) {
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("mapping: not a JSON object: %w", err)
	}
	if raw, ok := doc["attributes"]; ok && len(doc) == 1 && bytes.HasPrefix(bytes.TrimSpace(raw), []byte("{")) {
		data = raw
	}
	var templates map[string]string
	if err := json.Unmarshal(data, &templates); err != nil {
		return nil, fmt.Errorf("mapping: expected {\"attributes\": {\"oktaAttribute\": \"{sourceField}\", …}}: %w", err)
	}
	return NewMapping(templates)
}

// Apply maps a record to an Okta user and validates it as Okta would. The
// error says why the record cannot be sent.
func (m *Mapping) Apply(externalID string, attrs map[string]string) (okta.User, error) {
	u := okta.User{ExternalID: externalID}
	var b strings.Builder
	for _, a := range m.attrs {
		v := render(a.parts, attrs, &b)
		if v == "" {
			continue
		}
		switch a.target {
		case "userName":
			u.Profile.UserName = v
		case "firstName":
			u.Profile.FirstName = v
		case "lastName":
			u.Profile.LastName = v
		case "email":
			u.Profile.Email = v
		case "secondEmail":
			u.Profile.SecondEmail = v
		case "mobilePhone":
			u.Profile.MobilePhone = v
		case "homeAddress":
			u.Profile.HomeAddress = v
		default:
			if u.Profile.Custom == nil {
				u.Profile.Custom = make(map[string]string, len(m.attrs))
			}
			u.Profile.Custom[a.target] = v
		}
	}
	if u.Profile.UserName == "" {
		return u, errors.New("invalid profile: userName is empty")
	}
	if err := u.Validate(); err != nil {
		var ve *okta.ValidationError
		if errors.As(err, &ve) {
			return u, fmt.Errorf("invalid profile: %s: %s", strings.TrimPrefix(ve.Field, "profile."), ve.Reason)
		}
		return u, fmt.Errorf("invalid profile: %w", err)
	}
	return u, nil
}

// LoadMapping returns the tenant's mapping (the default when none is set).
func LoadMapping(ctx context.Context, st *store.Store, tenant string) (*Mapping, error) {
	doc, err := st.GetXaaSDoc(ctx, tenant, store.XaaSDocMapping)
	if errors.Is(err, store.ErrNotFound) {
		return DefaultMapping(), nil
	}
	if err != nil {
		return nil, err
	}
	return ParseMapping(doc)
}

// SaveMapping stores the tenant's mapping and moves records that failed
// under the previous one back to the dirty set, so that the next sync tries
// them again. It returns how many moved.
func SaveMapping(ctx context.Context, st *store.Store, tenant string, m *Mapping) (int, error) {
	doc, err := json.Marshal(m)
	if err != nil {
		return 0, err
	}
	if err := st.PutXaaSDoc(ctx, tenant, store.XaaSDocMapping, doc); err != nil {
		return 0, err
	}
	n, err := st.RequeueFailedSourceUsers(ctx, tenant)
	if err != nil {
		return n, err
	}
	return n, st.AddXaaSPending(ctx, tenant, n)
}
