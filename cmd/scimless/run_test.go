package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestRun(t *testing.T) {
	ev := func(name string) string { return filepath.Join(eventsDir, name) }
	tests := []struct {
		name       string
		args       []string
		code       int
		stdout     string // substring expected on stdout
		stderr     string // substring expected on stderr
		noStdoutOf string // must not appear on stdout
	}{
		{"no command", nil, 2, "", "usage: scimless <command>", ""},
		{"help", []string{"help"}, 0, "commands:", "", ""},
		{"-h", []string{"-h"}, 0, "commands:", "", ""},
		{"unknown command", []string{"deploy"}, 2, "", `unknown command "deploy"`, ""},
		{"invoke without event", []string{"invoke"}, 2, "", "usage: scimless invoke", ""},
		{"invoke two events", []string{"invoke", "a.json", "b.json"}, 2, "", "usage: scimless invoke", ""},
		{"invoke unknown flag", []string{"invoke", "-nope", "a.json"}, 2, "", "flag provided but not defined: -nope", ""},
		{"invoke missing file", []string{"invoke", "does-not-exist.json"}, 1, "", "no such file", ""},
		{"invoke missing seed", []string{"invoke", "-seed", "nope.json", ev("scim-get-user.json")}, 1, "", "-seed: open nope.json", ""},
		{"invoke EventBridge event", []string{"invoke", ev("xaas-schedule.json")}, 0, `"stepped": 1`, "", ""},
		{"invoke xaas route", []string{"invoke", ev("xaas-get-user.json")}, 0, `"statusCode": 200`, "", ""},
		{"invoke xaas other token", []string{"invoke", "-token", "another-token-1", ev("xaas-get-user.json")}, 0, `"statusCode": 401`, "", ""},
		{"xaas without subcommand", []string{"xaas"}, 2, "", "usage: scimless xaas", ""},
		{"invoke list", []string{"invoke", ev("scim-get-users.json")}, 0, `"statusCode": 200`, "", ""},
		{"invoke unknown id", []string{"invoke", ev("scim-get-user.json")}, 0, `"statusCode": 404`, "", ""},
		{"invoke seeded", []string{"invoke", "-seed", seedPath, ev("scim-get-user.json")}, 0, `"statusCode": 200`, "", ""},
		{"invoke other token", []string{"invoke", "-token", "another-token-1", ev("scim-get-users.json")}, 0, `"statusCode": 401`, "", ""},
		// token, tenant and audit have their own tests; only the dispatch here.
		{"token without subcommand", []string{"token"}, 2, "", "usage: scimless token", ""},
		{"token unknown subcommand", []string{"token", "frobnicate"}, 2, "", "usage: scimless token", ""},
		{"dev flag without value", []string{"dev", "-addr"}, 2, "", "flag needs an argument", ""},
		{"dev bad log level", []string{"dev", "-log-level", "loud"}, 1, "", "-log-level", ""},
		{"dev empty token", []string{"dev", "-addr", "127.0.0.1:0", "-token", "acme:"}, 1, "", `-token "acme:": empty token`, "SCIM base URL"},
		{"dev short token", []string{"dev", "-addr", "127.0.0.1:0", "-token", "acme:short"}, 1, "", "-token: issue token: a token must be 8-512 characters long", "SCIM base URL"},
		{"dev token with a space", []string{"dev", "-addr", "127.0.0.1:0", "-token", "bad tenant:abcdefgh12"}, 1, "", "-token: issue token: a token must not contain spaces or line breaks", "SCIM base URL"},
		{"dev negative rate limit", []string{"dev", "-addr", "127.0.0.1:0", "-rate-limit", "-1"}, 1, "", "-rate-limit -1: want a number of requests per second ≥ 0", "SCIM base URL"},
		{"dev rate limit not a number", []string{"dev", "-rate-limit", "fast"}, 2, "", `invalid value "fast" for flag -rate-limit`, "SCIM base URL"},
		{"dev bad address", []string{"dev", "-addr", "127.0.0.1:99999", "-token", "abcdefgh12"}, 1, "", "listen on 127.0.0.1:99999", "SCIM base URL"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			code := run(t.Context(), tc.args, &stdout, &stderr)
			if code != tc.code {
				t.Errorf("exit code %d, want %d\nstdout: %s\nstderr: %s", code, tc.code, stdout.String(), stderr.String())
			}
			if !strings.Contains(stdout.String(), tc.stdout) {
				t.Errorf("stdout %q does not contain %q", stdout.String(), tc.stdout)
			}
			if !strings.Contains(stderr.String(), tc.stderr) {
				t.Errorf("stderr %q does not contain %q", stderr.String(), tc.stderr)
			}
			if tc.noStdoutOf != "" && strings.Contains(stdout.String(), tc.noStdoutOf) {
				t.Errorf("stdout %q contains %q", stdout.String(), tc.noStdoutOf)
			}
		})
	}
}

func TestSplitToken(t *testing.T) {
	tests := []struct {
		in, tenant, secret string
	}{
		{"abc12345xyz", "default", "abc12345xyz"},
		{"acme:abc12345xyz", "acme", "abc12345xyz"},
		{"acme-prod.eu_1:abc12345xyz", "acme-prod.eu_1", "abc12345xyz"},
		// Only the first colon separates: the secret may contain colons.
		{"acme:abc:123:xyz", "acme", "abc:123:xyz"},
		{"acme::", "acme", ":"},
		{"acme:", "acme", ""},
		// A prefix that is not a valid tenant name is part of the secret.
		{":abc12345xyz", "default", ":abc12345xyz"},
		{"a cme:abc12345xyz", "default", "a cme:abc12345xyz"},
		{"ac/me:abc12345xyz", "default", "ac/me:abc12345xyz"},
		{strings.Repeat("t", 65) + ":abc12345xyz", "default", strings.Repeat("t", 65) + ":abc12345xyz"},
		{strings.Repeat("t", 64) + ":abc12345xyz", strings.Repeat("t", 64), "abc12345xyz"},
		{"", "default", ""},
	}
	for _, tc := range tests {
		tenant, secret := splitToken(tc.in)
		if tenant != tc.tenant || secret != tc.secret {
			t.Errorf("splitToken(%q) = %q, %q; want %q, %q", tc.in, tenant, secret, tc.tenant, tc.secret)
		}
	}
}

func TestParseLifetime(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration // 0: an error is expected
	}{
		{"90d", 90 * 24 * time.Hour},
		{"1d", 24 * time.Hour},
		{"720h", 720 * time.Hour},
		{"1h30m", 90 * time.Minute},
		{"45s", 45 * time.Second},
		{"", 0},
		{"d", 0},
		{"0d", 0},
		{"-1d", 0},
		{"1.5d", 0},
		{"90D", 0},
		{"0s", 0},
		{"-5m", 0},
		{"ninety days", 0},
		{"90", 0},
	}
	for _, tc := range tests {
		got, err := parseLifetime(tc.in)
		if tc.want == 0 {
			if err == nil {
				t.Errorf("parseLifetime(%q) = %v, want an error", tc.in, got)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("parseLifetime(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}
