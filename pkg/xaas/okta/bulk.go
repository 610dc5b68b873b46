package okta

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Field limits of the bulk bodies, in characters.
const (
	MaxUserExternalIDLen  = 512  // users' externalId
	MaxGroupExternalIDLen = 255  // groups' externalId, groupExternalId, memberExternalIds
	MaxGroupNameLen       = 255  // group displayName
	MaxGroupDescLen       = 1024 // group description
)

// User is one user of a bulk upsert.
type User struct {
	// ExternalID is the source system's immutable key of the user.
	ExternalID string
	// Profile holds the attributes; empty values are not sent.
	Profile UserProfile
}

// UserProfile is the profile of an identity source user. Every value is a
// string; an empty string is omitted from the request.
type UserProfile struct {
	UserName    string // ≤ 100 characters
	FirstName   string // ≤ 50
	LastName    string // ≤ 50
	Email       string // an email address, 5–100
	SecondEmail string // an email address, 5–100
	MobilePhone string // ≤ 100
	HomeAddress string // ≤ 4096
	// Custom holds further attributes, by their variable name in the Custom
	// Identity Source app's profile (such as "title" or "zipCode"). Keys
	// must not repeat a standard attribute above.
	Custom map[string]string
}

// numStandard is the number of profile attributes with a field in
// UserProfile.
const numStandard = 7

// attr is a profile attribute with its length limits in characters.
type attr struct {
	name, value string
	min, max    int
}

// standard returns the standard attributes in the order they are sent.
func (p *UserProfile) standard() [numStandard]attr {
	return [numStandard]attr{
		{"userName", p.UserName, 0, 100},
		{"firstName", p.FirstName, 0, 50},
		{"lastName", p.LastName, 0, 50},
		{"email", p.Email, 5, 100},
		{"secondEmail", p.SecondEmail, 5, 100},
		{"mobilePhone", p.MobilePhone, 0, 100},
		{"homeAddress", p.HomeAddress, 0, 4096},
	}
}

// isStandard reports whether name is a standard attribute.
func isStandard(name string) bool {
	switch name {
	case "userName", "firstName", "lastName", "email", "secondEmail", "mobilePhone", "homeAddress":
		return true
	}
	return false
}

// Validate reports the first reason Okta would reject u, as a
// *ValidationError with Index -1, or nil.
func (u *User) Validate() error {
	if err := checkExternalID("externalId", u.ExternalID, MaxUserExternalIDLen); err != nil {
		err.ExternalID = u.ExternalID
		return err
	}
	bad := func(field, reason string) error {
		return &ValidationError{Index: -1, ExternalID: u.ExternalID, Field: "profile." + field, Reason: reason}
	}
	p := &u.Profile
	empty := true
	for _, a := range p.standard() {
		if a.value == "" {
			continue
		}
		empty = false
		if !utf8.ValidString(a.value) {
			return bad(a.name, "not valid UTF-8")
		}
		if n := utf8.RuneCountInString(a.value); n < a.min || n > a.max {
			return bad(a.name, lengthReason(a.min, a.max))
		}
		if (a.name == "email" || a.name == "secondEmail") && !looksLikeEmail(a.value) {
			return bad(a.name, "not an email address")
		}
	}
	for k, v := range p.Custom {
		if k == "" || !utf8.ValidString(k) {
			return bad(k, "invalid attribute name")
		}
		if isStandard(k) {
			return bad(k, "set the UserProfile field instead of Custom")
		}
		if v == "" {
			continue
		}
		empty = false
		if !utf8.ValidString(v) {
			return bad(k, "not valid UTF-8")
		}
	}
	if empty {
		return &ValidationError{Index: -1, ExternalID: u.ExternalID, Field: "profile", Reason: "empty profile (Okta would create an empty user)"}
	}
	return nil
}

func lengthReason(lo, hi int) string {
	if lo == 0 {
		return "longer than " + itoa(hi) + " characters"
	}
	return "not " + itoa(lo) + "–" + itoa(hi) + " characters long"
}

func itoa(n int) string { return strconv.Itoa(n) }

// looksLikeEmail is a light check: one "@" with text on both sides and no
// spaces. Okta does the full check.
func looksLikeEmail(s string) bool {
	at := strings.IndexByte(s, '@')
	return at > 0 && at < len(s)-1 && strings.Count(s, "@") == 1 && !strings.ContainsAny(s, " \t\r\n")
}

