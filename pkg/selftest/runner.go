// Package selftest checks a SCIM deployment the way its identity providers
// will use it: flows with exactly the requests Okta's and Microsoft Entra ID's
// SCIM clients send, checked step by step, and a load of the same requests
// from many clients. Everything a run creates carries a unique prefix and is
// removed at the end, also when the run fails or is interrupted.
package selftest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Config configures a selftest run.
type Config struct {
	// BaseURL is the SCIM base URL, e.g. https://x.execute-api…/scim/v2.
	BaseURL string
	// Token is the bearer token. It is sent only in the Authorization
	// header and never appears in the report.
	Token string
	// Flows to run (see AllFlows); nil runs every flow.
	Flows []string
	// Keep leaves what the run created in place.
	Keep bool
	// Timeout bounds the flows (not the cleanup); 0 means no bound.
	Timeout time.Duration
	// XaaSURL is the XaaS base URL; empty derives it from BaseURL
	// (…/scim/v2 → …/xaas/v1).
	XaaSURL string
	// EventsURL is the Events API base URL; empty derives it from BaseURL
	// (…/scim/v2 → …/events/v1).
	EventsURL string
	// HTTPClient sends the requests; nil uses a client with a 90 s timeout
	// (Okta gives up on a request after 60 s).
	HTTPClient *http.Client
	// Retry is how 429 and 503 are retried; the zero value uses DefaultRetry.
	Retry RetryPolicy
	// Prefix starts every name the run creates; empty makes a unique one.
	Prefix string
	// GroupMembers is how many members the groups flow adds in one PATCH
	// (default 1,000, the most Okta sends).
	GroupMembers int
	// Parallel is how many requests create or remove fixtures at once
	// (default 8).
	Parallel int
	// EventWait is how long an operation's event may take to appear
	// (default 30 s).
	EventWait time.Duration
	// SyncWait is how long the XaaS flow waits for a sync to end (default
	// 10 min: a first Okta import takes minutes).
	SyncWait time.Duration
	// Progress, when set, is called with each step as it ends.
	Progress func(Step)
}

// runner is one selftest run.
type runner struct {
	cfg      Config
	scim     *client
	xaas     *client
	events   *client
	prefix   string
	caps     Capabilities
	requests atomic.Int64

	mu      sync.Mutex
	steps   []Step
	created created
	// first is the run's first answered request: a cold start if the
	// deployment was idle.
	first struct {
		once    sync.Once
		latency time.Duration
		what    string
	}
}

// created is what a run made, in creation order.
type created struct {
	users, groups         []string // SCIM ids
	xaasUsers, xaasGroups []string // XaaS externalIds
	// pending are creates whose answer never came (e.g. interrupted):
	// endpoint → "attr\x00value" → true. The cleanup looks them up.
	pending map[string]map[string]bool
}

// Run runs the flows against cfg.BaseURL and returns the report. The error
// is for a run that could not start (bad configuration); failed checks are
// in the report.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	r, err := newRunner(cfg)
	if err != nil {
		return nil, err
	}
	flows := cfg.Flows
	if flows == nil {
		flows = AllFlows()
	}
	start := time.Now()
	rep := &Report{BaseURL: r.scim.base, Prefix: r.prefix}
	fctx, cancel := ctx, context.CancelFunc(func() {})
	if cfg.Timeout > 0 {
		fctx, cancel = context.WithTimeout(ctx, cfg.Timeout)
	}
	func() {
		defer cancel()
		defer func() {
			if p := recover(); p != nil {
				r.record(Step{Flow: "discovery", Name: "run", Status: Fail, Reason: fmt.Sprintf("internal error: %v", p)})
			}
		}()
		r.discover(fctx)
		for _, name := range flows {
			if fctx.Err() != nil {
				r.record(Step{Flow: name, Name: "start", Status: Fail, Reason: "not run: " + stopReason(fctx)})
				continue
			}
			r.runFlow(fctx, name)
		}
	}()
	// Cleanup runs even when the flows were interrupted (Ctrl-C).
	cctx, ccancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	rep.Cleanup = r.cleanup(cctx)
	ccancel()
	rep.Supported = r.caps
	rep.Steps = r.steps
	rep.Duration = time.Since(start)
	rep.summarize(append(append([]string{"discovery"}, flows...), "cleanup"))
	return rep, nil
}

// cleanupTimeout bounds the removal of what a run created.
const cleanupTimeout = 5 * time.Minute

func stopReason(ctx context.Context) string {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return "the -timeout ran out"
	}
	return "interrupted"
}

