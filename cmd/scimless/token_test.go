package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"regexp"
	"strings"
	"testing"

	"github.com/scimless/scimless/pkg/auth"
	"github.com/scimless/scimless/pkg/localdb"
	"github.com/scimless/scimless/pkg/store"
	"github.com/scimless/scimless/pkg/table"
)

// opTable starts an engine with the table created, for the operator
// commands, and returns its endpoint and a store on it.
func opTable(t *testing.T) (string, *store.Store) {
	t.Helper()
	eng, err := localdb.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = eng.Close() })
	ctx := context.Background()
	client, err := store.NewClient(ctx, store.ClientConfig{Endpoint: eng.Endpoint()})
	if err != nil {
		t.Fatal(err)
	}
	if err := store.EnsureTable(ctx, client, table.DefaultName); err != nil {
		t.Fatal(err)
	}
	return eng.Endpoint(), store.New(client, table.DefaultName)
}

// opStep is one CLI invocation and what it must print.
type opStep struct {
	args   []string
	code   int
	stdout []string // substrings expected on stdout
	stderr []string // substrings expected on stderr
	absent []string // must appear on neither
}

// opRun runs the steps in order against endpoint (appending the
// -dynamodb-endpoint flag after the positional arguments) and returns their
// outputs.
func opRun(t *testing.T, endpoint string, steps []opStep) []string {
	t.Helper()
	outs := make([]string, len(steps))
	for i, st := range steps {
		args := append(append([]string{}, st.args...), "-dynamodb-endpoint", endpoint)
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), args, &stdout, &stderr)
		name := strings.Join(st.args, " ")
		if code != st.code {
			t.Errorf("%s: exit code %d, want %d\nstdout: %s\nstderr: %s", name, code, st.code, stdout.String(), stderr.String())
		}
		for _, s := range st.stdout {
			if !strings.Contains(stdout.String(), s) {
				t.Errorf("%s: stdout %q does not contain %q", name, stdout.String(), s)
			}
		}
		for _, s := range st.stderr {
			if !strings.Contains(stderr.String(), s) {
				t.Errorf("%s: stderr %q does not contain %q", name, stderr.String(), s)
			}
		}
		for _, s := range st.absent {
			if s != "" && (strings.Contains(stdout.String(), s) || strings.Contains(stderr.String(), s)) {
				t.Errorf("%s: output contains %q\nstdout: %s\nstderr: %s", name, s, stdout.String(), stderr.String())
			}
		}
		outs[i] = stdout.String()
	}
	return outs
}

var (
	tokenLine   = regexp.MustCompile(`(?m)^token:\s+(\S+)$`)
	tokenIDLine = regexp.MustCompile(`(?m)^token id:\s+(\S+)$`)
)

// issued returns the token and its id printed by "token issue".
func issued(t *testing.T, out string) (secret, id string) {
	t.Helper()
	s, i := tokenLine.FindStringSubmatch(out), tokenIDLine.FindStringSubmatch(out)
	if s == nil || i == nil {
		t.Fatalf("no token in %q", out)
	}
	return s[1], i[1]
}

func authenticate(st *store.Store, secret string) error {
	_, err := auth.NewAuthenticator(st, 0, auth.WithoutLastUsed()).Authenticate(context.Background(), "Bearer "+secret)
	return err
}

