package xaas

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/scimless/scimless/pkg/store"
	"github.com/scimless/scimless/pkg/xaas/okta"
	"github.com/scimless/scimless/pkg/xaas/oktafake"
)

func TestSecrets(t *testing.T) {
	ctx := context.Background()
	var calls int
	sm := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		if r.Header.Get("X-Amz-Target") != "secretsmanager.GetSecretValue" ||
			!strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 Credential=AKID/") ||
			!strings.Contains(r.Header.Get("Authorization"), "/eu-west-1/secretsmanager/aws4_request") {
			http.Error(w, "unsigned", 403)
			return
		}
		body, _ := io.ReadAll(r.Body)
		var req struct{ SecretId string }
		_ = json.Unmarshal(body, &req)
		switch req.SecretId {
		case "scimless/acme/okta":
			_, _ = w.Write([]byte(`{"Name":"scimless/acme/okta","SecretString":"ssws-token-1"}`))
		case "binary":
			_, _ = w.Write([]byte(`{"SecretBinary":"AAEC"}`))
		default:
			w.WriteHeader(400)
			_, _ = w.Write([]byte(`{"__type":"com.amazonaws.secretsmanager#ResourceNotFoundException","message":"no"}`))
		}
	}))
	defer sm.Close()
	m := &SecretsManager{Credentials: credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""), Region: "eu-west-1",
		Endpoint: sm.URL, HTTP: sm.Client()}
	for range 2 {
		v, err := m.Secret(ctx, "scimless/acme/okta")
		if err != nil || string(v) != "ssws-token-1" {
			t.Fatalf("secret %q %v", v, err)
		}
	}
	if calls != 1 {
		t.Errorf("%d calls, want 1 (cached)", calls)
	}
	if v, err := m.Secret(ctx, "binary"); err != nil || string(v) != "\x00\x01\x02" {
		t.Errorf("binary %q %v", v, err)
	}
	if _, err := m.Secret(ctx, "missing"); !errors.Is(err, ErrNoSecret) {
		t.Errorf("missing: %v", err)
	}
	if _, err := (&SecretsManager{}).Secret(ctx, "x"); err == nil {
		t.Error("no credentials: no error")
	}
	chain := ChainSecrets{Env: EnvSecrets{Getenv: func(k string) string {
		if k == "OKTA_TOKEN" {
			return "from-env"
		}
		return ""
	}}, Other: m}
	if v, err := chain.Secret(ctx, "env:OKTA_TOKEN"); err != nil || string(v) != "from-env" {
		t.Errorf("env %q %v", v, err)
	}
	if _, err := chain.Secret(ctx, "env:NOPE"); !errors.Is(err, ErrNoSecret) {
		t.Errorf("empty env: %v", err)
	}
	if v, err := chain.Secret(ctx, "scimless/acme/okta"); err != nil || string(v) != "ssws-token-1" {
		t.Errorf("chain to secrets manager %q %v", v, err)
	}
	if _, err := (StaticSecrets{"a": []byte("b")}).Secret(ctx, "c"); !errors.Is(err, ErrNoSecret) {
		t.Errorf("static: %v", err)
	}
	var _ aws.CredentialsProvider = m.Credentials
}

