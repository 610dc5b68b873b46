package selftest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"
)

// LoadConfig configures a load run: many clients sending the realistic mix
// of Okta's and Entra's requests.
type LoadConfig struct {
	BaseURL string
	// Token is the bearer token; never printed.
	Token string
	// Clients is how many clients send requests at once.
	Clients int
	// Duration is how long they send.
	Duration time.Duration
	// HTTPClient sends the requests; nil uses one with a 90 s timeout.
	HTTPClient *http.Client
	// Retry is how 429 and 503 are retried; zero uses DefaultRetry.
	Retry RetryPolicy
	// Prefix starts every name the load creates; empty makes one.
	Prefix string
	// Groups is how many groups every client adds its users to (default 2:
	// few groups, so member PATCHes of many clients meet on one group).
	Groups int
	// MaxUsers is how many live users one client keeps at most (default 40).
	MaxUsers int
	// Keep leaves what the load created in place.
	Keep bool
	// Seed makes the mix reproducible; 0 picks one.
	Seed uint64
	// XaaSURL is the XaaS base URL; empty derives it from BaseURL. When
	// it answers, the mix includes parallel PUTs of the same source
	// records, as source systems send them.
	XaaSURL string
}

// LoadReport is the outcome of a load run.
type LoadReport struct {
	BaseURL    string        `json:"baseUrl"`
	Prefix     string        `json:"prefix"`
	Clients    int           `json:"clients"`
	Seed       uint64        `json:"seed"`
	Elapsed    time.Duration `json:"-"`
	ElapsedSec float64       `json:"elapsedSec"`
	Requests   int           `json:"requests"`
	PerSec     float64       `json:"reqPerSec"`
	Ops        []OpReport    `json:"ops"`
	// ServerErrors counts final 5xx answers (after Retry-After retries).
	ServerErrors int `json:"serverErrors"`
	// Unexpected counts answers the operation never gets from a correct
	// server, e.g. 412 to a write without If-Match.
	Unexpected int `json:"unexpected"`
	// NoAnswer counts requests that got no HTTP answer.
	NoAnswer int `json:"noAnswer"`
	// Model is the check of the final state against every acknowledged write.
	Model ModelReport `json:"model"`
	// Checks are further checks of the final state (the soak adds the
	// table's orphan items).
	Checks []Check `json:"checks,omitempty"`
	// XaaS says whether the mix included XaaS pushes, or why not.
	XaaS    string `json:"xaas"`
	Cleanup string `json:"cleanup"`
	Passed  bool   `json:"passed"`
}

// Check is one named check of the final state.
type Check struct {
	Name     string   `json:"name"`
	Failures int      `json:"failures"`
	Examples []string `json:"examples,omitempty"`
	Detail   string   `json:"detail,omitempty"`
}

// ModelReport compares the final state with the acknowledged writes.
type ModelReport struct {
	Users       int `json:"users"`
	Groups      int `json:"groups"`
	Memberships int `json:"memberships"`
	// Uncertain are resources a write of unknown outcome touched (no
	// answer, or a 5xx): they are left out of the comparison.
	Uncertain int `json:"uncertain"`
	// Lost are acknowledged writes the final state lacks.
	Lost int `json:"lost"`
	// Phantom are changes in the final state that no acknowledged write made.
	Phantom  int      `json:"phantom"`
	Examples []string `json:"examples,omitempty"`
}

func (m *ModelReport) lost(format string, args ...any) {
	m.Lost++
	m.example("lost: "+format, args...)
}

func (m *ModelReport) phantom(format string, args ...any) {
	m.Phantom++
	m.example("phantom: "+format, args...)
}

func (m *ModelReport) example(format string, args ...any) {
	if len(m.Examples) < 10 {
		m.Examples = append(m.Examples, fmt.Sprintf(format, args...))
	}
}

// AddCheck appends a check and updates the verdict.
func (r *LoadReport) AddCheck(c Check) {
	r.Checks = append(r.Checks, c)
	if c.Failures > 0 {
		r.Passed = false
	}
}

// loadUser is the model of one user a client owns.
type loadUser struct {
	id, userName   string
	given, family  string
	active         bool
	deleted        bool
	uncertain      bool
	groups         map[int]bool // shared groups it is a member of
	uncertainGroup map[int]bool // memberships with an unknown outcome
	// refused and refusedGroup mark writes the server refused (4xx): if
	// the state shows them anyway, they are phantoms, not lost writes.
	refused      bool
	refusedGroup map[int]bool
}

