package localdb

import (
	"bytes"
	"io"
	"net/http"
	"strconv"
)

// roundTripper serves requests in-process.
type roundTripper struct{ h http.Handler }

// RoundTrip serves req with the engine's handler and returns its answer.
func (rt roundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := req.Context().Err(); err != nil {
		return nil, err
	}
	if req.Body != nil {
		defer req.Body.Close()
	}
	w := &response{}
	w.Response.Header = make(http.Header, 3)
	rt.h.ServeHTTP(w, req)
	return w.result(req), nil
}

// Client is an HTTP client that serves every request in-process, without a
// socket: an aws.HTTPClient for the SDK's DynamoDB and DynamoDB Streams
// clients (see Engine.HTTPClient).
type Client struct{ rt roundTripper }

// Do serves req.
func (c *Client) Do(req *http.Request) (*http.Response, error) { return c.rt.RoundTrip(req) }

// response is the in-process answer to one request. It is the
// http.ResponseWriter the handler writes to and the http.Response the
// client reads, with its body, in one allocation.
type response struct {
	http.Response
	body   bodyReader
	buf    []byte
	status int
}

// bodyReader is a response body over bytes already in memory.
type bodyReader struct{ bytes.Reader }

// Close does nothing: the bytes are the garbage collector's.
func (bodyReader) Close() error { return nil }

func (w *response) Header() http.Header { return w.Response.Header }

func (w *response) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}

func (w *response) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	w.buf = append(w.buf, p...)
	return len(p), nil
}

// setBody makes b the body; b is the caller's no more. The handler's
// writeBody uses it to hand over the encoded answer without a copy.
func (w *response) setBody(b []byte) {
	w.WriteHeader(http.StatusOK)
	if w.buf == nil {
		w.buf = b
		return
	}
	w.buf = append(w.buf, b...)
}

// result completes the response to req.
func (w *response) result(req *http.Request) *http.Response {
	r := &w.Response
	if w.status == 0 {
		w.status = http.StatusOK
	}
	r.StatusCode = w.status
	if w.status == http.StatusOK {
		r.Status = "200 OK"
	} else {
		r.Status = strconv.Itoa(w.status) + " " + http.StatusText(w.status)
	}
	r.Proto, r.ProtoMajor, r.ProtoMinor = "HTTP/1.1", 1, 1
	r.ContentLength = int64(len(w.buf))
	w.body.Reset(w.buf)
	r.Body = &w.body
	r.Request = req
	return r
}

// bodySetter is a ResponseWriter that takes a body without copying it.
type bodySetter interface{ setBody(b []byte) }

var (
	_ http.ResponseWriter = (*response)(nil)
	_ io.ReadCloser       = (*bodyReader)(nil)
)
