package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/scimless/scimless/pkg/auth"
	"github.com/scimless/scimless/pkg/store"
)

const tenantUsage = `usage: scimless tenant create NAME [-display "Acme Inc"] [table flags]
       scimless tenant list [table flags]
       scimless tenant show NAME [table flags]
       scimless tenant suspend NAME [table flags]
       scimless tenant resume NAME [table flags]
       scimless tenant set NAME KEY=VALUE... [table flags]

create   a new active tenant (NAME: 1-64 letters, digits, '.', '_' or '-')
suspend  its tokens are refused within the token cache TTL (60 s by default);
         its data is kept
resume   its tokens work again within the token cache TTL
set      tenant settings; KEY= removes one:
           passwordSync=true|false          store password hashes (default false)
           extensionPassThrough=true|false  accept unknown schema extensions
           rateLimit=N                      requests per second (0: no limit)
           auditTTLDays=N                   days audit entries are kept (default 90)
           eventTTLDays=N                   days the Events API serves events (default 30)

` + tableFlagsUsage

// settingCheckers validate the values "tenant set" accepts, per setting.
var settingCheckers = map[string]func(string) error{
	store.SettingPasswordSync:         checkBool,
	store.SettingExtensionPassThrough: checkBool,
	store.SettingRateLimit: func(v string) error {
		if f, err := strconv.ParseFloat(v, 64); err != nil || f < 0 {
			return errors.New("want a number of requests per second ≥ 0")
		}
		return nil
	},
	store.SettingAuditTTLDays: checkDays,
	store.SettingEventTTLDays: checkDays,
}

func checkDays(v string) error {
	if n, err := strconv.Atoi(v); err != nil || n <= 0 {
		return errors.New("want a positive number of days")
	}
	return nil
}

func checkBool(v string) error {
	if v != "true" && v != "false" {
		return errors.New("want true or false")
	}
	return nil
}

func runTenant(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, tenantUsage)
		return errUsage
	}
	switch args[0] {
	case "create":
		return runTenantCreate(ctx, args[1:], stdout, stderr)
	case "list":
		return runTenantList(ctx, args[1:], stdout, stderr)
	case "show":
		return runTenantShow(ctx, args[1:], stdout, stderr)
	case "suspend":
		return runTenantStatus(ctx, "tenant suspend", store.TenantSuspended, args[1:], stdout, stderr)
	case "resume":
		return runTenantStatus(ctx, "tenant resume", store.TenantActive, args[1:], stdout, stderr)
	case "set":
		return runTenantSet(ctx, args[1:], stdout, stderr)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, tenantUsage)
		return nil
	}
	fmt.Fprintf(stderr, "scimless tenant: unknown subcommand %q\n\n%s", args[0], tenantUsage)
	return errUsage
}

func validTenantArg(name string) error {
	if !auth.ValidTenant(name) {
		return fmt.Errorf("invalid tenant name %q (1-64 letters, digits, '.', '_' or '-')", name)
	}
	return nil
}

func runTenantCreate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c := newCommand("tenant create", tenantUsage, stderr)
	display := c.fs.String("display", "", "display name, e.g. \"Acme Inc\"")
	if err := c.parse(args, 1, 1); err != nil {
		return err
	}
	name := c.args[0]
	if err := validTenantArg(name); err != nil {
		return err
	}
	if len(*display) > 256 {
		return errors.New("-display: at most 256 characters")
	}
	db, err := c.open(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	t := &store.Tenant{ID: name, Display: *display}
	if err := db.Store.CreateTenant(ctx, t); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return fmt.Errorf("tenant %q already exists (see: scimless tenant show %s)", name, name)
		}
		return err
	}
	fmt.Fprintf(stdout, "created tenant %s\nnext: scimless token issue %s -label okta-prod\n", name, name)
	return nil
}

func runTenantList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c := newCommand("tenant list", tenantUsage, stderr)
	if err := c.parse(args, 0, 0); err != nil {
		return err
	}
	db, err := c.open(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	list, err := db.Store.ListTenants(ctx)
	if err != nil {
		return err
	}
	if len(list) == 0 {
		fmt.Fprintln(stdout, "no tenants (create one with: scimless tenant create NAME)")
		return nil
	}
	w := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "NAME\tSTATUS\tCREATED\tDISPLAY NAME")
	for _, t := range list {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", t.ID, t.Status, formatTime(t.Created), orDash(t.Display))
	}
	return w.Flush()
}

func runTenantShow(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c := newCommand("tenant show", tenantUsage, stderr)
	if err := c.parse(args, 1, 1); err != nil {
		return err
	}
	db, err := c.open(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	t, err := db.Store.GetTenant(ctx, c.args[0])
	if err != nil {
		return tenantError(c.args[0], err)
	}
	printTenant(stdout, t)
	return nil
}

func printTenant(w io.Writer, t *store.Tenant) {
	fmt.Fprintf(w, "tenant:   %s\ndisplay:  %s\nstatus:   %s\ncreated:  %s\ntokens:   %d\n",
		t.ID, orDash(t.Display), t.Status, formatTime(t.Created), t.Tokens)
	if len(t.Settings) == 0 {
		fmt.Fprintln(w, "settings: (none: defaults)")
		return
	}
	fmt.Fprintln(w, "settings:")
	for _, k := range slices.Sorted(maps.Keys(t.Settings)) {
		fmt.Fprintf(w, "  %s=%s\n", k, t.Settings[k])
	}
}

func runTenantStatus(ctx context.Context, name, status string, args []string, stdout, stderr io.Writer) error {
	c := newCommand(name, tenantUsage, stderr)
	if err := c.parse(args, 1, 1); err != nil {
		return err
	}
	tenant := c.args[0]
	db, err := c.open(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	before, err := db.Store.GetTenant(ctx, tenant)
	if err != nil {
		return tenantError(tenant, err)
	}
	if before.Status == status {
		fmt.Fprintf(stdout, "tenant %s is already %s\n", tenant, status)
		return nil
	}
	t, err := db.Store.SetTenantStatus(ctx, tenant, status)
	if err != nil {
		return tenantError(tenant, err)
	}
	if status == store.TenantSuspended {
		fmt.Fprintf(stdout, "suspended tenant %s: its %d token(s) are refused at once by new instances and within the token cache TTL (%s by default) by running ones\n",
			tenant, t.Tokens, auth.DefaultCacheTTL)
	} else {
		fmt.Fprintf(stdout, "resumed tenant %s: its %d token(s) work again within the token cache TTL (%s by default)\n",
			tenant, t.Tokens, auth.DefaultCacheTTL)
	}
	return nil
}

func runTenantSet(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c := newCommand("tenant set", tenantUsage, stderr)
	if err := c.parse(args, 2, -1); err != nil {
		return err
	}
	tenant := c.args[0]
	settings := map[string]string{}
	for _, kv := range c.args[1:] {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return fmt.Errorf("setting %q: want KEY=VALUE (KEY= removes it)", kv)
		}
		check, known := settingCheckers[k]
		if !known {
			return fmt.Errorf("unknown setting %q (known: %s)", k, strings.Join(slices.Sorted(maps.Keys(settingCheckers)), ", "))
		}
		if v != "" {
			if err := check(v); err != nil {
				return fmt.Errorf("setting %s=%q: %w", k, v, err)
			}
		}
		settings[k] = v
	}
	db, err := c.open(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	t, err := db.Store.SetTenantSettings(ctx, tenant, settings)
	if err != nil {
		return tenantError(tenant, err)
	}
	printTenant(stdout, t)
	return nil
}
