package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/scimless/scimless/pkg/auth"
	"github.com/scimless/scimless/pkg/events/local"
	"github.com/scimless/scimless/pkg/ratelimit"
	"github.com/scimless/scimless/pkg/safe"
	"github.com/scimless/scimless/pkg/scim"
	"github.com/scimless/scimless/pkg/xaas"
)

// tokenList collects repeated -token flags.
type tokenList []string

func (l *tokenList) String() string     { return fmt.Sprint(len(*l), " tokens") }
func (l *tokenList) Set(v string) error { *l = append(*l, v); return nil }

// defaultTenant is the tenant of a -token given without a TENANT: prefix.
const defaultTenant = "default"

// splitToken parses "-token VALUE" or "-token TENANT:VALUE".
func splitToken(v string) (tenant, secret string) {
	if t, s, ok := strings.Cut(v, ":"); ok && auth.ValidTenant(t) {
		return t, s
	}
	return defaultTenant, v
}

// runDev is `scimless dev`: the whole service in one process, on the embedded
// engine (or a table given by the table flags), until ctx ends. It is long
// because it declares the command's flags, a contract scripts rely on, and
// wires the local stack in the order its banner describes it.
func runDev(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("dev", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:8080", "listen address HOST:PORT")
	var tokens tokenList
	fs.Var(&tokens, "token", "accept this bearer token (repeatable); TENANT:VALUE binds it to a tenant (default tenant \"default\")")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn, error")
	rateLimit := fs.Float64("rate-limit", 0, "requests per second each tenant may make (0: no limit; a tenant's rateLimit setting wins)")
	webhookURL := fs.String("webhook", "", "deliver every local tenant's directory events to this `URL` (signed; the secret is printed)")
	xo := xaasDevFlags(fs)
	var tf tableFlags
	tf.register(fs, true)
	fs.StringVar(&tf.dataDir, "data", "", "keep the embedded engine's data in `DIR` across restarts (default: in memory, lost at exit)")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	tf.parsed(fs)
	if *rateLimit < 0 || math.IsNaN(*rateLimit) || math.IsInf(*rateLimit, 0) {
		return fmt.Errorf("-rate-limit %v: want a number of requests per second ≥ 0", *rateLimit)
	}
	if tf.dataDir != "" && tf.endpointSet {
		return fmt.Errorf("-data keeps the embedded engine's data; it cannot be combined with -dynamodb-endpoint")
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(strings.ToUpper(*logLevel))); err != nil {
		return fmt.Errorf("-log-level: %w", err)
	}
	logger := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: level}))

	db, err := tf.open(ctx, true, true)
	if err != nil {
		return err
	}
	defer db.Close()

	tokens, generated, err := issueDevTokens(ctx, db, tokens)
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", *addr, err)
	}
	defer ln.Close()
	fmt.Fprintf(stdout, "scimless dev: serving on %s\n", describeTable(db, &tf))
	// Counts are per tenant: the APIs given this limiter share a tenant's budget.
	limiter := ratelimit.New(ratelimit.Config{Store: db.Store, Default: *rateLimit, Logger: logger})
	xo.limiter = limiter
	xh, stopXaaS, err := startXaaSDev(ctx, xo, db.Store, logger, stdout)
	if err != nil {
		return err
	}
	defer stopXaaS()
	base := "http://" + ln.Addr().String() + scim.Prefix
	authn := auth.NewAuthenticator(db.Store, 0, auth.WithLogger(logger))
	var api http.Handler = withXaaS(scim.New(scim.Config{Store: db.Store, Auth: authn, Logger: logger, Limiter: limiter}), xh)
	feed, err := startEventsDev(ctx, db, authn, base, logger)
	if err != nil {
		return err
	}
	if feed != nil {
		defer feed.Stop()
		api = feed.API.Mount(api)
	}
	srv := newDevServer(devHandler(api, db), defaultDevTimeouts, logger)

	fmt.Fprintf(stdout, "SCIM base URL: %s\n", base)
	fmt.Fprintf(stdout, "XaaS base URL: http://%s%s\n", ln.Addr(), xaas.Prefix)
	if generated != "" {
		fmt.Fprintf(stdout, "Bearer token:  %s\n", generated)
	} else {
		fmt.Fprintf(stdout, "Bearer tokens: %d from -token\n", len(tokens))
	}
	if *rateLimit > 0 {
		fmt.Fprintf(stdout, "Rate limit:    %v requests/s per tenant (-rate-limit)\n", *rateLimit)
	}
	if feed != nil {
		fmt.Fprintf(stdout, "Events API:    http://%s/events/v1 (directory events from the engine's stream)\n", ln.Addr())
	}
	if *webhookURL != "" {
		if feed == nil {
			return fmt.Errorf("-webhook needs the embedded engine's stream; it cannot be combined with -dynamodb-endpoint")
		}
		secret, err := local.Subscribe(ctx, db.Store, *webhookURL, tokenTenants(tokens))
		if err != nil {
			return fmt.Errorf("-webhook: %w", err)
		}
		fmt.Fprintf(stdout, "Webhook:       %s (signing secret %s)\n", *webhookURL, secret)
	}
	fmt.Fprintf(stdout, "Try:           curl -H 'Authorization: Bearer <token>' %s/Users\n", base)
	fmt.Fprintf(stdout, "Metrics:       http://%s/debug/metrics\n", ln.Addr())
	if db.Engine != nil {
		// The other commands reach the embedded table through it.
		fmt.Fprintf(stdout, "DynamoDB:      %s (for scimless tenant|token|schema|audit|xaas -dynamodb-endpoint)\n", db.Engine.Endpoint())
	}

	return serveDev(ctx, srv, ln, logger)
}