func newRunner(cfg Config) (*runner, error) {
	base, err := normalizeBase(cfg.BaseURL)
	if err != nil {
		return nil, err
	}
	if cfg.Token == "" {
		return nil, errors.New("no token: pass the bearer token the identity provider will use")
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 90 * time.Second}
	}
	if cfg.Retry.Attempts == 0 {
		cfg.Retry = DefaultRetry()
	}
	if cfg.GroupMembers <= 0 {
		cfg.GroupMembers = 1000
	}
	if cfg.Parallel <= 0 {
		cfg.Parallel = 8
	}
	if cfg.EventWait <= 0 {
		cfg.EventWait = 30 * time.Second
	}
	if cfg.SyncWait <= 0 {
		cfg.SyncWait = 10 * time.Minute
	}
	prefix := cfg.Prefix
	if prefix == "" {
		prefix = NewPrefix()
	}
	r := &runner{cfg: cfg, prefix: prefix}
	r.scim = &client{base: base, token: cfg.Token, hc: cfg.HTTPClient, retry: cfg.Retry}
	r.xaas = &client{base: siblingURL(base, cfg.XaaSURL, "/xaas/v1"), token: cfg.Token, hc: cfg.HTTPClient, retry: cfg.Retry}
	r.events = &client{base: siblingURL(base, cfg.EventsURL, "/events/v1"), token: cfg.Token, hc: cfg.HTTPClient, retry: cfg.Retry}
	return r, nil
}

// NewPrefix returns a fresh prefix for the names a run creates:
// "sst-" and 8 hex digits.
func NewPrefix() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return "sst-" + hex.EncodeToString(b[:])
}

// normalizeBase checks a base URL and drops its trailing slash.
func normalizeBase(raw string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("-url %q: want an absolute http(s) URL such as https://HOST/scim/v2", raw)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("-url %q: the base URL has no query or fragment", raw)
	}
	if u.User != nil {
		return "", errors.New("-url: put the credentials in -token, not in the URL")
	}
	return strings.TrimRight(u.String(), "/"), nil
}

// siblingURL returns explicit when set, else the base URL with its
// "/scim/v2" suffix replaced by suffix (the host's root when it has none).
func siblingURL(base, explicit, suffix string) string {
	if explicit != "" {
		return strings.TrimRight(explicit, "/")
	}
	if b, ok := strings.CutSuffix(base, "/scim/v2"); ok {
		return b + suffix
	}
	u, err := url.Parse(base)
	if err != nil {
		return base + suffix
	}
	return u.Scheme + "://" + u.Host + suffix
}

func (r *runner) record(s Step) {
	r.mu.Lock()
	r.steps = append(r.steps, s)
	r.mu.Unlock()
	if r.cfg.Progress != nil {
		r.cfg.Progress(s)
	}
}

// runFlow runs one flow, recovering a panic into a failed step.
func (r *runner) runFlow(ctx context.Context, name string) {
	f := &flow{name: name, r: r}
	defer func() {
		if p := recover(); p != nil {
			r.record(Step{Flow: name, Name: "internal", Status: Fail, Reason: fmt.Sprintf("internal error: %v", p)})
		}
	}()
	switch name {
	case FlowOkta:
		f.okta(ctx)
	case FlowEntra:
		f.entra(ctx)
	case FlowGroups:
		f.groups(ctx)
	case FlowImport:
		f.importFlow(ctx)
	case FlowLimits:
		f.limits(ctx)
	case FlowEvents:
		f.eventsFlow(ctx)
	case FlowXaaS:
		f.xaasFlow(ctx)
	default:
		f.fail("start", fmt.Errorf("unknown flow %q", name))
	}
}

// pend marks a create of endpoint whose resource has attr = value as sent
// (on) or answered (off).
func (r *runner) pend(endpoint, attr, value string, on bool) {
	if value == "" {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.created.pending == nil {
		r.created.pending = map[string]map[string]bool{}
	}
	if r.created.pending[endpoint] == nil {
		r.created.pending[endpoint] = map[string]bool{}
	}
	key := attr + "\x00" + value
	if on {
		r.created.pending[endpoint][key] = true
	} else {
		delete(r.created.pending[endpoint], key)
	}
}

// track remembers a resource of endpoint the run created.
func (r *runner) track(endpoint, id string) {
	if endpoint == "/Groups" {
		r.trackGroup(id)
	} else {
		r.trackUser(id)
	}
}

// trackUser remembers a user the run created, for the cleanup.
func (r *runner) trackUser(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.created.users = append(r.created.users, id)
}

func (r *runner) trackGroup(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.created.groups = append(r.created.groups, id)
}

func (r *runner) trackXaaS(kind, externalID string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if kind == "groups" {
		r.created.xaasGroups = append(r.created.xaasGroups, externalID)
	} else {
		r.created.xaasUsers = append(r.created.xaasUsers, externalID)
	}
}

// forget drops an id the flow deleted itself.
func (r *runner) forget(kind, id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	drop := func(l []string) []string {
		for i, v := range l {
			if v == id {
				return append(l[:i], l[i+1:]...)
			}
		}
		return l
	}
	if kind == "groups" {
		r.created.groups = drop(r.created.groups)
	} else {
		r.created.users = drop(r.created.users)
	}
}