func TestTableResolver(t *testing.T) {
	ctx := context.Background()
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	h := newHarness(t, harnessOpts{fake: oktafake.Options{APITokens: []string{"tok-1"},
		OAuthClients: []oktafake.OAuthClient{{ClientID: "svc-1", PublicKey: &key.PublicKey}}}})
	secrets := StaticSecrets{"tok": []byte("tok-1\n"), "key": keyPEM}
	r := &TableResolver{Store: h.st, Secrets: secrets, Options: []okta.Option{okta.WithHTTPClient(h.fsrv.Client()), okta.WithClock(h.clock.Now)}}
	if _, err := r.Target(ctx, testTenant); !errors.Is(err, ErrNotConfigured) {
		t.Fatalf("unconfigured: %v", err)
	}
	if err := r.Configured(ctx, testTenant); !errors.Is(err, ErrNotConfigured) {
		t.Fatalf("Configured: %v", err)
	}
	for _, cfg := range []OktaConfig{
		{OrgURL: h.fsrv.URL, IdentitySourceID: oktafake.DefaultIdentitySource, Auth: AuthSSWS, SecretRef: "tok"},
		{OrgURL: h.fsrv.URL, IdentitySourceID: oktafake.DefaultIdentitySource, Auth: AuthOAuth, ClientID: "svc-1", SecretRef: "key"},
	} {
		if err := SaveOktaConfig(ctx, h.st, testTenant, &cfg); err != nil {
			t.Fatal(err)
		}
		tg, err := r.Target(ctx, testTenant)
		if err != nil {
			t.Fatalf("%s: %v", cfg.Auth, err)
		}
		if _, err := tg.API.ListSessions(ctx, tg.SourceID); err != nil {
			t.Errorf("%s: list sessions: %v", cfg.Auth, err)
		}
		again, _ := r.Target(ctx, testTenant)
		if again.API != tg.API {
			t.Errorf("%s: the client was not reused", cfg.Auth)
		}
	}
	for _, bad := range []OktaConfig{
		{OrgURL: "ftp://x", IdentitySourceID: "s", Auth: AuthSSWS, SecretRef: "r"},
		{OrgURL: "https://x", Auth: AuthSSWS, SecretRef: "r"},
		{OrgURL: "https://x", IdentitySourceID: "s", Auth: "basic", SecretRef: "r"},
		{OrgURL: "https://x", IdentitySourceID: "s", Auth: AuthSSWS},
	} {
		if err := SaveOktaConfig(ctx, h.st, testTenant, &bad); err == nil {
			t.Errorf("%+v: saved", bad)
		}
	}
	// A run against a tenant that is not configured fails, and says why.
	if _, err := NewEngine(EngineConfig{Store: h.st, Resolver: r}).StartRun(ctx, "nobody", TriggerAPI); !errors.Is(err, ErrNotConfigured) {
		t.Errorf("start run unconfigured: %v", err)
	}
	if s := store.SyncDirty; s == "" {
		t.Fatal()
	}
}

// TestMetricAttrs checks the embedded-metric-format record a finished run
// logs: CloudWatch rejects one whose dimension names lack values.
func TestMetricAttrs(t *testing.T) {
	tests := []struct {
		name     string
		dims     map[string]string
		wantDims []any
	}{
		{"no dimensions", nil, []any{}},
		{"function name", map[string]string{"FunctionName": "fn-1"}, []any{"FunctionName"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			e := NewEngine(EngineConfig{MetricDimensions: tc.dims, Logger: slog.New(slog.NewJSONHandler(&buf, nil))})
			e.log.LogAttrs(context.Background(), slog.LevelInfo, "m", e.metricAttrs(1, 3)...)
			var rec map[string]any
			if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
				t.Fatal(err)
			}
			aws, _ := rec["_aws"].(map[string]any)
			cwm, _ := aws["CloudWatchMetrics"].([]any)
			if len(cwm) != 1 {
				t.Fatalf("_aws %v", rec["_aws"])
			}
			d := cwm[0].(map[string]any)
			if d["Namespace"] != "scimless" || fmt.Sprint(d["Dimensions"]) != fmt.Sprint([]any{tc.wantDims}) {
				t.Errorf("directive %v, want namespace scimless and dimensions [%v]", d, tc.wantDims)
			}
			if rec["XaaSSyncFailed"] != 1.0 || rec["XaaSSyncRuns"] != 1.0 || rec["XaaSRecordsFailed"] != 3.0 {
				t.Errorf("values %v", rec)
			}
			for k, v := range tc.dims {
				if rec[k] != v {
					t.Errorf("dimension %s = %v, want %s", k, rec[k], v)
				}
			}
			if _, ok := aws["Timestamp"].(float64); !ok {
				t.Errorf("no Timestamp in %v", aws)
			}
		})
	}
}
