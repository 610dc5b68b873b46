package xaas

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/scimless/scimless/pkg/store"
)

// Limits of a source record.
const (
	// MaxExternalIDLen is the longest user externalId, in bytes (Okta allows
	// 512 characters; the table keys 512 bytes).
	MaxExternalIDLen = store.MaxKeyValue
	// MaxGroupExternalIDLen is the longest group or member externalId Okta
	// accepts in group bodies, in bytes.
	MaxGroupExternalIDLen = 255
	// MaxAttributes is the most attributes of one record.
	MaxAttributes = 100
	// MaxAttributeNameLen is the longest attribute name, in bytes.
	MaxAttributeNameLen = 128
	// MaxValueLen is the longest attribute value, in bytes.
	MaxValueLen = 4096
	// MaxRecordBytes is the largest record body (PUT) or bulk row.
	MaxRecordBytes = 64 << 10
	// MaxGroupMembers is the most members of a source group. A group's
	// uploads (its upsert and its membership changes, 200 member ids per
	// upload) must fit into one Okta session of 50 uploads.
	MaxGroupMembers = 4000
	// MaxGroupBytes is the largest group body.
	MaxGroupBytes = 2 << 20
)

// Reserved record fields: the key, the active flag and read-only metadata.
const (
	fieldExternalID = "externalId"
	fieldID         = "id"
	fieldActive     = "active"
	fieldMeta       = "meta"
)

// Record is one user record as a source pushes it: a key, an active flag
// and string attributes (empty values are left out).
type Record struct {
	ExternalID string
	Active     bool
	Attrs      map[string]string
}

// errRecord is a problem with one record, reported to the client.
type errRecord struct{ msg string }

func (e *errRecord) Error() string { return e.msg }

func recordErr(format string, args ...any) error { return &errRecord{fmt.Sprintf(format, args...)} }

// checkExternalID validates a user externalId.
func checkExternalID(id string) error {
	switch {
	case id == "":
		return recordErr("missing externalId (or id)")
	case len(id) > MaxExternalIDLen:
		return recordErr("externalId longer than %d bytes", MaxExternalIDLen)
	case !utf8.ValidString(id):
		return recordErr("externalId is not valid UTF-8")
	case strings.IndexFunc(id, unicode.IsControl) >= 0:
		return recordErr("externalId contains control characters")
	}
	return nil
}

// checkName validates an attribute name.
func checkName(name string) error {
	switch {
	case name == "":
		return recordErr("empty attribute name")
	case len(name) > MaxAttributeNameLen:
		return recordErr("attribute name longer than %d bytes", MaxAttributeNameLen)
	case !utf8.ValidString(name) || strings.IndexFunc(name, unicode.IsControl) >= 0:
		return recordErr("attribute name %q is not printable UTF-8", name)
	}
	return nil
}

// checkValue validates an attribute value: valid UTF-8 without control
// characters other than tab, line feed and carriage return (a multi-line
// address is fine; a NUL is not).
func checkValue(name, v string) error {
	if len(v) > MaxValueLen {
		return recordErr("attribute %q longer than %d bytes", name, MaxValueLen)
	}
	if !utf8.ValidString(v) {
		return recordErr("attribute %q is not valid UTF-8", name)
	}
	if strings.IndexFunc(v, badControl) >= 0 {
		return recordErr("attribute %q contains control characters", name)
	}
	return nil
}

// badControl reports a control character other than tab, line feed and
// carriage return.
func badControl(r rune) bool {
	return unicode.IsControl(r) && r != '\t' && r != '\n' && r != '\r'
}

// parseBool reads an active flag: true, false, 1, 0, yes, no, y, n, t, f
// (any case); empty is true.
func parseBool(s string) (bool, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "true", "1", "yes", "y", "t":
		return true, true
	case "false", "0", "no", "n", "f":
		return false, true
	}
	return false, false
}

// recordFromJSON decodes one JSON object into a record. The key is
// "externalId" or "id" (the sample items API's shape); "active" is a boolean (or a
// boolean string) and defaults to true; "meta" is ignored; other fields are
// strings, numbers or booleans, kept as strings. pathID, when set, is the
// key from the URL, which a key in the body must equal.
func recordFromJSON(data []byte, pathID string) (Record, error) {
	if !utf8.Valid(data) {
		// encoding/json would store U+FFFD in place of each bad byte.
		return Record{ExternalID: pathID}, recordErr("the record is not valid UTF-8")
	}
	rec, err := decodeRecord(data, pathID)
	if err != nil && rec.ExternalID == "" {
		// Name the record in the error report when its key can be found.
		var keys struct {
			ID         any `json:"id"`
			ExternalID any `json:"externalId"`
		}
		if json.Unmarshal(data, &keys) == nil {
			if s, ok := keys.ExternalID.(string); ok && checkExternalID(s) == nil {
				rec.ExternalID = s
			} else if s, ok := keys.ID.(string); ok && checkExternalID(s) == nil {
				rec.ExternalID = s
			}
		}
		if rec.ExternalID == "" {
			rec.ExternalID = pathID
		}
	}
	return rec, err
}

