package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/scimless/scimless/pkg/auth"
	"github.com/scimless/scimless/pkg/lambdaevent"
	"github.com/scimless/scimless/pkg/safe"
	"github.com/scimless/scimless/pkg/store"
	"github.com/scimless/scimless/pkg/xaas"
	"github.com/scimless/scimless/pkg/xaas/okta"
	"github.com/scimless/scimless/pkg/xaas/oktafake"
)

const xaasUsage = `usage: scimless xaas config set TENANT -org-url URL -identity-source ID -secret-ref REF
                              [-auth ssws|oauth] [-client-id ID] [-key-id KID]
                              [-interval 15m] [-debounce 2m] [table flags]
       scimless xaas config get TENANT [table flags]
       scimless xaas mapping set TENANT FILE [table flags]
       scimless xaas mapping get TENANT [table flags]
       scimless xaas sync TENANT [table flags]
       scimless xaas status TENANT [-run ID] [-watch] [-json] [table flags]

config set   the tenant's Okta org for Anything-as-a-Source: org URL, the Custom
             Identity Source app's id, and where its credential lives (-secret-ref:
             a Secrets Manager secret name or ARN, or env:NAME): an API token
             (-auth ssws) or an OAuth service app's private key, PEM or JWK (-auth
             oauth -client-id ID). -interval is the time between scheduled syncs
             (0: none), -debounce the quiet time after a push before a sync (0:
             pushes do not start syncs). The credential itself is never stored.
mapping set  the tenant's profile mapping from a JSON file:
               {"attributes": {"userName": "{email}", "streetAddress":
                "{street_number} {street_name}", …}}
             Records that failed under the previous mapping are retried.
mapping get  the tenant's mapping (the built-in one for the sample items API's records if
             none is set)
sync         queue a sync now (like POST /xaas/v1/syncs)
status       the tenant's last sync (or -run ID): state, Okta sessions, counts,
             a progress bar while it runs (-watch: until it ends), failures

` + tableFlagsUsage

// runXaaS is the `scimless xaas` command.
func runXaaS(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, xaasUsage)
		return errUsage
	}
	sub := args[0]
	if (sub == "config" || sub == "mapping") && len(args) > 1 {
		sub += " " + args[1]
		args = args[1:]
	}
	switch sub {
	case "config set":
		return runXaaSConfigSet(ctx, args[1:], stdout, stderr)
	case "config get":
		return runXaaSConfigGet(ctx, args[1:], stdout, stderr)
	case "mapping set":
		return runXaaSMappingSet(ctx, args[1:], stdout, stderr)
	case "mapping get":
		return runXaaSMappingGet(ctx, args[1:], stdout, stderr)
	case "sync":
		return runXaaSSync(ctx, args[1:], stdout, stderr)
	case "status":
		return runXaaSStatus(ctx, args[1:], stdout, stderr)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, xaasUsage)
		return nil
	}
	fmt.Fprintf(stderr, "scimless xaas: unknown subcommand %q\n\n%s", sub, xaasUsage)
	return errUsage
}

// xaasCommand is one parsed `scimless xaas` subcommand.
type xaasCommand struct {
	fs     *flag.FlagSet
	tf     tableFlags
	stderr io.Writer
	args   []string
}

func newXaaSCommand(name string, stderr io.Writer) *xaasCommand {
	c := &xaasCommand{fs: flag.NewFlagSet("xaas "+name, flag.ContinueOnError), stderr: stderr}
	c.fs.SetOutput(stderr)
	c.fs.Usage = func() { fmt.Fprint(stderr, xaasUsage) }
	c.tf.register(c.fs, false)
	return c
}

// parse parses flags anywhere among exactly n positional arguments.
func (c *xaasCommand) parse(args []string, n int) error {
	pos, err := parseArgs(c.fs, args)
	if err != nil {
		return errUsage
	}
	if len(pos) != n {
		fmt.Fprintf(c.stderr, "scimless %s: want %d argument(s), got %d\n\n%s", c.fs.Name(), n, len(pos), xaasUsage)
		return errUsage
	}
	if !auth.ValidTenant(pos[0]) {
		return fmt.Errorf("invalid tenant name %q", pos[0])
	}
	c.tf.parsed(c.fs)
	c.args = pos
	return nil
}