func checkExternalID(field, id string, max int) *ValidationError {
	switch {
	case id == "":
		return &ValidationError{Index: -1, Field: field, Reason: "empty"}
	case !utf8.ValidString(id):
		return &ValidationError{Index: -1, Field: field, Reason: "not valid UTF-8"}
	case utf8.RuneCountInString(id) > max:
		return &ValidationError{Index: -1, Field: field, Reason: lengthReason(0, max)}
	}
	return nil
}

// Group is one group of a bulk group upsert.
type Group struct {
	// ExternalID is the source system's key of the group (≤ 255).
	ExternalID string
	// DisplayName is the group's name (1–255).
	DisplayName string
	// Description is optional (≤ 1024); empty is not sent.
	Description string
}

// Validate reports the first reason Okta would reject g, as a
// *ValidationError with Index -1, or nil.
func (g *Group) Validate() error {
	if err := checkExternalID("externalId", g.ExternalID, MaxGroupExternalIDLen); err != nil {
		err.ExternalID = g.ExternalID
		return err
	}
	if err := checkExternalID("profile.displayName", g.DisplayName, MaxGroupNameLen); err != nil {
		err.ExternalID = g.ExternalID
		return err
	}
	if !utf8.ValidString(g.Description) || utf8.RuneCountInString(g.Description) > MaxGroupDescLen {
		return &ValidationError{Index: -1, ExternalID: g.ExternalID, Field: "profile.description", Reason: lengthReason(0, MaxGroupDescLen) + " or not valid UTF-8"}
	}
	return nil
}

// Membership lists members of one group, for a membership upsert or delete.
type Membership struct {
	// GroupExternalID is the group's externalId.
	GroupExternalID string
	// MemberExternalIDs are the users' externalIds (at least one).
	MemberExternalIDs []string
}

// Validate reports the first reason Okta would reject m, as a
// *ValidationError with Index -1, or nil.
func (m *Membership) Validate() error {
	if err := checkExternalID("groupExternalId", m.GroupExternalID, MaxGroupExternalIDLen); err != nil {
		err.ExternalID = m.GroupExternalID
		return err
	}
	if len(m.MemberExternalIDs) == 0 {
		return &ValidationError{Index: -1, ExternalID: m.GroupExternalID, Field: "memberExternalIds", Reason: "empty"}
	}
	for _, id := range m.MemberExternalIDs {
		if err := checkExternalID("memberExternalIds", id, MaxGroupExternalIDLen); err != nil {
			err.ExternalID = m.GroupExternalID
			return err
		}
	}
	return nil
}

// checkBatch checks the batch size, each entity and that no key repeats.
func checkBatch(n int, key func(i int) string, validate func(i int) error) error {
	if n == 0 {
		return &ValidationError{Index: -1, Reason: "empty batch"}
	}
	if n > MaxBatchSize {
		return &ValidationError{Index: -1, Reason: "more than " + itoa(MaxBatchSize) + " entities (" + itoa(n) + ")"}
	}
	seen := make(map[string]struct{}, n)
	for i := range n {
		if validate != nil {
			if err := validate(i); err != nil {
				if ve, ok := err.(*ValidationError); ok {
					ve.Index = i
				}
				return err
			}
		} else if err := checkExternalID("externalId", key(i), MaxUserExternalIDLen); err != nil {
			err.Index, err.ExternalID = i, key(i)
			return err
		}
		k := key(i)
		if _, dup := seen[k]; dup {
			return &ValidationError{Index: i, ExternalID: k, Reason: "externalId appears twice in the batch"}
		}
		seen[k] = struct{}{}
	}
	return nil
}

func (c *Client) upload(ctx context.Context, sourceID, sessionID, op string, body []byte) error {
	if err := checkIDs(sourceID, sessionID); err != nil {
		return err
	}
	_, err := c.call(ctx, http.MethodPost, c.sessionPath(sourceID, sessionID)+"/"+op, body)
	return err
}

// UpsertUsers uploads 1 to MaxBatchSize users to create or update
// (bulk-upsert). Invalid users, or an externalId twice, fail the call with a
// *ValidationError before anything is sent.
func (c *Client) UpsertUsers(ctx context.Context, sourceID, sessionID string, users []User) error {
	if err := checkBatch(len(users), func(i int) string { return users[i].ExternalID }, func(i int) error { return users[i].Validate() }); err != nil {
		return err
	}
	return c.upload(ctx, sourceID, sessionID, "bulk-upsert", encodeUpsertUsers(users))
}

