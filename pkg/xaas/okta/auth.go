package okta

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Scopes of the Identity Sources API.
const (
	// ScopeManage allows creating and cancelling sessions, uploads and
	// starting imports.
	ScopeManage = "okta.identitySources.manage"
	// ScopeRead allows listing and reading sessions.
	ScopeRead = "okta.identitySources.read"
)

// Credentials authenticate a Client: an [APIToken], or a [PrivateKeyJWT]
// (value or pointer).
type Credentials interface {
	credentials()
}

// APIToken is an Okta API token, sent as "Authorization: SSWS {token}". It
// formats as "[redacted]" so that it cannot leak through logs.
type APIToken string

func (APIToken) credentials() {}

// String returns a placeholder, never the token.
func (APIToken) String() string { return "[redacted]" }

// GoString returns a placeholder, never the token.
func (APIToken) GoString() string { return "okta.APIToken([redacted])" }

// PrivateKeyJWT is an OAuth 2.0 service app that authenticates to Okta's org
// authorization server with a JWT signed by its private key
// (token_endpoint_auth_method private_key_jwt) and the client_credentials
// grant. The app must be granted the requested scopes and must not require
// DPoP. Formatting it never shows the key.
type PrivateKeyJWT struct {
	// ClientID is the service app's client ID; it is the JWT's iss and sub.
	ClientID string
	// KeyID is the key's ID in the app's JWKS, sent as the JWT's kid header;
	// optional when the app has a single key.
	KeyID string
	// Key signs the client assertion (RS256). At least 2048 bits.
	Key *rsa.PrivateKey
	// Scopes are the requested scopes (default: ScopeManage). Add ScopeRead
	// if the org requires it for listing and reading sessions.
	Scopes []string
	// TokenURL is the token endpoint and the JWT's aud (default:
	// {org URL}/oauth2/v1/token).
	TokenURL string
}

func (PrivateKeyJWT) credentials() {}

// String shows the client ID and key ID, never the key.
func (p PrivateKeyJWT) String() string {
	return fmt.Sprintf("okta.PrivateKeyJWT{ClientID: %q, KeyID: %q, Key: [redacted]}", p.ClientID, p.KeyID)
}

// GoString shows the client ID and key ID, never the key.
func (p PrivateKeyJWT) GoString() string { return p.String() }

// NewPrivateKeyJWT returns credentials for the service app clientID whose
// private key is key, PEM ("RSA PRIVATE KEY" or "PRIVATE KEY") or a JWK as
// Okta's admin console generates it. The JWK's kid becomes KeyID.
func NewPrivateKeyJWT(clientID string, key []byte) (PrivateKeyJWT, error) {
	k, kid, err := ParsePrivateKey(key)
	if err != nil {
		return PrivateKeyJWT{}, err
	}
	return PrivateKeyJWT{ClientID: clientID, KeyID: kid, Key: k}, nil
}

// maxKeyInput bounds the size of a key file.
const maxKeyInput = 64 << 10

// ParsePrivateKey parses an RSA private key in PEM (PKCS #1 "RSA PRIVATE
// KEY" or PKCS #8 "PRIVATE KEY", unencrypted) or JWK form (a single key, or a
// JWK set holding exactly one key). It returns the JWK's kid, if any. Errors
// never contain key material.
func ParsePrivateKey(data []byte) (*rsa.PrivateKey, string, error) {
	if len(data) > maxKeyInput {
		return nil, "", errors.New("okta: private key: input too large")
	}
	data = bytes.TrimSpace(data)
	if len(data) > 0 && data[0] == '{' {
		return parseJWK(data)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, "", errors.New("okta: private key: neither PEM nor JWK")
	}
	var key *rsa.PrivateKey
	switch block.Type {
	case "RSA PRIVATE KEY":
		k, err := x509.ParsePKCS1PrivateKey(block.Bytes)
		if err != nil {
			return nil, "", errors.New("okta: private key: invalid PKCS #1 key")
		}
		key = k
	case "PRIVATE KEY":
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, "", errors.New("okta: private key: invalid PKCS #8 key")
		}
		rk, ok := k.(*rsa.PrivateKey)
		if !ok {
			return nil, "", errors.New("okta: private key: not an RSA key")
		}
		key = rk
	default:
		return nil, "", fmt.Errorf("okta: private key: unsupported PEM block %q", clean(block.Type))
	}
	if err := checkKeySize(key); err != nil {
		return nil, "", err
	}
	return key, "", nil
}

