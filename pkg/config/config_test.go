package config

import (
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestXaaSFromEnv(t *testing.T) {
	c, err := XaaSFromEnv(env(nil))
	if err != nil || c.Interval != 15*time.Minute || c.Debounce != 2*time.Minute || c.MaxBulkBytes != 6<<20 || c.MetricDimensions != nil {
		t.Errorf("defaults %+v %v", c, err)
	}
	c, err = XaaSFromEnv(env(map[string]string{EnvXaaSInterval: "0", EnvXaaSDebounce: "30s", EnvXaaSMaxBulkBytes: "1000",
		EnvXaaSSecretsEndpoint: "http://127.0.0.1:1"}))
	if err != nil || c.Interval != 0 || c.Debounce != 30*time.Second || c.MaxBulkBytes != 1000 || c.SecretsEndpoint != "http://127.0.0.1:1" {
		t.Errorf("set %+v %v", c, err)
	}
	c, err = XaaSFromEnv(env(map[string]string{EnvFunctionName: "Scimless-prod-XaasFunction"}))
	if err != nil || c.MetricDimensions[MetricDimensionFunction] != "Scimless-prod-XaasFunction" || len(c.MetricDimensions) != 1 {
		t.Errorf("on Lambda: dimensions %v %v, want FunctionName", c.MetricDimensions, err)
	}
	for _, bad := range []map[string]string{{EnvXaaSInterval: "soon"}, {EnvXaaSDebounce: "-1s"}, {EnvXaaSMaxBulkBytes: "big"}, {EnvXaaSMaxBulkBytes: "0"}} {
		if _, err := XaaSFromEnv(env(bad)); err == nil {
			t.Errorf("%v: no error", bad)
		}
	}
}

func TestFromEnv(t *testing.T) {
	c, err := FromEnv(env(map[string]string{EnvTokenCacheTTL: "60s", EnvLogLevel: "debug"}))
	if err != nil || c.TokenCacheTTL != time.Minute || c.Table == "" {
		t.Errorf("%+v %v", c, err)
	}
	for _, bad := range []map[string]string{{EnvTokenCacheTTL: "soon"}, {EnvLogLevel: "loud"}} {
		if _, err := FromEnv(env(bad)); err == nil {
			t.Errorf("%v: no error", bad)
		}
	}
}
