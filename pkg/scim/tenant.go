package scim

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/scimless/scimless/pkg/auth"
	"github.com/scimless/scimless/pkg/reqlog"
	"github.com/scimless/scimless/pkg/scim/schema"
	"github.com/scimless/scimless/pkg/store"
)

// tenantCacheTTL is how long a tenant's settings are cached in this process:
// a settings change (rate limit, password sync, schemas) takes effect within
// it, like a token revocation within the token cache TTL.
const tenantCacheTTL = 60 * time.Second

// tenants caches tenant items (settings) per process.
type tenants struct {
	store *store.Store
	now   func() time.Time
	mu    sync.Mutex
	m     map[string]cachedTenant
}

type cachedTenant struct {
	t       *store.Tenant // nil: no tenant item (defaults apply)
	view    *view
	expires time.Time
}

// view is how the SCIM API looks to one tenant: its resource types (core
// schemas plus the tenant's extensions) and the settings that change
// request handling.
type view struct {
	users, groups *schema.ResourceType
	plainUsers    bool // users can be sent as stored (fastjson.go)
	passThrough   bool // unknown extension URNs in bodies are kept, not refused
	passwordSync  bool // passwords are stored as argon2id hashes, not discarded
}

// buildView makes a tenant's view from its item and its schema extensions
// document (as `scimless schema set` stores it).
func buildView(t *store.Tenant, extDoc []byte) (*view, error) {
	var exts []schema.ExtensionSchema
	if len(extDoc) > 0 {
		var err error
		if exts, err = schema.ParseExtensionFile(extDoc); err != nil {
			return nil, fmt.Errorf("tenant schemas: %w", err)
		}
	}
	v := &view{
		users:        schema.UserResourceType(schema.Extensions(exts, "User")...),
		groups:       schema.GroupResourceType(schema.Extensions(exts, "Group")...),
		passThrough:  t.Setting(store.SettingExtensionPassThrough) == "true",
		passwordSync: t.Setting(store.SettingPasswordSync) == "true",
	}
	v.plainUsers = plainReturn(v.users) && !v.passThrough
	return v, nil
}

// viewFor returns the tenant's view, cached with its tenant item.
func (c *tenants) viewFor(ctx context.Context, id string) (*view, error) {
	now := c.now()
	c.mu.Lock()
	ct, ok := c.m[id]
	c.mu.Unlock()
	if ok && now.Before(ct.expires) && ct.view != nil {
		return ct.view, nil
	}
	t, err := c.get(ctx, id)
	if err != nil {
		return nil, err
	}
	doc, err := c.store.GetSchemas(ctx, id)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	v, err := buildView(t, doc)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	ct = c.m[id]
	ct.view = v
	c.m[id] = ct
	c.mu.Unlock()
	return v, nil
}

type viewKey struct{}

// viewOf returns the request's tenant view (the server's defaults outside an
// authenticated request).
func (s *Server) viewOf(r *http.Request) *view {
	if v, ok := r.Context().Value(viewKey{}).(*view); ok {
		return v
	}
	return s.defaults
}

// get returns the tenant's item, from the cache when fresh. A missing tenant
// item yields nil (every setting at its default).
func (c *tenants) get(ctx context.Context, id string) (*store.Tenant, error) {
	now := c.now()
	c.mu.Lock()
	ct, ok := c.m[id]
	c.mu.Unlock()
	if ok && now.Before(ct.expires) {
		return ct.t, nil
	}
	t, err := c.store.GetTenant(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		t, err = nil, nil
	}
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if len(c.m) > 10000 {
		clear(c.m)
	}
	c.m[id] = cachedTenant{t: t, expires: now.Add(tenantCacheTTL)}
	c.mu.Unlock()
	return t, nil
}

// audit logs a successful write as a JSON "audit" line. It carries no
// personal data: only tenant, token id, operation, resource type and id,
// status and request id. The audit trail in the table needs no write here:
// it is derived from the directory events of the table's stream, whose
// items record the request's actor (see store.WithActor).
func (s *Server) audit(r *http.Request, p auth.Principal, status int, location string) {
	switch r.Method {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
	default:
		return
	}
	if status < 200 || status > 299 || strings.HasSuffix(r.URL.Path, "/.search") {
		return
	}
	ctx := r.Context()
	op := route(r)
	resType, id := "", r.PathValue("id")
	switch {
	case strings.Contains(op, "/Users"):
		resType = "User"
	case strings.Contains(op, "/Groups"):
		resType = "Group"
	}
	if id == "" && location != "" {
		id = location[strings.LastIndexByte(location, '/')+1:]
	}
	s.log.LogAttrs(ctx, slog.LevelInfo, "audit",
		slog.String("tenant", p.Tenant), slog.String("token_id", p.TokenID), slog.String("operation", op),
		slog.String("resource_type", resType), slog.String("resource_id", id), slog.Int("status", status),
		slog.String("request_id", reqlog.IDFrom(ctx)))
}
