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
	"net/http"
	"net/http/httptest"
	"os"

	"github.com/aws/aws-lambda-go/events"

	"github.com/scimless/scimless/pkg/apigw"
	"github.com/scimless/scimless/pkg/auth"
	"github.com/scimless/scimless/pkg/ratelimit"
	"github.com/scimless/scimless/pkg/scim"
	"github.com/scimless/scimless/pkg/store"
)

// invokeToken is the bearer token the events in events/ carry. `invoke`
// accepts it on its throw-away embedded table only.
const invokeToken = "local-dev-token"

// invokeOptions are what `invoke` does besides running the event.
type invokeOptions struct {
	// token is accepted for the default tenant.
	token string
	// seed is the content of a -seed file (see seedFile), or nil.
	seed []byte
}

func runInvoke(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("invoke", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: scimless invoke [flags] EVENT.json\n\nRuns an event through the handler of the Lambda function it is for, like\n`sam local invoke`, and prints what the handler returns: an API Gateway HTTP\nAPI (payload 2.0) event of /scim/v2 or /healthz through the SCIM function;\none of /xaas/v1 or /items, or an EventBridge scheduled event, through the\nxaas function (against a fresh table holding two seed records, a group and\nan in-process fake Okta); a table stream batch through the events function;\nan SQS batch of webhook deliveries through the webhooks function.")
		fs.PrintDefaults()
	}
	token := fs.String("token", invokeToken, "bearer token accepted for the default tenant")
	seed := fs.String("seed", "", "JSON file of users to create first, with the ids the events use (e.g. events/seed/users.json)")
	var tf tableFlags
	tf.register(fs, true)
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	tf.parsed(fs)
	if fs.NArg() != 1 {
		fs.Usage()
		return errUsage
	}
	opts := invokeOptions{token: *token}
	if *seed != "" {
		b, err := os.ReadFile(*seed)
		if err != nil {
			return fmt.Errorf("-seed: %w", err)
		}
		opts.seed = b
	}
	raw, err := os.ReadFile(fs.Arg(0))
	if err != nil {
		return err
	}
	var out any
	if res, ok, err := xaasInvoke(ctx, &tf, opts.token, raw, stderr); ok {
		if err != nil {
			return err
		}
		out = res.value()
	} else if res, ok, err := streamInvoke(ctx, &tf, raw, stderr); ok {
		if err != nil {
			return err
		}
		out = res
	} else if res, ok, err := queueInvoke(ctx, &tf, raw, stderr); ok {
		if err != nil {
			return err
		}
		out = res
	} else {
		resp, err := invokeEvent(ctx, &tf, opts, raw, stderr)
		if err != nil {
			return err
		}
		out = resp
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// invokeEvent runs one event through the handler the Lambda function uses.
func invokeEvent(ctx context.Context, tf *tableFlags, opts invokeOptions, raw []byte, logw io.Writer) (events.APIGatewayV2HTTPResponse, error) {
	var probe struct {
		Version    string `json:"version"`
		RouteKey   string `json:"routeKey"`
		DetailType string `json:"detail-type"`
	}
	if err := json.Unmarshal(raw, &probe); err != nil {
		return events.APIGatewayV2HTTPResponse{}, fmt.Errorf("event is not JSON: %w", err)
	}
	if probe.DetailType != "" {
		return events.APIGatewayV2HTTPResponse{}, fmt.Errorf("an EventBridge %q event is for the xaas function, not the SCIM function", probe.DetailType)
	}
	if isXaaSEvent(raw) {
		return events.APIGatewayV2HTTPResponse{}, fmt.Errorf("route %q is for the xaas function, not the SCIM function", probe.RouteKey)
	}
	if probe.Version != "2.0" || probe.RouteKey == "" {
		return events.APIGatewayV2HTTPResponse{}, fmt.Errorf("not an API Gateway HTTP API payload 2.0 event (version %q, routeKey %q)", probe.Version, probe.RouteKey)
	}
	var ev events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(raw, &ev); err != nil {
		return events.APIGatewayV2HTTPResponse{}, fmt.Errorf("decode event: %w", err)
	}
	var seed seedFile
	if opts.seed != nil {
		var err error
		if seed, err = parseSeed(opts.seed); err != nil {
			return events.APIGatewayV2HTTPResponse{}, fmt.Errorf("-seed: %w", err)
		}
	}
	db, err := invokeTable(ctx, tf, opts.token)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	defer db.Close()
	if err := seed.apply(ctx, db.Store, opts.token); err != nil {
		return events.APIGatewayV2HTTPResponse{}, fmt.Errorf("-seed: %w", err)
	}
	logger := slog.New(slog.NewJSONHandler(logw, nil))
	h := apigw.New(scim.New(scim.Config{Store: db.Store, Auth: auth.NewAuthenticator(db.Store, 0), Logger: logger,
		Limiter: ratelimit.New(ratelimit.Config{Store: db.Store, Logger: logger})}))
	return h(ctx, ev)
}

// invokeTable opens the throw-away table an event runs against (the
// embedded engine unless tf names another) and makes token a token of the
// default tenant.
func invokeTable(ctx context.Context, tf *tableFlags, token string) (*openedTable, error) {
	db, err := tf.open(ctx, true, true)
	if err != nil {
		return nil, err
	}
	if _, _, err := auth.Issue(ctx, db.Store, auth.IssueOptions{Tenant: defaultTenant, Secret: token, Label: "invoke"}); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// seedFile is what `invoke -seed` reads: SCIM resources to create in the
// default tenant before the event runs, so that events naming an id (GET,
// PUT, PATCH, DELETE /Users/{id}) find it:
//
//	{"Users": [{"id": "2819c223-…", "userName": "bjensen@example.com", …}]}
//
// Each user is created through POST /Users (same validation as any client),
// then moved to the id it names.
type seedFile struct {
	Users []map[string]any `json:"Users"`
}

func parseSeed(b []byte) (seedFile, error) {
	var s seedFile
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return s, fmt.Errorf("decode: %w", err)
	}
	if len(s.Users) == 0 {
		return s, errors.New(`no users: expected {"Users": [{"id": …, "userName": …}, …]}`)
	}
	seen := map[string]bool{}
	for i, u := range s.Users {
		id, _ := u["id"].(string)
		if id == "" {
			return s, fmt.Errorf("user %d has no \"id\"", i)
		}
		if seen[id] {
			return s, fmt.Errorf("user %d: id %q appears twice", i, id)
		}
		seen[id] = true
	}
	return s, nil
}

// apply creates the -seed file's users in the default tenant, authenticating with
// token.
func (s seedFile) apply(ctx context.Context, st *store.Store, token string) error {
	if len(s.Users) == 0 {
		return nil
	}
	srv := scim.New(scim.Config{Store: st, Auth: auth.NewAuthenticator(st, 0)})
	for i, u := range s.Users {
		id := u["id"].(string)
		body, err := json.Marshal(u)
		if err != nil {
			return err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, scim.Prefix+"/Users", bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/scim+json")
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		if rec.Code != http.StatusCreated {
			return fmt.Errorf("user %d (%s): POST /Users answered %d: %s", i, id, rec.Code, bytes.TrimSpace(rec.Body.Bytes()))
		}
		var created struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &created); err != nil || created.ID == "" {
			return fmt.Errorf("user %d (%s): POST /Users returned no id", i, id)
		}
		// The service assigns ids; move the new user to the one the -seed file names.
		// It has no groups yet, so its user item and userName guard are all
		// there is to move.
		nu, err := st.GetUser(ctx, defaultTenant, created.ID)
		if err != nil {
			return fmt.Errorf("user %d (%s): %w", i, id, err)
		}
		if err := st.DeleteUser(ctx, defaultTenant, nu); err != nil {
			return fmt.Errorf("user %d (%s): %w", i, id, err)
		}
		nu.ID = id
		if err := st.CreateUser(ctx, defaultTenant, nu); err != nil {
			return fmt.Errorf("user %d (%s): %w", i, id, err)
		}
	}
	return nil
}
