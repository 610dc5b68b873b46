package selftest

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/scimless/scimless/pkg/auth"
	"github.com/scimless/scimless/pkg/ratelimit"
	"github.com/scimless/scimless/pkg/scim"
	"github.com/scimless/scimless/pkg/store/storetest"
)

const testToken = "selftest-token-0123456789"

// stack is the SCIM handler on the embedded engine, served over HTTP.
type stack struct {
	base string
	env  *storetest.Env
}

// newStack serves the real SCIM handler, wrapped by wrap when not nil. With
// limited true the tenant may send 50 requests/s.
func newStack(t *testing.T, limited bool, wrap func(http.Handler) http.Handler) *stack {
	t.Helper()
	env := storetest.New(t)
	if _, _, err := auth.Issue(context.Background(), env.Store, auth.IssueOptions{Tenant: "default", Secret: testToken}); err != nil {
		t.Fatalf("issue token: %v", err)
	}
	cfg := scim.Config{Store: env.Store, Auth: auth.NewAuthenticator(env.Store, 0)}
	if limited {
		// 50 requests/s per tenant, so the limits flow meets real 429s.
		cfg.Limiter = ratelimit.New(ratelimit.Config{Store: env.Store, Default: 50, Logger: slog.New(slog.DiscardHandler)})
	}
	var h http.Handler = scim.New(cfg)
	if wrap != nil {
		h = wrap(h)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &stack{base: srv.URL + scim.Prefix, env: env}
}

// recorded is a response captured to be rewritten.
type recorded struct {
	status int
	header http.Header
	body   bytes.Buffer
}

func (r *recorded) Header() http.Header         { return r.header }
func (r *recorded) WriteHeader(s int)           { r.status = s }
func (r *recorded) Write(b []byte) (int, error) { return r.body.Write(b) }

// rewrite serves h and lets fix change the answer of requests that match.
func rewrite(match func(*http.Request) bool, fix func(r *http.Request, status int, h http.Header, body []byte) (int, []byte)) func(http.Handler) http.Handler {
	return func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !match(r) {
				h.ServeHTTP(w, r)
				return
			}
			rec := &recorded{status: 200, header: http.Header{}}
			h.ServeHTTP(rec, r)
			status, body := fix(r, rec.status, rec.header, rec.body.Bytes())
			for k, v := range rec.header {
				w.Header()[k] = v
			}
			w.Header().Set("Content-Length", strconv.Itoa(len(body)))
			w.WriteHeader(status)
			_, _ = w.Write(body)
		})
	}
}

// rewriteRequest lets fix change matching requests before h serves them.
func rewriteRequest(match func(*http.Request) bool, fix func(r *http.Request, body []byte) []byte) func(http.Handler) http.Handler {
	return func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if match(r) {
				b, _ := io.ReadAll(r.Body)
				b = fix(r, b)
				r.Body = io.NopCloser(bytes.NewReader(b))
				r.ContentLength = int64(len(b))
			}
			h.ServeHTTP(w, r)
		})
	}
}
