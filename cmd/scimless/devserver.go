package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/scimless/scimless/pkg/scim/schema"
	"github.com/scimless/scimless/pkg/xaas"
)

// devTimeouts are the local server's limits on a connection. They mirror
// what a client of the deployed API meets: API Gateway answers a request
// within its 29 s integration timeout or not at all.
type devTimeouts struct {
	readHeader time.Duration // to read a request's headers
	read       time.Duration // to read a whole request, body included
	write      time.Duration // from the end of the headers to the end of the response
	idle       time.Duration // between requests on a kept-alive connection
	// XaaS bulk pushes may be larger locally than Lambda's 6 MB
	// (-xaas-max-bulk-bytes) and take longer than read and write allow: for
	// them the body must instead keep arriving at bulkMinBytes per
	// bulkWindow, and the response has no deadline.
	bulkWindow   time.Duration
	bulkMinBytes int64
}

// defaultDevTimeouts are the local server's timeouts.
var defaultDevTimeouts = devTimeouts{
	readHeader:   10 * time.Second,
	read:         30 * time.Second,
	write:        30 * time.Second,
	idle:         60 * time.Second,
	bulkWindow:   10 * time.Second,
	bulkMinBytes: 64 << 10,
}

// newDevServer returns the local HTTP server of h with the timeouts t.
func newDevServer(h http.Handler, t devTimeouts, logger *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           withBulkTimeouts(h, t),
		ReadHeaderTimeout: t.readHeader,
		ReadTimeout:       t.read,
		WriteTimeout:      t.write,
		IdleTimeout:       t.idle,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
}

// devHandler adds the local run's /debug/metrics endpoint in front of h.
// Every other path goes to h as sent: unlike http.ServeMux, nothing
// redirects a path with "//" or dot segments (API Gateway does not either;
// the APIs serve the clean path).
func devHandler(h http.Handler, db *openedTable) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/debug/metrics" && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]any{"dynamodb": db.Metrics.Snapshot()})
			return
		}
		h.ServeHTTP(w, r)
	})
}

// withBulkTimeouts lifts the read and write deadlines of XaaS bulk pushes
// and makes their body keep a minimum rate instead (see devTimeouts).
func withBulkTimeouts(h http.Handler, t devTimeouts) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && xaas.Handles(r.URL.Path) && strings.HasSuffix(r.URL.Path, ":bulk") {
			rc := http.NewResponseController(w)
			now := time.Now()
			if err := rc.SetReadDeadline(now.Add(2 * t.bulkWindow)); err == nil {
				_ = rc.SetWriteDeadline(time.Time{})
				r.Body = &minRateBody{ReadCloser: r.Body, rc: rc, window: t.bulkWindow, min: t.bulkMinBytes, start: now}
			}
		}
		h.ServeHTTP(w, r)
	})
}

// errTooSlow is the error of a body read that fell under the minimum rate.
var errTooSlow = errors.New("the request body arrives too slowly")

// minRateBody is a request body that must deliver min bytes per window: each
// window that does pushes the connection's read deadline two windows ahead;
// one that does not ends the read with errTooSlow (a body that stops
// arriving meets the deadline).
type minRateBody struct {
	io.ReadCloser
	rc     *http.ResponseController
	window time.Duration
	min    int64
	start  time.Time // of the current window
	got    int64     // bytes in the current window
}

func (b *minRateBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.got += int64(n)
	if now := time.Now(); now.Sub(b.start) >= b.window && err == nil {
		if b.got < b.min {
			return n, fmt.Errorf("%w: %d bytes in %v, want at least %d", errTooSlow, b.got, b.window, b.min)
		}
		b.start, b.got = now, 0
		_ = b.rc.SetReadDeadline(now.Add(2 * b.window))
	}
	return n, err
}

// apiErrorListener gives the answers net/http writes itself, before any
// handler runs, the API's JSON error shape (see apiErrorConn).
type apiErrorListener struct{ net.Listener }

