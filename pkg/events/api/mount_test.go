package api_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/scimless/scimless/pkg/events/api"
	"github.com/scimless/scimless/pkg/store/storetest"
)

// TestMount: the Events API answers at its path; every other request
// reaches the next handler exactly as sent.
func TestMount(t *testing.T) {
	env := storetest.New(t)
	var got string
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Method + " " + r.URL.Path
		w.WriteHeader(http.StatusTeapot)
	})
	h := api.New(env.Store, tokens).Mount(next)
	tests := []struct {
		method, target string
		status         int
		next           string // what next saw; "" when the Events API answered
	}{
		{"GET", "/events/v1", 200, ""},
		{"GET", "/events/v1?limit=0", 400, ""},
		{"DELETE", "/events/v1", 405, ""},
		{"GET", "/events/v1/", 418, "GET /events/v1/"},
		{"GET", "/scim/v2//Users", 418, "GET /scim/v2//Users"},
		{"POST", "/scim/v2/Users/../Groups", 418, "POST /scim/v2/Users/../Groups"},
	}
	for _, tc := range tests {
		got = ""
		r := httptest.NewRequest(tc.method, "http://x"+tc.target, nil)
		r.Header.Set("Authorization", "Bearer ev")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != tc.status || got != tc.next {
			t.Errorf("%s %s: %d, next saw %q; want %d, %q", tc.method, tc.target, w.Code, got, tc.status, tc.next)
		}
		if tc.next == "" && w.Header().Get("X-Request-Id") == "" {
			t.Errorf("%s %s: no X-Request-Id", tc.method, tc.target)
		}
	}
}
