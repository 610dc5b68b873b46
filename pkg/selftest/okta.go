package selftest

import (
	"context"
	"fmt"
	"net/url"
	"strings"
)

// okta runs what Okta's SCIM 2.0 client sends: the connector test, the
// lookup before a create, the create, profile updates by PUT and by pathless
// PATCH, deactivation, reactivation and password sync.
//
// It is long because it is one script: the steps run in the order Okta sends
// them, each using what the one before created, and reads best top to bottom.
func (f *flow) okta(ctx context.Context) {
	r := f.r
	userName := r.userName("okta", 1)
	var id string
	var created object

	f.step(ctx, "test connector: GET /Users?startIndex=1&count=2", func(ctx context.Context) error {
		req := request{Method: "GET", Path: "/Users?startIndex=1&count=2", Dialect: Okta}
		l, err := f.list(ctx, req)
		if err != nil {
			return err
		}
		if len(l.Resources) > 2 {
			return fmt.Errorf("%s: %d resources for count=2", req.what(), len(l.Resources))
		}
		return nil
	})
	f.step(ctx, "a bad token gets a SCIM 401", func(ctx context.Context) error {
		req := request{Method: "GET", Path: "/Users?" + filterQuery("userName", userName), Dialect: Okta,
			Header: map[string]string{"Authorization": "Bearer sst-not-a-token-" + randomHex(8)}, NoRetry: true}
		o, err := f.object(ctx, req, 401)
		if err != nil {
			return err
		}
		return checkf(o.hasSchema(errorSchema) && o.str("status") == "401", req, "401 body is not a SCIM error with status \"401\"")
	})
	f.step(ctx, `lookup before create: filter userName eq (no match)`, func(ctx context.Context) error {
		req := request{Method: "GET", Path: "/Users?" + filterQuery("userName", userName) + "&startIndex=1&count=100", Dialect: Okta}
		l, err := f.list(ctx, req)
		if err != nil {
			return err
		}
		return checkf(l.TotalResults == 0, req, "totalResults %d for a userName nobody has", l.TotalResults)
	})
	f.step(ctx, "create: POST /Users", func(ctx context.Context) error {
		body := oktaUser(userName, "Selftest", "Okta")
		o, err := f.createUser(ctx, body, Okta)
		if err != nil {
			return err
		}
		id, created = o.str("id"), o
		req := request{Method: "POST", Path: "/Users"}
		if err := checkf(strings.EqualFold(o.str("userName"), userName), req, "userName %q, want %q", o.str("userName"), userName); err != nil {
			return err
		}
		if a, ok := o.boolean("active"); !ok || !a {
			return checkf(false, req, "active is not true")
		}
		if _, leaked := o.get("password"); leaked {
			return checkf(false, req, "the response contains the password")
		}
		return checkf(o.str("name.givenName") == "Selftest" && o.hasSchema(userSchema), req, "name or schemas not echoed")
	})
	f.step(ctx, "duplicate create gets 409", func(ctx context.Context) error {
		req := request{Method: "POST", Path: "/Users", Body: oktaUser(userName, "Selftest", "Okta"), Dialect: Okta}
		resp, err := f.expect(ctx, req, 409)
		if err != nil {
			if resp != nil && resp.Status < 300 {
				if o, derr := decodeObject(resp.Body); derr == nil && o.str("id") != "" && o.str("id") != id {
					r.trackUser(o.str("id"))
				}
			}
			return err
		}
		return nil
	})
	f.step(ctx, "lookup: filter userName eq, other case", func(ctx context.Context) error {
		req := request{Method: "GET", Path: "/Users?" + filterQuery("userName", strings.ToUpper(userName)) + "&startIndex=1&count=100", Dialect: Okta}
		l, err := f.list(ctx, req)
		if err != nil {
			return err
		}
		return checkf(l.TotalResults == 1 && len(l.Resources) == 1 && l.Resources[0].str("id") == id, req,
			"want exactly the created user (userName matches case-insensitively), got %d results", l.TotalResults)
	})
	f.step(ctx, "get: GET /Users/{id}", func(ctx context.Context) error {
		o, req, err := f.getUser(ctx, id)
		if err != nil {
			return err
		}
		return checkf(o.str("name.familyName") == "Okta" && len(o.list("emails")) > 0, req, "name.familyName or emails missing")
	})
	f.step(ctx, "unknown id gets a SCIM 404", func(ctx context.Context) error {
		req := request{Method: "GET", Path: "/Users/010101001010101011001010101011", Dialect: Okta}
		o, err := f.object(ctx, req, 404)
		if err != nil {
			return err
		}
		return checkf(o.hasSchema(errorSchema) && o.str("detail") != "", req, "404 body is not a SCIM error with a detail")
	})
	f.step(ctx, "profile update: GET then PUT the whole object", func(ctx context.Context) error {
		o, _, err := f.getUser(ctx, id)
		if err != nil {
			return err
		}
		// Okta sends back what it read (id, meta, schemas, groups) with
		// its changes, and the password.
		name, _ := o["name"].(map[string]any)
		if name == nil {
			name = map[string]any{}
		}
		name["givenName"] = "Selftest-PUT"
		o["name"] = name
		o["password"] = newPassword()
		req := request{Method: "PUT", Path: "/Users/" + url.PathEscape(id), Body: map[string]any(o), Dialect: Okta}
		got, err := f.object(ctx, req, 200)
		if err != nil {
			return err
		}
		if err := checkf(got.str("name.givenName") == "Selftest-PUT", req, "name.givenName %q after PUT", got.str("name.givenName")); err != nil {
			return err
		}
		after, greq, err := f.getUser(ctx, id)
		if err != nil {
			return err
		}
		a, _ := after.boolean("active")
		return checkf(after.str("name.givenName") == "Selftest-PUT" && a, greq, "PUT not stored (givenName %q, active %v)", after.str("name.givenName"), a)
	})
	if !r.caps.Patch {
		f.skip("profile update: pathless PATCH", "the server does not support PATCH (patch.supported false)")
	} else {
		f.step(ctx, "profile update: pathless PATCH", func(ctx context.Context) error {
			req := request{Method: "PATCH", Path: "/Users/" + url.PathEscape(id), Dialect: Okta,
				Body: patchOp(op("replace", "", map[string]any{"displayName": "Selftest Patched", "name": map[string]any{"givenName": "Selftest-PATCH", "familyName": "Okta"}}))}
			if _, err := f.expect(ctx, req, 200, 204); err != nil {
				return err
			}
			after, greq, err := f.getUser(ctx, id)
			if err != nil {
				return err
			}
			return checkf(after.str("name.givenName") == "Selftest-PATCH" && after.str("displayName") == "Selftest Patched", greq,
				"PATCH ignored: givenName %q, displayName %q", after.str("name.givenName"), after.str("displayName"))
		})
	}
	for _, active := range []bool{false, true} {
		name := "deactivate"
		if active {
			name = "reactivate"
		}
		f.step(ctx, name, func(ctx context.Context) error {
			req := request{Method: "PATCH", Path: "/Users/" + url.PathEscape(id), Dialect: Okta,
				Body: patchOp(op("replace", "", map[string]any{"active": active}))}
			if !r.caps.Patch {
				// Okta's App Integration Wizard apps deactivate with PUT.
				body := map[string]any(created)
				body["active"] = active
				req = request{Method: "PUT", Path: "/Users/" + url.PathEscape(id), Body: body, Dialect: Okta}
			}
			if _, err := f.expect(ctx, req, 200, 204); err != nil {
				return err
			}
			after, greq, err := f.getUser(ctx, id)
			if err != nil {
				return err
			}
			a, ok := after.boolean("active")
			if err := checkf(ok && a == active, greq, "active %v after %s", after["active"], name); err != nil {
				return err
			}
			if active {
				return nil
			}
			// An inactive user must still be found (Okta's CRUD test).
			lreq := request{Method: "GET", Path: "/Users?" + filterQuery("userName", userName) + "&startIndex=1&count=100", Dialect: Okta}
			l, err := f.list(ctx, lreq)
			if err != nil {
				return err
			}
			return checkf(l.TotalResults == 1, lreq, "a deactivated user is not found by userName (totalResults %d)", l.TotalResults)
		})
	}
	if !r.caps.Patch {
		f.skip("password sync", "the server does not support PATCH, which Okta's password sync sends")
		return
	}
	f.step(ctx, "password sync: pathless PATCH of password", func(ctx context.Context) error {
		req := request{Method: "PATCH", Path: "/Users/" + url.PathEscape(id), Dialect: Okta,
			Body: patchOp(op("replace", "", map[string]any{"password": newPassword()}))}
		resp, err := f.do(ctx, req)
		if err != nil {
			return err
		}
		// Okta sends it whenever "Sync Password" is on in the app, whatever
		// the server advertises.
		if resp.Status == 400 && !r.caps.ChangePassword {
			return skipf("the server refuses passwords and says changePassword.supported false: leave Okta's Sync Password off (%s)", scimErrorDetail(resp.Body))
		}
		if resp.Status != 200 && resp.Status != 204 {
			return statusError(req, resp, []int{200, 204})
		}
		if len(resp.Body) > 0 {
			o, err := decodeObject(resp.Body)
			if err != nil {
				return fmt.Errorf("%s: %w", req.what(), err)
			}
			if _, leaked := o.get("password"); leaked {
				return checkf(false, req, "the response contains the password")
			}
		}
		return nil
	})
}
