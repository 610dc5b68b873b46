package xaas

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// SecretLookup returns the secret a reference names: a tenant's Okta API
// token or service-app private key. The table only ever holds references;
// the secret itself lives in AWS Secrets Manager (on AWS) or in flags and the
// environment (locally). Implementations never log secrets, and errors never
// contain them.
type SecretLookup interface {
	Secret(ctx context.Context, ref string) ([]byte, error)
}

// ErrNoSecret means the reference names no secret.
var ErrNoSecret = errors.New("no such secret")

// EnvSecrets resolves "env:NAME" references from the environment (Getenv,
// os.Getenv in production).
type EnvSecrets struct {
	Getenv func(string) string
}

// Secret implements SecretLookup.
func (e EnvSecrets) Secret(_ context.Context, ref string) ([]byte, error) {
	name, ok := strings.CutPrefix(ref, "env:")
	if !ok || name == "" {
		return nil, fmt.Errorf("secret reference %q: want env:NAME: %w", ref, ErrNoSecret)
	}
	v := e.Getenv(name)
	if v == "" {
		return nil, fmt.Errorf("secret reference %q: environment variable %s is empty: %w", ref, name, ErrNoSecret)
	}
	return []byte(v), nil
}

// StaticSecrets resolves references from a fixed map (command-line flags of
// the local run, tests).
type StaticSecrets map[string][]byte

// Secret implements SecretLookup.
func (s StaticSecrets) Secret(_ context.Context, ref string) ([]byte, error) {
	v, ok := s[ref]
	if !ok {
		return nil, fmt.Errorf("secret reference %q: %w", ref, ErrNoSecret)
	}
	return v, nil
}

// ChainSecrets resolves "env:…" references with Env and every other
// reference (a Secrets Manager secret name or ARN) with Other.
type ChainSecrets struct {
	Env   SecretLookup
	Other SecretLookup
}

// Secret implements SecretLookup.
func (c ChainSecrets) Secret(ctx context.Context, ref string) ([]byte, error) {
	if strings.HasPrefix(ref, "env:") && c.Env != nil {
		return c.Env.Secret(ctx, ref)
	}
	if c.Other == nil {
		return nil, fmt.Errorf("secret reference %q: %w", ref, ErrNoSecret)
	}
	return c.Other.Secret(ctx, ref)
}

// SecretsManager reads secrets from AWS Secrets Manager (GetSecretValue) with
// a SigV4-signed request of its JSON protocol, and caches them for TTL. It
// needs only the AWS SDK core (signer, credentials) already used for
// DynamoDB, not the secretsmanager service module. The Lambda role needs
// secretsmanager:GetSecretValue on the secrets (and kms:Decrypt for a
// customer-managed key).
type SecretsManager struct {
	// Credentials and Region come from the function's AWS config.
	Credentials aws.CredentialsProvider
	Region      string
	// Endpoint overrides https://secretsmanager.{Region}.amazonaws.com.
	Endpoint string
	// HTTP sends the requests (http.DefaultClient when nil).
	HTTP *http.Client
	// TTL is how long a secret is cached (5 minutes when zero): a rotated
	// secret is picked up within it.
	TTL time.Duration
	// Now is the clock (time.Now when nil).
	Now func() time.Time

	mu    sync.Mutex
	cache map[string]cachedSecret
}

type cachedSecret struct {
	value   []byte
	expires time.Time
}

// NewSecretsManager returns a Secrets Manager lookup using an AWS config.
func NewSecretsManager(cfg aws.Config) *SecretsManager {
	return &SecretsManager{Credentials: cfg.Credentials, Region: cfg.Region}
}

// Secret implements SecretLookup: ref is a secret name or ARN; the secret's
// SecretString (or SecretBinary) is returned.
func (m *SecretsManager) Secret(ctx context.Context, ref string) ([]byte, error) {
	now := time.Now
	if m.Now != nil {
		now = m.Now
	}
	m.mu.Lock()
	if c, ok := m.cache[ref]; ok && now().Before(c.expires) {
		m.mu.Unlock()
		return c.value, nil
	}
	m.mu.Unlock()
	v, err := m.fetch(ctx, ref, now())
	if err != nil {
		return nil, err
	}
	ttl := m.TTL
	if ttl <= 0 {
		ttl = 5 * time.Minute
	}
	m.mu.Lock()
	if m.cache == nil {
		m.cache = map[string]cachedSecret{}
	}
	m.cache[ref] = cachedSecret{value: v, expires: now().Add(ttl)}
	m.mu.Unlock()
	return v, nil
}

func (m *SecretsManager) fetch(ctx context.Context, ref string, now time.Time) ([]byte, error) {
	if m.Credentials == nil || m.Region == "" {
		return nil, errors.New("secrets manager: no AWS credentials or region")
	}
	endpoint := m.Endpoint
	if endpoint == "" {
		endpoint = "https://secretsmanager." + m.Region + ".amazonaws.com"
	}
	body, err := json.Marshal(map[string]string{"SecretId": ref})
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint+"/", bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("secrets manager: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", "secretsmanager.GetSecretValue")
	creds, err := m.Credentials.Retrieve(ctx)
	if err != nil {
		return nil, fmt.Errorf("secrets manager: credentials: %w", err)
	}
	sum := sha256.Sum256(body)
	if err := v4.NewSigner().SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), "secretsmanager", m.Region, now); err != nil {
		return nil, fmt.Errorf("secrets manager: sign: %w", err)
	}
	client := m.HTTP
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("secrets manager: %w", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("secrets manager: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Type    string `json:"__type"`
			Message string `json:"message"`
		}
		_ = json.Unmarshal(data, &e)
		typ := e.Type
		if i := strings.LastIndexByte(typ, '#'); i >= 0 {
			typ = typ[i+1:]
		}
		if typ == "ResourceNotFoundException" {
			return nil, fmt.Errorf("secrets manager: secret %q: %w", ref, ErrNoSecret)
		}
		return nil, fmt.Errorf("secrets manager: GetSecretValue %q: %d %s", ref, resp.StatusCode, typ)
	}
	var out struct {
		SecretString *string `json:"SecretString"`
		SecretBinary *string `json:"SecretBinary"`
	}
	if err := json.Unmarshal(data, &out); err != nil {
		return nil, fmt.Errorf("secrets manager: decoding GetSecretValue: %w", err)
	}
	switch {
	case out.SecretString != nil:
		return []byte(*out.SecretString), nil
	case out.SecretBinary != nil:
		b, err := base64.StdEncoding.DecodeString(*out.SecretBinary)
		if err != nil {
			return nil, fmt.Errorf("secrets manager: decoding SecretBinary: %w", err)
		}
		return b, nil
	}
	return nil, fmt.Errorf("secrets manager: secret %q has no value: %w", ref, ErrNoSecret)
}
