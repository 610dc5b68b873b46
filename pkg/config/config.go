// Package config reads the service configuration the Lambda functions get
// from their environment (set by the CDK stack).
package config

import (
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/scimless/scimless/pkg/table"
)

// Environment variable names.
const (
	EnvTable         = "SCIMLESS_TABLE"           // DynamoDB table name
	EnvLogLevel      = "SCIMLESS_LOG_LEVEL"       // debug, info, warn, error
	EnvTokenCacheTTL = "SCIMLESS_TOKEN_CACHE_TTL" // Go duration, e.g. "60s"
	EnvBaseURL       = "SCIMLESS_BASE_URL"        // optional absolute SCIM base URL
	EnvRegion        = "AWS_REGION"               // set by Lambda
	EnvEndpoint      = "SCIMLESS_DYNAMODB_ENDPOINT"
	EnvFunctionName  = "AWS_LAMBDA_FUNCTION_NAME" // set by Lambda

	// The XaaS function's own settings (package xaas reads them).
	EnvXaaSInterval        = "SCIMLESS_XAAS_INTERVAL"         // default time between scheduled syncs
	EnvXaaSDebounce        = "SCIMLESS_XAAS_DEBOUNCE"         // default quiet time after a push
	EnvXaaSMaxBulkBytes    = "SCIMLESS_XAAS_MAX_BULK_BYTES"   // largest bulk push body
	EnvXaaSSecretsEndpoint = "SCIMLESS_XAAS_SECRETS_ENDPOINT" // Secrets Manager endpoint override
)

// CloudWatch metrics the functions emit in the embedded metric format (JSON
// log lines that CloudWatch turns into metrics, no API calls), each with the
// dimension MetricDimensionFunction set to the emitting function's name.
const (
	MetricNamespace         = "scimless"
	MetricDimensionFunction = "FunctionName"
	// MetricXaaSSyncRuns counts finished XaaS syncs, MetricXaaSSyncFailed
	// the ones that failed (alarm on ≥ 1), MetricXaaSRecordsFailed the
	// records a sync could not push.
	MetricXaaSSyncRuns      = "XaaSSyncRuns"
	MetricXaaSSyncFailed    = "XaaSSyncFailed"
	MetricXaaSRecordsFailed = "XaaSRecordsFailed"
)

// Config is the runtime configuration of a function.
type Config struct {
	Table         string
	Region        string
	Endpoint      string
	LogLevel      slog.Level
	TokenCacheTTL time.Duration
	BaseURL       string
}

// FromEnv reads the configuration with getenv (os.Getenv in production).
func FromEnv(getenv func(string) string) (Config, error) {
	c := Config{
		Table:    getenv(EnvTable),
		Region:   getenv(EnvRegion),
		Endpoint: getenv(EnvEndpoint),
		BaseURL:  getenv(EnvBaseURL),
	}
	if c.Table == "" {
		c.Table = table.DefaultName
	}
	if err := c.LogLevel.UnmarshalText([]byte(strings.ToUpper(orDefault(getenv(EnvLogLevel), "info")))); err != nil {
		return c, fmt.Errorf("%s: %w", EnvLogLevel, err)
	}
	if v := getenv(EnvTokenCacheTTL); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return c, fmt.Errorf("%s: invalid duration %q", EnvTokenCacheTTL, v)
		}
		c.TokenCacheTTL = d
	}
	return c, nil
}

// Logger returns a JSON logger to stdout at the configured level.
func (c Config) Logger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{Level: c.LogLevel}))
}

func orDefault(v, d string) string {
	if v == "" {
		return d
	}
	return v
}
