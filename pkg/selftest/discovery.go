package selftest

import (
	"context"
	"fmt"
	"strings"
)

// Capabilities is what the server says it supports, from
// /ServiceProviderConfig and /ResourceTypes. When a discovery endpoint is not
// served, the flows assume what Okta assumes: PATCH, filters and groups.
type Capabilities struct {
	ServiceProviderConfig bool `json:"serviceProviderConfig"`
	ResourceTypes         bool `json:"resourceTypes"`
	Patch                 bool `json:"patch"`
	Filter                bool `json:"filter"`
	MaxResults            int  `json:"maxResults,omitempty"`
	ChangePassword        bool `json:"changePassword"`
	ETag                  bool `json:"etag"`
	Sort                  bool `json:"sort"`
	Bulk                  bool `json:"bulk"`
	Users                 bool `json:"users"`
	Groups                bool `json:"groups"`
	EnterpriseUser        bool `json:"enterpriseUser"`
}

// discover reads the discovery endpoints into r.caps, as the "discovery"
// flow's steps.
//
// It is long because it reads three endpoints in order, each feeding the
// capabilities the next check needs.
func (r *runner) discover(ctx context.Context) {
	f := &flow{name: "discovery", r: r}
	r.caps = Capabilities{Patch: true, Filter: true, Users: true, Groups: true, EnterpriseUser: true}
	f.step(ctx, "GET /ServiceProviderConfig", func(ctx context.Context) error {
		req := request{Method: "GET", Path: "/ServiceProviderConfig", Dialect: Entra}
		resp, err := f.do(ctx, req)
		if err != nil {
			return err
		}
		switch {
		case resp.Status == 401 || resp.Status == 403:
			return statusError(req, resp, []int{200})
		case resp.Status == 404 || resp.Status == 501:
			return skipf("the server does not offer it (%d); assuming PATCH, filters and groups as Okta does", resp.Status)
		case resp.Status != 200:
			return statusError(req, resp, []int{200})
		}
		o, err := decodeObject(resp.Body)
		if err != nil {
			return fmt.Errorf("%s: %w", req.what(), err)
		}
		if !o.hasSchema(spcSchema) {
			return fmt.Errorf("%s: schemas lacks %s", req.what(), spcSchema)
		}
		var missing []string
		flag := func(path string) bool {
			b, ok := o.boolean(path)
			if !ok {
				missing = append(missing, path)
			}
			return b
		}
		r.caps.ServiceProviderConfig = true
		r.caps.Patch = flag("patch.supported")
		r.caps.Filter = flag("filter.supported")
		r.caps.ChangePassword = flag("changePassword.supported")
		r.caps.ETag = flag("etag.supported")
		r.caps.Sort = flag("sort.supported")
		r.caps.Bulk = flag("bulk.supported")
		if v, ok := o.get("filter.maxResults"); ok {
			r.caps.MaxResults, _ = jsonInt(v)
		}
		if len(o.list("authenticationSchemes")) == 0 {
			missing = append(missing, "authenticationSchemes")
		}
		if len(missing) > 0 {
			// Okta's SPEC test checks that every key is present.
			return fmt.Errorf("%s: missing or not a boolean: %s", req.what(), strings.Join(missing, ", "))
		}
		return nil
	})
	f.failed = false
	f.step(ctx, "GET /ResourceTypes", func(ctx context.Context) error {
		req := request{Method: "GET", Path: "/ResourceTypes", Dialect: Entra}
		resp, err := f.do(ctx, req)
		if err != nil {
			return err
		}
		if resp.Status == 404 || resp.Status == 501 {
			return skipf("the server does not offer it (%d); assuming /Users and /Groups", resp.Status)
		}
		if resp.Status != 200 {
			return statusError(req, resp, []int{200})
		}
		l, err := parseListResponse(resp.Body)
		if err != nil {
			return fmt.Errorf("%s: not a valid ListResponse: %w", req.what(), err)
		}
		r.caps.ResourceTypes = true
		r.caps.Users, r.caps.Groups, r.caps.EnterpriseUser = false, false, false
		for _, rt := range l.Resources {
			switch strings.ToLower(rt.str("endpoint")) {
			case "/users":
				r.caps.Users = true
				for _, e := range rt.list("schemaExtensions") {
					if m, ok := e.(map[string]any); ok && strings.EqualFold(fmt.Sprint(m["schema"]), enterpriseSchema) {
						r.caps.EnterpriseUser = true
					}
				}
			case "/groups":
				r.caps.Groups = true
			}
		}
		if !r.caps.Users {
			return fmt.Errorf("%s: no resource type with endpoint /Users", req.what())
		}
		return nil
	})
}

// String lists what is supported and what is not.
func (c Capabilities) String() string {
	var on, off []string
	for _, x := range []struct {
		name string
		ok   bool
	}{{"patch", c.Patch}, {"filter", c.Filter}, {"groups", c.Groups}, {"enterprise extension", c.EnterpriseUser},
		{"changePassword", c.ChangePassword}, {"etag", c.ETag}, {"sort", c.Sort}, {"bulk", c.Bulk}} {
		if x.ok {
			on = append(on, x.name)
		} else {
			off = append(off, x.name)
		}
	}
	return "supports " + orNone(on) + "; not " + orNone(off)
}

func orNone(l []string) string {
	if len(l) == 0 {
		return "-"
	}
	return strings.Join(l, ", ")
}
