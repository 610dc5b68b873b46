// Package reqlog gives the service's HTTP handlers request ids, status
// recording and panic recovery for their one JSON log line per request.
package reqlog

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"time"
)

// header carries a request's id in to the handler (pkg/apigw sets it to API
// Gateway's request id) and back out on the response.
const header = "X-Request-Id"

// MaxIDLen is the longest request id taken from a request; a longer one is
// replaced by a new id.
const MaxIDLen = 128

// ID returns r's request id: its X-Request-Id header when that is set and at
// most MaxIDLen bytes long, otherwise a new random id of 16 hex digits.
func ID(r *http.Request) string {
	if id := r.Header.Get(header); id != "" && len(id) <= MaxIDLen {
		return id
	}
	return newID()
}

func newID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// info is what a request's context carries: its id and client address. One
// context value holds both, so that Start adds one value per request.
type info struct{ id, client string }

type infoKey struct{}

func infoFrom(ctx context.Context) info {
	if in, ok := ctx.Value(infoKey{}).(*info); ok {
		return *in
	}
	return info{}
}

// WithID returns a copy of ctx that carries the request id id.
func WithID(ctx context.Context, id string) context.Context {
	in := infoFrom(ctx)
	in.id = id
	return context.WithValue(ctx, infoKey{}, &in)
}

// IDFrom returns the request id ctx carries, or "" if it carries none.
func IDFrom(ctx context.Context) string {
	return infoFrom(ctx).id
}

// WithClient returns a copy of ctx that carries addr, the network address of
// the client a request comes from.
func WithClient(ctx context.Context, addr string) context.Context {
	in := infoFrom(ctx)
	in.client = addr
	return context.WithValue(ctx, infoKey{}, &in)
}

// ClientFrom returns the client address ctx carries (set by Start from the
// request's RemoteAddr: "IP:port" from a listener, the source IP API Gateway
// saw on Lambda), or "" if it carries none.
func ClientFrom(ctx context.Context) string {
	return infoFrom(ctx).client
}

// Recorder is an http.ResponseWriter that records the status a handler
// answers, for the request's log line.
type Recorder struct {
	http.ResponseWriter
	// Status is the first status written: 0 until the handler writes,
	// http.StatusOK if it writes a body without a header.
	Status int
	// ID is the request's id.
	ID string
	// start is when the request began, for its latency.
	start time.Time
}

// Start begins serving r: it takes r's request id (see ID), sets it as w's
// X-Request-Id header and in the context of the request it returns (with
// the client address, see ClientFrom), and
// wraps w in a Recorder that also notes the time, for the latency Log
// reports.
func Start(w http.ResponseWriter, r *http.Request) (*Recorder, *http.Request) {
	start := time.Now()
	id := ID(r)
	rec := &Recorder{ResponseWriter: w, ID: id, start: start}
	rec.Header().Set(header, id)
	return rec, r.WithContext(context.WithValue(r.Context(), infoKey{}, &info{id: id, client: r.RemoteAddr}))
}

// WriteHeader records code if no status was recorded yet and writes it.
func (rec *Recorder) WriteHeader(code int) {
	if rec.Status == 0 {
		rec.Status = code
	}
	rec.ResponseWriter.WriteHeader(code)
}

// Write records http.StatusOK if no status was recorded yet and writes b.
func (rec *Recorder) Write(b []byte) (int, error) {
	if rec.Status == 0 {
		rec.Status = http.StatusOK
	}
	return rec.ResponseWriter.Write(b)
}

// Unwrap returns the wrapped ResponseWriter, for http.ResponseController.
func (rec *Recorder) Unwrap() http.ResponseWriter { return rec.ResponseWriter }

// Recovered takes v, what recover returned in the handler's deferred
// function. If v is not nil, it logs an error line "panic" with v and the
// request id, and reports whether nothing has been written yet, so that the
// handler can still answer an error. It reports false when v is nil.
func (rec *Recorder) Recovered(ctx context.Context, log *slog.Logger, v any) bool {
	if v == nil {
		return false
	}
	log.ErrorContext(ctx, "panic", "panic", fmt.Sprint(v), "request_id", rec.ID)
	return rec.Status == 0
}

// Log writes the request's one line, "request" at level info, with its
// method, route, status, latency_ms, tenant and request_id, then extra.
func (rec *Recorder) Log(ctx context.Context, log *slog.Logger, method, route, tenant string, extra ...slog.Attr) {
	var buf [10]slog.Attr
	attrs := append(buf[:0],
		slog.String("method", method),
		slog.String("route", route),
		slog.Int("status", rec.Status),
		slog.Float64("latency_ms", float64(time.Since(rec.start).Microseconds())/1000),
		slog.String("tenant", tenant),
		slog.String("request_id", rec.ID),
	)
	attrs = append(attrs, extra...)
	log.LogAttrs(ctx, slog.LevelInfo, "request", attrs...)
}
