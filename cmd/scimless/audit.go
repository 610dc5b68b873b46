package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/scimless/scimless/pkg/store"
)

const auditUsage = `usage: scimless audit TENANT [-since 24h] [-limit 100] [table flags]

Lists the tenant's changes newest first: every change of a user, group or
membership, whatever made it (SCIM, XaaS, CLI), read from its directory
events (operation: the event type, e.g. user.created; who: the token id),
together with entries written to the audit log directly (with the status
answered). Entries are kept for the tenant's auditTTLDays setting (default
90 days).

  -since DURATION|TIME  entries at or after: a duration back from now (24h, 7d)
                        or an RFC 3339 time (2025-06-01 or 2025-06-01T12:00:00Z)
  -limit N              at most N entries (1-1000, default 100)

` + tableFlagsUsage

func runAudit(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c := newCommand("audit", auditUsage, stderr)
	sinceFlag := c.fs.String("since", "24h", "entries at or after this time or duration ago (24h, 7d, 2025-06-01)")
	limit := c.fs.Int("limit", store.DefaultAuditLimit, "at most this many entries (1-1000)")
	if err := c.parse(args, 1, 1); err != nil {
		return err
	}
	tenant := c.args[0]
	if err := validTenantArg(tenant); err != nil {
		return err
	}
	now := time.Now()
	since, err := parseSince(*sinceFlag, now)
	if err != nil {
		return fmt.Errorf("-since: %w", err)
	}
	if *limit < 1 || *limit > store.MaxAuditLimit {
		return fmt.Errorf("-limit: want 1-%d, got %d", store.MaxAuditLimit, *limit)
	}
	db, err := c.open(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.Store.GetTenant(ctx, tenant); err != nil {
		return tenantError(tenant, err)
	}
	entries, err := db.Store.ListTrail(ctx, tenant, since, *limit)
	if err != nil {
		return err
	}
	if len(entries) == 0 {
		fmt.Fprintf(stdout, "no audit entries for tenant %s since %s\n", tenant, formatTime(since))
		return nil
	}
	w := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "TIME\tTOKEN\tOPERATION\tRESOURCE\tSTATUS")
	for _, e := range entries {
		res := strings.TrimSpace(e.ResourceType + " " + e.ResourceID)
		status := "-"
		if e.Status != 0 {
			status = strconv.Itoa(e.Status)
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", e.Time.UTC().Format("2006-01-02T15:04:05.000Z"), orDash(e.TokenID),
			orDash(e.Operation), orDash(res), status)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if len(entries) == *limit {
		fmt.Fprintf(stderr, "note: showing the newest %d entries; use -limit or -since to see others\n", *limit)
	}
	return nil
}

// parseSince parses a lifetime back from now ("24h", "7d") or an RFC 3339
// time or date.
func parseSince(s string, now time.Time) (time.Time, error) {
	if d, err := parseLifetime(s); err == nil {
		return now.Add(-d), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("invalid time %q: want a duration (24h, 7d) or an RFC 3339 time (2025-06-01T12:00:00Z)", s)
}