func TestTokenCLI(t *testing.T) {
	ep, st := opTable(t)
	opRun(t, ep, []opStep{
		{args: []string{"token", "issue", "acme"}, code: 1, stderr: []string{`unknown tenant "acme"`, "scimless tenant create acme"}},
		{args: []string{"tenant", "create", "acme"}, code: 0},
	})
	outs := opRun(t, ep, []opStep{
		{args: []string{"token", "issue", "acme", "-label", "okta-prod", "-expires", "90d"}, code: 0,
			stdout: []string{"tenant:   acme", "label:    okta-prod", "scopes:   scim,xaas", "expires:", "shown once"}},
		// Flags before the tenant work too.
		{args: []string{"token", "issue", "-label", "okta-next", "-scopes", "scim", "acme"}, code: 0,
			stdout: []string{"label:    okta-next", "scopes:   scim\n"}},
	})
	oldSecret, oldID := issued(t, outs[0])
	newSecret, newID := issued(t, outs[1])
	never := []string{oldSecret, newSecret, auth.Hash(oldSecret), auth.Hash(newSecret)}

	// Rotation: both tokens live.
	for _, s := range []string{oldSecret, newSecret} {
		if err := authenticate(st, s); err != nil {
			t.Fatalf("issued token refused: %v", err)
		}
	}
	opRun(t, ep, []opStep{
		{args: []string{"token", "list", "acme"}, code: 0,
			stdout: []string{"ID", "LAST USED", oldID, newID, "okta-prod", "okta-next", oldSecret[:8] + "…", "scim,xaas", "never"}, absent: never},
		{args: []string{"token", "issue", "acme", "-scopes", "admin"}, code: 1, stderr: []string{`unknown scope "admin"`, "events"}},
		{args: []string{"token", "issue", "acme", "-scopes", ","}, code: 1, stderr: []string{"-scopes: at least one scope"}},
		{args: []string{"token", "issue", "a cme"}, code: 1, stderr: []string{"invalid tenant name"}},
		{args: []string{"token", "issue", "acme", "extra"}, code: 2, stderr: []string{`unexpected argument "extra"`, "usage: scimless token issue"}},
		{args: []string{"token", "list"}, code: 2, stderr: []string{"usage: scimless token issue"}},
		{args: []string{"token", "list", "nobody"}, code: 1, stderr: []string{`unknown tenant "nobody"`}},
		{args: []string{"token", "revoke"}, code: 2, stderr: []string{"scimless token revoke ID"}},
		{args: []string{"token", "frob"}, code: 2, stderr: []string{`unknown subcommand "frob"`}},
		{args: []string{"token", "revoke", oldID}, code: 0, stdout: []string{"revoked token " + oldID + " of tenant acme", "1m0s"}},
		{args: []string{"token", "revoke", oldID}, code: 1, stderr: []string{fmt.Sprintf("unknown token id %q", oldID)}},
		{args: []string{"token", "list", "acme"}, code: 0, stdout: []string{newID}, absent: append([]string{oldID}, never...)},
	})
	if err := authenticate(st, oldSecret); !errors.Is(err, auth.ErrUnauthorized) {
		t.Fatalf("revoked token: %v", err)
	}
	if err := authenticate(st, newSecret); err != nil {
		t.Fatalf("the other token after the revoke: %v", err)
	}

	// Suspension refuses the tenant's tokens and new issues.
	opRun(t, ep, []opStep{
		{args: []string{"tenant", "suspend", "acme"}, code: 0, stdout: []string{"suspended tenant acme: its 1 token(s) are refused"}},
		{args: []string{"token", "issue", "acme"}, code: 1, stderr: []string{`tenant "acme" is suspended`, "scimless tenant resume acme"}},
		{args: []string{"token", "list", "acme"}, code: 0, stdout: []string{newID}, stderr: []string{"suspended"}},
	})
	if err := authenticate(st, newSecret); !errors.Is(err, auth.ErrSuspended) {
		t.Fatalf("token of a suspended tenant: %v", err)
	}
	opRun(t, ep, []opStep{{args: []string{"tenant", "resume", "acme"}, code: 0, stdout: []string{"resumed tenant acme"}}})
	if err := authenticate(st, newSecret); err != nil {
		t.Fatalf("token after resume: %v", err)
	}

	// Last used shows up once the asynchronous update ran.
	a := auth.NewAuthenticator(st, 0)
	if _, err := a.Authenticate(context.Background(), "Bearer "+newSecret); err != nil {
		t.Fatal(err)
	}
	a.Wait()
	out := opRun(t, ep, []opStep{{args: []string{"token", "list", "acme"}, code: 0, absent: never}})[0]
	if strings.Count(out, "never") != 1 { // last used is set; the expiry is "never"
		t.Fatalf("last used not shown:\n%s", out)
	}
}

func TestParseArgs(t *testing.T) {
	tests := []struct {
		args  []string
		pos   []string
		label string
		err   bool
	}{
		{[]string{"acme"}, []string{"acme"}, "", false},
		{[]string{"acme", "-label", "x"}, []string{"acme"}, "x", false},
		{[]string{"-label", "x", "acme"}, []string{"acme"}, "x", false},
		{[]string{"a", "-label", "x", "b"}, []string{"a", "b"}, "x", false},
		{[]string{"a", "--", "-label", "x"}, []string{"a", "-label", "x"}, "", false},
		{[]string{"a", "-nope"}, nil, "", true},
		{nil, nil, "", false},
	}
	for _, tc := range tests {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		label := fs.String("label", "", "")
		pos, err := parseArgs(fs, tc.args)
		if (err != nil) != tc.err || fmt.Sprint(pos) != fmt.Sprint(tc.pos) || *label != tc.label {
			t.Errorf("parseArgs(%q) = %q, label %q, err %v; want %q, %q", tc.args, pos, *label, err, tc.pos, tc.label)
		}
	}
}

// TestTokenIssueEventsScope: a token for the Events API only, and one with
// every scope.
func TestTokenIssueEventsScope(t *testing.T) {
	ep, st := opTable(t)
	if err := st.CreateTenant(context.Background(), &store.Tenant{ID: "acme"}); err != nil {
		t.Fatal(err)
	}
	opRun(t, ep, []opStep{
		{args: []string{"token", "issue", "acme", "-scopes", "events", "-label", "app-events"}, code: 0, stdout: []string{"scopes:   events\n"}},
		{args: []string{"token", "issue", "acme", "-scopes", "scim, events,xaas"}, code: 0, stdout: []string{"scopes:   events,scim,xaas\n"}},
		{args: []string{"token", "list", "acme"}, code: 0, stdout: []string{"app-events", "events  ", "events,scim,xaas"}},
	})
}