// loadRun is one load run.
type loadRun struct {
	cfg        LoadConfig
	c          *client
	prefix     string
	stats      map[string]*opStats
	groups     []string // the shared groups' ids
	groupNames []string // and their displayNames

	mu        sync.Mutex
	clients   [][]*loadUser
	attempted map[string]bool // every userName a create was sent for
	churn     churnGroups
	// stale counts reads, during the load, that did not show a user's
	// acknowledged writes: lost writes seen before the end.
	stale ModelReport
	// xaas is the XaaS client; nil when the mix has no XaaS pushes.
	xaas *client
	// records are the shared XaaS records: externalId → last_name values
	// acknowledged, and those whose outcome is unknown.
	records map[string]*loadRecord
}

// loadRecord is the model of one XaaS source record written by all clients.
type loadRecord struct {
	acked, unknown map[string]bool
	written        bool
}

// xaasShared is how many XaaS records all clients write.
const xaasShared = 2

// churnGroups are groups created and deleted during the load while other
// clients add members to them: Okta deleting a pushed group while
// memberships are pushed.
type churnGroups struct {
	current string
	state   map[string]string // id → "live", "deleted" or "uncertain"
}

// mixEntry is one operation of the load's mix with its weight.
type mixEntry struct {
	op     string
	weight int
}

// loadMix returns the operations of the mix and their weights: roughly what
// Okta and Entra send to a directory in steady use.
func loadMix() []mixEntry {
	return []mixEntry{
		{"okta.create", 14}, {"okta.get", 18}, {"okta.put", 8}, {"okta.patch.active", 10},
		{"entra.patch", 8}, {"entra.filter", 6}, {"okta.import.page", 4}, {"okta.member.add", 12},
		{"member.remove", 8}, {"entra.delete", 4}, {"entra.group.get", 4}, {"group.churn", 4},
		{"okta.burst", 6}, {"xaas.put", 8},
	}
}

// Load runs the mix with cfg.Clients clients for cfg.Duration, then checks
// the final state against a model of every acknowledged write and removes
// what it created.
//
// It is long because it is the run's whole life in order (set up, load,
// drain, verify, clean up), each phase a few lines.
func Load(ctx context.Context, cfg LoadConfig) (*LoadReport, error) {
	base, err := normalizeBase(cfg.BaseURL)
	if err != nil {
		return nil, err
	}
	if cfg.Token == "" {
		return nil, fmt.Errorf("no token")
	}
	if cfg.Clients <= 0 || cfg.Duration <= 0 {
		return nil, fmt.Errorf("-load needs clients > 0 and -duration > 0")
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 90 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: cfg.Clients + 4}}
	}
	if cfg.Retry.Attempts == 0 {
		cfg.Retry = DefaultRetry()
	}
	if cfg.Groups <= 0 {
		cfg.Groups = 2
	}
	if cfg.MaxUsers <= 0 {
		cfg.MaxUsers = 40
	}
	if cfg.Prefix == "" {
		cfg.Prefix = NewPrefix()
	}
	if cfg.Seed == 0 {
		cfg.Seed = rand.Uint64()
	}
	lr := &loadRun{cfg: cfg, prefix: cfg.Prefix, c: &client{base: base, token: cfg.Token, hc: cfg.HTTPClient, retry: cfg.Retry},
		stats: map[string]*opStats{}, attempted: map[string]bool{}, churn: churnGroups{state: map[string]string{}}}
	for _, m := range loadMix() {
		lr.stats[m.op] = &opStats{}
	}
	lr.stats["okta.lookup"] = &opStats{} // the lookup before each create
	lr.stats["setup"] = &opStats{}
	rep := &LoadReport{BaseURL: base, Prefix: cfg.Prefix, Clients: cfg.Clients, Seed: cfg.Seed}
	xc := &client{base: siblingURL(base, cfg.XaaSURL, "/xaas/v1"), token: cfg.Token, hc: cfg.HTTPClient, retry: cfg.Retry}
	if resp, err := xc.do(ctx, request{Method: "GET", Path: "/users?limit=1", Dialect: Plain, NoRetry: true}); err == nil && resp.Status == http.StatusOK {
		lr.xaas, lr.records = xc, map[string]*loadRecord{}
		for k := 0; k < xaasShared; k++ {
			lr.records[fmt.Sprintf("%s-xaas-%d", cfg.Prefix, k)] = &loadRecord{acked: map[string]bool{}, unknown: map[string]bool{}}
		}
		rep.XaaS = fmt.Sprintf("parallel PUTs of %d shared records to %s", xaasShared, xc.base)
	} else {
		rep.XaaS = "not included: " + xc.base + " " + describe(resp, err)
	}

	for i := 0; i < cfg.Groups; i++ {
		resp, err := lr.send(ctx, "setup", request{Method: "POST", Path: "/Groups", Dialect: Okta,
			Body: map[string]any{"schemas": []string{groupSchema}, "displayName": fmt.Sprintf("%s-load-%d", cfg.Prefix, i), "members": []any{}}})
		if err != nil || resp.Status != http.StatusCreated {
			_, _ = lr.cleanup(context.WithoutCancel(ctx))
			return nil, fmt.Errorf("create the load's groups: %v", describe(resp, err))
		}
		o, err := decodeObject(resp.Body)
		if err != nil || o.str("id") == "" {
			return nil, fmt.Errorf("create the load's groups: no id in the answer")
		}
		lr.groups = append(lr.groups, o.str("id"))
		lr.groupNames = append(lr.groupNames, o.str("displayName"))
	}

	lr.clients = make([][]*loadUser, cfg.Clients)
	start := time.Now()
	lctx, cancel := context.WithTimeout(ctx, cfg.Duration)
	var wg sync.WaitGroup
	panics := make(chan string, cfg.Clients)
	for i := 0; i < cfg.Clients; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				if p := recover(); p != nil {
					panics <- fmt.Sprint(p)
				}
			}()
			lr.client(lctx, ctx, i, rand.New(rand.NewPCG(cfg.Seed, uint64(i))))
		}()
	}
	wg.Wait()
	cancel()
	rep.Elapsed = time.Since(start)
	rep.ElapsedSec = rep.Elapsed.Seconds()
	close(panics)
	for p := range panics {
		rep.Model.example("internal error in a client: %s", p)
		rep.Unexpected++
	}

	ops := []string{"okta.lookup"}
	for _, m := range loadMix() {
		ops = append(ops, m.op)
	}
	for _, op := range ops {
		or := lr.stats[op].report(op, rep.Elapsed)
		rep.Ops = append(rep.Ops, or)
		rep.Requests += or.Requests
		rep.NoAnswer += or.Errors
		for code, n := range or.Statuses {
			switch {
			case code >= 500:
				rep.ServerErrors += n
			case !expected(op, code):
				rep.Unexpected += n
			}
		}
	}
	rep.PerSec = float64(rep.Requests) / rep.Elapsed.Seconds()

	vctx := context.WithoutCancel(ctx)
	lr.mu.Lock()
	rep.Model = lr.stale
	lr.mu.Unlock()
	lr.verify(vctx, &rep.Model)
	if lr.xaas != nil {
		lr.verifyXaaS(vctx, &rep.Model)
	}
	rep.Passed = rep.ServerErrors == 0 && rep.Unexpected == 0 && rep.NoAnswer == 0 && rep.Model.Lost == 0 && rep.Model.Phantom == 0
	if !cfg.Keep {
		var failures []string
		rep.Cleanup, failures = lr.cleanup(vctx)
		// The cleanup's deletes are writes like the others: one that
		// fails is a failure of the server.
		c := Check{Name: "failed deletes", Failures: len(failures), Detail: "(of the cleanup)"}
		for i, f := range failures {
			if i == 10 {
				break
			}
			c.Examples = append(c.Examples, f)
		}
		rep.AddCheck(c)
	} else {
		rep.Cleanup = "kept everything (-keep); names start with " + cfg.Prefix
	}
	return rep, nil
}

