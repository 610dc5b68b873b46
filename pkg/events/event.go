// Package events turns changes of scimless's table into directory events:
// what happened to a user, a group or a membership, in one JSON shape that the
// Events API, webhooks and EventBridge all carry.
//
// Events are derived from the table's stream (old and new images of every
// changed item), after the write, never beside it: a SCIM write stays one
// conditional write, and every change is seen whatever made it (SCIM, XaaS,
// the CLI). Derive is pure: the same stream record always yields the same
// events with the same ids, so a redelivered batch is harmless.
package events

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Event types.
const (
	UserCreated       = "user.created"
	UserUpdated       = "user.updated"
	UserDeactivated   = "user.deactivated"
	UserReactivated   = "user.reactivated"
	UserDeleted       = "user.deleted"
	GroupCreated      = "group.created"
	GroupUpdated      = "group.updated"
	GroupDeleted      = "group.deleted"
	GroupMemberAdded  = "group.member_added"
	GroupMemberRemove = "group.member_removed"
)

// Types lists every event type, in documentation order.
func Types() []string {
	return []string{UserCreated, UserUpdated, UserDeactivated, UserReactivated, UserDeleted,
		GroupCreated, GroupUpdated, GroupDeleted, GroupMemberAdded, GroupMemberRemove}
}

// ValidType reports whether t is an event type.
func ValidType(t string) bool {
	for _, v := range Types() {
		if v == t {
			return true
		}
	}
	return false
}

// ParseTypes parses a comma-separated list of event types ("" is none: every
// type). An unknown type is an error naming it.
func ParseTypes(s string) ([]string, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var out []string
	seen := map[string]bool{}
	for _, t := range strings.Split(s, ",") {
		t = strings.TrimSpace(t)
		if t == "" {
			continue
		}
		if !ValidType(t) {
			return nil, fmt.Errorf("unknown event type %q (one of %s)", t, strings.Join(Types(), ", "))
		}
		if !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	return out, nil
}

// Via values: what kind of client made a write.
const (
	ViaSCIM = "scim"
	ViaXaaS = "xaas"
	ViaCLI  = "cli"
)

// Actor is who made the change: the token and request of the write and the
// path it came through. Fields are empty when the write did not record them.
type Actor struct {
	TokenID   string `json:"tokenId"`
	RequestID string `json:"requestId"`
	Via       string `json:"via"`
}

// Event is one directory event.
type Event struct {
	// ID is sortable (stream order: time, then sequence), unique, and the
	// same on every delivery of the change it describes.
	ID     string    `json:"id"`
	Type   string    `json:"type"`
	Tenant string    `json:"tenant"`
	Time   time.Time `json:"time"`
	// Data is the resource as the SCIM API returns it (for a delete: its last
	// state); for memberships {"group":{"id","displayName"},"user":{"id","userName"}}.
	Data json.RawMessage `json:"data"`
	// Changed lists the attribute paths that changed (for a creation: those
	// set; for a deletion: none).
	Changed []string `json:"changed"`
	Actor   Actor    `json:"actor"`
}

// MarshalJSON writes the event with its time in RFC 3339 (UTC, nanoseconds)
// and changed as [] rather than null.
func (e Event) MarshalJSON() ([]byte, error) {
	type plain Event
	p := plain(e)
	if p.Changed == nil {
		p.Changed = []string{}
	}
	if p.Data == nil {
		p.Data = json.RawMessage("{}")
	}
	p.Time = p.Time.UTC()
	return json.Marshal(p)
}

// ResourceType returns "User", "Group" or "Membership" for the event's type.
func (e Event) ResourceType() string {
	switch {
	case strings.HasPrefix(e.Type, "group.member_"):
		return "Membership"
	case strings.HasPrefix(e.Type, "user."):
		return "User"
	case strings.HasPrefix(e.Type, "group."):
		return "Group"
	}
	return ""
}

// ResourceID returns the id of the user or group the event is about (the
// externalId of an XaaS record); for a membership "{groupId}/{userId}".
func (e Event) ResourceID() string {
	if e.ResourceType() == "Membership" {
		var m MemberData
		if json.Unmarshal(e.Data, &m) == nil {
			return m.Group.ID + "/" + m.User.ID
		}
		return ""
	}
	var r struct {
		ID         string `json:"id"`
		ExternalID string `json:"externalId"`
	}
	_ = json.Unmarshal(e.Data, &r)
	if r.ID == "" {
		return r.ExternalID // an XaaS record
	}
	return r.ID
}

// MemberData is the data of a membership event.
type MemberData struct {
	Group GroupRef `json:"group"`
	User  UserRef  `json:"user"`
}

// GroupRef names a group.
type GroupRef struct {
	ID          string `json:"id"`
	DisplayName string `json:"displayName"`
}

// UserRef names a user.
type UserRef struct {
	ID       string `json:"id"`
	UserName string `json:"userName"`
}

// idSeqWidth is the width the stream sequence number is padded to (DynamoDB
// sequence numbers have 21 to 40 digits).
const idSeqWidth = 40

// idTimeWidth is the width of the time part: microseconds since 1970.
const idTimeWidth = 16

// IDLen is the length of every event id.
const IDLen = idTimeWidth + idSeqWidth + 2

// NewID returns the id of the index-th event derived from the stream record
// with sequence number seq, created at time t (the stream's time of the
// record): {t in µs, 16 digits}{seq, 40 digits}{index, 2 digits}. Ids sort
// as text in time order, then stream order; they depend only on the record,
// so redelivery yields the same ids.
func NewID(t time.Time, seq string, index int) (string, error) {
	if seq == "" || len(seq) > idSeqWidth || strings.Trim(seq, "0123456789") != "" {
		return "", fmt.Errorf("event id: sequence number %q is not 1 to %d digits", seq, idSeqWidth)
	}
	if index < 0 || index > 99 {
		return "", fmt.Errorf("event id: index %d out of range", index)
	}
	us := t.UnixMicro()
	if us < 0 {
		us = 0
	}
	return fmt.Sprintf("%0*d%s%s%02d", idTimeWidth, us, strings.Repeat("0", idSeqWidth-len(seq)), seq, index), nil
}

// ValidID reports whether s has the form of an event id (a cursor).
func ValidID(s string) bool {
	if len(s) != IDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// IDTime returns the time encoded in an event id.
func IDTime(id string) (time.Time, bool) {
	if !ValidID(id) {
		return time.Time{}, false
	}
	us, err := strconv.ParseInt(id[:idTimeWidth], 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	return time.UnixMicro(us).UTC(), true
}

// CursorAt returns a cursor that sorts before every event at or after t
// (for "since" queries).
func CursorAt(t time.Time) string {
	us := t.UnixMicro()
	if us < 0 {
		us = 0
	}
	return fmt.Sprintf("%0*d", idTimeWidth, us) + strings.Repeat("0", IDLen-idTimeWidth)
}
