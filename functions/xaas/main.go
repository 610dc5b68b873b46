// Command xaas is the Okta Anything-as-a-Source Lambda function: it serves
// the XaaS push API (/xaas/v1, and /items for the sample items API's
// clients) from API Gateway HTTP API events, and runs the sync engine on
// EventBridge scheduled events. Both arrive at one handler, told apart by
// package lambdaevent.
package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"

	"github.com/scimless/scimless/pkg/auth"
	"github.com/scimless/scimless/pkg/config"
	"github.com/scimless/scimless/pkg/lambdaevent"
	"github.com/scimless/scimless/pkg/ratelimit"
	"github.com/scimless/scimless/pkg/store"
	"github.com/scimless/scimless/pkg/xaas"
	"github.com/scimless/scimless/pkg/xaas/okta"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "xaas:", err)
		os.Exit(1)
	}
}

func run() error {
	ctx := context.Background()
	cfg, err := config.FromEnv(os.Getenv)
	if err != nil {
		return err
	}
	xcfg, err := config.XaaSFromEnv(os.Getenv)
	if err != nil {
		return err
	}
	client, err := store.NewClient(ctx, store.ClientConfig{Region: cfg.Region, Endpoint: cfg.Endpoint})
	if err != nil {
		return err
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return fmt.Errorf("load aws config: %w", err)
	}
	sm := xaas.NewSecretsManager(awsCfg)
	sm.Endpoint = xcfg.SecretsEndpoint
	st := store.New(client, cfg.Table)
	logger := cfg.Logger()
	engine := xaas.NewEngine(xaas.EngineConfig{
		Store: st,
		Resolver: &xaas.TableResolver{Store: st,
			Secrets: xaas.ChainSecrets{Env: xaas.EnvSecrets{Getenv: os.Getenv}, Other: sm},
			// Wait for a rate-limit reset inside an invocation only briefly:
			// the engine comes back after the reset instead.
			Options: []okta.Option{okta.WithRetryPolicy(okta.RetryPolicy{MaxRateLimitWait: 10 * time.Second})}},
		Logger:           logger,
		Interval:         xcfg.Interval,
		Debounce:         xcfg.Debounce,
		MetricDimensions: xcfg.MetricDimensions,
	})
	srv := xaas.NewServer(xaas.Config{
		Store:        st,
		Auth:         auth.NewAuthenticator(st, cfg.TokenCacheTTL),
		Engine:       engine,
		Logger:       logger,
		MaxBulkBytes: xcfg.MaxBulkBytes,
		Limiter:      ratelimit.New(ratelimit.Config{Store: st, Logger: logger}),
	})
	lambda.Start(lambdaevent.Handler(srv, func(ctx context.Context) (any, error) { return engine.Tick(ctx) }))
	return nil
}