// expected reports whether a correct server may answer op with status.
func expected(op string, status int) bool {
	switch {
	case status == http.StatusOK:
		return op != "okta.create"
	case status == http.StatusCreated:
		return op == "okta.create" || op == "group.churn" || op == "xaas.put"
	case status == http.StatusNoContent:
		return op != "okta.create" && op != "okta.get" && op != "entra.filter" && op != "okta.import.page" && op != "entra.group.get"
	case status == http.StatusNotFound:
		// A churn group may be deleted by another client meanwhile.
		return op == "group.churn"
	}
	return false
}

func describe(resp *response, err error) string {
	if err != nil {
		return err.Error()
	}
	return fmt.Sprintf("status %d: %s", resp.Status, scimErrorDetail(resp.Body))
}

// send sends a request and counts it under op.
func (lr *loadRun) send(ctx context.Context, op string, req request) (*response, error) {
	resp, err := lr.c.do(ctx, req)
	lr.stats[op].add(resp, err)
	return resp, err
}

// client runs one client's loop until lctx ends. Requests in flight finish
// under ctx, so every write's outcome is known to the model.
//
// It is long because the mix is one weighted switch: each case is one
// operation of the mix, a few lines each.
func (lr *loadRun) client(lctx, ctx context.Context, idx int, rng *rand.Rand) {
	mix := loadMix()
	total := 0
	for _, m := range mix {
		total += m.weight
	}
	var users []*loadUser
	defer func() {
		lr.mu.Lock()
		lr.clients[idx] = users
		lr.mu.Unlock()
	}()
	n := 0
	for lctx.Err() == nil {
		pick := rng.IntN(total)
		kind := "okta.get"
		for _, m := range mix {
			if pick < m.weight {
				kind = m.op
				break
			}
			pick -= m.weight
		}
		live := liveUsers(users)
		if kind == "xaas.put" && lr.xaas == nil {
			kind = "okta.get"
		}
		if kind != "okta.create" && kind != "entra.filter" && kind != "okta.import.page" && kind != "entra.group.get" && kind != "group.churn" && len(live) == 0 {
			kind = "okta.create"
		}
		if kind == "okta.create" && len(live) >= lr.cfg.MaxUsers {
			kind = "okta.get"
		}
		var u *loadUser
		if len(live) > 0 {
			u = live[rng.IntN(len(live))]
		}
		switch kind {
		case "okta.create":
			n++
			if nu := lr.create(ctx, idx, n); nu != nil {
				users = append(users, nu)
			}
		case "okta.get":
			resp, err := lr.send(ctx, kind, request{Method: "GET", Path: "/Users/" + url.PathEscape(u.id), Dialect: Okta})
			if err == nil && resp.Status == http.StatusOK {
				if o, err := decodeObject(resp.Body); err == nil {
					lr.compare(u, o)
				}
			}
		case "okta.put":
			lr.put(ctx, u, rng)
		case "okta.patch.active":
			active := !u.active
			lr.write(ctx, kind, u, request{Method: "PATCH", Path: "/Users/" + url.PathEscape(u.id), Dialect: Okta,
				Body: patchOp(op("replace", "", map[string]any{"active": active}))}, func() { u.active = active })
		case "entra.patch":
			family := fmt.Sprintf("F%d", rng.IntN(1e6))
			active := rng.IntN(4) > 0
			lr.write(ctx, kind, u, request{Method: "PATCH", Path: "/Users/" + url.PathEscape(u.id), Dialect: Entra,
				Body: patchOp(op("Replace", "name.familyName", family), op("Replace", "active", strings.ToUpper(fmt.Sprint(active)[:1])+fmt.Sprint(active)[1:]))},
				func() { u.family, u.active = family, active })
		case "entra.filter":
			lr.send(ctx, kind, request{Method: "GET", Path: "/Users?" + filterQuery("userName", randomGUID()), Dialect: Entra})
		case "okta.import.page":
			lr.send(ctx, kind, request{Method: "GET", Path: fmt.Sprintf("/Users?startIndex=%d&count=100", 1+100*rng.IntN(3)), Dialect: Okta})
		case "okta.member.add":
			g := rng.IntN(len(lr.groups))
			lr.member(ctx, kind, u, g, true, lr.oktaMemberAdd(g, u))
		case "okta.burst":
			lr.burst(ctx, u, rng.IntN(len(lr.groups)), fmt.Sprintf("B%d", rng.IntN(1e6)))
		case "member.remove":
			g := rng.IntN(len(lr.groups))
			// Okta re-sends the group's name with every membership change.
			body := patchOp(lr.oktaRename(g), op("remove", `members[value eq "`+u.id+`"]`, nil))
			d := Okta
			if rng.IntN(2) == 0 {
				body, d = patchOp(op("Remove", "members", []any{map[string]any{"value": u.id}})), Entra
			}
			lr.member(ctx, kind, u, g, false, request{Method: "PATCH", Path: "/Groups/" + url.PathEscape(lr.groups[g]), Dialect: d, Body: body})
		case "entra.delete":
			lr.write(ctx, kind, u, request{Method: "DELETE", Path: "/Users/" + url.PathEscape(u.id), Dialect: Entra}, func() { u.deleted = true })
		case "entra.group.get":
			g := rng.IntN(len(lr.groups))
			lr.send(ctx, kind, request{Method: "GET", Path: "/Groups/" + url.PathEscape(lr.groups[g]) + "?excludedAttributes=members", Dialect: Entra})
		case "group.churn":
			lr.churnStep(ctx, u, rng)
		case "xaas.put":
			n++
			lr.xaasPut(ctx, rng, fmt.Sprintf("c%d-%d", idx, n))
		}
	}
}