func runXaaSConfigSet(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c := newXaaSCommand("config set", stderr)
	var cfg xaas.OktaConfig
	c.fs.StringVar(&cfg.OrgURL, "org-url", "", "Okta org URL, e.g. https://example.okta.com")
	c.fs.StringVar(&cfg.IdentitySourceID, "identity-source", "", "the Custom Identity Source app's id (0oa…)")
	c.fs.StringVar(&cfg.Auth, "auth", xaas.AuthSSWS, "ssws (API token) or oauth (service app, private-key JWT)")
	c.fs.StringVar(&cfg.ClientID, "client-id", "", "the OAuth service app's client id (-auth oauth)")
	c.fs.StringVar(&cfg.KeyID, "key-id", "", "the private key's kid, if the app has several keys (-auth oauth)")
	c.fs.StringVar(&cfg.SecretRef, "secret-ref", "", "where the API token or private key is: a Secrets Manager secret name or ARN, or env:NAME")
	interval := c.fs.Duration("interval", 15*time.Minute, "time between scheduled syncs (0: none)")
	debounce := c.fs.Duration("debounce", 2*time.Minute, "quiet time after a push before a sync starts (0: pushes do not start syncs)")
	if err := c.parse(args, 1); err != nil {
		return err
	}
	if *interval < 0 || *debounce < 0 {
		return errors.New("-interval and -debounce must not be negative")
	}
	db, err := c.tf.open(ctx, false, false)
	if err != nil {
		return err
	}
	defer db.Close()
	tenant := c.args[0]
	if _, err := db.Store.GetTenant(ctx, tenant); err != nil {
		return fmt.Errorf("tenant %s: %w", tenant, err)
	}
	if err := xaas.SaveOktaConfig(ctx, db.Store, tenant, &cfg); err != nil {
		return err
	}
	next := time.Time{}
	if *interval > 0 {
		next = time.Now().Add(*interval)
	}
	if err := db.Store.SetXaaSSchedule(ctx, tenant, *interval, *debounce, next); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "tenant %s syncs to %s (identity source %s, %s credential from %s)\n", tenant, cfg.OrgURL,
		cfg.IdentitySourceID, cfg.Auth, cfg.SecretRef)
	fmt.Fprintf(stdout, "schedule: every %s; after a push: %s\n", orNone(*interval), orNone(*debounce))
	return nil
}

func orNone(d time.Duration) string {
	if d == 0 {
		return "never"
	}
	return d.String()
}

