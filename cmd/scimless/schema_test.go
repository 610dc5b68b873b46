package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/scimless/scimless/pkg/scim/schema"
	"github.com/scimless/scimless/pkg/store"
)

const acmeExample = "../../examples/schemas/acme.json"

func TestSchemaCLI(t *testing.T) {
	ep, st := opTable(t)
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// A typo'd key on line 9 and a wrong type on line 12.
	typo := write("typo.json", `{
  "schemas": [
    {
      "id": "urn:ietf:params:scim:schemas:extension:acme:2.0:User",
      "name": "AcmeUser",
      "resourceType": "User",
      "attributes": [
        {"name": "costCenterCode", "type": "string",
         "mutabilty": "readWrite"}
      ]
    }
  ]
}
`)
	badType := write("badtype.json", `{"schemas": [{
  "id": "urn:ietf:params:scim:schemas:ian:2.0:User",
  "name": "IanUser", "resourceType": "User",
  "attributes": [
    {"name": "employeeType", "type": "string"},
    {"name": "badgeNumber",
     "type": "int"}
  ]
}]}
`)
	syntax := write("syntax.json", "{\"schemas\": [\n  {\"id\": \"urn:acme:User\",}\n]}\n")
	group := write("group.json", `[{"id": "urn:acme:Group", "name": "G", "resourceType": "Group", "required": true,
  "attributes": [{"name": "code", "type": "string"}]}]`)

	opRun(t, ep, []opStep{
		{args: []string{"schema"}, code: 2, stderr: []string{"usage: scimless schema set TENANT FILE.json"}},
		{args: []string{"schema", "frob"}, code: 2, stderr: []string{`unknown subcommand "frob"`}},
		{args: []string{"schema", "set", "acme"}, code: 2, stderr: []string{"usage: scimless schema set"}},
		{args: []string{"schema", "set", "acme", acmeExample, "extra"}, code: 2, stderr: []string{`unexpected argument "extra"`}},
		{args: []string{"schema", "set", "a cme", acmeExample}, code: 1, stderr: []string{"invalid tenant name"}},
		{args: []string{"schema", "set", "acme", acmeExample}, code: 1,
			stderr: []string{`unknown tenant "acme"`, "scimless tenant create acme"}},
		{args: []string{"schema", "get", "acme"}, code: 1, stderr: []string{`unknown tenant "acme"`}},
		{args: []string{"schema", "clear", "acme"}, code: 1, stderr: []string{`unknown tenant "acme"`}},
		{args: []string{"tenant", "create", "acme"}, code: 0},
		{args: []string{"tenant", "create", "globex"}, code: 0},
		{args: []string{"schema", "get", "acme"}, code: 0, stderr: []string{"tenant acme has no schema extensions", "scimless schema set acme FILE.json"}},
		// Refused files: FILE:LINE: reason, exit 1, nothing stored.
		{args: []string{"schema", "set", "acme", typo}, code: 1,
			stderr: []string{typo + `:9: attribute "costCenterCode": unknown key "mutabilty" (did you mean "mutability"?)`}},
		{args: []string{"schema", "set", "acme", badType}, code: 1,
			stderr: []string{badType + `:7: attribute "badgeNumber": type "int" is not one of`, `did you mean "integer"?`}},
		{args: []string{"schema", "set", "acme", syntax}, code: 1, stderr: []string{syntax + ":2: invalid JSON"}},
		{args: []string{"schema", "set", "acme", filepath.Join(dir, "missing.json")}, code: 1, stderr: []string{"missing.json", "no such file"}},
		{args: []string{"schema", "get", "acme"}, code: 0, stderr: []string{"has no schema extensions"}},
		{args: []string{"schema", "check", badType}, code: 1, stderr: []string{badType + ":7:"}},
		{args: []string{"schema", "check", acmeExample}, code: 0, stdout: []string{"valid, 1 schema extension(s)", "URN", "urn:ietf:params:scim:schemas:extension:acme:2.0:User"}},
		// Stored: flags after the positional arguments (opRun appends them) and before.
		{args: []string{"schema", "set", "acme", acmeExample}, code: 0, stdout: []string{
			"stored 1 schema extension(s) for tenant acme",
			"URN", "RESOURCE TYPE", "ATTRIBUTES",
			"urn:ietf:params:scim:schemas:extension:acme:2.0:User  User           false     5 (+2 sub-attributes)"}},
		{args: []string{"schema", "set", "-table", "scimless", "globex", group}, code: 0, stdout: []string{"urn:acme:Group", "Group", "true", "1\n"}},
	})

	// What the SCIM layer reads: the canonical document, which parses back
	// to what the file declares.
	ctx := context.Background()
	doc, err := st.GetSchemas(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(acmeExample)
	want, _ := schema.ParseExtensionFile(data)
	got, err := schema.ParseExtensionFile(doc)
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("stored %s: %v", doc, err)
	}
	if !bytes.Contains(doc, []byte(`"mutability":"readWrite"`)) || !bytes.Contains(doc, []byte(`"returned":"default"`)) {
		t.Fatalf("defaults not spelled out: %s", doc)
	}

	// get prints it pretty, and the output is a valid file for set.
	out := opRun(t, ep, []opStep{{args: []string{"schema", "get", "acme"}, code: 0,
		stdout: []string{"{\n  \"schemas\": [\n", `"id": "urn:ietf:params:scim:schemas:extension:acme:2.0:User"`, `"name": "licenses"`, `"uniqueness": "none"`}}})[0]
	if got, err := schema.ParseExtensionFile([]byte(out)); err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("get output does not round-trip: %v\n%s", err, out)
	}
	roundTrip := write("roundtrip.json", out)

	// Isolation: globex has its own, acme's are untouched by globex's set.
	opRun(t, ep, []opStep{
		{args: []string{"schema", "get", "globex"}, code: 0, stdout: []string{"urn:acme:Group"}, absent: []string{"acme:2.0:User"}},
		{args: []string{"schema", "clear", "globex"}, code: 0, stdout: []string{"cleared the schema extensions of tenant globex"}},
		{args: []string{"schema", "clear", "globex"}, code: 0, stdout: []string{"tenant globex has no schema extensions"}},
		{args: []string{"schema", "get", "acme"}, code: 0, stdout: []string{"acme:2.0:User"}},
		// A refused file leaves the stored schemas alone.
		{args: []string{"schema", "set", "acme", badType}, code: 1},
		{args: []string{"schema", "get", "acme"}, code: 0, stdout: []string{"acme:2.0:User"}, absent: []string{"ian:2.0:User"}},
		// set replaces; get's output is accepted by set.
		{args: []string{"schema", "set", "acme", group}, code: 0},
		{args: []string{"schema", "get", "acme"}, code: 0, stdout: []string{"urn:acme:Group"}, absent: []string{"acme:2.0:User"}},
		{args: []string{"schema", "set", "acme", roundTrip}, code: 0, stdout: []string{"acme:2.0:User"}},
	})
	if _, err := st.GetSchemas(ctx, "globex"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("globex after clear: %v", err)
	}

	// A stored document that no longer validates is still shown, with a warning.
	if err := st.PutSchemas(ctx, "globex", []byte(`{"schemas":[{"id":"urn:ietf:params:scim:schemas:core:2.0:User"}]}`)); err != nil {
		t.Fatal(err)
	}
	opRun(t, ep, []opStep{{args: []string{"schema", "get", "globex"}, code: 0,
		stdout: []string{`"id": "urn:ietf:params:scim:schemas:core:2.0:User"`}, stderr: []string{"warning:", "line 1: schema id"}}})
}