func liveUsers(users []*loadUser) []*loadUser {
	var out []*loadUser
	for _, u := range users {
		if !u.deleted && !u.uncertain {
			out = append(out, u)
		}
	}
	return out
}

// create is Okta's lookup and create of a new user.
func (lr *loadRun) create(ctx context.Context, idx, n int) *loadUser {
	name := fmt.Sprintf("%s-load-%d-%d@example.com", lr.prefix, idx, n)
	lr.send(ctx, "okta.lookup", request{Method: "GET", Path: "/Users?" + filterQuery("userName", name) + "&startIndex=1&count=100", Dialect: Okta})
	lr.mu.Lock()
	lr.attempted[strings.ToLower(name)] = true
	lr.mu.Unlock()
	body := oktaUser(name, "Load", fmt.Sprint(n))
	resp, err := lr.send(ctx, "okta.create", request{Method: "POST", Path: "/Users", Body: body, Dialect: Okta})
	if err != nil || resp.Status != http.StatusCreated {
		return nil // unknown outcomes show up as phantoms unless uncertain; see verify
	}
	o, err := decodeObject(resp.Body)
	if err != nil || o.str("id") == "" {
		return nil
	}
	return &loadUser{id: o.str("id"), userName: name, given: "Load", family: fmt.Sprint(n), active: true,
		groups: map[int]bool{}, uncertainGroup: map[int]bool{}, refusedGroup: map[int]bool{}}
}

