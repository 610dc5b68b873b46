// Package localdb is an embedded DynamoDB-compatible engine for `scimless
// dev`, `scimless invoke` and the tests: no AWS account, no Docker, no JVM.
//
// It serves the DynamoDB JSON protocol (X-Amz-Target DynamoDB_20120810.*)
// and the DynamoDB Streams protocol (DynamoDBStreams_20120810.*) over HTTP,
// so the real aws-sdk-go-v2 client, and guregu/dynamo on top of it, talk to
// it exactly as they talk to DynamoDB: the store code that runs on AWS is the
// code the tests run.
//
// Each table and each global secondary index is an ordered B-tree keyed by
// DynamoDB's key order (S by UTF-8 bytes, N numerically, B by bytes), so
// GetItem, PutItem, UpdateItem and DeleteItem cost O(log n), a Query costs
// O(log n + items evaluated) and a transaction O(actions · log n); only Scan
// walks a table. Writes are serialised by one lock and reads share it, so a
// transaction is all-or-nothing and isolated. Stored items are immutable: an
// update builds a new item, so readers and stream records share them safely.
//
// By default the data lives in memory and is lost when the engine closes.
// With Options.Dir the engine keeps a write-ahead log (and snapshots) in that
// directory and every write is on disk before it is acknowledged; see
// docs/engine.md.
package localdb

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sort"
	"sync"
	"time"
)

// Options configure an engine.
type Options struct {
	// Dir keeps the data in this directory across restarts ("" keeps it in
	// memory only).
	Dir string
	// TTLSweepInterval, when positive, is how often a background sweep
	// deletes expired items, as DynamoDB's TTL process does (`scimless dev`
	// uses DefaultTTLSweepInterval). Zero leaves expired items in place
	// until SweepExpired is called: tests that drive their own clock need
	// that.
	TTLSweepInterval time.Duration
	// StreamRetention is how long stream records are kept (default 24h).
	StreamRetention time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
	// NoSync, in durable mode, acknowledges a write once its log record is
	// written to the operating system instead of once it is fsynced: a
	// killed process still loses nothing, a power failure may lose the last
	// writes. See docs/engine.md.
	NoSync bool
}

// Engine is a running embedded DynamoDB-compatible engine.
type Engine struct {
	opts Options

	mu     sync.RWMutex
	tables map[string]*table
	commit uint64 // last commit number
	recSeq uint64 // last stream record sequence number
	notify chan struct{}
	idem   map[string]idemEntry // ClientRequestTokens of the last 10 minutes
	idemQ  []idemToken          // the same, oldest first, for expiry

	log *wal // nil in memory

	srv      *http.Server
	ln       net.Listener
	endpoint string
	handler  http.Handler

	stop    chan struct{}
	wg      sync.WaitGroup
	closeMu sync.Once
}

type idemEntry struct {
	hash uint32
	at   time.Time
}

type idemToken struct {
	token string
	at    time.Time
}

// maxIdemTokens bounds the remembered ClientRequestTokens (the oldest are
// forgotten first), so a long burst of transactions cannot exhaust memory.
const maxIdemTokens = 200000

// expireTokens forgets tokens older than idempotencyTTL (O(1) amortised).
func (e *Engine) expireTokens(now time.Time) {
	i := 0
	for i < len(e.idemQ) && (now.Sub(e.idemQ[i].at) > idempotencyTTL || len(e.idemQ)-i > maxIdemTokens) {
		if cur, ok := e.idem[e.idemQ[i].token]; ok && cur.at.Equal(e.idemQ[i].at) {
			delete(e.idem, e.idemQ[i].token)
		}
		i++
	}
	if i > 0 {
		if i > len(e.idemQ)/2 {
			e.idemQ = append([]idemToken(nil), e.idemQ[i:]...)
		} else {
			e.idemQ = e.idemQ[i:]
		}
	}
}

// DefaultTTLSweepInterval is the TTL sweep period of `scimless dev`.
const DefaultTTLSweepInterval = 10 * time.Second

// Start starts an in-memory engine listening on a random loopback port,
// without the background TTL sweep (see Options.TTLSweepInterval).
func Start() (*Engine, error) { return StartWith(Options{}) }

// StartWith starts an engine with opts, listening on a random loopback port.
func StartWith(opts Options) (*Engine, error) {
	e, err := Open(opts)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		_ = e.Close()
		return nil, fmt.Errorf("listen for embedded dynamodb: %w", err)
	}
	e.ln = ln
	e.endpoint = "http://" + ln.Addr().String()
	e.srv = &http.Server{Handler: e.handler, ReadHeaderTimeout: 10 * time.Second}
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		_ = e.srv.Serve(ln)
	}()
	return e, nil
}