func TestSchemaCLIStdin(t *testing.T) {
	ep, st := opTable(t)
	opRun(t, ep, []opStep{{args: []string{"tenant", "create", "acme"}, code: 0}})
	withStdin := func(content string, steps []opStep) {
		t.Helper()
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		go func() { _, _ = w.WriteString(content); w.Close() }()
		old := os.Stdin
		os.Stdin = r
		defer func() { os.Stdin = old; r.Close() }()
		opRun(t, ep, steps)
	}
	data, err := os.ReadFile("../../examples/schemas/ian.json")
	if err != nil {
		t.Fatal(err)
	}
	withStdin(string(data), []opStep{{args: []string{"schema", "set", "acme", "-"}, code: 0, stdout: []string{"urn:ietf:params:scim:schemas:ian:2.0:User"}}})
	withStdin("[\n{}]", []opStep{{args: []string{"schema", "set", "acme", "-"}, code: 1, stderr: []string{`<stdin>:2: schemas[0] has no "id"`}}})
	withStdin(strings.Repeat(" ", schema.MaxExtensionFileSize+10), []opStep{{args: []string{"schema", "check", "-"}, code: 1, stderr: []string{"<stdin>:1:", "256 KB"}}})
	if doc, err := st.GetSchemas(context.Background(), "acme"); err != nil || !bytes.Contains(doc, []byte("ian:2.0:User")) {
		t.Fatalf("%s %v", doc, err)
	}
}

func TestSchemaUsageListed(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"help"}, &stdout, &stderr); code != 0 || !strings.Contains(stdout.String(), "schema   a tenant's custom schema extensions") {
		t.Fatalf("%d %s", code, stdout.String())
	}
	stdout.Reset()
	if code := run(context.Background(), []string{"schema", "help"}, &stdout, &stderr); code != 0 || !strings.Contains(stdout.String(), "scimless schema clear TENANT") {
		t.Fatalf("%d %s", code, stdout.String())
	}
}
