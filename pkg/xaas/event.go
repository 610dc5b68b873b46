package xaas

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/scimless/scimless/pkg/apigw"
	"github.com/scimless/scimless/pkg/config"
)

// ScheduledEventType is the detail-type of an EventBridge scheduled event.
const ScheduledEventType = "Scheduled Event"

// EventKind tells the two kinds of events the xaas function gets apart:
// "http" (API Gateway HTTP API payload 2.0, with a routeKey), "schedule"
// (EventBridge, with a detail-type) or "" for anything else.
func EventKind(raw json.RawMessage) (string, error) {
	var probe struct {
		Version    string `json:"version"`
		RouteKey   string `json:"routeKey"`
		DetailType string `json:"detail-type"`
	}
	if err := json.Unmarshal(raw, &probe); err != nil {
		return "", fmt.Errorf("event is not a JSON object: %w", err)
	}
	switch {
	case probe.RouteKey != "" && probe.Version == "2.0":
		return "http", nil
	case probe.DetailType == ScheduledEventType:
		return "schedule", nil
	}
	return "", nil
}

// LambdaHandler returns the xaas function's Lambda handler: API Gateway
// events go to h (through the same adapter as the SCIM function), and
// EventBridge scheduled events run one engine tick, whose report is the
// result.
func LambdaHandler(h http.Handler, engine *Engine) func(ctx context.Context, raw json.RawMessage) (any, error) {
	api := apigw.New(h)
	return func(ctx context.Context, raw json.RawMessage) (any, error) {
		kind, err := EventKind(raw)
		if err != nil {
			return nil, err
		}
		switch kind {
		case "http":
			var ev events.APIGatewayV2HTTPRequest
			if err := json.Unmarshal(raw, &ev); err != nil {
				return nil, fmt.Errorf("decode API Gateway event: %w", err)
			}
			return api(ctx, ev)
		case "schedule":
			var ev events.EventBridgeEvent
			if err := json.Unmarshal(raw, &ev); err != nil {
				return nil, fmt.Errorf("decode EventBridge event: %w", err)
			}
			if engine == nil {
				return nil, errors.New("no sync engine")
			}
			return engine.Tick(ctx)
		}
		return nil, errors.New("unsupported event: neither an API Gateway HTTP API (payload 2.0) event nor an EventBridge scheduled event")
	}
}

// Environment variables the xaas function reads besides package config's
// (they are defined there, with the others).
const (
	// EnvInterval is the time between scheduled runs of a tenant without its
	// own schedule (Go duration; default 15m; 0 disables).
	EnvInterval = config.EnvXaaSInterval
	// EnvDebounce is the quiet time after a push before a run starts, for
	// tenants without their own schedule (default 2m; 0 disables).
	EnvDebounce = config.EnvXaaSDebounce
	// EnvMaxBulkBytes bounds a bulk body (default 6 MB, Lambda's payload limit).
	EnvMaxBulkBytes = config.EnvXaaSMaxBulkBytes
	// EnvSecretsEndpoint overrides the Secrets Manager endpoint (tests, VPC
	// endpoints).
	EnvSecretsEndpoint = config.EnvXaaSSecretsEndpoint
)

// FunctionConfig is the xaas function's own configuration.
type FunctionConfig struct {
	Interval        time.Duration
	Debounce        time.Duration
	MaxBulkBytes    int64
	SecretsEndpoint string
	// MetricDimensions are the dimensions of the metrics the engine emits:
	// the function's name, so each stack's alarm sees its own syncs.
	MetricDimensions map[string]string
}

// FunctionConfigFromEnv reads FunctionConfig with getenv (os.Getenv when nil).
func FunctionConfigFromEnv(getenv func(string) string) (FunctionConfig, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	c := FunctionConfig{Interval: 15 * time.Minute, Debounce: 2 * time.Minute, MaxBulkBytes: DefaultMaxBulkBytes,
		SecretsEndpoint: getenv(EnvSecretsEndpoint)}
	if fn := getenv(config.EnvFunctionName); fn != "" {
		c.MetricDimensions = map[string]string{config.MetricDimensionFunction: fn}
	}
	for _, d := range []struct {
		env string
		dst *time.Duration
	}{{EnvInterval, &c.Interval}, {EnvDebounce, &c.Debounce}} {
		if v := getenv(d.env); v != "" {
			n, err := time.ParseDuration(v)
			if err != nil || n < 0 {
				return c, fmt.Errorf("%s: invalid duration %q", d.env, v)
			}
			*d.dst = n
		}
	}
	if v := getenv(EnvMaxBulkBytes); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			return c, fmt.Errorf("%s: invalid size %q", EnvMaxBulkBytes, v)
		}
		c.MaxBulkBytes = n
	}
	return c, nil
}
