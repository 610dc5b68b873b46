package xaas

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"

	"github.com/scimless/scimless/pkg/store"
	"github.com/scimless/scimless/pkg/xaas/okta"
)

// OktaAPI is the part of Okta's Identity Sources API the sync engine uses;
// *okta.Client implements it. Tests wrap it to count or break calls.
type OktaAPI interface {
	ListSessions(ctx context.Context, sourceID string) ([]okta.Session, error)
	CreateSession(ctx context.Context, sourceID string) (*okta.Session, error)
	GetSession(ctx context.Context, sourceID, sessionID string) (*okta.Session, error)
	CancelSession(ctx context.Context, sourceID, sessionID string) error
	StartImport(ctx context.Context, sourceID, sessionID string) (*okta.Session, error)
	UpsertUsers(ctx context.Context, sourceID, sessionID string, users []okta.User) error
	DeactivateUsers(ctx context.Context, sourceID, sessionID string, externalIDs []string) error
	UpsertGroups(ctx context.Context, sourceID, sessionID string, groups []okta.Group) error
	DeleteGroups(ctx context.Context, sourceID, sessionID string, externalIDs []string) error
	UpsertGroupMemberships(ctx context.Context, sourceID, sessionID string, memberships []okta.Membership) error
	DeleteGroupMemberships(ctx context.Context, sourceID, sessionID string, memberships []okta.Membership) error
}

// Target is where a tenant's records go: an Okta org's API and the
// identity source (Custom Identity Source app) id.
type Target struct {
	API      OktaAPI
	SourceID string
}

// Resolver finds a tenant's Okta target.
type Resolver interface {
	// Target returns the tenant's target; ErrNotConfigured when it has none.
	Target(ctx context.Context, tenant string) (Target, error)
}

// ErrNotConfigured means a tenant has no Okta org configured for XaaS.
var ErrNotConfigured = errors.New("xaas sync is not configured for this tenant")

// StaticResolver sends every tenant to one target (the local run's
// -okta-url, or a fake Okta).
type StaticResolver struct{ T Target }

// Target implements Resolver.
func (r StaticResolver) Target(context.Context, string) (Target, error) { return r.T, nil }

// Okta authentication kinds of an OktaConfig.
const (
	AuthSSWS  = "ssws"  // an Okta API token, "Authorization: SSWS …"
	AuthOAuth = "oauth" // an OAuth 2.0 service app with a private-key JWT
)

// OktaConfig is a tenant's Okta org for XaaS, stored in the table
// (`scimless xaas config set`). It holds a reference to the credential,
// never the credential.
type OktaConfig struct {
	// OrgURL is the Okta org, such as https://example.okta.com.
	OrgURL string `json:"orgUrl"`
	// IdentitySourceID is the Custom Identity Source app's id.
	IdentitySourceID string `json:"identitySourceId"`
	// Auth is AuthSSWS or AuthOAuth.
	Auth string `json:"auth"`
	// ClientID is the OAuth service app's client id (AuthOAuth).
	ClientID string `json:"clientId,omitempty"`
	// KeyID is the private key's kid in the service app (optional).
	KeyID string `json:"keyId,omitempty"`
	// SecretRef names the API token (AuthSSWS) or the PEM/JWK private key
	// (AuthOAuth): a Secrets Manager secret name or ARN, or env:NAME.
	SecretRef string `json:"secretRef"`
}

// Validate checks the configuration.
func (c *OktaConfig) Validate() error {
	u, err := url.Parse(c.OrgURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("okta config: orgUrl %q is not an http(s) URL", c.OrgURL)
	}
	if c.IdentitySourceID == "" {
		return errors.New("okta config: identitySourceId is required")
	}
	switch c.Auth {
	case AuthSSWS:
	case AuthOAuth:
		if c.ClientID == "" {
			return errors.New("okta config: clientId is required with auth oauth")
		}
	default:
		return fmt.Errorf("okta config: auth must be %q or %q", AuthSSWS, AuthOAuth)
	}
	if c.SecretRef == "" {
		return errors.New("okta config: secretRef is required")
	}
	return nil
}