// oktaRename is the pathless replace of the group's id and name that Okta
// sends with every membership change.
func (lr *loadRun) oktaRename(g int) map[string]any {
	return op("replace", "", map[string]any{"id": lr.groups[g], "displayName": lr.groupNames[g]})
}

// oktaMemberAdd is Okta's PATCH adding u to shared group g.
func (lr *loadRun) oktaMemberAdd(g int, u *loadUser) request {
	return request{Method: "PATCH", Path: "/Groups/" + url.PathEscape(lr.groups[g]), Dialect: Okta,
		Body: patchOp(lr.oktaRename(g), op("add", "members", []any{map[string]any{"value": u.id, "display": u.userName}}))}
}

// burst sends, at the same time, a profile update of u and its addition to
// group g: two provisioning tasks Okta runs in parallel for one user.
func (lr *loadRun) burst(ctx context.Context, u *loadUser, g int, family string) {
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		defer lr.recovered()
		lr.write(ctx, "okta.burst", u, request{Method: "PATCH", Path: "/Users/" + url.PathEscape(u.id), Dialect: Okta,
			Body: patchOp(op("replace", "", map[string]any{"name": map[string]any{"givenName": u.given, "familyName": family}}))},
			func() { u.family = family })
	}()
	go func() {
		defer wg.Done()
		defer lr.recovered()
		lr.member(ctx, "okta.burst", u, g, true, lr.oktaMemberAdd(g, u))
	}()
	wg.Wait()
}

// recovered turns a panic of a load goroutine into a lost write the
// report shows. Deferred directly.
func (lr *loadRun) recovered() {
	if p := recover(); p != nil {
		lr.mu.Lock()
		defer lr.mu.Unlock()
		lr.stale.lost("internal error in a client: %v", p)
	}
}

// put is Okta's profile update: GET, then PUT of the whole object as read,
// with a new givenName.
func (lr *loadRun) put(ctx context.Context, u *loadUser, rng *rand.Rand) {
	resp, err := lr.send(ctx, "okta.put", request{Method: "GET", Path: "/Users/" + url.PathEscape(u.id), Dialect: Okta})
	if err != nil || resp.Status != http.StatusOK {
		return
	}
	o, err := decodeObject(resp.Body)
	if err != nil {
		return
	}
	lr.compare(u, o)
	given := fmt.Sprintf("G%d", rng.IntN(1e6))
	name, _ := o["name"].(map[string]any)
	if name == nil {
		name = map[string]any{}
	}
	name["givenName"] = given
	o["name"] = name
	family := o.str("name.familyName")
	active, _ := o.boolean("active")
	lr.write(ctx, "okta.put", u, request{Method: "PUT", Path: "/Users/" + url.PathEscape(u.id), Body: map[string]any(o), Dialect: Okta},
		func() { u.given, u.family, u.active = given, family, active })
}

// compare checks a read of u against its acknowledged writes: each client
// writes only its own users, so a read must show all of them. After a
// mismatch the model takes what was read, so one fault is counted once.
func (lr *loadRun) compare(u *loadUser, o object) {
	a, _ := o.boolean("active")
	if o.str("name.givenName") == u.given && o.str("name.familyName") == u.family && a == u.active {
		return
	}
	lr.mu.Lock()
	defer lr.mu.Unlock()
	format := "user %s read as (givenName, familyName, active) = (%q, %q, %v) after writes acknowledged (%q, %q, %v)"
	if u.refused {
		lr.stale.phantom(format+", and a refused write was applied", u.id, o.str("name.givenName"), o.str("name.familyName"), a, u.given, u.family, u.active)
	} else {
		lr.stale.lost(format, u.id, o.str("name.givenName"), o.str("name.familyName"), a, u.given, u.family, u.active)
	}
	u.given, u.family, u.active, u.refused = o.str("name.givenName"), o.str("name.familyName"), a, false
}

// write sends a write of user u and applies it to the model when
// acknowledged. A write of unknown outcome makes the user uncertain.
func (lr *loadRun) write(ctx context.Context, op string, u *loadUser, req request, apply func()) {
	resp, err := lr.send(ctx, op, req)
	switch {
	case err != nil || resp.Status >= 500 || resp.Status == http.StatusTooManyRequests:
		u.uncertain = true
	case resp.Status < 300:
		apply()
	default:
		u.refused = true
	}
}

