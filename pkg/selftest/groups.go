package selftest

import (
	"context"
	"fmt"
	"net/url"
	"slices"
)

// groups runs Okta's group push (create, rename with id in a pathless
// replace, 1,000 members in one PATCH, remove-then-add), Entra's member
// PATCHes (remove by value, add with $ref null, GET without members) and the
// delete, checking a member's groups attribute on the way.
//
// It is long because it is one script of dependent steps in the order the
// identity providers send them.
func (f *flow) groups(ctx context.Context) {
	r := f.r
	if !r.caps.Groups {
		f.skip("groups", "the server lists no /Groups resource type")
		return
	}
	if !r.caps.Patch {
		f.skip("groups", "the server does not support PATCH; Okta and Entra push memberships with PATCH")
		return
	}
	n := r.cfg.GroupMembers
	name := r.prefix + "-push"
	renamed := r.prefix + "-push-renamed"
	var gid string
	var uids, names []string
	var extra object
	groupPath := func() string { return "/Groups/" + url.PathEscape(gid) }

	f.step(ctx, fmt.Sprintf("create %d users to be members", n), func(ctx context.Context) error {
		var err error
		uids, names, err = f.createMembers(ctx, "member", n)
		if err != nil {
			return err
		}
		extra, err = f.createUser(ctx, oktaUser(r.userName("member", n), "Member", "Extra"), Okta)
		return err
	})
	f.step(ctx, "push: POST /Groups", func(ctx context.Context) error {
		o, err := f.createGroup(ctx, name)
		if err != nil {
			return err
		}
		gid = o.str("id")
		return checkf(o.str("displayName") == name, request{Method: "POST", Path: "/Groups"}, "displayName %q, want %q", o.str("displayName"), name)
	})
	rename := op("replace", "", map[string]any{"id": gid, "displayName": renamed})
	f.step(ctx, "rename: pathless replace with id", func(ctx context.Context) error {
		rename = op("replace", "", map[string]any{"id": gid, "displayName": renamed})
		req := request{Method: "PATCH", Path: groupPath(), Dialect: Okta, Body: patchOp(rename)}
		if _, err := f.expect(ctx, req, 200, 204); err != nil {
			return err
		}
		g, greq, err := f.getGroup(ctx, gid, false)
		if err != nil {
			return err
		}
		return checkf(g.str("displayName") == renamed, greq, "displayName %q after the rename", g.str("displayName"))
	})
	f.step(ctx, fmt.Sprintf("add %d members in one PATCH", n), func(ctx context.Context) error {
		members := make([]any, n)
		for i := range uids {
			members[i] = map[string]any{"value": uids[i], "display": names[i]}
		}
		req := request{Method: "PATCH", Path: groupPath(), Dialect: Okta, Body: patchOp(op("add", "members", members))}
		if _, err := f.expect(ctx, req, 200, 204); err != nil {
			return err
		}
		return f.checkMembers(ctx, gid, uids)
	})
	want := slices.Clone(uids)
	f.step(ctx, "Okta: remove then add in one PATCH, with the rename", func(ctx context.Context) error {
		req := request{Method: "PATCH", Path: groupPath(), Dialect: Okta, Body: patchOp(
			rename,
			op("remove", `members[value eq "`+uids[0]+`"]`, nil),
			op("add", "members", []any{map[string]any{"value": extra.str("id"), "display": extra.str("userName")}}))}
		if _, err := f.expect(ctx, req, 200, 204); err != nil {
			return err
		}
		want = append(want[1:], extra.str("id"))
		return f.checkMembers(ctx, gid, want)
	})
	f.step(ctx, "Entra: Remove members by value", func(ctx context.Context) error {
		req := request{Method: "PATCH", Path: groupPath(), Dialect: Entra, Body: patchOp(
			op("Remove", "members", []any{map[string]any{"value": want[0]}}))}
		if _, err := f.expect(ctx, req, 200, 204); err != nil {
			return err
		}
		want = want[1:]
		return f.checkMembers(ctx, gid, want)
	})
	f.step(ctx, "Entra: Add members with $ref null", func(ctx context.Context) error {
		req := request{Method: "PATCH", Path: groupPath(), Dialect: Entra, Body: patchOp(
			op("Add", "members", []any{map[string]any{"$ref": nil, "value": uids[0]}}))}
		if _, err := f.expect(ctx, req, 200, 204); err != nil {
			return err
		}
		want = append(want, uids[0])
		return f.checkMembers(ctx, gid, want)
	})
	f.step(ctx, "Entra: GET the group by displayName without members", func(ctx context.Context) error {
		req := request{Method: "GET", Path: "/Groups?excludedAttributes=members&" + filterQuery("displayName", renamed), Dialect: Entra}
		l, err := f.list(ctx, req)
		if err != nil {
			return err
		}
		if err := checkf(l.TotalResults == 1 && len(l.Resources) == 1 && l.Resources[0].str("id") == gid, req, "want the group, got %d results", l.TotalResults); err != nil {
			return err
		}
		_, has := l.Resources[0].get("members")
		return checkf(!has, req, "members returned despite excludedAttributes=members")
	})
	f.step(ctx, "a member's groups attribute", func(ctx context.Context) error {
		// want[0] has been a member since the 1,000-member PATCH.
		o, req, err := f.getUser(ctx, want[0])
		if err != nil {
			return err
		}
		return checkf(slices.Contains(o.memberIDs("groups"), gid), req, "groups %v lacks the group", o.memberIDs("groups"))
	})
	f.step(ctx, "delete: DELETE /Groups/{id}, then 404", func(ctx context.Context) error {
		req := request{Method: "DELETE", Path: groupPath(), Dialect: Okta}
		if _, err := f.expect(ctx, req, 204); err != nil {
			return err
		}
		if _, err := f.expect(ctx, request{Method: "GET", Path: groupPath(), Dialect: Okta}, 404); err != nil {
			return err
		}
		r.forget("groups", gid)
		o, ureq, err := f.getUser(ctx, want[0])
		if err != nil {
			return err
		}
		return checkf(!slices.Contains(o.memberIDs("groups"), gid), ureq, "a deleted group is still in the member's groups")
	})
}

