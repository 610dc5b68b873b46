package scim_test

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/scimless/scimless/pkg/auth"
	"github.com/scimless/scimless/pkg/scim"
	"github.com/scimless/scimless/pkg/store"
	"github.com/scimless/scimless/pkg/store/storetest"
)

const acmeURN = "urn:ietf:params:scim:schemas:extension:acme:2.0:User"

// acmeSchemas is the stored form `scimless schema set` writes.
const acmeSchemas = `[{"id":"` + acmeURN + `","name":"AcmeUser","description":"Acme","resourceType":"User","required":false,
 "attributes":[
  {"name":"badgeNumber","type":"integer","multiValued":false,"required":true,"caseExact":false,"mutability":"readWrite","returned":"default","uniqueness":"none"},
  {"name":"costCenterCode","type":"string","multiValued":false,"required":false,"caseExact":true,"mutability":"readWrite","returned":"default","uniqueness":"none"},
  {"name":"isContractor","type":"boolean","multiValued":false,"required":false,"caseExact":false,"mutability":"readWrite","returned":"default","uniqueness":"none"}]}]`

// TestTenantExtensionsAndPasswordSync covers per-tenant schema
// extensions, pass-through of unknown extensions and password sync.
func TestTenantExtensionsAndPasswordSync(t *testing.T) {
	env := storetest.New(t)
	ctx := context.Background()
	for _, tn := range []string{"acme", "plain"} {
		if _, _, err := auth.Issue(ctx, env.Store, auth.IssueOptions{Tenant: tn, Secret: "tok-" + tn + "-123"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := env.Store.PutSchemas(ctx, "acme", []byte(acmeSchemas)); err != nil {
		t.Fatal(err)
	}
	if _, err := env.Store.SetTenantSettings(ctx, "acme", map[string]string{store.SettingPasswordSync: "true"}); err != nil {
		t.Fatal(err)
	}
	h := scim.New(scim.Config{Store: env.Store, Auth: auth.NewAuthenticator(env.Store, time.Hour), BaseURL: "https://x/scim/v2"})
	e := &grpEnv{t: t, h: h, env: env}
	as := func(tenant string) *tokenEnv { return &tokenEnv{e, "tok-" + tenant + "-123"} }

	// Discovery shows the extension to its tenant only.
	if _, res := as("acme").do("GET", "/Schemas/"+acmeURN, nil); res["id"] != acmeURN {
		t.Fatalf("acme /Schemas: %v", res)
	}
	if code, _ := as("plain").do("GET", "/Schemas/"+acmeURN, nil); code != 404 {
		t.Fatalf("plain tenant sees acme's schema: %d", code)
	}
	if _, rt := as("acme").do("GET", "/ResourceTypes/User", nil); !strings.Contains(jsonString(rt["schemaExtensions"]), acmeURN) {
		t.Fatalf("schemaExtensions: %v", rt["schemaExtensions"])
	}

	user := func(name string, ext map[string]any) map[string]any {
		u := map[string]any{"userName": name, "password": "S3cret!" + name}
		if ext != nil {
			u[acmeURN] = ext
		}
		return u
	}
	tests := []struct {
		name     string
		tenant   string
		body     map[string]any
		want     int
		wantType string
	}{
		{"valid extension", "acme", user("a1@x", map[string]any{"badgeNumber": 42, "costCenterCode": "CC-1", "isContractor": "True"}), 201, ""},
		{"wrong type", "acme", user("a2@x", map[string]any{"badgeNumber": "forty-two"}), 400, "invalidValue"},
		{"required attribute missing", "acme", user("a3@x", map[string]any{"costCenterCode": "CC-2"}), 400, "invalidValue"},
		{"unknown extension refused", "acme", map[string]any{"userName": "a4@x", "urn:ietf:params:scim:schemas:extension:other:2.0:User": map[string]any{"x": "1"}}, 400, "invalidSyntax"},
		{"extension of another tenant refused", "plain", user("p1@x", map[string]any{"badgeNumber": 1}), 400, "invalidSyntax"},
	}
	ids := map[string]string{}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, res := as(tc.tenant).do("POST", "/Users", tc.body)
			if code != tc.want || (tc.wantType != "" && res["scimType"] != tc.wantType) {
				t.Fatalf("%d %v, want %d %s", code, res, tc.want, tc.wantType)
			}
			if code == 201 {
				ids[tc.name] = res["id"].(string)
				if _, ok := res["password"]; ok {
					t.Fatal("password returned")
				}
			}
		})
	}
	id := ids["valid extension"]
	// Filterable and patchable by full URN path; booleans as Entra strings were converted.
	_, list := as("acme").do("GET", "/Users?filter="+urlQuery(acmeURN+":badgeNumber eq 42"), nil)
	if list["totalResults"] != float64(1) {
		t.Fatalf("filter by extension: %v", list)
	}
	if code, res := as("acme").do("PATCH", "/Users/"+id, patchOp(map[string]any{"op": "replace", "path": acmeURN + ":costCenterCode", "value": "CC-9"})); code != 200 ||
		res[acmeURN].(map[string]any)["costCenterCode"] != "CC-9" || res[acmeURN].(map[string]any)["isContractor"] != true {
		t.Fatalf("patch extension: %d %v", code, res)
	}

	// Password sync: only an argon2id hash is stored; a new password replaces it; PUT without one keeps it.
	hashOf := func() string {
		u, err := env.Store.GetUser(ctx, "acme", id)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(u.Doc), "S3cret") {
			t.Fatal("password stored in the document")
		}
		return u.PasswordHash
	}
	h1 := hashOf()
	if !strings.HasPrefix(h1, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash = %q", h1)
	}
	as("acme").do("PATCH", "/Users/"+id, patchOp(map[string]any{"op": "replace", "value": map[string]any{"password": "N3w!"}}))
	h2 := hashOf()
	if h2 == h1 || h2 == "" {
		t.Fatal("PATCH password did not replace the hash")
	}
	as("acme").do("PUT", "/Users/"+id, map[string]any{"userName": "a1@x", acmeURN: map[string]any{"badgeNumber": 42}})
	if hashOf() != h2 {
		t.Fatal("PUT without a password changed the hash")
	}
	// Password sync off (the default): discarded.
	_, p := as("plain").do("POST", "/Users", map[string]any{"userName": "p2@x", "password": "S3cret!"})
	if u, _ := env.Store.GetUser(ctx, "plain", p["id"].(string)); u.PasswordHash != "" {
		t.Fatal("password kept for a tenant without password sync")
	}

	// Pass-through: with the setting, an unknown extension is kept and returned.
	if _, err := env.Store.SetTenantSettings(ctx, "plain", map[string]string{store.SettingExtensionPassThrough: "true"}); err != nil {
		t.Fatal(err)
	}
	h2srv := scim.New(scim.Config{Store: env.Store, Auth: auth.NewAuthenticator(env.Store, time.Hour)}) // fresh tenant cache
	pt := &tokenEnv{&grpEnv{t: t, h: h2srv, env: env}, "tok-plain-123"}
	const gw = "urn:ietf:params:scim:schemas:ian:2.0:User"
	code, res := pt.do("POST", "/Users", map[string]any{"userName": "p3@x", gw: map[string]any{"region": "EU"}})
	if code != 201 || res[gw] == nil || !strings.Contains(jsonString(res["schemas"]), gw) {
		t.Fatalf("pass-through: %d %v", code, res)
	}
	if _, got := pt.do("GET", "/Users/"+res["id"].(string), nil); got[gw].(map[string]any)["region"] != "EU" {
		t.Fatalf("pass-through not returned: %v", got)
	}
}

// tokenEnv sends requests with a given token.
type tokenEnv struct {
	*grpEnv
	token string
}

func (te *tokenEnv) do(method, path string, body any) (int, map[string]any) {
	te.t.Helper()
	req := httptest.NewRequest(method, "https://x/scim/v2"+path, strings.NewReader(jsonString(body)))
	if body == nil {
		req = httptest.NewRequest(method, "https://x/scim/v2"+path, nil)
	}
	req.Header.Set("Authorization", "Bearer "+te.token)
	rec := httptest.NewRecorder()
	te.h.ServeHTTP(rec, req)
	var out map[string]any
	if rec.Body.Len() > 0 {
		_ = jsonUnmarshal(rec.Body.Bytes(), &out)
	}
	return rec.Code, out
}

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

func urlQuery(s string) string { return url.QueryEscape(s) }