// member adds or removes u in shared group g.
func (lr *loadRun) member(ctx context.Context, op string, u *loadUser, g int, add bool, req request) {
	resp, err := lr.send(ctx, op, req)
	switch {
	case err != nil || resp.Status >= 500 || resp.Status == http.StatusTooManyRequests:
		u.uncertainGroup[g] = true
	case resp.Status < 300:
		u.groups[g] = add
	default:
		u.refusedGroup[g] = true
	}
}

// churnStep creates the churn group, deletes it, or adds u to it, while
// other clients do the same.
func (lr *loadRun) churnStep(ctx context.Context, u *loadUser, rng *rand.Rand) {
	lr.mu.Lock()
	gid := lr.churn.current
	lr.mu.Unlock()
	switch {
	case gid == "":
		resp, err := lr.send(ctx, "group.churn", request{Method: "POST", Path: "/Groups", Dialect: Okta,
			Body: map[string]any{"schemas": []string{groupSchema}, "displayName": fmt.Sprintf("%s-churn-%s", lr.prefix, randomHex(4)), "members": []any{}}})
		if err != nil || resp.Status != http.StatusCreated {
			return
		}
		o, _ := decodeObject(resp.Body)
		lr.mu.Lock()
		lr.churn.state[o.str("id")] = "live"
		if lr.churn.current == "" {
			lr.churn.current = o.str("id")
		}
		lr.mu.Unlock()
	case rng.IntN(4) == 0 || u == nil:
		lr.mu.Lock()
		if lr.churn.current == gid {
			lr.churn.current = ""
		}
		lr.mu.Unlock()
		resp, err := lr.send(ctx, "group.churn", request{Method: "DELETE", Path: "/Groups/" + url.PathEscape(gid), Dialect: Okta})
		lr.mu.Lock()
		switch {
		case err != nil || resp.Status >= 500:
			lr.churn.state[gid] = "uncertain"
		case resp.Status < 300:
			lr.churn.state[gid] = "deleted"
		}
		lr.mu.Unlock()
	default:
		lr.send(ctx, "group.churn", request{Method: "PATCH", Path: "/Groups/" + url.PathEscape(gid), Dialect: Okta,
			Body: patchOp(op("add", "members", []any{map[string]any{"value": u.id, "display": u.userName}}))})
	}
}

// xaasPut writes one of the shared source records with a unique value.
func (lr *loadRun) xaasPut(ctx context.Context, rng *rand.Rand, value string) {
	ext := fmt.Sprintf("%s-xaas-%d", lr.prefix, rng.IntN(xaasShared))
	resp, err := lr.xaas.do(ctx, request{Method: "PUT", Path: "/users/" + url.PathEscape(ext), Dialect: Plain,
		Body: map[string]any{"email": ext + "@example.com", "first_name": "Load", "last_name": value, "active": true}})
	lr.stats["xaas.put"].add(resp, err)
	lr.mu.Lock()
	defer lr.mu.Unlock()
	rec := lr.records[ext]
	rec.written = true
	switch {
	case err != nil || resp.Status >= 500 || resp.Status == http.StatusTooManyRequests:
		rec.unknown[value] = true
	case resp.Status < 300:
		rec.acked[value] = true
	}
}

// verifyXaaS checks each shared record holds a value some acknowledged (or
// possibly applied) PUT wrote.
func (lr *loadRun) verifyXaaS(ctx context.Context, m *ModelReport) {
	lr.mu.Lock()
	defer lr.mu.Unlock()
	for ext, rec := range lr.records {
		if !rec.written {
			continue
		}
		resp, err := lr.xaas.do(ctx, request{Method: "GET", Path: "/users/" + url.PathEscape(ext), Dialect: Plain})
		if err != nil {
			m.lost("XaaS record %s: %v", ext, err)
			continue
		}
		if resp.Status == http.StatusNotFound && len(rec.acked) == 0 {
			continue
		}
		if resp.Status != http.StatusOK {
			m.lost("XaaS record %s: GET answers %d", ext, resp.Status)
			continue
		}
		o, err := decodeObject(resp.Body)
		if err != nil {
			m.lost("XaaS record %s: %v", ext, err)
			continue
		}
		v := o.str("last_name")
		switch {
		case rec.acked[v]:
		case rec.unknown[v]:
			m.Uncertain++
		default:
			m.phantom("XaaS record %s holds %q, which no PUT wrote", ext, v)
		}
	}
}