func runXaaSConfigGet(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c := newXaaSCommand("config get", stderr)
	if err := c.parse(args, 1); err != nil {
		return err
	}
	db, err := c.tf.open(ctx, false, false)
	if err != nil {
		return err
	}
	defer db.Close()
	cfg, err := xaas.LoadOktaConfig(ctx, db.Store, c.args[0])
	if err != nil {
		return err
	}
	out := map[string]any{"okta": cfg}
	if s, err := db.Store.GetXaaSSync(ctx, c.args[0]); err == nil && s.Scheduled {
		out["interval"], out["debounce"] = s.Interval.String(), s.Debounce.String()
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

func runXaaSMappingSet(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c := newXaaSCommand("mapping set", stderr)
	if err := c.parse(args, 2); err != nil {
		return err
	}
	data, err := os.ReadFile(c.args[1])
	if err != nil {
		return err
	}
	m, err := xaas.ParseMapping(data)
	if err != nil {
		return fmt.Errorf("%s: %w", c.args[1], err)
	}
	db, err := c.tf.open(ctx, false, false)
	if err != nil {
		return err
	}
	defer db.Close()
	requeued, err := xaas.SaveMapping(ctx, db.Store, c.args[0], m)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "mapping of %s set: %d Okta attributes", c.args[0], len(m.Templates()))
	if requeued > 0 {
		fmt.Fprintf(stdout, "; %d records that failed under the previous mapping will be tried again", requeued)
	}
	fmt.Fprintln(stdout)
	return nil
}

func runXaaSMappingGet(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c := newXaaSCommand("mapping get", stderr)
	if err := c.parse(args, 1); err != nil {
		return err
	}
	db, err := c.tf.open(ctx, false, false)
	if err != nil {
		return err
	}
	defer db.Close()
	m, err := xaas.LoadMapping(ctx, db.Store, c.args[0])
	if err != nil {
		return err
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "%s\n", b)
	return err
}

func runXaaSSync(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c := newXaaSCommand("sync", stderr)
	if err := c.parse(args, 1); err != nil {
		return err
	}
	db, err := c.tf.open(ctx, false, false)
	if err != nil {
		return err
	}
	defer db.Close()
	e := xaas.NewEngine(xaas.EngineConfig{Store: db.Store, Resolver: &xaas.TableResolver{Store: db.Store}})
	id, err := e.StartRun(ctx, c.args[0], xaas.TriggerCLI)
	var active *xaas.RunActiveError
	if errors.As(err, &active) {
		return fmt.Errorf("sync %s is already queued or running (scimless xaas status %s -run %s)", active.ID, c.args[0], active.ID)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "sync %s queued; the next scheduled tick runs it\n", id)
	return nil
}

func runXaaSStatus(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c := newXaaSCommand("status", stderr)
	runID := c.fs.String("run", "", "a sync id (default: the latest)")
	watch := c.fs.Bool("watch", false, "refresh until the sync ends")
	asJSON := c.fs.Bool("json", false, "print the sync as the API shows it")
	every := c.fs.Duration("every", 2*time.Second, "refresh interval with -watch")
	if err := c.parse(args, 1); err != nil {
		return err
	}
	db, err := c.tf.open(ctx, false, false)
	if err != nil {
		return err
	}
	defer db.Close()
	return xaasStatus(ctx, db.Store, c.args[0], *runID, *watch, *asJSON, *every, stdout)
}

// xaasStatus prints a tenant's sync (the latest when id is empty).
func xaasStatus(ctx context.Context, st *store.Store, tenant, id string, watch, asJSON bool, every time.Duration, w io.Writer) error {
	load := func() (*xaas.RunDetail, error) {
		if id != "" {
			return xaas.GetRun(ctx, st, tenant, id)
		}
		runs, err := xaas.ListRuns(ctx, st, tenant, "", 1)
		if err != nil {
			return nil, err
		}
		if len(runs) == 0 {
			return nil, fmt.Errorf("tenant %s has no syncs yet", tenant)
		}
		id = runs[0].Status.ID
		return runs[0], nil
	}
	d, err := load()
	if err != nil {
		return err
	}
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(d.Status)
	}
	printed := false
	for watch && (d.Status.State == store.RunQueued || d.Status.State == store.RunRunning) {
		fmt.Fprintf(w, "\r%s", progressLine(d))
		printed = true
		select {
		case <-ctx.Done():
			fmt.Fprintln(w)
			return ctx.Err()
		case <-time.After(every):
		}
		if d, err = load(); err != nil {
			return err
		}
	}
	if printed {
		fmt.Fprintln(w)
	}
	printRun(w, d)
	return nil
}

// progressLine renders a running sync's progress bar.
func progressLine(d *xaas.RunDetail) string {
	const width = 30
	frac := 0.0
	if d.Total > 0 {
		frac = min(float64(d.Processed)/float64(d.Total), 1)
	}
	n := int(frac*width + 0.5)
	what := d.Phase
	if d.Wait != "" {
		what = d.Wait
	}
	if len(what) > 60 {
		what = what[:57] + "..."
	}
	return fmt.Sprintf("[%s%s] %3.0f%%  %d/%d records  %-60s", strings.Repeat("#", n), strings.Repeat("-", width-n),
		frac*100, d.Processed, d.Total, what)
}