// DeactivateUsers uploads 1 to MaxBatchSize user externalIds to deactivate
// (bulk-delete; Okta deactivates, it does not delete). Okta ignores unknown
// externalIds.
func (c *Client) DeactivateUsers(ctx context.Context, sourceID, sessionID string, externalIDs []string) error {
	if err := checkBatch(len(externalIDs), func(i int) string { return externalIDs[i] }, nil); err != nil {
		return err
	}
	type item struct {
		ExternalID string `json:"externalId"`
	}
	body := struct {
		EntityType string `json:"entityType"`
		Profiles   []item `json:"profiles"`
	}{EntityType: "USERS", Profiles: make([]item, len(externalIDs))}
	for i, id := range externalIDs {
		body.Profiles[i].ExternalID = id
	}
	return c.uploadJSON(ctx, sourceID, sessionID, "bulk-delete", body)
}

// UpsertGroups uploads 1 to MaxBatchSize groups to create or update
// (bulk-groups-upsert).
func (c *Client) UpsertGroups(ctx context.Context, sourceID, sessionID string, groups []Group) error {
	if err := checkBatch(len(groups), func(i int) string { return groups[i].ExternalID }, func(i int) error { return groups[i].Validate() }); err != nil {
		return err
	}
	type profile struct {
		DisplayName string `json:"displayName"`
		Description string `json:"description,omitempty"`
	}
	type item struct {
		ExternalID string  `json:"externalId"`
		Profile    profile `json:"profile"`
	}
	body := struct {
		Profiles []item `json:"profiles"`
	}{make([]item, len(groups))}
	for i, g := range groups {
		body.Profiles[i] = item{g.ExternalID, profile{g.DisplayName, g.Description}}
	}
	return c.uploadJSON(ctx, sourceID, sessionID, "bulk-groups-upsert", body)
}

// DeleteGroups uploads 1 to MaxBatchSize group externalIds to delete
// (bulk-groups-delete).
func (c *Client) DeleteGroups(ctx context.Context, sourceID, sessionID string, externalIDs []string) error {
	if err := checkBatch(len(externalIDs), func(i int) string { return externalIDs[i] }, func(i int) error {
		return asError(checkExternalID("externalIds", externalIDs[i], MaxGroupExternalIDLen))
	}); err != nil {
		return err
	}
	body := struct {
		ExternalIDs []string `json:"externalIds"`
	}{externalIDs}
	return c.uploadJSON(ctx, sourceID, sessionID, "bulk-groups-delete", body)
}

// UpsertGroupMemberships uploads 1 to MaxBatchSize group memberships to add
// (bulk-group-memberships-upsert). A group may appear only once per batch.
func (c *Client) UpsertGroupMemberships(ctx context.Context, sourceID, sessionID string, memberships []Membership) error {
	return c.memberships(ctx, sourceID, sessionID, "bulk-group-memberships-upsert", memberships)
}

// DeleteGroupMemberships uploads 1 to MaxBatchSize group memberships to
// remove (bulk-group-memberships-delete). A group may appear only once per
// batch.
func (c *Client) DeleteGroupMemberships(ctx context.Context, sourceID, sessionID string, memberships []Membership) error {
	return c.memberships(ctx, sourceID, sessionID, "bulk-group-memberships-delete", memberships)
}

func (c *Client) memberships(ctx context.Context, sourceID, sessionID, op string, ms []Membership) error {
	if err := checkBatch(len(ms), func(i int) string { return ms[i].GroupExternalID }, func(i int) error { return ms[i].Validate() }); err != nil {
		return err
	}
	type item struct {
		GroupExternalID   string   `json:"groupExternalId"`
		MemberExternalIDs []string `json:"memberExternalIds"`
	}
	body := struct {
		Memberships []item `json:"memberships"`
	}{make([]item, len(ms))}
	for i, m := range ms {
		body.Memberships[i] = item{m.GroupExternalID, m.MemberExternalIDs}
	}
	return c.uploadJSON(ctx, sourceID, sessionID, op, body)
}

// asError avoids a non-nil error interface holding a nil pointer.
func asError(e *ValidationError) error {
	if e == nil {
		return nil
	}
	return e
}

func (c *Client) uploadJSON(ctx context.Context, sourceID, sessionID, op string, body any) error {
	data, err := json.Marshal(body)
	if err != nil {
		return err
	}
	return c.upload(ctx, sourceID, sessionID, op, data)
}
