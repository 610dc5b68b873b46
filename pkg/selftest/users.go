package selftest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"strings"
)

// randomHex returns n random bytes as hex.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// newPassword returns a password that meets common complexity rules. It is
// sent, never printed.
func newPassword() string { return "Sst-" + randomHex(12) + "!9aZ" }

// userName returns a userName under the run's prefix.
func (r *runner) userName(kind string, i int) string {
	return fmt.Sprintf("%s-%s-%d@example.com", r.prefix, kind, i)
}

// oktaUser is the body of Okta's POST /Users.
func oktaUser(userName, given, family string) map[string]any {
	return map[string]any{
		"schemas":     []string{userSchema},
		"userName":    userName,
		"name":        map[string]any{"givenName": given, "familyName": family},
		"emails":      []any{map[string]any{"primary": true, "value": userName, "type": "work"}},
		"displayName": given + " " + family,
		"locale":      "en-US",
		"externalId":  "00u" + randomHex(8),
		"groups":      []any{},
		"password":    newPassword(),
		"active":      true,
	}
}

// entraUser is the body of Entra's POST /Users: the enterprise schema,
// read-only meta, roles and nulls it sends, and booleans as strings.
func entraUser(userName, externalID string) map[string]any {
	return map[string]any{
		"schemas":      []string{userSchema, enterpriseSchema},
		"externalId":   externalID,
		"userName":     userName,
		"active":       "True",
		"emails":       []any{map[string]any{"primary": "True", "type": "work", "value": userName}},
		"meta":         map[string]any{"resourceType": "User"},
		"name":         map[string]any{"formatted": "Selftest Entra", "familyName": "Entra", "givenName": "Selftest"},
		"roles":        []any{},
		"title":        nil,
		"addresses":    nil,
		"phoneNumbers": nil,
	}
}

// patchOp builds a PatchOp body.
func patchOp(ops ...map[string]any) map[string]any {
	return map[string]any{"schemas": []string{patchSchema}, "Operations": ops}
}

// op builds one PATCH operation; an empty path is left out.
func op(name, path string, value any) map[string]any {
	m := map[string]any{"op": name}
	if path != "" {
		m["path"] = path
	}
	if value != nil {
		m["value"] = value
	}
	return m
}

// filterQuery returns "filter=ATTR%20eq%20%22VALUE%22", the way Okta encodes
// it.
func filterQuery(attr, value string) string {
	return "filter=" + strings.ReplaceAll(url.QueryEscape(attr+` eq "`+value+`"`), "+", "%20")
}

// createUser creates a user and tracks it for the cleanup, also when the
// answer is wrong or never comes (then the cleanup looks it up by userName).
func (f *flow) createUser(ctx context.Context, body map[string]any, d Dialect) (object, error) {
	name, _ := body["userName"].(string)
	return f.create(ctx, "/Users", "userName", name, body, d)
}

// create POSTs a resource to endpoint and tracks it for the cleanup.
func (f *flow) create(ctx context.Context, endpoint, attr, name string, body map[string]any, d Dialect) (object, error) {
	f.r.pend(endpoint, attr, name, true)
	req := request{Method: "POST", Path: endpoint, Body: body, Dialect: d}
	resp, err := f.do(ctx, req)
	if err != nil {
		return nil, err // still pending: the cleanup looks it up
	}
	o, derr := decodeObject(resp.Body)
	id := ""
	if derr == nil {
		id = o.str("id")
	}
	if resp.Status < 300 && id != "" {
		f.r.track(endpoint, id)
	}
	if resp.Status < 500 {
		f.r.pend(endpoint, attr, name, false)
	}
	if resp.Status != 201 {
		return nil, statusError(req, resp, []int{201})
	}
	if derr != nil {
		return nil, fmt.Errorf("%s: %w", req.what(), derr)
	}
	if id == "" {
		return nil, fmt.Errorf("%s: 201 without an id", req.what())
	}
	return o, nil
}

// createMembers creates n users for group memberships, in parallel.
func (f *flow) createMembers(ctx context.Context, kind string, n int) ([]string, []string, error) {
	ids := make([]string, n)
	names := make([]string, n)
	err := f.r.parallel(ctx, n, func(ctx context.Context, i int) error {
		names[i] = f.r.userName(kind, i)
		o, err := f.createUser(ctx, oktaUser(names[i], "Member", fmt.Sprint(i)), Okta)
		if err != nil {
			return err
		}
		ids[i] = o.str("id")
		return nil
	})
	return ids, names, err
}

// getUser reads a user the way Okta does.
func (f *flow) getUser(ctx context.Context, id string) (object, request, error) {
	req := request{Method: "GET", Path: "/Users/" + url.PathEscape(id), Dialect: Okta}
	o, err := f.object(ctx, req, 200)
	if err == nil && o.str("id") != id {
		err = fmt.Errorf("%s: id %q, want %q", req.what(), o.str("id"), id)
	}
	return o, req, err
}