// LoadOktaConfig reads a tenant's Okta configuration; ErrNotConfigured when
// there is none.
func LoadOktaConfig(ctx context.Context, st *store.Store, tenant string) (*OktaConfig, error) {
	doc, err := st.GetXaaSDoc(ctx, tenant, store.XaaSDocConfig)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrNotConfigured
	}
	if err != nil {
		return nil, err
	}
	var c OktaConfig
	if err := json.Unmarshal(doc, &c); err != nil {
		return nil, fmt.Errorf("okta config of %s: %w", tenant, err)
	}
	return &c, nil
}

// SaveOktaConfig validates and stores a tenant's Okta configuration.
func SaveOktaConfig(ctx context.Context, st *store.Store, tenant string, c *OktaConfig) error {
	if err := c.Validate(); err != nil {
		return err
	}
	doc, err := json.Marshal(c)
	if err != nil {
		return err
	}
	return st.PutXaaSDoc(ctx, tenant, store.XaaSDocConfig, doc)
}

// TableResolver reads each tenant's OktaConfig from the table and its
// credential through Secrets, and keeps one okta.Client per tenant (so an
// OAuth access token is reused until it expires). A changed configuration
// or secret gets a new client.
type TableResolver struct {
	Store   *store.Store
	Secrets SecretLookup
	// Options are passed to every okta.New (retry policy, HTTP client, …).
	Options []okta.Option

	mu      sync.Mutex
	clients map[string]cachedClient
}

type cachedClient struct {
	key    [32]byte
	client *okta.Client
}

// Target implements Resolver.
func (r *TableResolver) Target(ctx context.Context, tenant string) (Target, error) {
	cfg, err := LoadOktaConfig(ctx, r.Store, tenant)
	if err != nil {
		return Target{}, err
	}
	if err := cfg.Validate(); err != nil {
		return Target{}, err
	}
	secret, err := r.Secrets.Secret(ctx, cfg.SecretRef)
	if err != nil {
		return Target{}, fmt.Errorf("okta credential of %s: %w", tenant, err)
	}
	h := sha256.New()
	doc, _ := json.Marshal(cfg)
	h.Write(doc)
	h.Write([]byte{0})
	h.Write(secret)
	var key [32]byte
	copy(key[:], h.Sum(nil))
	r.mu.Lock()
	defer r.mu.Unlock()
	if c, ok := r.clients[tenant]; ok && c.key == key {
		return Target{API: c.client, SourceID: cfg.IdentitySourceID}, nil
	}
	client, err := NewOktaClient(cfg, secret, r.Options...)
	if err != nil {
		return Target{}, fmt.Errorf("okta client of %s: %w", tenant, err)
	}
	if r.clients == nil {
		r.clients = map[string]cachedClient{}
	}
	r.clients[tenant] = cachedClient{key: key, client: client}
	return Target{API: client, SourceID: cfg.IdentitySourceID}, nil
}

// NewOktaClient returns a client for cfg authenticating with secret (the
// API token, or the PEM/JWK private key of the service app).
func NewOktaClient(cfg *OktaConfig, secret []byte, opts ...okta.Option) (*okta.Client, error) {
	switch cfg.Auth {
	case AuthOAuth:
		cred, err := okta.NewPrivateKeyJWT(cfg.ClientID, secret)
		if err != nil {
			return nil, err
		}
		if cfg.KeyID != "" {
			cred.KeyID = cfg.KeyID
		}
		cred.Scopes = []string{okta.ScopeManage, okta.ScopeRead}
		return okta.New(cfg.OrgURL, cred, opts...)
	default:
		return okta.New(cfg.OrgURL, okta.APIToken(strings.TrimSpace(string(secret))), opts...)
	}
}
