package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/scimless/scimless/pkg/auth"
	"github.com/scimless/scimless/pkg/selftest"
	"github.com/scimless/scimless/pkg/selftest/tablecheck"
	"github.com/scimless/scimless/pkg/store"
	"github.com/scimless/scimless/pkg/table"
)

// runSoak starts the local stack in-process, runs the selftest load on it,
// and checks the final state: the model of acknowledged writes, and the
// table itself for orphan items.
func runSoak(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("soak", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: scimless soak [-clients N] [-duration D] [-seed N] [-json] [-- dev flags]\n\n"+
			"Runs the realistic Okta and Entra mix on the local stack (started in-process), then checks\n"+
			"0 5xx, 0 lost or phantom writes and 0 orphan items in the table. Flags after -- go to `scimless dev`.\n\n")
		fs.PrintDefaults()
	}
	clients := fs.Int("clients", 8, "clients sending at once")
	duration := fs.Duration("duration", time.Minute, "how long they send")
	seed := fs.Uint64("seed", 0, "seed of the mix (0: random; the report prints it)")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	var devArgs []string
	for i, a := range args {
		if a == "--" {
			args, devArgs = args[:i], args[i+1:]
			break
		}
	}
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	for _, a := range devArgs {
		if strings.TrimLeft(a, "-") == "dynamodb-endpoint" || strings.HasPrefix(strings.TrimLeft(a, "-"), "dynamodb-endpoint=") ||
			strings.TrimLeft(a, "-") == "table" || strings.HasPrefix(strings.TrimLeft(a, "-"), "table=") {
			fmt.Fprintln(stderr, "soak: the soak runs on the embedded engine; -dynamodb-endpoint and -table are not for it")
			return errUsage
		}
	}
	secret, err := auth.NewSecret()
	if err != nil {
		return err
	}
	stack, err := startLocalStack(ctx, secret, devArgs, stderr)
	if err != nil {
		return err
	}
	defer stack.stop()

	rep, err := selftest.Load(ctx, selftest.LoadConfig{BaseURL: stack.base, Token: secret, Clients: *clients, Duration: *duration, Seed: *seed})
	if err != nil {
		return err
	}
	client, err := store.NewClient(ctx, store.ClientConfig{Endpoint: stack.dynamodb})
	if err != nil {
		return err
	}
	// After the load's cleanup the tenant holds nothing: every item
	// left of a user or group has no owner.
	res, err := tablecheck.Check(ctx, client, table.DefaultName)
	if err != nil {
		return err
	}
	c := selftest.Check{Name: "orphan items", Failures: len(res.Problems),
		Detail: fmt.Sprintf("(table read after the cleanup: %d items, %d users, %d groups, %d memberships)", res.Items, res.Users, res.Groups, res.Memberships)}
	for i, p := range res.Problems {
		if i == 10 {
			c.Examples = append(c.Examples, fmt.Sprintf("… and %d more", len(res.Problems)-10))
			break
		}
		c.Examples = append(c.Examples, p.String())
	}
	rep.AddCheck(c)
	return printReport(stdout, rep, *asJSON, rep.Passed, "soak failed: see the 5xx, unexpected answers, model check and orphan items above")
}

// localStack is `scimless dev` running in this process.
type localStack struct {
	base, dynamodb string
	stop           func()
}

// startLocalStack runs runDev with a fresh token and returns the URLs it
// prints (the local run contract); stop ends it.
func startLocalStack(ctx context.Context, secret string, devArgs []string, stderr io.Writer) (*localStack, error) {
	ctx, cancel := context.WithCancel(ctx)
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				done <- fmt.Errorf("local stack: panic: %v", p)
			}
			pw.Close()
		}()
		args := append([]string{"-addr", "127.0.0.1:0", "-token", secret, "-log-level", "error"}, devArgs...)
		done <- runDev(ctx, args, pw, stderr)
	}()
	lines := make(chan map[string]string, 1)
	go func() {
		defer func() { _ = recover() }()
		sc := bufio.NewScanner(pr)
		seen := map[string]string{}
		for sc.Scan() {
			if seen == nil {
				continue // drain
			}
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok {
				seen[k] = strings.TrimSpace(v)
			}
			if strings.HasPrefix(sc.Text(), "DynamoDB:") {
				lines <- seen
				seen = nil
			}
		}
	}()
	stop := func() {
		cancel()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
		}
	}
	select {
	case seen := <-lines:
		dyn, _, _ := strings.Cut(seen["DynamoDB"], " ")
		return &localStack{base: seen["SCIM base URL"], dynamodb: dyn, stop: stop}, nil
	case err := <-done:
		cancel()
		if err == nil {
			err = errors.New("the local stack stopped before serving")
		}
		return nil, fmt.Errorf("start the local stack: %w", err)
	case <-time.After(time.Minute):
		stop()
		return nil, errors.New("start the local stack: no DynamoDB line within a minute")
	}
}
