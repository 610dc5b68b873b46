package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/scimless/scimless/pkg/auth"
)

func runToken(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "issue" {
		fmt.Fprintln(stderr, "usage: scimless token issue TENANT [-expires 90d] [-label NAME] [-table NAME] [-region R] [-dynamodb-endpoint URL]")
		return errUsage
	}
	fs := flag.NewFlagSet("token issue", flag.ContinueOnError)
	fs.SetOutput(stderr)
	expires := fs.String("expires", "", "lifetime, e.g. 90d or 720h (default: never expires)")
	label := fs.String("label", "", "label to recognise the token by, e.g. okta-prod")
	var tf tableFlags
	tf.register(fs, false)
	rest := args[1:]
	if len(rest) == 0 || strings.HasPrefix(rest[0], "-") {
		fmt.Fprintln(stderr, "usage: scimless token issue TENANT [flags]")
		return errUsage
	}
	tenant := rest[0]
	if err := fs.Parse(rest[1:]); err != nil {
		return errUsage
	}
	tf.parsed(fs)
	var exp time.Time
	if *expires != "" {
		d, err := parseLifetime(*expires)
		if err != nil {
			return fmt.Errorf("-expires: %w", err)
		}
		exp = time.Now().Add(d)
	}
	db, err := tf.open(ctx, false, false)
	if err != nil {
		return err
	}
	defer db.Close()
	secret, tok, err := auth.Issue(ctx, db.Store, auth.IssueOptions{Tenant: tenant, Label: *label, Expires: exp})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "token id: %s\ntenant:   %s\n", tok.ID, tok.Tenant)
	if !exp.IsZero() {
		fmt.Fprintf(stdout, "expires:  %s\n", exp.UTC().Format(time.RFC3339))
	}
	fmt.Fprintf(stdout, "token:    %s\n(shown once: only its hash is stored)\n", secret)
	return nil
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
