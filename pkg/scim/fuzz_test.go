package scim

import (
	"encoding/json"
	"net/http/httptest"
	"reflect"
	"testing"
	"time"

	"github.com/scimless/scimless/pkg/scim/schema"
	"github.com/scimless/scimless/pkg/scim/scimerr"
	"github.com/scimless/scimless/pkg/store"
)

// fuzzResourceSeeds are request bodies Okta and Entra send, and edge cases.
var fuzzResourceSeeds = []string{
	`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"test.user@okta.local","name":{"givenName":"Test","familyName":"User"},"emails":[{"primary":true,"value":"test.user@okta.local","type":"work"}],"displayName":"Test User","locale":"en-US","externalId":"00ujl29u0le5T6Aj10h7","groups":[],"password":"1mz050nq","active":true}`,
	`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],"externalId":"0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef","userName":"Test_User_ab6490ee","active":true,"emails":[{"primary":true,"type":"work","value":"Test_User_fd0ea19b@testuser.com"}],"meta":{"resourceType":"User"},"name":{"formatted":"givenName familyName","familyName":"familyName","givenName":"givenName"},"roles":[],"addresses":null,"phoneNumbers":null,"title":null}`,
	`{"userName":"a","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":"1","manager":{"value":"m","$ref":"https://x/Users/m","displayName":"M"}}}`,
	`{"userName":"a","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department":"D","urn:ietf:params:scim:schemas:core:2.0:User:displayName":"X"}`,
	`{"urn:ietf:params:scim:schemas:core:2.0:User":{"userName":"a","active":"False"}}`,
	`{"id":"x","meta":{"version":"W/\"3\""},"USERNAME":"a","Active":"TRUE","Emails":{"value":"a@b"},"addresses":[{"type":"work","streetAddress":"1"},null],"x509Certificates":[{"value":"TUlJ"}]}`,
	`{"userName":"a","emails":[{"value":"a@b","primary":true},{"value":"c@d","primary":true}]}`,
	`{"userName":"a","roles":[{"value":"r","primary":"True"}],"photos":[{"value":"https://p","type":"photo"}],"timezone":"America/Los_Angeles","profileUrl":"https://x"}`,
	`{"userName":"a","name":{"givenName":1}}`,
	`{"userName":5}`,
	`{"userName":"a","urn:example:unknown:2.0:User":{"x":1}}`,
	`{"userName":"a","externalId":""}`,
	`{"userName":"a","urn:ietf:params:scim:schemas:core:2.0:User:externalId":"x"}`,
	`{"userName":"a","urn:ietf:params:scim:schemas:core:2.0:User:externalId":""}`,
	`{"userName":"a","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager":{"displayName":"read-only"}}`,
	`{"userName":"a","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager":{"value":"m"}}`,
	`{"userName":"  "}`,
	`{"userName":"a","meta":{"created":"not a date"},"groups":[{"value":"g"}]}`,
	`[]`, `null`, `"x"`, `{`, `{} {}`, ``, `{"a":1e999}`, `{"userName":"\ud800"}`,
}

// FuzzDecodeResource fuzzes the JSON resource decoder and normalisation
// behind POST and PUT /Users: no input may panic, every error must be a 4xx
// *scimerr.Error, and an accepted resource must be storable and renderable,
// with normalisation idempotent (what is stored normalises to itself) and no
// password kept.
func FuzzDecodeResource(f *testing.F) {
	for _, s := range fuzzResourceSeeds {
		f.Add([]byte(s))
	}
	rt := schema.UserResourceType()
	srv := New(Config{BaseURL: harnessBase})
	r := httptest.NewRequest("GET", Prefix+"/Users/x", nil)
	f.Fuzz(func(t *testing.T, body []byte) {
		check := func(what string, err error) {
			t.Helper()
			e, ok := scimerr.As(err)
			if !ok || e.Status < 400 || e.Status > 499 {
				t.Fatalf("%s: error %v (%T) is not a 4xx *scimerr.Error", what, err, err)
			}
		}
		in, err := decodeObject(body)
		if err != nil {
			check("decodeObject", err)
			return
		}
		doc, err := normalize(rt, in)
		if err != nil {
			check("normalize", err)
			return
		}
		userName, externalID, _, err := userFields(doc)
		if err != nil {
			check("userFields", err)
			return
		}
		if _, ok := doc["password"]; ok {
			t.Fatalf("password kept in the stored document")
		}
		raw, err := json.Marshal(doc)
		if err != nil {
			t.Fatalf("normalised document does not encode: %v", err)
		}
		// What is stored is read back and normalised again by PUT and
		// PATCH: it must be a fixed point.
		u := &store.User{ID: "u1", UserName: userName, ExternalID: externalID, Doc: raw, Version: 1, Created: time.Unix(0, 0), Modified: time.Unix(0, 0)}
		back, err := decodeDoc(u)
		if err != nil {
			t.Fatalf("stored document does not decode: %v", err)
		}
		again, err := normalize(rt, back)
		if err != nil {
			t.Fatalf("normalising the stored document fails: %v\n%s", err, raw)
		}
		if _, _, _, err := userFields(again); err != nil {
			t.Fatalf("stored document fails validation: %v", err)
		}
		if !reflect.DeepEqual(again, back) {
			a, _ := json.Marshal(again)
			t.Fatalf("normalisation is not idempotent:\nstored  %s\nagain   %s", raw, a)
		}
		res := srv.renderUser(r, u, back)
		for _, p := range []projection{{}, {include: map[string]bool{"userName": true, "name.*": true, "name.givenName": true}}, {exclude: map[string]bool{"emails": true}}} {
			out := p.apply(rt, res)
			if _, err := json.Marshal(out); err != nil {
				t.Fatalf("rendered resource does not encode: %v", err)
			}
			if out["id"] != "u1" || out["schemas"] == nil {
				t.Fatalf("rendered resource lacks id or schemas: %v", out)
			}
		}
	})
}
