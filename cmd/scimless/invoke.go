package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/events"

	"github.com/scimless/scimless/pkg/apigw"
	"github.com/scimless/scimless/pkg/auth"
	"github.com/scimless/scimless/pkg/scim"
)

// invokeToken is the bearer token the events in events/ carry. `invoke`
// accepts it on its throw-away embedded table only.
const invokeToken = "local-dev-token"

func runInvoke(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("invoke", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: scimless invoke [flags] EVENT.json\n\nRuns an API Gateway HTTP API (payload 2.0) event through the SCIM function's\nLambda handler, like `sam local invoke`, and prints the proxy response.")
		fs.PrintDefaults()
	}
	token := fs.String("token", invokeToken, "bearer token accepted for the default tenant")
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
	raw, err := os.ReadFile(fs.Arg(0))
	if err != nil {
		return err
	}
	resp, err := invokeEvent(ctx, &tf, *token, raw, stderr)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(resp)
}

// invokeEvent runs one event through the handler the Lambda function uses.
func invokeEvent(ctx context.Context, tf *tableFlags, token string, raw []byte, logw io.Writer) (events.APIGatewayV2HTTPResponse, error) {
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
	if probe.Version != "2.0" || probe.RouteKey == "" {
		return events.APIGatewayV2HTTPResponse{}, fmt.Errorf("not an API Gateway HTTP API payload 2.0 event (version %q, routeKey %q)", probe.Version, probe.RouteKey)
	}
	var ev events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(raw, &ev); err != nil {
		return events.APIGatewayV2HTTPResponse{}, fmt.Errorf("decode event: %w", err)
	}
	db, err := tf.open(ctx, true, true)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	defer db.Close()
	if _, _, err := auth.Issue(ctx, db.Store, auth.IssueOptions{Tenant: defaultTenant, Secret: token, Label: "invoke"}); err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	logger := slog.New(slog.NewJSONHandler(logw, nil))
	h := apigw.New(scim.New(scim.Config{Store: db.Store, Auth: auth.NewAuthenticator(db.Store, 0), Logger: logger}))
	return h(ctx, ev)
}