// Open opens an engine without a listener: use Handler or RoundTripper to
// talk to it.
func Open(opts Options) (*Engine, error) {
	if opts.StreamRetention <= 0 {
		opts.StreamRetention = 24 * time.Hour
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	e := &Engine{
		opts:   opts,
		tables: map[string]*table{},
		notify: make(chan struct{}),
		idem:   map[string]idemEntry{},
		stop:   make(chan struct{}),
	}
	e.handler = http.HandlerFunc(e.serveHTTP)
	if opts.Dir != "" {
		if err := e.openLog(); err != nil {
			return nil, err
		}
	}
	if opts.TTLSweepInterval > 0 {
		e.wg.Add(1)
		go e.sweepLoop()
	}
	return e, nil
}

// Endpoint returns the base URL to pass to the DynamoDB client ("" when the
// engine was opened without a listener).
func (e *Engine) Endpoint() string { return e.endpoint }

// Handler returns the engine's HTTP handler (both protocols).
func (e *Engine) Handler() http.Handler { return e.handler }

// Durable reports whether the engine keeps its data in a directory.
func (e *Engine) Durable() bool { return e.opts.Dir != "" }

// Dir returns the data directory ("" in memory).
func (e *Engine) Dir() string { return e.opts.Dir }

// Close stops the engine. In memory its data is discarded; in durable mode
// the log is flushed and closed.
func (e *Engine) Close() error {
	var err error
	e.closeMu.Do(func() {
		close(e.stop)
		if e.srv != nil {
			// Requests in flight get 2 s to finish; after that their
			// connections are cut (a write either committed or did not).
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			if e.srv.Shutdown(ctx) != nil {
				_ = e.srv.Close()
			}
			cancel()
		}
		e.wg.Wait()
		e.mu.Lock()
		defer e.mu.Unlock()
		if e.log != nil {
			if cerr := e.log.close(); cerr != nil && err == nil {
				err = cerr
			}
			e.log = nil
		}
	})
	return err
}

// RoundTripper returns an http.RoundTripper that serves requests in-process,
// without a socket (for an SDK client's HTTPClient).
func (e *Engine) RoundTripper() http.RoundTripper { return roundTripper{e.handler} }

// HTTPClient returns a client that serves requests in-process, without a
// socket, for an SDK client's HTTPClient option. It spares the work of an
// http.Client (redirects, cookies, header copies) that a request which never
// leaves the process does not need.
func (e *Engine) HTTPClient() *Client { return &Client{roundTripper{e.handler}} }

// change is one item's write in a commit.
type change struct {
	t        *table
	h, r     value
	old, new item
	ttl      bool // deleted by the TTL sweep
}

// apply commits changes atomically: the log record is written first (in
// durable mode), then the trees and stream records are updated. The caller
// holds e.mu for writing. It returns the log position to wait for.
func (e *Engine) apply(changes []change) (int64, error) {
	if len(changes) == 0 {
		return 0, nil
	}
	now := e.opts.Now()
	e.commit++
	var pos int64
	if e.log != nil {
		var err error
		if pos, err = e.log.appendCommit(e.commit, now, changes); err != nil {
			e.commit--
			return 0, &apiError{typ: "InternalServerError", status: 500, msg: "write log: " + err.Error()}
		}
	}
	e.applyLocked(changes, now)
	e.maybeCompact()
	return pos, nil
}

// applyLocked updates trees and streams (also used by log replay).
func (e *Engine) applyLocked(changes []change, now time.Time) {
	streamed := false
	for _, c := range changes {
		before, after := c.t.replace(c.h, c.r, c.old, true, c.new)
		if c.t.stream != nil && (before.raw != nil || after.raw != nil) {
			e.recSeq++
			c.t.stream.add(streamRecord{seq: e.recSeq, commit: e.commit, at: now, h: c.h, r: c.r, old: before, new: after, ttl: c.ttl}, e.opts.StreamRetention)
			streamed = true
		}
	}
	if streamed {
		close(e.notify)
		e.notify = make(chan struct{})
	}
}

// durable waits until the log holds everything up to pos.
func (e *Engine) durable(pos int64) error {
	e.mu.RLock()
	l := e.log
	e.mu.RUnlock()
	if l == nil || pos == 0 || e.opts.NoSync {
		return nil
	}
	if err := l.sync(pos); err != nil {
		return &apiError{typ: "InternalServerError", status: 500, msg: "sync log: " + err.Error()}
	}
	return nil
}

// keyItem returns the key attributes of the item with key (h, r).
func (t *table) keyItem(h, r value) item { return t.key.item(h, r) }

// sweepLoop deletes expired items every TTLSweepInterval.
func (e *Engine) sweepLoop() {
	defer e.wg.Done()
	tick := time.NewTicker(e.opts.TTLSweepInterval)
	defer tick.Stop()
	for {
		select {
		case <-e.stop:
			return
		case <-tick.C:
			func() {
				defer func() { _ = recover() }()
				e.SweepExpired()
			}()
		}
	}
}

// SweepExpired deletes every item whose TTL attribute is at or before now,
// as DynamoDB's background TTL process does, and returns how many it
// deleted. It costs O(log n) per expired item.
func (e *Engine) SweepExpired() int {
	now := e.opts.Now().Unix()
	e.mu.Lock()
	var changes []change
	names := make([]string, 0, len(e.tables))
	for n := range e.tables {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		t := e.tables[n]
		if t.ttlIndex == nil {
			continue
		}
		limit := value{k: kN, s: itoa64(now)}
		// DynamoDB ignores TTL values more than five years in the past.
		from := &entry{h: value{k: kN, s: itoa64(now - 5*365*24*3600)}, rb: belowAll, tb: belowAll}
		t.ttlIndex.tree.Ascend(from, func(x *entry) bool {
			if compareScalar(x.h, limit) > 0 {
				return false
			}
			changes = append(changes, change{t: t, h: x.th, r: x.tr, old: t.get(x.th, x.tr), ttl: true})
			return len(changes) < 1000
		})
	}
	pos, err := e.apply(changes)
	e.mu.Unlock()
	if err == nil {
		_ = e.durable(pos)
	}
	return len(changes)
}

func itoa64(n int64) string {
	if n < 0 {
		return "-" + itoa(int(-n))
	}
	return itoa(int(n))
}
