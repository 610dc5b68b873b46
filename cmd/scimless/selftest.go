package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/scimless/scimless/pkg/selftest"
)

// tokenEnv is read when -token is not given, so the token need not appear
// in the process list or the shell history.
const tokenEnv = "SCIMLESS_TOKEN"

// runSelftest is `scimless selftest`: it parses the flags, runs the flows
// (or the load with -load) and prints the report. It is long because it
// declares the command's flags, a contract scripts rely on, in one place.
func runSelftest(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("selftest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: scimless selftest -url BASE -token T [-flows %s] [-json] [-keep] [-timeout D]\n"+
			"       scimless selftest -url BASE -token T -load C -duration D [-json]\n\n"+
			"Checks a SCIM deployment with the requests Okta and Entra ID send; exit status 0 when every flow passes.\n\n", joinFlows())
		fs.PrintDefaults()
	}
	base := fs.String("url", "", "SCIM base URL, e.g. https://HOST/scim/v2 (the ScimBaseUrl output)")
	token := fs.String("token", "", "bearer token (default: $"+tokenEnv+"); never printed")
	flows := fs.String("flows", joinFlows(), "comma-separated flows to run, or all")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	keep := fs.Bool("keep", false, "keep what the run creates (its names start with the printed prefix)")
	timeout := fs.Duration("timeout", 15*time.Minute, "stop the flows after this long (the cleanup still runs)")
	xaasURL := fs.String("xaas-url", "", "XaaS base URL (default: the -url with /scim/v2 replaced by /xaas/v1)")
	eventsURL := fs.String("events-url", "", "Events API base URL (default: the -url with /scim/v2 replaced by /events/v1)")
	members := fs.Int("members", 1000, "members the groups flow adds in one PATCH")
	load := fs.Int("load", 0, "run the realistic mix with this many clients instead of the flows")
	duration := fs.Duration("duration", time.Minute, "with -load: how long to run")
	quiet := fs.Bool("q", false, "no progress lines on stderr")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "selftest: unexpected argument %q\n", fs.Arg(0))
		return errUsage
	}
	if *token == "" {
		*token = os.Getenv(tokenEnv)
	}
	if *base == "" || *token == "" {
		fmt.Fprintln(stderr, "selftest: -url and -token (or $"+tokenEnv+") are required")
		return errUsage
	}
	if *load > 0 {
		rep, err := selftest.Load(ctx, selftest.LoadConfig{BaseURL: *base, Token: *token, Clients: *load, Duration: *duration, XaaSURL: *xaasURL})
		if err != nil {
			return err
		}
		return printReport(stdout, rep, *asJSON, rep.Passed, "selftest -load: failures under load (see above)")
	}
	list, err := selftest.ParseFlows(*flows)
	if err != nil {
		fmt.Fprintln(stderr, "selftest: -flows:", err)
		return errUsage
	}
	interrupted := make(chan struct{})
	defer close(interrupted)
	go func() {
		defer func() { _ = recover() }()
		select {
		case <-ctx.Done():
			fmt.Fprintln(stderr, "selftest: interrupted; removing what the run created (at most 5 minutes)")
		case <-interrupted:
		}
	}()
	rep, err := selftest.Run(ctx, selftest.Config{
		BaseURL: *base, Token: *token, Flows: list, Keep: *keep, Timeout: *timeout,
		XaaSURL: *xaasURL, EventsURL: *eventsURL, GroupMembers: *members,
		Progress: func(s selftest.Step) {
			if !*quiet {
				fmt.Fprintf(stderr, "%-9s %-4s %s\n", s.Flow, s.Status, s.Name)
			}
		},
	})
	if err != nil {
		return err
	}
	return printReport(stdout, rep, *asJSON, rep.Passed, "selftest failed")
}

// report is a selftest or load report.
type report interface {
	WriteJSON(w io.Writer) error
	WriteText(w io.Writer) error
}

// printReport writes rep to w, as JSON with asJSON, and returns an error
// saying failed when the run did not pass.
func printReport(w io.Writer, rep report, asJSON, passed bool, failed string) error {
	write := rep.WriteText
	if asJSON {
		write = rep.WriteJSON
	}
	if err := write(w); err != nil {
		return err
	}
	if !passed {
		return errors.New(failed)
	}
	return nil
}

func joinFlows() string {
	s := ""
	for i, f := range selftest.AllFlows() {
		if i > 0 {
			s += ","
		}
		s += f
	}
	return s
}
