package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/scimless/scimless/pkg/auth"
	"github.com/scimless/scimless/pkg/store"
)

// tableFlagsUsage describes the table flags every operator command takes.
const tableFlagsUsage = `table flags (every command):
  -table NAME               DynamoDB table (default "scimless")
  -region REGION            AWS region (default: from the AWS environment)
  -dynamodb-endpoint URL    a DynamoDB-compatible endpoint (e.g. http://localhost:8000);
                            without it: AWS, with the standard credential chain
Flags may come before or after the positional arguments.
`

const tokenUsage = `usage: scimless token issue TENANT [-expires 90d] [-label NAME] [-scopes scim,xaas,events] [table flags]
       scimless token list TENANT [table flags]
       scimless token revoke ID [table flags]

issue   prints a new bearer token for an existing, active tenant, once: only its
        SHA-256 is stored. A tenant can have several live tokens, so a rotation
        is: issue, update Okta, revoke the old one. -scopes: scim (the SCIM
        API), xaas (the XaaS push API), events (read the Events API,
        GET /events/v1); default scim,xaas. An application reading events
        gets a token of its own with -scopes events.
list    the tenant's tokens: id, label, prefix, scopes, created, last used,
        expiry (never the token or its hash)
revoke  deletes a token; running instances that cached it accept it for up to
        the token cache TTL (60 s by default)

` + tableFlagsUsage

// parseArgs parses fs over args, accepting flags before, between and after
// the positional arguments (Go's flag package alone stops at the first
// positional one), and returns the positional arguments. "--" ends the flags.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			return append(pos, rest...), nil
		}
		if len(rest) == 0 {
			return pos, nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// command is one parsed operator subcommand: its positional arguments and
// the table it works on.
type command struct {
	fs     *flag.FlagSet
	tf     tableFlags
	usage  string
	stderr io.Writer
	args   []string
}

// newCommand returns a flag set for an operator subcommand, printing usage on
// errors and -h.
func newCommand(name, usage string, stderr io.Writer) *command {
	c := &command{fs: flag.NewFlagSet(name, flag.ContinueOnError), usage: usage, stderr: stderr}
	c.fs.SetOutput(stderr)
	c.fs.Usage = func() { fmt.Fprint(stderr, usage) }
	c.tf.register(c.fs, false)
	return c
}

// parse parses args and checks the number of positional arguments, between
// lo and hi (hi < 0: no upper bound). Usage errors print the usage and return
// errUsage.
func (c *command) parse(args []string, lo, hi int) error {
	pos, err := parseArgs(c.fs, args)
	if err != nil {
		return errUsage // the flag package printed the error and the usage
	}
	if len(pos) < lo || (hi >= 0 && len(pos) > hi) {
		if hi >= 0 && len(pos) > hi {
			fmt.Fprintf(c.stderr, "scimless %s: unexpected argument %q\n", c.fs.Name(), pos[hi])
		}
		fmt.Fprint(c.stderr, c.usage)
		return errUsage
	}
	c.tf.parsed(c.fs)
	c.args = pos
	return nil
}

// open connects to the table (which must exist).
func (c *command) open(ctx context.Context) (*openedTable, error) {
	return c.tf.open(ctx, false, false)
}

func runToken(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, tokenUsage)
		return errUsage
	}
	switch args[0] {
	case "issue":
		return runTokenIssue(ctx, args[1:], stdout, stderr)
	case "list":
		return runTokenList(ctx, args[1:], stdout, stderr)
	case "revoke":
		return runTokenRevoke(ctx, args[1:], stdout, stderr)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, tokenUsage)
		return nil
	}
	fmt.Fprintf(stderr, "scimless token: unknown subcommand %q\n\n%s", args[0], tokenUsage)
	return errUsage
}