func printRun(w io.Writer, d *xaas.RunDetail) {
	s := d.Status
	fmt.Fprintf(w, "sync %s: %s (trigger %s, queued %s", s.ID, s.State, d.Trigger, d.Created.UTC().Format(time.RFC3339))
	if s.Started != nil {
		fmt.Fprintf(w, ", started %s", s.Started.UTC().Format(time.RFC3339))
	}
	if s.Finished != nil {
		fmt.Fprintf(w, ", finished %s after %s", s.Finished.UTC().Format(time.RFC3339), s.Finished.Sub(*s.Started).Round(time.Second))
	}
	fmt.Fprintln(w, ")")
	if s.State == store.RunRunning || s.State == store.RunQueued {
		fmt.Fprintln(w, progressLine(d))
	}
	c := s.Counts
	fmt.Fprintf(w, "counts: %d upserted, %d deactivated, %d groups, %d memberships, %d failed\n",
		c.Upserted, c.Deactivated, c.Groups, c.Memberships, c.Failed)
	for i, ss := range s.Sessions {
		fmt.Fprintf(w, "  session %d %s  %-11s %2d uploads %5d entities\n", i+1, ss.ID, ss.Status, ss.Uploads, ss.Entities)
	}
	if s.Error != "" {
		fmt.Fprintf(w, "error: %s\n", s.Error)
	}
	for i, f := range d.Failures {
		if i == 10 {
			fmt.Fprintf(w, "  … %d more (GET %s/syncs/%s/failures)\n", len(d.Failures)-10, xaas.Prefix, s.ID)
			break
		}
		fmt.Fprintf(w, "  failed %s %s: %s\n", f.Kind, f.ExternalID, f.Detail)
	}
}

// --- the local run (scimless dev) ---

// xaasDevOptions are the XaaS flags of `scimless dev`.
type xaasDevOptions struct {
	oktaURL        string
	oktaToken      string
	oktaClientID   string
	oktaKeyFile    string
	identitySource string
	fakeOkta       bool
	fakeOktaAddr   string
	syncInterval   time.Duration
	syncDebounce   time.Duration
	sessionGap     time.Duration
	importDelay    time.Duration
	tick           time.Duration
	// limiter limits each tenant's XaaS requests (nil: no limit); the SCIM
	// handler shares it, so a tenant's budget covers both APIs.
	limiter xaas.Limiter
	maxBulk int64
}

// xaasDevFlags registers the XaaS flags of `scimless dev` on fs.
func xaasDevFlags(fs *flag.FlagSet) *xaasDevOptions {
	o := &xaasDevOptions{}
	fs.StringVar(&o.oktaURL, "okta-url", "", "Okta org URL every local tenant syncs to (or a fake Okta's URL)")
	fs.StringVar(&o.oktaToken, "okta-token", "", "Okta API token (SSWS) for -okta-url")
	fs.StringVar(&o.oktaClientID, "okta-client-id", "", "OAuth service app client id for -okta-url, instead of -okta-token")
	fs.StringVar(&o.oktaKeyFile, "okta-private-key", "", "file with the service app's private key (PEM or JWK), with -okta-client-id")
	fs.StringVar(&o.identitySource, "identity-source", "", "the Custom Identity Source app's id, with -okta-url")
	fs.BoolVar(&o.fakeOkta, "fake-okta", false, "start a fake Okta (Identity Sources API) beside the local stack and sync every tenant to it")
	fs.StringVar(&o.fakeOktaAddr, "fake-okta-addr", "127.0.0.1:0", "listen address of -fake-okta")
	fs.DurationVar(&o.syncInterval, "sync-interval", 0, "time between scheduled syncs of each tenant (0: none, only on-demand and debounced syncs)")
	fs.DurationVar(&o.syncDebounce, "sync-debounce", 10*time.Second, "quiet time after a push before a sync starts (0: pushes do not start syncs)")
	fs.DurationVar(&o.sessionGap, "okta-session-gap", okta.MinSessionGap, "least time between an Okta import and the next session (Okta: 5m; the fake enforces the same)")
	fs.DurationVar(&o.importDelay, "fake-okta-import-delay", 3*time.Second, "how long the fake Okta takes to import a session")
	fs.DurationVar(&o.tick, "sync-tick", time.Second, "how often the local scheduler looks for due syncs")
	fs.Int64Var(&o.maxBulk, "xaas-max-bulk-bytes", 1<<30, "largest bulk push body (AWS: 6 MB, Lambda's limit)")
	return o
}

