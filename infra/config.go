package main

import (
	"errors"
	"fmt"
	"math"
	"net/mail"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Stage is a deployment stage. Each stage is its own CloudFormation stack
// (see Config.StackName), so dev and prod never share a table.
type Stage string

// The stages the app knows. Only StageProd protects data: its table keeps
// deletion protection and RemovalPolicy RETAIN, and its log groups are
// retained on stack deletion.
const (
	StageDev  Stage = "dev"
	StageProd Stage = "prod"
)

// Context keys read by LoadConfig, set in cdk.json's "context" or with
// `cdk synth -c key=value`.
const (
	CtxStage                  = "stage"
	CtxThrottleRate           = "throttleRate"
	CtxThrottleBurst          = "throttleBurst"
	CtxAlarmEmail             = "alarmEmail"
	CtxDomainName             = "domainName"
	CtxCertificateArn         = "certificateArn"
	CtxReservedConcurrency    = "reservedConcurrency"
	CtxProvisionedConcurrency = "provisionedConcurrency"
	CtxLogRetentionDays       = "logRetentionDays"
	CtxLogLevel               = "logLevel"
	CtxTokenCacheTTL          = "tokenCacheTtl"
	CtxXaasSchedule           = "xaasSchedule"
	CtxXaasSecretPrefix       = "xaasSecretPrefix"
)

// Defaults for the context values.
const (
	// DefaultThrottleRate is the steady-state request rate (per second) of
	// the API's default stage. Entra ID's gallery asks for at least 25
	// requests/s per tenant; Okta imports page sequentially.
	DefaultThrottleRate = 50
	// DefaultThrottleBurst is the token-bucket burst of the default stage.
	DefaultThrottleBurst = 100
	// DefaultLogLevel is the service's log level (SCIMLESS_LOG_LEVEL).
	DefaultLogLevel = "info"
	// DefaultTokenCacheTTL is how long a function caches token → tenant
	// (SCIMLESS_TOKEN_CACHE_TTL): a revoked token keeps working at most
	// this long.
	DefaultTokenCacheTTL = "60s"
	// DefaultXaasSchedule is how often EventBridge ticks the XaaS sync
	// engine. A tick is cheap when nothing is due (a query or two); the
	// engine itself decides when each tenant's run starts (its interval,
	// 15 minutes by default, and the 2-minute debounce after a push) and
	// resumes long runs tick after tick, so the tick must be frequent.
	DefaultXaasSchedule = "rate(1 minute)"
)

// Config is the app's configuration, read from CDK context.
type Config struct {
	Stage Stage

	// ThrottleRate and ThrottleBurst are the default-stage route limits
	// of the HTTP API.
	ThrottleRate  float64
	ThrottleBurst float64

	// AlarmEmail, if set, is subscribed to the alarm topic.
	AlarmEmail string

	// DomainName and CertificateArn, set together, put the API behind a
	// custom domain (the ACM certificate must be in the stack's region).
	DomainName     string
	CertificateArn string

	// ReservedConcurrency caps (and reserves) the SCIM function's
	// concurrency; 0 leaves it unreserved.
	ReservedConcurrency int
	// ProvisionedConcurrency keeps that many SCIM execution environments
	// warm behind a "live" alias; 0 disables it (the default: it is
	// billed while idle).
	ProvisionedConcurrency int

	// LogRetentionDays is the retention of every log group; it must be a
	// value CloudWatch Logs accepts (see retentionDays).
	LogRetentionDays int
	// LogLevel is the service's log level: debug, info, warn or error.
	LogLevel string
	// TokenCacheTTL is a Go duration string, e.g. "60s".
	TokenCacheTTL string
	// XaasSchedule is an EventBridge schedule expression for the XaaS
	// sync.
	XaasSchedule string
	// XaasSecretPrefix is the name prefix of the Secrets Manager secrets
	// (tenants' Okta credentials) the XaaS function may read; by default
	// "scimless/<stage>/".
	XaasSecretPrefix string
}

// StackName is the CloudFormation stack name of the stage.
func (c Config) StackName() string { return "Scimless-" + string(c.Stage) }

// Prod reports whether the stage keeps data on deletion.
func (c Config) Prod() bool { return c.Stage == StageProd }

// defaultLogRetention is the log retention in days when none is configured.
func defaultLogRetention(s Stage) int {
	if s == StageProd {
		return 90
	}
	return 14
}

var scheduleExpr = regexp.MustCompile(`^(rate\(\d+ (minute|minutes|hour|hours|day|days)\)|cron\([^()]+\))$`)

// LoadConfig reads the configuration through get, which returns the raw
// context value of a key or nil. Values may be strings (from -c) or JSON
// numbers and strings (from cdk.json). It is long because it is a flat
// list, one short block per setting, each reporting its own error; split
// up, the list of settings would no longer be readable in one place.
func LoadConfig(get func(key string) any) (Config, error) {
	var errs []error
	str := func(key, def string) string {
		v := get(key)
		if v == nil {
			return def
		}
		s, ok := v.(string)
		if !ok {
			errs = append(errs, fmt.Errorf("context %q: want a string, got %T", key, v))
			return def
		}
		return strings.TrimSpace(s)
	}
	num := func(key string, def float64) float64 {
		v := get(key)
		switch v := v.(type) {
		case nil:
			return def
		case float64:
			return v
		case int:
			return float64(v)
		case string:
			if strings.TrimSpace(v) == "" {
				return def
			}
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				errs = append(errs, fmt.Errorf("context %q: %q is not a number", key, v))
				return def
			}
			return f
		default:
			errs = append(errs, fmt.Errorf("context %q: want a number, got %T", key, v))
			return def
		}
	}
	integer := func(key string, def int) int {
		f := num(key, float64(def))
		if f != math.Trunc(f) || f < 0 || f > math.MaxInt32 {
			errs = append(errs, fmt.Errorf("context %q: want a whole number ≥ 0, got %v", key, f))
			return def
		}
		return int(f)
	}

	c := Config{Stage: Stage(str(CtxStage, string(StageDev)))}
	if c.Stage != StageDev && c.Stage != StageProd {
		errs = append(errs, fmt.Errorf("context %q: %q is not a stage (want %q or %q)", CtxStage, c.Stage, StageDev, StageProd))
	}
	c.ThrottleRate = num(CtxThrottleRate, DefaultThrottleRate)
	c.ThrottleBurst = num(CtxThrottleBurst, DefaultThrottleBurst)
	c.AlarmEmail = str(CtxAlarmEmail, "")
	c.DomainName = strings.ToLower(str(CtxDomainName, ""))
	c.CertificateArn = str(CtxCertificateArn, "")
	c.ReservedConcurrency = integer(CtxReservedConcurrency, 0)
	c.ProvisionedConcurrency = integer(CtxProvisionedConcurrency, 0)
	c.LogRetentionDays = integer(CtxLogRetentionDays, defaultLogRetention(c.Stage))
	c.LogLevel = strings.ToLower(str(CtxLogLevel, DefaultLogLevel))
	c.TokenCacheTTL = str(CtxTokenCacheTTL, DefaultTokenCacheTTL)
	c.XaasSchedule = str(CtxXaasSchedule, DefaultXaasSchedule)
	c.XaasSecretPrefix = str(CtxXaasSecretPrefix, "scimless/"+string(c.Stage)+"/")

	if c.ThrottleRate <= 0 {
		errs = append(errs, fmt.Errorf("context %q: must be > 0, got %v", CtxThrottleRate, c.ThrottleRate))
	}
	if c.ThrottleBurst < 1 || c.ThrottleBurst != math.Trunc(c.ThrottleBurst) {
		errs = append(errs, fmt.Errorf("context %q: must be a whole number ≥ 1, got %v", CtxThrottleBurst, c.ThrottleBurst))
	}
	if c.AlarmEmail != "" {
		if a, err := mail.ParseAddress(c.AlarmEmail); err != nil || a.Address != c.AlarmEmail {
			errs = append(errs, fmt.Errorf("context %q: %q is not an e-mail address", CtxAlarmEmail, c.AlarmEmail))
		}
	}
	if (c.DomainName == "") != (c.CertificateArn == "") {
		errs = append(errs, fmt.Errorf("context %q and %q must be set together", CtxDomainName, CtxCertificateArn))
	}
	if c.DomainName != "" && (strings.Contains(c.DomainName, "_") || !strings.Contains(c.DomainName, ".") || strings.ContainsAny(c.DomainName, "/: ")) {
		// Okta refuses base URLs with '_'.
		errs = append(errs, fmt.Errorf("context %q: %q is not a host name", CtxDomainName, c.DomainName))
	}
	if c.CertificateArn != "" && !strings.HasPrefix(c.CertificateArn, "arn:") {
		errs = append(errs, fmt.Errorf("context %q: %q is not an ARN", CtxCertificateArn, c.CertificateArn))
	}
	if c.ProvisionedConcurrency > 0 && c.ReservedConcurrency > 0 && c.ProvisionedConcurrency > c.ReservedConcurrency {
		errs = append(errs, fmt.Errorf("context %q (%d) exceeds %q (%d)", CtxProvisionedConcurrency, c.ProvisionedConcurrency, CtxReservedConcurrency, c.ReservedConcurrency))
	}
	if _, ok := retentionDays[c.LogRetentionDays]; !ok {
		errs = append(errs, fmt.Errorf("context %q: %d is not a CloudWatch Logs retention (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)", CtxLogRetentionDays, c.LogRetentionDays))
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("context %q: %q is not debug, info, warn or error", CtxLogLevel, c.LogLevel))
	}
	if d, err := time.ParseDuration(c.TokenCacheTTL); err != nil || d < 0 {
		errs = append(errs, fmt.Errorf("context %q: %q is not a duration such as 60s", CtxTokenCacheTTL, c.TokenCacheTTL))
	}
	if !scheduleExpr.MatchString(c.XaasSchedule) {
		errs = append(errs, fmt.Errorf("context %q: %q is not an EventBridge schedule expression such as rate(15 minutes)", CtxXaasSchedule, c.XaasSchedule))
	}
	if !secretPrefix.MatchString(c.XaasSecretPrefix) {
		errs = append(errs, fmt.Errorf("context %q: %q is not a secret name prefix such as scimless/prod/ (letters, digits, /_+=.@-)", CtxXaasSecretPrefix, c.XaasSecretPrefix))
	}
	return c, errors.Join(errs...)
}

// secretPrefix matches a Secrets Manager name prefix: at least two of the
// characters secret names allow, so it can never widen to every secret.
var secretPrefix = regexp.MustCompile(`^[A-Za-z0-9/_+=.@-]{2,256}$`)