func decodeRecord(data []byte, pathID string) (Record, error) {
	rec := Record{Active: true, Attrs: map[string]string{}}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return rec, recordErr("malformed JSON: %v", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return rec, recordErr("a record must be a JSON object")
	}
	var ext, id string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return rec, recordErr("malformed JSON: %v", err)
		}
		name := tok.(string)
		var v any
		if err := dec.Decode(&v); err != nil {
			return rec, recordErr("malformed JSON: %v", err)
		}
		if err := rec.set(name, v, &ext, &id); err != nil {
			return rec, err
		}
	}
	if _, err := dec.Token(); err != nil {
		return rec, recordErr("malformed JSON: %v", err)
	}
	if dec.More() {
		return rec, recordErr("trailing data after the record")
	}
	switch {
	case ext != "" && id != "" && ext != id:
		return rec, recordErr("\"externalId\" and \"id\" differ")
	case ext == "":
		ext = id
	}
	if pathID != "" {
		if ext != "" && ext != pathID {
			return rec, recordErr("the externalId in the body differs from the one in the URL")
		}
		ext = pathID
	}
	rec.ExternalID = ext
	if err := checkExternalID(ext); err != nil {
		return rec, err
	}
	return rec, nil
}

// set applies one decoded field of a record body: the key ("externalId"
// into ext, "id" into id), the active flag, or an attribute.
func (rec *Record) set(name string, v any, ext, id *string) error {
	switch name {
	case fieldExternalID, fieldID:
		s, ok := scalarString(v)
		if !ok {
			return recordErr("%q must be a string", name)
		}
		if name == fieldID {
			*id = s
		} else {
			*ext = s
		}
	case fieldActive:
		switch a := v.(type) {
		case nil:
		case bool:
			rec.Active = a
		case string:
			b, ok := parseBool(a)
			if !ok {
				return recordErr("\"active\" must be true or false")
			}
			rec.Active = b
		default:
			return recordErr("\"active\" must be true or false")
		}
	case fieldMeta:
	default:
		if err := checkName(name); err != nil {
			return err
		}
		if v == nil {
			return nil
		}
		s, ok := scalarString(v)
		if !ok {
			return recordErr("attribute %q must be a string, number or boolean", name)
		}
		if s == "" {
			return nil
		}
		if err := checkValue(name, s); err != nil {
			return err
		}
		rec.Attrs[name] = s
		if len(rec.Attrs) > MaxAttributes {
			return recordErr("more than %d attributes", MaxAttributes)
		}
	}
	return nil
}

// scalarString renders a decoded JSON scalar as a string.
func scalarString(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case json.Number:
		return x.String(), true
	case bool:
		return strconv.FormatBool(x), true
	}
	return "", false
}

// hashRecord returns the content hash of a user record's state: what
// decides whether a push changed it.
func hashRecord(active, deleted bool, attrs map[string]string) string {
	h := sha256.New()
	var flags [2]byte
	if active {
		flags[0] = 1
	}
	if deleted {
		flags[1] = 1
	}
	h.Write(flags[:])
	keys := make([]string, 0, len(attrs))
	for k := range attrs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var n [20]byte
	for _, k := range keys {
		// Length-prefixed, so that no two different maps hash alike.
		h.Write(strconv.AppendInt(n[:0], int64(len(k)), 10))
		h.Write([]byte{':'})
		h.Write([]byte(k))
		v := attrs[k]
		h.Write(strconv.AppendInt(n[:0], int64(len(v)), 10))
		h.Write([]byte{':'})
		h.Write([]byte(v))
	}
	sum := h.Sum(nil)
	return hex.EncodeToString(sum[:16])
}

// hashGroup returns the content hash of a group's state.
func hashGroup(name, desc string, members []string, deleted bool) string {
	h := sha256.New()
	if deleted {
		h.Write([]byte{1})
	} else {
		h.Write([]byte{0})
	}
	var n [20]byte
	for _, s := range append([]string{name, desc}, members...) {
		h.Write(strconv.AppendInt(n[:0], int64(len(s)), 10))
		h.Write([]byte{':'})
		h.Write([]byte(s))
	}
	sum := h.Sum(nil)
	return hex.EncodeToString(sum[:16])
}