// issueDevTokens stores the -token values (or, with none, one generated
// token, returned as generated) for their tenants, with the scim, xaas and
// events scopes.
func issueDevTokens(ctx context.Context, db *openedTable, tokens tokenList) (all tokenList, generated string, err error) {
	if len(tokens) == 0 {
		if generated, err = auth.NewSecret(); err != nil {
			return nil, "", err
		}
		tokens = append(tokens, generated)
	}
	for _, t := range tokens {
		tenant, secret := splitToken(t)
		if secret == "" {
			// auth.Issue would make up a secret nobody is shown.
			return nil, "", fmt.Errorf("-token %q: empty token", t)
		}
		opts := auth.IssueOptions{Tenant: tenant, Secret: secret, Label: "dev", Scopes: []string{auth.ScopeSCIM, auth.ScopeXaaS, auth.ScopeEvents}}
		if _, _, err := auth.Issue(ctx, db.Store, opts); err != nil {
			return nil, "", fmt.Errorf("-token: %w", err)
		}
	}
	return tokens, generated, nil
}

// describeTable says in the banner what the local stack stores its data in.
func describeTable(db *openedTable, tf *tableFlags) string {
	switch {
	case !db.Embedded && tf.endpoint != "":
		return "DynamoDB table " + tf.table + " at " + tf.endpoint
	case !db.Embedded:
		return "DynamoDB table " + tf.table
	case db.Engine.Durable():
		return "embedded DynamoDB-compatible engine, durable in " + db.Engine.Dir() + " (every write fsynced before it is acknowledged)"
	}
	return "embedded DynamoDB-compatible engine, in memory (data is lost at exit; -data DIR keeps it)"
}

// serveDev serves srv on ln until ctx ends, then shuts it down gracefully.
func serveDev(ctx context.Context, srv *http.Server, ln net.Listener, logger *slog.Logger) error {
	errc := make(chan error, 1)
	go func() {
		errc <- safe.Call(ctx, logger, "local HTTP server", func(context.Context) error { return srv.Serve(apiErrorListener{ln}) })
	}()
	select {
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return err
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return srv.Shutdown(sctx)
	}
}