type jwk struct {
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	N   string `json:"n"`
	E   string `json:"e"`
	D   string `json:"d"`
	P   string `json:"p"`
	Q   string `json:"q"`
}

func parseJWK(data []byte) (*rsa.PrivateKey, string, error) {
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(data, &set); err != nil {
		return nil, "", errors.New("okta: private key: invalid JWK JSON")
	}
	if set.Keys != nil {
		if len(set.Keys) != 1 {
			return nil, "", errors.New("okta: private key: JWK set must hold exactly one key")
		}
		data = set.Keys[0]
	}
	var k jwk
	if err := json.Unmarshal(data, &k); err != nil {
		return nil, "", errors.New("okta: private key: invalid JWK JSON")
	}
	if k.Kty != "RSA" {
		return nil, "", errors.New("okta: private key: JWK kty must be RSA")
	}
	if k.D == "" || k.P == "" || k.Q == "" {
		return nil, "", errors.New("okta: private key: JWK has no private part (d, p, q)")
	}
	var ints [5]*big.Int
	for i, s := range []string{k.N, k.E, k.D, k.P, k.Q} {
		b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
		if err != nil || len(b) == 0 || len(b) > 1024 {
			return nil, "", errors.New("okta: private key: invalid JWK number")
		}
		ints[i] = new(big.Int).SetBytes(b)
	}
	if !ints[1].IsInt64() || ints[1].Int64() < 3 || ints[1].Int64() > 1<<31-1 {
		return nil, "", errors.New("okta: private key: invalid JWK exponent")
	}
	key := &rsa.PrivateKey{
		PublicKey: rsa.PublicKey{N: ints[0], E: int(ints[1].Int64())},
		D:         ints[2],
		Primes:    []*big.Int{ints[3], ints[4]},
	}
	if err := checkKeySize(key); err != nil {
		return nil, "", err
	}
	if new(big.Int).Mul(ints[3], ints[4]).Cmp(ints[0]) != 0 {
		return nil, "", errors.New("okta: private key: inconsistent JWK (p·q ≠ n)")
	}
	if err := key.Validate(); err != nil {
		return nil, "", errors.New("okta: private key: inconsistent JWK")
	}
	key.Precompute()
	return key, clean(k.Kid), nil
}

func checkKeySize(k *rsa.PrivateKey) error {
	if bits := k.N.BitLen(); bits < 2048 || bits > 8192 {
		return fmt.Errorf("okta: private key: RSA key of %d bits; need 2048 to 8192", bits)
	}
	return nil
}

// tokenCache gets and caches the access token of a PrivateKeyJWT client.
type tokenCache struct {
	c         *Client
	cred      PrivateKeyJWT
	tokenURL  string
	tokenPath string
	scope     string

	fetch chan struct{} // one fetch at a time; a context-aware mutex

	mu  sync.Mutex
	tok string
	exp time.Time // refresh at or after this time
}

func newTokenCache(c *Client, cred PrivateKeyJWT) (*tokenCache, error) {
	if cred.ClientID == "" {
		return nil, errors.New("okta: PrivateKeyJWT: empty ClientID")
	}
	if cred.Key == nil {
		return nil, errors.New("okta: PrivateKeyJWT: nil Key")
	}
	if err := checkKeySize(cred.Key); err != nil {
		return nil, err
	}
	t := &tokenCache{c: c, cred: cred, fetch: make(chan struct{}, 1)}
	t.tokenURL = cred.TokenURL
	if t.tokenURL == "" {
		t.tokenURL = c.base + "/oauth2/v1/token"
	}
	u, err := url.Parse(t.tokenURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
		return nil, errors.New("okta: PrivateKeyJWT: invalid TokenURL")
	}
	t.tokenPath = u.Path
	scopes := cred.Scopes
	if len(scopes) == 0 {
		scopes = []string{ScopeManage}
	}
	t.scope = strings.Join(scopes, " ")
	return t, nil
}

