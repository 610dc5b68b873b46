package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/scimless/scimless/pkg/events"
	"github.com/scimless/scimless/pkg/events/api"
	"github.com/scimless/scimless/pkg/store"
)

const eventsUsage = `usage: scimless events tail TENANT [-since 10m] [-types user.created,...] [-count N] [-interval 1s] [table flags]

tail    prints the tenant's directory events as they arrive, one JSON object a
        line, in order, until interrupted (or after -count events). It starts
        with the events of the last -since (default: none, only new ones).

` + tableFlagsUsage

func runEvents(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "tail" {
		if len(args) > 0 {
			fmt.Fprintf(stderr, "scimless events: unknown subcommand %q\n\n", args[0])
		}
		fmt.Fprint(stderr, eventsUsage)
		return errUsage
	}
	c := newCommand("events tail", eventsUsage, stderr)
	sinceFlag := c.fs.String("since", "", "also print the events since this time or duration ago (10m, 1h, 2025-06-01)")
	typesFlag := c.fs.String("types", "", "comma-separated event types to print (default: all)")
	count := c.fs.Int("count", 0, "exit after printing this many events (0: run until interrupted)")
	interval := c.fs.Duration("interval", time.Second, "how often to read new events")
	if err := c.parse(args[1:], 1, 1); err != nil {
		return err
	}
	tenant := c.args[0]
	if err := validTenantArg(tenant); err != nil {
		return err
	}
	types, err := events.ParseTypes(*typesFlag)
	if err != nil {
		return fmt.Errorf("-types: %w", err)
	}
	if *count < 0 {
		return fmt.Errorf("-count: must be 0 or more")
	}
	if *interval < 10*time.Millisecond {
		return fmt.Errorf("-interval: at least 10ms")
	}
	start := time.Now()
	if *sinceFlag != "" {
		if start, err = parseSince(*sinceFlag, start); err != nil {
			return fmt.Errorf("-since: %w", err)
		}
	}
	db, err := c.open(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.Store.GetTenant(ctx, tenant); err != nil {
		return tenantError(tenant, err)
	}
	return tailEvents(ctx, db.Store, tenant, events.CursorAt(start), types, *count, *interval, stdout)
}

// tailEvents prints the tenant's events after cursor as they arrive, with
// the Events API's ordering rules (see api.DefaultSettle).
func tailEvents(ctx context.Context, st *store.Store, tenant, after string, types []string, count int, interval time.Duration, stdout io.Writer) error {
	printed := 0
	for {
		page, err := st.ListEvents(ctx, tenant, store.EventQuery{After: after, Types: types, Limit: store.MaxEventLimit,
			Before: events.CursorAt(time.Now().Add(-api.DefaultSettle))})
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		for _, e := range page.Events {
			if _, err := fmt.Fprintf(stdout, "%s\n", e.JSON); err != nil {
				return err
			}
			printed++
			if count > 0 && printed == count {
				return nil
			}
		}
		if page.Next > after {
			after = page.Next
		}
		if len(page.Events) == store.MaxEventLimit {
			continue // more are waiting
		}
		select {
		case <-ctx.Done():
			return nil // interrupted: a normal end
		case <-time.After(interval):
		}
	}
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