func runTokenIssue(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c := newCommand("token issue", tokenUsage, stderr)
	expires := c.fs.String("expires", "", "lifetime, e.g. 90d or 720h (default: never expires)")
	label := c.fs.String("label", "", "label to recognise the token by, e.g. okta-prod")
	scopes := c.fs.String("scopes", auth.ScopeSCIM+","+auth.ScopeXaaS, "comma-separated scopes: scim (the SCIM API), xaas (the XaaS push API), events (the Events API)")
	if err := c.parse(args, 1, 1); err != nil {
		return err
	}
	tenant := c.args[0]
	if !auth.ValidTenant(tenant) {
		return fmt.Errorf("invalid tenant name %q (1-64 letters, digits, '.', '_' or '-')", tenant)
	}
	now := time.Now()
	var exp time.Time
	if *expires != "" {
		d, err := parseLifetime(*expires)
		if err != nil {
			return fmt.Errorf("-expires: %w", err)
		}
		exp = now.Add(d)
	}
	var sc []string
	for s := range strings.SplitSeq(*scopes, ",") {
		if s = strings.TrimSpace(s); s != "" {
			sc = append(sc, s)
		}
	}
	if len(sc) == 0 {
		return errors.New("-scopes: at least one scope is needed (scim, xaas, events)")
	}
	db, err := c.open(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	secret, tok, err := auth.Issue(ctx, db.Store, auth.IssueOptions{Tenant: tenant, Label: *label, Scopes: sc,
		Expires: exp, Now: now, RequireTenant: true})
	if err != nil {
		return tenantError(tenant, err)
	}
	fmt.Fprintf(stdout, "token id: %s\ntenant:   %s\n", tok.ID, tok.Tenant)
	if tok.Label != "" {
		fmt.Fprintf(stdout, "label:    %s\n", tok.Label)
	}
	fmt.Fprintf(stdout, "scopes:   %s\n", strings.Join(tok.Scopes, ","))
	if !exp.IsZero() {
		fmt.Fprintf(stdout, "expires:  %s\n", exp.UTC().Format(time.RFC3339))
	}
	fmt.Fprintf(stdout, "token:    %s\n(shown once: only its hash is stored)\n", secret)
	return nil
}

func runTokenList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c := newCommand("token list", tokenUsage, stderr)
	if err := c.parse(args, 1, 1); err != nil {
		return err
	}
	tenant := c.args[0]
	db, err := c.open(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	tn, err := db.Store.GetTenant(ctx, tenant)
	if err != nil {
		return tenantError(tenant, err)
	}
	toks, err := db.Store.ListTokens(ctx, tenant)
	if err != nil {
		return err
	}
	if tn.Suspended() {
		fmt.Fprintf(stderr, "note: tenant %s is suspended: all its tokens are refused\n", tenant)
	}
	if len(toks) == 0 {
		fmt.Fprintf(stdout, "tenant %s has no tokens (issue one with: scimless token issue %s -label okta-prod)\n", tenant, tenant)
		return nil
	}
	now := time.Now()
	w := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tLABEL\tPREFIX\tSCOPES\tCREATED\tLAST USED\tEXPIRES")
	for _, t := range toks {
		expires := "never"
		if !t.Expires.IsZero() {
			expires = formatTime(t.Expires)
			if now.After(t.Expires) {
				expires += " (expired)"
			}
		}
		lastUsed := "never"
		if !t.LastUsed.IsZero() {
			lastUsed = formatTime(t.LastUsed)
		}
		fmt.Fprintf(w, "%s\t%s\t%s…\t%s\t%s\t%s\t%s\n", t.ID, orDash(t.Label), t.Prefix, strings.Join(t.Scopes, ","),
			formatTime(t.Created), lastUsed, expires)
	}
	return w.Flush()
}

func runTokenRevoke(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c := newCommand("token revoke", tokenUsage, stderr)
	if err := c.parse(args, 1, 1); err != nil {
		return err
	}
	id := c.args[0]
	db, err := c.open(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	tok, err := db.Store.RevokeToken(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("unknown token id %q (see: scimless token list TENANT)", id)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "revoked token %s of tenant %s: it is refused at once by new instances and within the token cache TTL (%s by default) by running ones\n",
		tok.ID, tok.Tenant, auth.DefaultCacheTTL)
	return nil
}

// tenantError turns the store's tenant errors into operator messages.
func tenantError(tenant string, err error) error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("unknown tenant %q (create it with: scimless tenant create %s)", tenant, tenant)
	case errors.Is(err, store.ErrSuspended):
		return fmt.Errorf("tenant %q is suspended (resume it with: scimless tenant resume %s)", tenant, tenant)
	}
	return err
}

func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// parseLifetime parses a Go duration or a number of days ("90d").
func parseLifetime(s string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil || days <= 0 {
			return 0, fmt.Errorf("invalid lifetime %q", s)
		}
		return time.Duration(days) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("invalid lifetime %q", s)
	}
	return d, nil
}