// startXaaSDev starts the XaaS side of the local run: the API handler, the
// sync engine's scheduler loop and, with -fake-okta, a fake Okta. It returns
// the handler of /xaas/v1 and /items, and a function that stops it all.
func startXaaSDev(ctx context.Context, o *xaasDevOptions, st *store.Store, logger *slog.Logger, stdout io.Writer) (http.Handler, func(), error) {
	var stops []func()
	stop := func() {
		for _, f := range slices.Backward(stops) {
			f()
		}
	}
	gap := o.sessionGap
	if gap <= 0 {
		gap = -1
	}
	if o.fakeOkta {
		if o.oktaURL != "" {
			return nil, nil, errors.New("-fake-okta and -okta-url exclude each other")
		}
		fake := oktafake.New(oktafake.Options{ImportDelay: o.importDelay, SessionGap: gap, RecordLimit: 1000})
		ln, err := net.Listen("tcp", o.fakeOktaAddr)
		if err != nil {
			return nil, nil, fmt.Errorf("fake okta: %w", err)
		}
		srv := &http.Server{Handler: fake, ReadHeaderTimeout: 10 * time.Second}
		safe.Go(ctx, logger, "fake Okta server", func(context.Context) { _ = srv.Serve(ln) })
		stops = append(stops, func() { _ = srv.Close() })
		o.oktaURL, o.oktaToken, o.identitySource = "http://"+ln.Addr().String(), oktafake.DefaultAPIToken, oktafake.DefaultIdentitySource
		fmt.Fprintf(stdout, "Fake Okta:     %s (identity source %s, API token %s)\n", o.oktaURL, o.identitySource, o.oktaToken)
	}
	var resolver xaas.Resolver = &xaas.TableResolver{Store: st, Secrets: xaas.EnvSecrets{Getenv: os.Getenv}}
	if o.oktaURL != "" {
		if o.identitySource == "" {
			stop()
			return nil, nil, errors.New("-okta-url needs -identity-source")
		}
		cfg := &xaas.OktaConfig{OrgURL: o.oktaURL, IdentitySourceID: o.identitySource, Auth: xaas.AuthSSWS}
		secret := []byte(o.oktaToken)
		if o.oktaClientID != "" {
			key, err := os.ReadFile(o.oktaKeyFile)
			if err != nil {
				stop()
				return nil, nil, fmt.Errorf("-okta-private-key: %w", err)
			}
			cfg.Auth, cfg.ClientID, secret = xaas.AuthOAuth, o.oktaClientID, key
		} else if o.oktaToken == "" {
			stop()
			return nil, nil, errors.New("-okta-url needs -okta-token (or -okta-client-id and -okta-private-key)")
		}
		client, err := xaas.NewOktaClient(cfg, secret)
		if err != nil {
			stop()
			return nil, nil, err
		}
		resolver = xaas.StaticResolver{T: xaas.Target{API: client, SourceID: o.identitySource}}
		if !o.fakeOkta {
			fmt.Fprintf(stdout, "Okta:          %s (identity source %s)\n", o.oktaURL, o.identitySource)
		}
	}
	engine := xaas.NewEngine(xaas.EngineConfig{Store: st, Resolver: resolver, Logger: logger, Interval: o.syncInterval,
		Debounce: o.syncDebounce, Limits: xaas.Limits{SessionGap: gap, PollInterval: 2 * time.Second, RetryDelay: 10 * time.Second}})
	lctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	safe.Go(lctx, logger, "XaaS scheduler loop", func(ctx context.Context) { defer close(done); engine.Loop(ctx, o.tick) })
	stops = append(stops, func() { cancel(); <-done })
	h := xaas.NewServer(xaas.Config{Store: st, Auth: auth.NewAuthenticator(st, 0), Engine: engine, Logger: logger,
		RequestTimeout: -1, MaxBulkBytes: o.maxBulk, Limiter: o.limiter})
	return h, stop, nil
}

