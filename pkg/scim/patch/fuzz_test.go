package patch

import (
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"testing"

	"github.com/scimless/scimless/pkg/scim/schema"
	"github.com/scimless/scimless/pkg/scim/scimerr"
)

// check4xx fails t unless err is a *scimerr.Error with a 4xx status.
func check4xx(t *testing.T, what string, err error) {
	t.Helper()
	e, ok := scimerr.As(err)
	if !ok || e.Status < 400 || e.Status > 499 {
		t.Fatalf("%s: error %v (%T) is not a 4xx *scimerr.Error", what, err, err)
	}
	if e.Status != http.StatusBadRequest || e.ScimType == "" {
		t.Fatalf("%s: error %v lacks a 400 scimType", what, err)
	}
}

var fuzzSeeds = []string{
	patchBody(`[{"op":"replace","value":{"active":false}}]`),
	patchBody(`[{"op":"replace","value":{"password":"n3w-Secret!"}}]`),
	patchBody(`[{"op":"replace","value":{"id":"g1","displayName":"New"}},{"op":"remove","path":"members[value eq \"u1\"]"},{"op":"add","path":"members","value":[{"value":"u2","display":"u2@x"}]}]`),
	patchBody(`[{"op":"replace","path":"members","value":[{"value":"u1"},{"value":"u2"}]}]`),
	patchBody(`[{"op":"Replace","path":"emails[type eq \"work\"].value","value":"a@b.c"},{"op":"Replace","path":"name.familyName","value":"J"}]`),
	patchBody(`[{"op":"Replace","path":"userName","value":"b@c.d"},{"op":"Replace","path":"active","value":"False"},{"op":"Add","path":"nickName","value":"Babs"}]`),
	patchBody(`[{"op":"replace","value":{"displayName":"B J","name.givenName":"B","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber":"7"}}]`),
	patchBody(`[{"op":"Add","path":"manager","value":[{"$ref":"https://x/Users/m","value":"m"}]}]`),
	patchBody(`[{"op":"replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":{"value":"m2"}}]`),
	patchBody(`[{"op":"remove","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager"},{"op":"Replace","path":"manager","value":""}]`),
	patchBody(`[{"op":"remove","path":"manager[value eq \"m1\"]"}]`),
	patchBody(`[{"op":"Remove","path":"members","value":[{"value":"u1"}]},{"op":"Add","path":"members","value":[{"$ref":null,"value":"u3"}]}]`),
	patchBody(`[{"op":"Add","path":"addresses[type eq \"work\"].streetAddress","value":"1 Main"},{"op":"Add","path":"addresses[type eq \"work\"].locality","value":"X"}]`),
	patchBody(`[{"op":"add","path":"roles","value":[{"value":"r","primary":"True"}]},{"op":"replace","path":"title","value":null}]`),
	patchBody(`[{"op":"add","value":{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"D","manager":{"value":"m"}}}}]`),
	patchBody(`[{"op":"remove","path":"emails[type eq \"work\" and value ew \"@x\"]"},{"op":"remove","path":"members"}]`),
	patchBody(`[{"op":"remove","path":"userName"}]`),
	patchBody(`[{"op":"add","path":"emails","value":{"value":"x@y","primary":true}},{"op":"replace","path":"emails[not (type eq \"work\")].display","value":"d"}]`),
	`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[]}`,
	`{"Operations":[{"op":"add"}]}`,
}

type fuzzResource struct {
	rt   *schema.ResourceType
	res  map[string]any
	orig map[string]any // a copy of res, to detect modifications
}

// fuzzResources returns resources to patch.
func fuzzResources(t testing.TB) []fuzzResource {
	var out []fuzzResource
	for _, r := range []struct {
		rt  *schema.ResourceType
		doc string
	}{
		{schema.UserResourceType(), oktaUser},
		{schema.UserResourceType(), managedUser},
		{testRT(), `{"id":"u1","userName":"x","` + testURN + `":{"tags":["a"],"employeeId":"E"}}`},
		{schema.GroupResourceType(), withDoc(t, oktaGroup, `{"members":[{"value":"u1","type":"User"}]}`)},
	} {
		out = append(out, fuzzResource{r.rt, jsonMap(t, r.doc), jsonMap(t, r.doc)})
	}
	return out
}

// FuzzDecodeApply checks that no PatchOp body makes Decode, Changed,
// SplitMembers or Apply panic, that every error is a 4xx *scimerr.Error, and
// that Apply never modifies its input and returns encodable JSON.
func FuzzDecodeApply(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	resources := fuzzResources(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := Decode(body)
		if err != nil {
			check4xx(t, "Decode", err)
			return
		}
		if len(req.Operations) == 0 {
			t.Fatal("Decode returned no operations")
		}
		for _, r := range resources {
			Changed(r.rt, req.Operations)
			if _, _, err := SplitMembers(r.rt, req.Operations); err != nil {
				check4xx(t, "SplitMembers", err)
			}
			got, err := Apply(context.Background(), r.rt, r.res, req.Operations)
			if !reflect.DeepEqual(r.res, r.orig) {
				t.Fatalf("Apply modified its input:\n got %s\nwant %s", toJSON(r.res), toJSON(r.orig))
			}
			if err != nil {
				check4xx(t, "Apply", err)
				if got != nil {
					t.Fatal("Apply returned a resource with an error")
				}
				continue
			}
			if _, err := json.Marshal(got); err != nil {
				t.Fatalf("result does not encode: %v", err)
			}
		}
	})
}

// FuzzPath checks that no path makes path resolution or Apply panic and that
// path errors are 400 *scimerr.Error values.
func FuzzPath(f *testing.F) {
	for _, s := range []string{
		"userName", "name.givenName", "NAME.GIVENNAME", "emails", `emails[type eq "work"]`, `emails[type eq "work"].value`,
		`emails[type eq "work" and value co "@x"].display`, `emails[not (primary eq true)]`, `members[value eq "u\"1"]`,
		`manager[value eq "m1"]`, "manager", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value", "urn:ietf:params:scim:schemas:core:2.0:User:userName",
		"$ref", "a.b.c", "emails[", "emails[type eq 1.5e3]", "meta.created", "id", "x[y eq null]", `roles[primary eq "True"].value`,
		"", " ", "\xff",
	} {
		f.Add(s)
	}
	resources := fuzzResources(f)
	f.Fuzz(func(t *testing.T, s string) {
		for _, r := range resources {
			p, err := parsePath(r.rt, s)
			if err != nil {
				check4xx(t, "parsePath", err)
			} else if p.attr == nil && !p.ext {
				t.Fatalf("parsePath(%q) resolved to nothing", s)
			}
			for _, op := range []Operation{
				{Op: OpRemove, Path: s},
				{Op: OpAdd, Path: s, Value: "x"},
				{Op: OpReplace, Path: s, Value: map[string]any{"value": "v", "type": "work", "primary": "True"}},
				{Op: OpReplace, Path: s, Value: []any{map[string]any{"value": "v"}}},
				{Op: OpAdd, Value: map[string]any{s: true}},
			} {
				if _, err := Apply(context.Background(), r.rt, r.res, []Operation{op}); err != nil {
					check4xx(t, "Apply", err)
				}
				if !reflect.DeepEqual(r.res, r.orig) {
					t.Fatalf("Apply modified its input")
				}
				if _, _, err := SplitMembers(r.rt, []Operation{op}); err != nil {
					check4xx(t, "SplitMembers", err)
				}
			}
		}
	})
}