// userJSON renders a stored record for the /xaas/v1 API: the key, the active
// flag, the attributes and read-only metadata.
func userJSON(u *store.SourceUser) map[string]any {
	m := make(map[string]any, len(u.Attrs)+3)
	for k, v := range u.Attrs {
		m[k] = v
	}
	m[fieldExternalID] = u.ExternalID
	m[fieldActive] = u.Active
	meta := map[string]any{
		"version": u.Version,
		"created": u.Created,
		"changed": u.Changed,
		"sync":    u.State,
	}
	if !u.Synced.IsZero() {
		meta["synced"] = u.Synced
	}
	if u.State == store.SyncFailed && u.SyncError != "" {
		meta["syncError"] = u.SyncError
	}
	if u.Deleted {
		meta["deleted"] = true
	}
	m[fieldMeta] = meta
	return m
}

// itemJSON renders a stored record in the sample items API's shape for /items: "id",
// "active" and the attributes.
func itemJSON(u *store.SourceUser) map[string]any {
	m := make(map[string]any, len(u.Attrs)+2)
	for k, v := range u.Attrs {
		m[k] = v
	}
	m[fieldID] = u.ExternalID
	m[fieldActive] = u.Active
	return m
}

// Group is a group record as a source pushes it.
type Group struct {
	ExternalID  string   `json:"externalId"`
	DisplayName string   `json:"displayName"`
	Description string   `json:"description,omitempty"`
	Members     []string `json:"members"`
}

// groupFromJSON decodes and validates a group body; pathID is the key from
// the URL.
func groupFromJSON(data []byte, pathID string) (Group, error) {
	var raw struct {
		ExternalID  *string         `json:"externalId"`
		DisplayName *string         `json:"displayName"`
		Description *string         `json:"description"`
		Members     json.RawMessage `json:"members"`
		Meta        json.RawMessage `json:"meta"`
	}
	if !utf8.Valid(data) {
		return Group{ExternalID: pathID}, recordErr("the group is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&raw); err != nil {
		return Group{}, recordErr("malformed group: %v", err)
	}
	if dec.More() {
		return Group{}, recordErr("trailing data after the group")
	}
	g := Group{ExternalID: pathID}
	if raw.ExternalID != nil && *raw.ExternalID != pathID {
		return g, recordErr("the externalId in the body differs from the one in the URL")
	}
	if err := checkExternalID(g.ExternalID); err != nil {
		return g, err
	}
	if len(g.ExternalID) > MaxGroupExternalIDLen {
		return g, recordErr("group externalId longer than %d bytes", MaxGroupExternalIDLen)
	}
	if raw.DisplayName == nil || strings.TrimSpace(*raw.DisplayName) == "" {
		return g, recordErr("missing displayName")
	}
	g.DisplayName = *raw.DisplayName
	if utf8.RuneCountInString(g.DisplayName) > 255 || strings.IndexFunc(g.DisplayName, unicode.IsControl) >= 0 {
		return g, recordErr("displayName must be 1-255 characters without control characters")
	}
	if raw.Description != nil {
		g.Description = *raw.Description
		if utf8.RuneCountInString(g.Description) > 1024 || strings.IndexFunc(g.Description, badControl) >= 0 {
			return g, recordErr("description must be at most 1024 characters without control characters")
		}
	}
	members, err := parseMembers(raw.Members)
	if err != nil {
		return g, err
	}
	g.Members = members
	if len(g.Members) > MaxGroupMembers {
		return g, errTooManyMembers
	}
	slices.Sort(g.Members)
	return g, nil
}

// parseMembers decodes a group's members: an array of externalIds, or of
// objects with an "externalId" or "value"; duplicates are dropped.
func parseMembers(raw json.RawMessage) ([]string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var members []any
	if err := json.Unmarshal(raw, &members); err != nil {
		return nil, recordErr("members must be an array of externalIds")
	}
	var out []string
	seen := make(map[string]bool, len(members))
	for _, m := range members {
		var id string
		switch x := m.(type) {
		case string:
			id = x
		case map[string]any: // {"externalId": "…"} or {"value": "…"}
			if s, ok := x["externalId"].(string); ok {
				id = s
			} else if s, ok := x["value"].(string); ok {
				id = s
			}
		}
		if id == "" {
			return nil, recordErr("members must be an array of non-empty externalIds")
		}
		if err := checkExternalID(id); err != nil {
			return nil, recordErr("member %q: %v", id, err)
		}
		if len(id) > MaxGroupExternalIDLen {
			return nil, recordErr("member externalId longer than %d bytes", MaxGroupExternalIDLen)
		}
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out, nil
}

var errTooManyMembers = errors.New("too many members")

// groupJSON renders a stored group for the API.
func groupJSON(g *store.SourceGroup) map[string]any {
	members := g.Members
	if members == nil {
		members = []string{}
	}
	m := map[string]any{
		"externalId":  g.ExternalID,
		"displayName": g.DisplayName,
		"members":     members,
	}
	if g.Description != "" {
		m["description"] = g.Description
	}
	meta := map[string]any{"version": g.Version, "created": g.Created, "changed": g.Changed, "sync": g.State}
	if !g.Synced.IsZero() {
		meta["synced"] = g.Synced
	}
	m[fieldMeta] = meta
	return m
}
