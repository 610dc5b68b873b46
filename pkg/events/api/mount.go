package api

import (
	"net/http"

	"github.com/scimless/scimless/pkg/reqlog"
)

// Mount returns a handler that serves the Events API at Path and passes
// every other request to next as sent (no path cleaning or redirects: next
// serves its own paths), so that one function serves the Events API beside
// another API. Each Events API request is logged as one "request" line with
// its request id (the X-Request-Id header); a panic is logged and answered
// with a 500.
func (h *Handler) Mount(next http.Handler) http.Handler {
	mux := http.NewServeMux()
	h.Routes(mux)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != Path {
			next.ServeHTTP(w, r)
			return
		}
		rw, r := reqlog.Start(w, r)
		ctx := r.Context()
		defer func() {
			if rw.Recovered(ctx, h.log, recover()) {
				writeError(rw, http.StatusInternalServerError, "internal error")
			}
			rw.Log(ctx, h.log, r.Method, Path, "")
		}()
		mux.ServeHTTP(rw, r)
	})
}