// withXaaS routes the XaaS paths (/xaas/v1…, /items…) to xh and the rest to h.
func withXaaS(h, xh http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if xaas.Handles(r.URL.Path) {
			xh.ServeHTTP(w, r)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// --- invoke ---

// xaasInvokeResult is what replaying an XaaS event gives: the proxy response
// of an API event, or the report of the tick a scheduled event runs.
type xaasInvokeResult struct {
	HTTP *events.APIGatewayV2HTTPResponse
	Tick *xaas.TickReport
}

// value is what `invoke` prints.
func (r xaasInvokeResult) value() any {
	if r.HTTP != nil {
		return r.HTTP
	}
	return r.Tick
}

// isXaaSEvent reports whether raw is an event of the xaas function: an
// EventBridge scheduled event, or an API event of an XaaS route.
func isXaaSEvent(raw []byte) bool {
	kind, err := lambdaevent.Kind(raw)
	if err != nil {
		return false
	}
	if kind == lambdaevent.Schedule {
		return true
	}
	var ev struct {
		RawPath string `json:"rawPath"`
	}
	return kind == lambdaevent.HTTP && json.Unmarshal(raw, &ev) == nil && xaas.Handles(ev.RawPath)
}

// xaasInvokeRecords are the source records a replayed XaaS event finds (the
// events in events/xaas-*.json name them).
var xaasInvokeRecords = []byte(`[
{"id":"brad.gibson@example.com","active":true,"title":"Mr","first_name":"Brad","last_name":"Gibson","street_number":"9278","street_name":"New Road","city":"Kilcoole","state":"Waterford","country":"IE","postcode":"93027","email":"brad.gibson@example.com","phone":"011-962-7516","cell":"081-454-0666","dob":"1993-07-20T09:44:18.674Z"},
{"id":"ida.rasmussen@example.com","active":true,"title":"Ms","first_name":"Ida","last_name":"Rasmussen","street_number":"6457","street_name":"Vestergade","city":"Aarhus N","state":"Syddanmark","country":"DK","postcode":"52271","email":"ida.rasmussen@example.com","phone":"95961334","cell":"87211427","dob":"1958-06-30T01:47:35.208Z"}
]`)

// xaasInvoke runs an XaaS event through the xaas function's handler, like
// `sam local invoke`, against a throw-away embedded table holding the
// default tenant (token `token`), two source records and a group, with an
// in-process fake Okta as every tenant's Okta org. ok is false (and nothing
// runs) for an event of another function.
func xaasInvoke(ctx context.Context, tf *tableFlags, token string, raw []byte, logw io.Writer) (res xaasInvokeResult, ok bool, err error) {
	if !isXaaSEvent(raw) {
		return res, false, nil
	}
	db, err := invokeTable(ctx, tf, token)
	if err != nil {
		return res, true, err
	}
	defer db.Close()
	fake := httptest.NewServer(oktafake.New(oktafake.Options{}))
	defer fake.Close()
	client, err := okta.New(fake.URL, okta.APIToken(oktafake.DefaultAPIToken))
	if err != nil {
		return res, true, err
	}
	logger := slog.New(slog.NewJSONHandler(logw, nil))
	engine := xaas.NewEngine(xaas.EngineConfig{Store: db.Store, Logger: logger, Interval: 15 * time.Minute,
		Resolver: xaas.StaticResolver{T: xaas.Target{API: client, SourceID: oktafake.DefaultIdentitySource}}})
	srv := xaas.NewServer(xaas.Config{Store: db.Store, Auth: auth.NewAuthenticator(db.Store, 0), Engine: engine, Logger: logger})
	if err := xaasPushSamples(srv, token); err != nil {
		return res, true, fmt.Errorf("push sample records: %w", err)
	}
	out, err := lambdaevent.Handler(srv, func(ctx context.Context) (any, error) { return engine.Tick(ctx) })(ctx, raw)
	if err != nil {
		return res, true, err
	}
	switch v := out.(type) {
	case events.APIGatewayV2HTTPResponse:
		res.HTTP = &v
	case xaas.TickReport:
		res.Tick = &v
	default:
		return res, true, fmt.Errorf("unexpected result %T", out)
	}
	return res, true, nil
}

// xaasPushSamples pushes the sample records and a group through the API.
func xaasPushSamples(h http.Handler, token string) error {
	for _, r := range []struct{ method, path, ct, body string }{
		{http.MethodPost, xaas.Prefix + "/users:bulk", "application/json", string(xaasInvokeRecords)},
		{http.MethodPut, xaas.Prefix + "/groups/engineering", "application/json",
			`{"displayName":"Engineering","members":["brad.gibson@example.com"]}`},
	} {
		req := httptest.NewRequest(r.method, r.path, bytes.NewReader([]byte(r.body)))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", r.ct)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 300 {
			return fmt.Errorf("%s %s: %d %s", r.method, r.path, rec.Code, bytes.TrimSpace(rec.Body.Bytes()))
		}
	}
	return nil
}
