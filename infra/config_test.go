package main

import (
	"strings"
	"testing"
)

func TestLoadConfig(t *testing.T) {
	for _, tc := range []struct {
		name    string
		ctx     map[string]any
		want    func(Config) bool
		wantErr string
	}{
		{
			name: "defaults",
			want: func(c Config) bool {
				return c.Stage == StageDev && !c.Prod() && c.StackName() == "Scimless-dev" &&
					c.ThrottleRate == DefaultThrottleRate && c.ThrottleBurst == DefaultThrottleBurst &&
					c.LogRetentionDays == 14 && c.LogLevel == "info" && c.TokenCacheTTL == "60s" &&
					c.XaasSchedule == DefaultXaasSchedule && c.AlarmEmail == "" && c.DomainName == "" &&
					c.ReservedConcurrency == 0 && c.ProvisionedConcurrency == 0 && c.XaasSecretPrefix == "scimless/dev/"
			},
		},
		{
			name: "prod defaults",
			ctx:  map[string]any{"stage": "prod"},
			want: func(c Config) bool {
				return c.Prod() && c.StackName() == "Scimless-prod" && c.LogRetentionDays == 90 && c.XaasSecretPrefix == "scimless/prod/"
			},
		},
		{
			name: "strings from -c",
			ctx: map[string]any{"stage": "prod", "throttleRate": "12.5", "throttleBurst": "30", "reservedConcurrency": "10",
				"provisionedConcurrency": "2", "logRetentionDays": "30", "logLevel": "DEBUG", "tokenCacheTtl": "5m",
				"alarmEmail": "ops@example.com", "domainName": "SCIM.Example.com", "certificateArn": "arn:aws:acm:eu-west-1:1:certificate/x",
				"xaasSchedule": "cron(0 3 * * ? *)"},
			want: func(c Config) bool {
				return c.ThrottleRate == 12.5 && c.ThrottleBurst == 30 && c.ReservedConcurrency == 10 &&
					c.ProvisionedConcurrency == 2 && c.LogRetentionDays == 30 && c.LogLevel == "debug" &&
					c.TokenCacheTTL == "5m" && c.AlarmEmail == "ops@example.com" && c.DomainName == "scim.example.com" &&
					c.XaasSchedule == "cron(0 3 * * ? *)"
			},
		},
		{
			name: "numbers from cdk.json",
			ctx:  map[string]any{"throttleRate": 5.0, "throttleBurst": 10.0, "logRetentionDays": 7.0},
			want: func(c Config) bool { return c.ThrottleRate == 5 && c.ThrottleBurst == 10 && c.LogRetentionDays == 7 },
		},
		{name: "unknown stage", ctx: map[string]any{"stage": "staging"}, wantErr: `"staging" is not a stage`},
		{name: "rate not a number", ctx: map[string]any{"throttleRate": "fast"}, wantErr: `"fast" is not a number`},
		{name: "rate zero", ctx: map[string]any{"throttleRate": "0"}, wantErr: "throttleRate"},
		{name: "burst fraction", ctx: map[string]any{"throttleBurst": "1.5"}, wantErr: "throttleBurst"},
		{name: "bad e-mail", ctx: map[string]any{"alarmEmail": "ops"}, wantErr: "alarmEmail"},
		{name: "domain without certificate", ctx: map[string]any{"domainName": "scim.example.com"}, wantErr: "must be set together"},
		{name: "domain with underscore", ctx: map[string]any{"domainName": "scim_x.example.com", "certificateArn": "arn:aws:acm:x"}, wantErr: "not a host name"},
		{name: "certificate not an ARN", ctx: map[string]any{"domainName": "scim.example.com", "certificateArn": "cert"}, wantErr: "not an ARN"},
		{name: "negative concurrency", ctx: map[string]any{"reservedConcurrency": "-1"}, wantErr: "reservedConcurrency"},
		{name: "provisioned above reserved", ctx: map[string]any{"reservedConcurrency": "2", "provisionedConcurrency": "3"}, wantErr: "exceeds"},
		{name: "retention not allowed", ctx: map[string]any{"logRetentionDays": "10"}, wantErr: "not a CloudWatch Logs retention"},
		{name: "log level", ctx: map[string]any{"logLevel": "verbose"}, wantErr: "logLevel"},
		{name: "token cache ttl", ctx: map[string]any{"tokenCacheTtl": "60"}, wantErr: "tokenCacheTtl"},
		{name: "schedule", ctx: map[string]any{"xaasSchedule": "every 5 minutes"}, wantErr: "xaasSchedule"},
		{name: "wrong type", ctx: map[string]any{"stage": 3.0}, wantErr: "want a string"},
		{name: "secret prefix wildcard", ctx: map[string]any{"xaasSecretPrefix": "scimless/*"}, wantErr: "xaasSecretPrefix"},
		{name: "secret prefix empty", ctx: map[string]any{"xaasSecretPrefix": ""}, wantErr: "xaasSecretPrefix"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := LoadConfig(func(k string) any { return tc.ctx[k] })
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tc.want(c) {
				t.Errorf("config = %+v", c)
			}
		})
	}
}