// verify compares the final state with the model.
//
// It is long because it is one list of checks, each a few lines, over the same
// model and listing; split apart they would pass the same state around.
func (lr *loadRun) verify(ctx context.Context, m *ModelReport) {
	byID := map[string]*loadUser{}
	var all []*loadUser
	for _, users := range lr.clients {
		all = append(all, users...)
	}
	for _, u := range all {
		byID[u.id] = u
		if u.uncertain {
			m.Uncertain++
		}
	}
	m.Users = len(all)
	m.Groups = len(lr.groups)
	// Every user as the model has it.
	for _, u := range all {
		if u.uncertain {
			continue
		}
		resp, err := lr.c.do(ctx, request{Method: "GET", Path: "/Users/" + url.PathEscape(u.id), Dialect: Okta})
		if err != nil {
			m.lost("user %s: %v", u.id, err)
			continue
		}
		if u.deleted {
			if resp.Status != http.StatusNotFound {
				m.phantom("user %s deleted (204) but GET answers %d", u.id, resp.Status)
			}
			continue
		}
		if resp.Status != http.StatusOK {
			m.lost("user %s: GET answers %d", u.id, resp.Status)
			continue
		}
		o, err := decodeObject(resp.Body)
		if err != nil {
			m.lost("user %s: %v", u.id, err)
			continue
		}
		a, _ := o.boolean("active")
		if o.str("name.givenName") != u.given || o.str("name.familyName") != u.family || a != u.active {
			format := "user %s: (givenName, familyName, active) = (%q, %q, %v), acknowledged (%q, %q, %v)"
			if u.refused {
				m.phantom(format+", and a refused write was applied", u.id, o.str("name.givenName"), o.str("name.familyName"), a, u.given, u.family, u.active)
			} else {
				m.lost(format, u.id, o.str("name.givenName"), o.str("name.familyName"), a, u.given, u.family, u.active)
			}
		}
	}
	// Memberships of the shared groups.
	for g, gid := range lr.groups {
		resp, err := lr.c.do(ctx, request{Method: "GET", Path: "/Groups/" + url.PathEscape(gid), Dialect: Okta})
		if err != nil || resp.Status != http.StatusOK {
			m.lost("group %s: %s", gid, describe(resp, err))
			continue
		}
		o, err := decodeObject(resp.Body)
		if err != nil {
			m.lost("group %s: %v", gid, err)
			continue
		}
		members := map[string]bool{}
		for _, id := range o.memberIDs("members") {
			members[id] = true
		}
		for _, u := range all {
			if u.uncertain || u.uncertainGroup[g] {
				continue
			}
			want := u.groups[g] && !u.deleted
			if want {
				m.Memberships++
			}
			switch {
			case want && !members[u.id] && u.refusedGroup[g]:
				m.phantom("user %s is not a member of group %s: a refused remove was applied", u.id, gid)
			case want && !members[u.id]:
				m.lost("member %s of group %s acknowledged but missing", u.id, gid)
			case !want && members[u.id]:
				m.phantom("user %s is a member of group %s, but its add was refused or it was removed or deleted", u.id, gid)
			}
		}
		for id := range members {
			if byID[id] == nil {
				m.phantom("group %s lists %s, a user the load never created", gid, id)
			}
		}
	}
	// Deleted churn groups stay deleted.
	lr.mu.Lock()
	churn := make(map[string]string, len(lr.churn.state))
	for id, s := range lr.churn.state {
		churn[id] = s
	}
	lr.mu.Unlock()
	for id, s := range churn {
		if s != "deleted" {
			continue
		}
		resp, err := lr.c.do(ctx, request{Method: "GET", Path: "/Groups/" + url.PathEscape(id), Dialect: Okta})
		if err == nil && resp.Status != http.StatusNotFound {
			m.phantom("group %s deleted (204) but GET answers %d", id, resp.Status)
		}
	}
	// Users nobody acknowledged creating.
	lr.mu.Lock()
	attempted := lr.attempted
	lr.mu.Unlock()
	known := map[string]bool{}
	for _, u := range all {
		known[u.id] = true
	}
	for start := 1; ; start += 100 {
		resp, err := lr.c.do(ctx, request{Method: "GET", Path: fmt.Sprintf("/Users?startIndex=%d&count=100", start), Dialect: Okta})
		if err != nil || resp.Status != http.StatusOK {
			m.example("could not list users for phantoms: %s", describe(resp, err))
			return
		}
		l, err := parseListResponse(resp.Body)
		if err != nil {
			m.example("could not list users for phantoms: %v", err)
			return
		}
		for _, r := range l.Resources {
			name := strings.ToLower(r.str("userName"))
			if !strings.HasPrefix(name, strings.ToLower(lr.prefix)) || known[r.str("id")] {
				continue
			}
			if attempted[name] {
				m.phantom("user %s (%s) exists, but its create was not acknowledged", r.str("id"), name)
			} else {
				m.phantom("user %s (%s) was never sent", r.str("id"), name)
			}
		}
		if len(l.Resources) == 0 || start+100 > l.TotalResults {
			return
		}
	}
}

