// Package config reads the service configuration the Lambda functions get
// from their environment (set by the CDK stack).
package config

import (
	"fmt"
	"log/slog"
	"os"
	"strconv"
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

	// The XaaS function's own settings (see XaaSFromEnv).
	EnvXaaSInterval        = "SCIMLESS_XAAS_INTERVAL"         // default time between scheduled syncs
	EnvXaaSDebounce        = "SCIMLESS_XAAS_DEBOUNCE"         // default quiet time after a push
	EnvXaaSMaxBulkBytes    = "SCIMLESS_XAAS_MAX_BULK_BYTES"   // largest bulk push body
	EnvXaaSSecretsEndpoint = "SCIMLESS_XAAS_SECRETS_ENDPOINT" // Secrets Manager endpoint override

	// The directory events functions' settings (functions/events,
	// functions/webhooks).
	EnvEventBus        = "SCIMLESS_EVENT_BUS"         // EventBridge bus name; none: no bus
	EnvWebhookQueueURL = "SCIMLESS_WEBHOOK_QUEUE_URL" // webhook delivery queue URL
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

// Defaults of the XaaS settings.
const (
	// DefaultXaaSInterval is the time between scheduled syncs of a tenant
	// without its own schedule.
	DefaultXaaSInterval = 15 * time.Minute
	// DefaultXaaSDebounce is the quiet time after a push before a sync
	// starts, for a tenant without its own schedule.
	DefaultXaaSDebounce = 2 * time.Minute
	// DefaultXaaSMaxBulkBytes is the largest bulk push body: Lambda's 6 MB
	// request payload limit (a Lambda behind API Gateway cannot get more).
	DefaultXaaSMaxBulkBytes = 6 << 20
)

// XaaS is the XaaS function's own configuration.
type XaaS struct {
	// Interval between scheduled syncs of a tenant without its own
	// schedule; 0 disables them (EnvXaaSInterval, a Go duration).
	Interval time.Duration
	// Debounce is the quiet time after a push before a sync starts; 0:
	// pushes do not start syncs (EnvXaaSDebounce, a Go duration).
	Debounce time.Duration
	// MaxBulkBytes bounds a bulk push body (EnvXaaSMaxBulkBytes, bytes).
	MaxBulkBytes int64
	// SecretsEndpoint overrides the Secrets Manager endpoint (tests, VPC
	// endpoints; EnvXaaSSecretsEndpoint).
	SecretsEndpoint string
	// MetricDimensions are the dimensions of the metrics the sync engine
	// emits: the function's name on Lambda, so each stack's alarm sees its
	// own syncs; none elsewhere.
	MetricDimensions map[string]string
}

// XaaSFromEnv reads the XaaS settings with getenv (os.Getenv in
// production); unset ones take their defaults.
func XaaSFromEnv(getenv func(string) string) (XaaS, error) {
	c := XaaS{Interval: DefaultXaaSInterval, Debounce: DefaultXaaSDebounce, MaxBulkBytes: DefaultXaaSMaxBulkBytes,
		SecretsEndpoint: getenv(EnvXaaSSecretsEndpoint)}
	if fn := getenv(EnvFunctionName); fn != "" {
		c.MetricDimensions = map[string]string{MetricDimensionFunction: fn}
	}
	for _, d := range []struct {
		env string
		dst *time.Duration
	}{{EnvXaaSInterval, &c.Interval}, {EnvXaaSDebounce, &c.Debounce}} {
		if v := getenv(d.env); v != "" {
			n, err := time.ParseDuration(v)
			if err != nil || n < 0 {
				return c, fmt.Errorf("%s: invalid duration %q", d.env, v)
			}
			*d.dst = n
		}
	}
	if v := getenv(EnvXaaSMaxBulkBytes); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			return c, fmt.Errorf("%s: invalid size %q", EnvXaaSMaxBulkBytes, v)
		}
		c.MaxBulkBytes = n
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