// Accept wraps the next connection in an apiErrorConn.
func (l apiErrorListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &apiErrorConn{Conn: c}, nil
}

// apiErrorConn rewrites the plain-text error responses net/http writes
// when it cannot parse a request (a malformed request line or header, a
// missing Host, an unsupported Transfer-Encoding or HTTP version, headers
// over the size limit) into the error body of the API the request was for:
// SCIM's for every path but the XaaS ones. These answers are written
// straight to the connection in one write, as
//
//	HTTP/1.1 400 Bad Request: invalid header name\r\n
//	Content-Type: text/plain; charset=utf-8\r\n
//	Connection: close\r\n\r\n
//	400 Bad Request: invalid header name
//
// and a response written by a handler always carries a Date header, which
// these never do: that is how they are told apart. The request's path is
// taken from the bytes read since the last response.
type apiErrorConn struct {
	net.Conn
	mu   sync.Mutex
	read []byte // the start of what was read since the last write
}

// maxRequestStart bounds the bytes of a request kept to find its path.
const maxRequestStart = 4096

func (c *apiErrorConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.mu.Lock()
		if room := maxRequestStart - len(c.read); room > 0 {
			c.read = append(c.read, p[:min(n, room)]...)
		}
		c.mu.Unlock()
	}
	return n, err
}

func (c *apiErrorConn) Write(p []byte) (int, error) {
	status, reason, ok := parseServerError(p)
	c.mu.Lock()
	var path string
	if ok {
		path = requestPath(c.read)
	}
	c.read = c.read[:0] // the next request's start reuses the buffer
	c.mu.Unlock()
	if ok {
		if _, err := c.Conn.Write(apiErrorResponse(status, reason, path)); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	return c.Conn.Write(p)
}

const serverErrorHeaders = "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"

// parseServerError recognises an error response net/http wrote itself and
// returns its status and reason ("invalid header name"; "" when it gives
// none).
func parseServerError(p []byte) (status int, reason string, ok bool) {
	rest, found := bytes.CutPrefix(p, []byte("HTTP/1.1 "))
	if !found || len(rest) < 4 || rest[3] != ' ' {
		return 0, "", false
	}
	statusLine, body, found := bytes.Cut(rest, []byte(serverErrorHeaders))
	if !found || bytes.Contains(statusLine, []byte("\r\n")) {
		return 0, "", false // other headers (a handler's response has a Date)
	}
	status, err := strconv.Atoi(string(rest[:3]))
	if err != nil || status < 400 || status > 599 {
		return 0, "", false
	}
	text := string(body)
	if _, r, ok := strings.Cut(text, ": "); ok {
		reason = r
	} else if !strings.HasPrefix(text, strconv.Itoa(status)+" ") {
		reason = text // e.g. "Unsupported transfer encoding"
	}
	return status, reason, true
}

// requestPath returns the path of the request line at the start of b ("" if
// there is none).
func requestPath(b []byte) string {
	line, _, _ := bytes.Cut(b, []byte("\r\n"))
	f := strings.Fields(string(line))
	if len(f) < 2 {
		return ""
	}
	path, _, _ := strings.Cut(f[1], "?")
	return path
}

// apiErrorResponse is the whole HTTP response replacing a net/http error:
// the status, and the SCIM error body (RFC 7644 §3.12) or, on an XaaS path,
// the XaaS one.
func apiErrorResponse(status int, reason, path string) []byte {
	detail := "the request is not valid HTTP: " + strings.ToLower(http.StatusText(status))
	if reason != "" {
		detail = "the request is not valid HTTP: " + strings.ToLower(reason)
	}
	var body []byte
	contentType := "application/scim+json"
	if xaas.Handles(path) {
		contentType = "application/json"
		body, _ = json.Marshal(map[string]any{"status": status, "detail": detail})
	} else {
		body, _ = json.Marshal(map[string]any{"schemas": []string{schema.ErrorURN}, "status": strconv.Itoa(status), "detail": detail})
	}
	return fmt.Appendf(nil, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s",
		status, http.StatusText(status), contentType, len(body), body)
}