// cleanup removes the load's users and groups; it returns a summary and
// what could not be removed.
func (lr *loadRun) cleanup(ctx context.Context) (string, []string) {
	var paths []string
	for _, g := range lr.groups {
		paths = append(paths, "/Groups/"+url.PathEscape(g))
	}
	lr.mu.Lock()
	for id, s := range lr.churn.state {
		if s != "deleted" {
			paths = append(paths, "/Groups/"+url.PathEscape(id))
		}
	}
	var users int
	for _, us := range lr.clients {
		for _, u := range us {
			if !u.deleted {
				paths = append(paths, "/Users/"+url.PathEscape(u.id))
				users++
			}
		}
	}
	lr.mu.Unlock()
	var mu sync.Mutex
	var failures []string
	fail := func(req request, resp *response, err error) {
		mu.Lock()
		defer mu.Unlock()
		if err == nil {
			err = statusError(req, resp, []int{204, 404})
		}
		failures = append(failures, oneLine(err.Error()))
	}
	r := &runner{cfg: Config{Parallel: 8}}
	remove := func(paths []string) {
		_ = r.parallel(ctx, len(paths), func(ctx context.Context, i int) error {
			req := request{Method: "DELETE", Path: paths[i], Dialect: Entra}
			resp, err := lr.c.do(ctx, req)
			if err != nil || (resp.Status != http.StatusNoContent && resp.Status != http.StatusNotFound && resp.Status != http.StatusOK) {
				fail(req, resp, err)
			}
			return nil
		})
	}
	// Groups first, then users, as an identity provider unlinks groups
	// before it deprovisions their members.
	var groupPaths, userPaths []string
	for _, p := range paths {
		if strings.HasPrefix(p, "/Groups/") {
			groupPaths = append(groupPaths, p)
		} else {
			userPaths = append(userPaths, p)
		}
	}
	remove(groupPaths)
	remove(userPaths)
	records := 0
	if lr.xaas != nil {
		lr.mu.Lock()
		var exts []string
		for ext, rec := range lr.records {
			if rec.written {
				exts = append(exts, ext)
			}
		}
		lr.mu.Unlock()
		for _, ext := range exts {
			req := request{Method: "DELETE", Path: "/users/" + url.PathEscape(ext), Dialect: Plain}
			resp, err := lr.xaas.do(ctx, req)
			if err != nil || (resp.Status >= 300 && resp.Status != http.StatusNotFound) {
				fail(req, resp, err)
			}
			records++
		}
	}
	s := fmt.Sprintf("removed %d users, %d groups and %d XaaS records", users, len(paths)-users, records)
	if len(failures) > 0 {
		s += fmt.Sprintf("; %d NOT removed (names start with %s)", len(failures), lr.prefix)
	}
	return s, failures
}

// WriteText prints throughput and p50/p99 per operation, then the checks.
func (r *LoadReport) WriteText(w io.Writer) error {
	fmt.Fprintf(w, "load against %s: %d clients for %s, %d requests, %.1f req/s (prefix %s, seed %d)\n\n",
		r.BaseURL, r.Clients, r.Elapsed.Round(100*time.Millisecond), r.Requests, r.PerSec, r.Prefix, r.Seed)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "OPERATION\tREQUESTS\tREQ/S\tP50 MS\tP99 MS\tSTATUSES\tRETRIED\t\n")
	for _, o := range r.Ops {
		fmt.Fprintf(tw, "%s\t%d\t%.1f\t%.1f\t%.1f\t%s\t%s\t\n", o.Op, o.Requests, o.PerSec, o.P50MS, o.P99MS, codes(o.Statuses, o.Errors), codes(o.Retried, 0))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	m := r.Model
	fmt.Fprintf(w, "\nXaaS:                %s", r.XaaS)
	fmt.Fprintf(w, "\n5xx answers:         %d\nunexpected answers:  %d (e.g. 412 to a write without If-Match)\nno answer:           %d\n",
		r.ServerErrors, r.Unexpected, r.NoAnswer)
	fmt.Fprintf(w, "model check:         %d users, %d groups, %d memberships checked (%d uncertain, left out): %d lost, %d phantom writes\n",
		m.Users, m.Groups, m.Memberships, m.Uncertain, m.Lost, m.Phantom)
	for _, e := range m.Examples {
		fmt.Fprintf(w, "  %s\n", e)
	}
	for _, c := range r.Checks {
		fmt.Fprintf(w, "%-20s %d %s\n", c.Name+":", c.Failures, c.Detail)
		for _, e := range c.Examples {
			fmt.Fprintf(w, "  %s\n", e)
		}
	}
	verdict := "PASS"
	if !r.Passed {
		verdict = "FAIL"
	}
	_, err := fmt.Fprintf(w, "cleanup: %s\n%s\n", r.Cleanup, verdict)
	return err
}

// codes formats status counts: "200×812 412×3".
func codes(m map[int]int, errors int) string {
	keys := make([]int, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%d×%d", k, m[k]))
	}
	if errors > 0 {
		parts = append(parts, fmt.Sprintf("no-answer×%d", errors))
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, " ")
}

// WriteJSON writes the report as JSON.
func (r *LoadReport) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}