// createGroup pushes an empty group the way Okta does and tracks it.
func (f *flow) createGroup(ctx context.Context, name string) (object, error) {
	return f.create(ctx, "/Groups", "displayName", name,
		map[string]any{"schemas": []string{groupSchema}, "displayName": name, "members": []any{}}, Okta)
}

// getGroup reads a group, with or without its members.
func (f *flow) getGroup(ctx context.Context, gid string, members bool) (object, request, error) {
	path := "/Groups/" + url.PathEscape(gid)
	if !members {
		path += "?excludedAttributes=members"
	}
	req := request{Method: "GET", Path: path, Dialect: Okta}
	o, err := f.object(ctx, req, 200)
	if err == nil && o.str("id") != gid {
		err = fmt.Errorf("%s: id %q, want %q", req.what(), o.str("id"), gid)
	}
	return o, req, err
}

// checkMembers reads the group and compares its members with want.
func (f *flow) checkMembers(ctx context.Context, gid string, want []string) error {
	g, req, err := f.getGroup(ctx, gid, true)
	if err != nil {
		return err
	}
	got := g.memberIDs("members")
	return diffIDs(req, "members", got, want)
}

// diffIDs compares two id sets and describes the difference.
func diffIDs(req request, what string, got, want []string) error {
	have := make(map[string]int, len(got))
	for _, id := range got {
		have[id]++
	}
	var missing, dup int
	for _, id := range want {
		if have[id] == 0 {
			missing++
		}
	}
	wanted := make(map[string]bool, len(want))
	for _, id := range want {
		wanted[id] = true
	}
	var unexpected int
	for id, c := range have {
		if c > 1 {
			dup++
		}
		if !wanted[id] {
			unexpected++
		}
	}
	if missing == 0 && unexpected == 0 && dup == 0 {
		return nil
	}
	return fmt.Errorf("%s: %d %s, want %d: %d missing, %d unexpected, %d repeated", req.what(), len(got), what, len(want), missing, unexpected, dup)
}
