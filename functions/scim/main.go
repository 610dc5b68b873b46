// Command scim is the SCIM 2.0 Lambda function: it wires configuration, the
// store, the SCIM handler and the Events API (GET /events/v1) together and
// serves API Gateway HTTP API events.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/scimless/scimless/pkg/apigw"
	"github.com/scimless/scimless/pkg/auth"
	"github.com/scimless/scimless/pkg/config"
	"github.com/scimless/scimless/pkg/events/api"
	"github.com/scimless/scimless/pkg/ratelimit"
	"github.com/scimless/scimless/pkg/scim"
	"github.com/scimless/scimless/pkg/store"
)

func main() {
	cfg, err := config.FromEnv(os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, "scim:", err)
		os.Exit(1)
	}
	client, err := store.NewClient(context.Background(), store.ClientConfig{Region: cfg.Region, Endpoint: cfg.Endpoint})
	if err != nil {
		fmt.Fprintln(os.Stderr, "scim:", err)
		os.Exit(1)
	}
	st := store.New(client, cfg.Table)
	logger := cfg.Logger()
	authn := auth.NewAuthenticator(st, cfg.TokenCacheTTL, auth.WithLogger(logger))
	events := api.New(st, authn, api.WithLogger(logger))
	lambda.Start(apigw.New(events.Mount(scim.New(scim.Config{
		Store:   st,
		Auth:    authn,
		Limiter: ratelimit.New(ratelimit.Config{Store: st, Logger: logger}),
		Logger:  logger,
		BaseURL: cfg.BaseURL,
	}))))
}