// Token lifetimes.
const (
	// assertionTTL is the client assertion's lifetime (Okta allows ≤ 1 h).
	assertionTTL = 5 * time.Minute
	// maxRefreshMargin is how long before expiry a token is replaced.
	maxRefreshMargin = time.Minute
)

func (t *tokenCache) cached() (string, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.tok != "" && t.c.now().Before(t.exp) {
		return t.tok, true
	}
	return "", false
}

func (t *tokenCache) invalidate() {
	t.mu.Lock()
	t.tok, t.exp = "", time.Time{}
	t.mu.Unlock()
}

// token returns a valid access token, fetching one if none is cached.
func (t *tokenCache) token(ctx context.Context) (string, error) {
	if tok, ok := t.cached(); ok {
		return tok, nil
	}
	select {
	case t.fetch <- struct{}{}:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	defer func() { <-t.fetch }()
	if tok, ok := t.cached(); ok { // another caller fetched it meanwhile
		return tok, nil
	}
	now := t.c.now()
	assertion, err := t.assertion(now)
	if err != nil {
		return "", err
	}
	form := url.Values{
		"grant_type":            {"client_credentials"},
		"scope":                 {t.scope},
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
		"client_assertion":      {assertion},
	}
	resp, err := t.c.send(ctx, request{
		method:      "POST",
		url:         t.tokenURL,
		path:        t.tokenPath,
		body:        []byte(form.Encode()),
		contentType: "application/x-www-form-urlencoded",
	})
	if err != nil {
		return "", err
	}
	var tr struct {
		TokenType   string `json:"token_type"`
		AccessToken string `json:"access_token"`
		ExpiresIn   int64  `json:"expires_in"`
	}
	if err := json.Unmarshal(resp.body, &tr); err != nil || tr.AccessToken == "" {
		return "", fmt.Errorf("okta: POST %s: token response without access_token", t.tokenPath)
	}
	if !strings.EqualFold(tr.TokenType, "Bearer") {
		return "", fmt.Errorf("okta: POST %s: token_type %q is not supported (DPoP must be off for the service app)", t.tokenPath, clean(tr.TokenType))
	}
	lifetime := time.Duration(tr.ExpiresIn) * time.Second
	margin := min(maxRefreshMargin, lifetime/10)
	t.mu.Lock()
	t.tok, t.exp = tr.AccessToken, now.Add(lifetime-margin)
	t.mu.Unlock()
	return tr.AccessToken, nil
}

// assertion returns the signed client assertion JWT.
func (t *tokenCache) assertion(now time.Time) (string, error) {
	header := struct {
		Alg string `json:"alg"`
		Kid string `json:"kid,omitempty"`
		Typ string `json:"typ"`
	}{"RS256", t.cred.KeyID, "JWT"}
	claims := struct {
		Aud string `json:"aud"`
		Iss string `json:"iss"`
		Sub string `json:"sub"`
		Iat int64  `json:"iat"`
		Exp int64  `json:"exp"`
		Jti string `json:"jti"`
	}{t.tokenURL, t.cred.ClientID, t.cred.ClientID, now.Unix(), now.Add(assertionTTL).Unix(), rand.Text()}
	h, err := json.Marshal(header)
	if err != nil {
		return "", err
	}
	c, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	enc := base64.RawURLEncoding
	signingInput := enc.EncodeToString(h) + "." + enc.EncodeToString(c)
	digest := sha256.Sum256([]byte(signingInput))
	sig, err := rsa.SignPKCS1v15(nil, t.cred.Key, crypto.SHA256, digest[:])
	if err != nil {
		return "", errors.New("okta: signing the client assertion failed")
	}
	return signingInput + "." + enc.EncodeToString(sig), nil
}
