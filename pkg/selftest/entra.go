package selftest

import (
	"context"
	"fmt"
	"net/url"
	"strings"
)

// entra runs what Microsoft Entra ID's provisioning service sends: the test
// connection, a create with string booleans, its PATCH dialect (capitalised
// ops, "False", dotted and URN keys, manager), the emails[type eq "work"]
// filter and the hard delete.
//
// It is long because it is one script: the steps run in the order Entra sends
// them, each using what the one before created, and reads best top to bottom.
func (f *flow) entra(ctx context.Context) {
	r := f.r
	userName := r.userName("entra", 1)
	externalID := r.prefix + "-entra-1"
	workEmail := r.prefix + "-entra-1-work@example.com"
	var id, managerID string

	f.step(ctx, "test connection: filter on a user that does not exist", func(ctx context.Context) error {
		req := request{Method: "GET", Path: "/Users?" + filterQuery("userName", randomGUID()), Dialect: Entra}
		l, err := f.list(ctx, req)
		if err != nil {
			return err
		}
		return checkf(l.TotalResults == 0 && len(l.Resources) == 0, req, "totalResults %d for a random userName", l.TotalResults)
	})
	f.step(ctx, "create with string booleans", func(ctx context.Context) error {
		o, err := f.createUser(ctx, entraUser(userName, externalID), Entra)
		if err != nil {
			return err
		}
		id = o.str("id")
		req := request{Method: "POST", Path: "/Users"}
		a, ok := o.boolean("active")
		return checkf(ok && a && o.str("externalId") == externalID, req, `"True" not stored as active true, or externalId not echoed`)
	})
	f.step(ctx, "match by externalId eq", func(ctx context.Context) error {
		req := request{Method: "GET", Path: "/Users?" + filterQuery("externalId", externalID), Dialect: Entra}
		l, err := f.list(ctx, req)
		if err != nil {
			return err
		}
		return checkf(l.TotalResults == 1 && len(l.ids()) == 1 && l.ids()[0] == id, req, "want the created user, got %d results", l.TotalResults)
	})
	if !r.caps.Patch {
		f.skip("PATCH dialect", "the server does not support PATCH (patch.supported false); Entra needs it")
	} else {
		f.step(ctx, `PATCH: capitalised ops, value path, "False"`, func(ctx context.Context) error {
			req := request{Method: "PATCH", Path: "/Users/" + url.PathEscape(id), Dialect: Entra, Body: patchOp(
				op("Add", "nickName", "Sst"),
				op("Replace", `emails[type eq "work"].value`, workEmail),
				op("Replace", "name.familyName", "Entra-Patched"),
				op("Replace", "active", "False"))}
			if _, err := f.expect(ctx, req, 200, 204); err != nil {
				return err
			}
			o, greq, err := f.getUser(ctx, id)
			if err != nil {
				return err
			}
			a, _ := o.boolean("active")
			return checkf(!a && o.str("name.familyName") == "Entra-Patched" && o.str("nickName") == "Sst" && hasEmail(o, "work", workEmail), greq,
				"PATCH not applied: active %v, familyName %q, nickName %q, work email %v", o["active"], o.str("name.familyName"), o.str("nickName"), hasEmail(o, "work", workEmail))
		})
		f.step(ctx, "PATCH: one pathless replace with dotted and URN keys", func(ctx context.Context) error {
			value := map[string]any{"displayName": "Selftest Entra", "name.givenName": "Entra-Given", "active": true}
			if r.caps.EnterpriseUser {
				value[enterpriseSchema+":employeeNumber"] = "E-" + r.prefix
				value[enterpriseSchema+":department"] = "Selftest"
			}
			req := request{Method: "PATCH", Path: "/Users/" + url.PathEscape(id), Dialect: Entra, Body: patchOp(op("replace", "", value))}
			if _, err := f.expect(ctx, req, 200, 204); err != nil {
				return err
			}
			o, greq, err := f.getUser(ctx, id)
			if err != nil {
				return err
			}
			if _, literal := o["name.givenName"]; literal {
				return checkf(false, greq, `the key "name.givenName" was stored literally instead of as a path`)
			}
			a, _ := o.boolean("active")
			if err := checkf(a && o.str("name.givenName") == "Entra-Given", greq, "givenName %q, active %v", o.str("name.givenName"), o["active"]); err != nil {
				return err
			}
			if r.caps.EnterpriseUser {
				ext, _ := o.get(enterpriseSchema)
				em, _ := ext.(map[string]any)
				return checkf(em != nil && em["employeeNumber"] == "E-"+r.prefix, greq, "enterprise employeeNumber not stored")
			}
			return nil
		})
		if !r.caps.EnterpriseUser {
			f.skip("manager", "the server does not list the enterprise extension for /Users")
		} else {
			f.step(ctx, "manager: add with the URN path, then remove", func(ctx context.Context) error {
				m, err := f.createUser(ctx, entraUser(r.userName("entra-manager", 1), r.prefix+"-entra-manager"), Entra)
				if err != nil {
					return err
				}
				managerID = m.str("id")
				path := enterpriseSchema + ":manager"
				req := request{Method: "PATCH", Path: "/Users/" + url.PathEscape(id), Dialect: Entra,
					Body: patchOp(op("Add", path, map[string]any{"value": managerID}))}
				if _, err := f.expect(ctx, req, 200, 204); err != nil {
					return err
				}
				o, greq, err := f.getUser(ctx, id)
				if err != nil {
					return err
				}
				if got := o.str(enterpriseSchema + ".manager.value"); got != managerID {
					if ext, ok := o.get(enterpriseSchema); ok {
						em, _ := ext.(map[string]any)
						mgr, _ := em["manager"].(map[string]any)
						got, _ = mgr["value"].(string)
					}
					if got != managerID {
						return checkf(false, greq, "manager.value %q, want %q", got, managerID)
					}
				}
				req = request{Method: "PATCH", Path: "/Users/" + url.PathEscape(id), Dialect: Entra,
					Body: patchOp(op("Remove", `manager[value eq "`+managerID+`"]`, nil))}
				if _, err := f.expect(ctx, req, 200, 204); err != nil {
					return err
				}
				o, greq, err = f.getUser(ctx, id)
				if err != nil {
					return err
				}
				ext, _ := o.get(enterpriseSchema)
				em, _ := ext.(map[string]any)
				_, still := em["manager"]
				return checkf(!still, greq, "manager still set after Remove manager[value eq …]")
			})
		}
	}
	f.step(ctx, `filter emails[type eq "work"].value eq`, func(ctx context.Context) error {
		email := workEmail
		if !r.caps.Patch {
			email = userName
		}
		req := request{Method: "GET", Path: "/Users?filter=" + strings.ReplaceAll(url.QueryEscape(`emails[type eq "work"].value eq "`+strings.ToUpper(email)+`"`), "+", "%20"), Dialect: Entra}
		l, err := f.list(ctx, req)
		if err != nil {
			return err
		}
		return checkf(l.TotalResults == 1 && len(l.ids()) == 1 && l.ids()[0] == id, req, "want the created user, got %d results", l.TotalResults)
	})
	f.step(ctx, "hard delete: DELETE /Users/{id}, then 404", func(ctx context.Context) error {
		req := request{Method: "DELETE", Path: "/Users/" + url.PathEscape(id), Dialect: Entra}
		if _, err := f.expect(ctx, req, 204); err != nil {
			return err
		}
		greq := request{Method: "GET", Path: "/Users/" + url.PathEscape(id), Dialect: Entra}
		if _, err := f.expect(ctx, greq, 404); err != nil {
			return err
		}
		r.forget("users", id)
		_, err := f.expect(ctx, req, 404)
		if err != nil {
			return fmt.Errorf("second delete: %w", err)
		}
		return nil
	})
}

// hasEmail reports whether o has an email of the type with the value
// (compared case-insensitively).
func hasEmail(o object, typ, value string) bool {
	for _, e := range o.list("emails") {
		m, _ := e.(map[string]any)
		t, _ := m["type"].(string)
		v, _ := m["value"].(string)
		if strings.EqualFold(t, typ) && strings.EqualFold(v, value) {
			return true
		}
	}
	return false
}

// randomGUID returns a random GUID, as Entra's test connection sends.
func randomGUID() string {
	h := randomHex(16)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
