// Package localdb runs an embedded DynamoDB-compatible engine in-process, for
// `scimless dev` and the tests: no AWS account, no Docker, no JVM.
//
// The engine is github.com/truora/minidyn, served over HTTP so that the real
// aws-sdk-go-v2 client (and guregu/dynamo on top of it) talks to it exactly as
// it talks to DynamoDB: the store code that runs on AWS is the code the tests
// exercise. minidyn has gaps; rather than bending the store around them, a thin
// HTTP layer in front of it makes it behave like DynamoDB where scimless
// depends on it:
//
//   - Query with the legacy KeyConditions parameter (what guregu/dynamo sends)
//     is rewritten into the equivalent KeyConditionExpression, which minidyn
//     evaluates. Without this minidyn silently returns no items.
//   - Query and Scan responses get ScannedCount (minidyn omits it; without a
//     FilterExpression it equals Count), so capacity metrics are truthful.
//   - DescribeTable reports TableStatus ACTIVE, so table waiters finish.
//   - TransactWriteItems over 100 actions and table names outside 3–255
//     characters are rejected with a ValidationException, as DynamoDB does.
//   - An UpdateItem's top-level REMOVE, and a set emptied by DELETE, remove
//     the attribute (minidyn ignores the first and keeps the second).
//   - UpdateTimeToLive, DescribeTimeToLive and ListTables are answered here
//     (minidyn lacks them). TTL expiry itself is not simulated: the store never
//     relies on it for correctness, only for housekeeping.
//
// We chose minidyn over dynalite (no TransactWriteItems) and DynamoDB Local
// (needs a JVM and a download this workplace cannot make).
package localdb

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/truora/minidyn/server"
)

// Engine is a running embedded DynamoDB-compatible endpoint.
type Engine struct {
	srv      *http.Server
	ln       net.Listener
	endpoint string
	handler  *bridge
}

// Start starts an engine listening on a random loopback port.
func Start() (*Engine, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen for embedded dynamodb: %w", err)
	}
	b := newBridge()
	e := &Engine{
		ln:       ln,
		handler:  b,
		endpoint: "http://" + ln.Addr().String(),
		srv:      &http.Server{Handler: b, ReadHeaderTimeout: 10 * time.Second},
	}
	go func() { _ = e.srv.Serve(ln) }()
	return e, nil
}

// Endpoint returns the base URL to pass to the DynamoDB client.
func (e *Engine) Endpoint() string { return e.endpoint }

// Handler returns the engine's HTTP handler.
func (e *Engine) Handler() http.Handler { return e.handler }

// Close stops the engine; its data is discarded.
func (e *Engine) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return e.srv.Shutdown(ctx)
}

// bridge adapts minidyn's HTTP server to DynamoDB's behaviour.
type bridge struct {
	next http.Handler

	mu     sync.Mutex
	tables map[string]string // table name → TTL attribute ("" when disabled)
}

func newBridge() *bridge {
	return &bridge{next: server.NewServer(), tables: map[string]string{}}
}

func (b *bridge) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	target := r.Header.Get("X-Amz-Target")
	op := target[strings.LastIndexByte(target, '.')+1:]
	body, err := io.ReadAll(r.Body)
	if err != nil {
		writeErr(w, "SerializationException", "read body: "+err.Error())
		return
	}
	var req map[string]any
	if len(body) > 0 {
		if err := json.Unmarshal(body, &req); err != nil {
			writeErr(w, "SerializationException", "invalid JSON: "+err.Error())
			return
		}
	}
	switch op {
	case "ListTables":
		b.listTables(w)
		return
	case "UpdateTimeToLive":
		b.updateTTL(w, req)
		return
	case "DescribeTimeToLive":
		b.describeTTL(w, req)
		return
	case "CreateTable":
		name, _ := req["TableName"].(string)
		if len(name) < 3 || len(name) > 255 {
			writeErr(w, "ValidationException", "TableName must be at least 3 characters long and at most 255 characters long")
			return
		}
	case "TransactWriteItems":
		if items, _ := req["TransactItems"].([]any); len(items) > 100 {
			writeErr(w, "ValidationException", fmt.Sprintf("Member must have length less than or equal to 100 (got %d transact items)", len(items)))
			return
		}
	case "Query":
		if kc, ok := req["KeyConditions"].(map[string]any); ok && req["KeyConditionExpression"] == nil {
			if err := rewriteKeyConditions(req, kc); err != nil {
				writeErr(w, "ValidationException", err.Error())
				return
			}
			body, _ = json.Marshal(req)
		}
	}

	r2 := r.Clone(r.Context())
	r2.Body = io.NopCloser(bytes.NewReader(body))
	r2.ContentLength = int64(len(body))
	rec := httptest.NewRecorder()
	b.next.ServeHTTP(rec, r2)
	out := rec.Body.Bytes()

	if rec.Code == http.StatusOK {
		switch op {
		case "Query", "Scan":
			out = dropEmptySets(addScannedCount(out))
		case "GetItem", "BatchGetItem", "TransactGetItems":
			out = dropEmptySets(out)
		case "DescribeTable":
			out = setActive(out)
		case "UpdateItem":
			b.fixUpdate(r, req)
		case "TransactWriteItems":
			items, _ := req["TransactItems"].([]any)
			for _, it := range items {
				if m, ok := it.(map[string]any); ok {
					if u, ok := m["Update"].(map[string]any); ok {
						b.fixUpdate(r, u)
					}
				}
			}
		case "CreateTable":
			b.mu.Lock()
			name, _ := req["TableName"].(string)
			b.tables[name] = ""
			b.mu.Unlock()
		case "DeleteTable":
			b.mu.Lock()
			name, _ := req["TableName"].(string)
			delete(b.tables, name)
			b.mu.Unlock()
		}
	}
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.Header().Del("Content-Length")
	// The SDK verifies the body against X-Amz-Crc32, as DynamoDB sends it.
	w.Header().Set("X-Amz-Crc32", strconv.FormatUint(uint64(crc32.ChecksumIEEE(out)), 10))
	if rec.Code != http.StatusOK && !strings.Contains(rec.Header().Get("Content-Type"), "json") {
		// minidyn answers some failures with text/plain; the SDK needs JSON.
		writeErr(w, "ValidationException", strings.TrimSpace(string(out)))
		return
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(out)
}

// rewriteKeyConditions turns legacy KeyConditions into a KeyConditionExpression.
func rewriteKeyConditions(req map[string]any, kc map[string]any) error {
	names, _ := req["ExpressionAttributeNames"].(map[string]any)
	if names == nil {
		names = map[string]any{}
	}
	values, _ := req["ExpressionAttributeValues"].(map[string]any)
	if values == nil {
		values = map[string]any{}
	}
	attrs := make([]string, 0, len(kc))
	for a := range kc {
		attrs = append(attrs, a)
	}
	sort.Strings(attrs)
	var parts []string
	for i, attr := range attrs {
		cond, _ := kc[attr].(map[string]any)
		list, _ := cond["AttributeValueList"].([]any)
		op, _ := cond["ComparisonOperator"].(string)
		n := fmt.Sprintf("#kc%d", i)
		names[n] = attr
		v := func(j int) (string, error) {
			if j >= len(list) {
				return "", fmt.Errorf("KeyConditions %s: %s needs %d values", attr, op, j+1)
			}
			p := fmt.Sprintf(":kc%d_%d", i, j)
			values[p] = list[j]
			return p, nil
		}
		var expr string
		switch op {
		case "EQ", "LT", "LE", "GT", "GE":
			sym := map[string]string{"EQ": "=", "LT": "<", "LE": "<=", "GT": ">", "GE": ">="}[op]
			p, err := v(0)
			if err != nil {
				return err
			}
			expr = n + " " + sym + " " + p
		case "BEGINS_WITH":
			p, err := v(0)
			if err != nil {
				return err
			}
			expr = "begins_with(" + n + ", " + p + ")"
		case "BETWEEN":
			p0, err := v(0)
			if err != nil {
				return err
			}
			p1, err := v(1)
			if err != nil {
				return err
			}
			expr = n + " BETWEEN " + p0 + " AND " + p1
		default:
			return fmt.Errorf("KeyConditions %s: unsupported ComparisonOperator %q", attr, op)
		}
		parts = append(parts, expr)
	}
	delete(req, "KeyConditions")
	req["KeyConditionExpression"] = strings.Join(parts, " AND ")
	req["ExpressionAttributeNames"] = names
	req["ExpressionAttributeValues"] = values
	return nil
}

func addScannedCount(out []byte) []byte {
	var resp map[string]json.RawMessage
	if err := json.Unmarshal(out, &resp); err != nil {
		return out
	}
	if _, ok := resp["ScannedCount"]; ok {
		return out
	}
	if c, ok := resp["Count"]; ok {
		resp["ScannedCount"] = c
	} else {
		resp["ScannedCount"] = json.RawMessage("0")
		resp["Count"] = json.RawMessage("0")
	}
	b, err := json.Marshal(resp)
	if err != nil {
		return out
	}
	return b
}

// fixUpdate finishes an update the way DynamoDB would where minidyn does
// not: attributes named in a REMOVE clause are removed (minidyn ignores
// top-level REMOVE), and a set emptied by DELETE disappears (minidyn keeps
// an empty set; its transaction rollback then deep-copies it into a value of
// no type, which breaks every later Query of the table). The item is read
// and written back without those attributes.
func (b *bridge) fixUpdate(r *http.Request, upd map[string]any) {
	expr, _ := upd["UpdateExpression"].(string)
	upper := strings.ToUpper(expr)
	if !strings.Contains(upper, "DELETE") && !strings.Contains(upper, "REMOVE") {
		return
	}
	call := func(op string, body map[string]any) map[string]any {
		raw, _ := json.Marshal(body)
		req := r.Clone(r.Context())
		req.Header = r.Header.Clone()
		req.Header.Set("X-Amz-Target", "DynamoDB_20120810."+op)
		req.Body = io.NopCloser(bytes.NewReader(raw))
		req.ContentLength = int64(len(raw))
		rec := httptest.NewRecorder()
		b.next.ServeHTTP(rec, req)
		var out map[string]any
		_ = json.Unmarshal(rec.Body.Bytes(), &out)
		return out
	}
	got := call("GetItem", map[string]any{"TableName": upd["TableName"], "Key": upd["Key"], "ConsistentRead": true})
	item, _ := got["Item"].(map[string]any)
	if item == nil {
		return
	}
	drop := removedAttrs(expr, upd["ExpressionAttributeNames"])
	for k, v := range item {
		av, _ := v.(map[string]any)
		isEmpty := len(av) == 0
		for _, t := range []string{"SS", "NS", "BS"} {
			if l, ok := av[t].([]any); ok && len(l) == 0 {
				isEmpty = true
			}
		}
		if isEmpty {
			drop = append(drop, k)
		}
	}
	changed := false
	for _, k := range drop {
		if _, ok := item[k]; ok {
			delete(item, k)
			changed = true
		}
	}
	if changed {
		call("PutItem", map[string]any{"TableName": upd["TableName"], "Item": item})
	}
}

// removedAttrs returns the top-level attribute names of an update
// expression's REMOVE clause, resolving #name placeholders. Nested paths
// (a.b, a[0]) are left to the engine.
func removedAttrs(expr string, names any) []string {
	nm, _ := names.(map[string]any)
	upper := strings.ToUpper(expr)
	i := strings.Index(upper, "REMOVE ")
	if i < 0 {
		return nil
	}
	clause := expr[i+len("REMOVE "):]
	for _, kw := range []string{" SET ", " ADD ", " DELETE "} {
		if j := strings.Index(strings.ToUpper(clause), kw); j >= 0 {
			clause = clause[:j]
		}
	}
	var out []string
	for _, p := range strings.Split(clause, ",") {
		p = strings.TrimSpace(p)
		if p == "" || strings.ContainsAny(p, ".[") {
			continue
		}
		if strings.HasPrefix(p, "#") {
			if n, ok := nm[p].(string); ok {
				p = n
			} else {
				continue
			}
		}
		out = append(out, p)
	}
	return out
}

// dropEmptySets removes empty SS/NS/BS attributes from items in a response.
// DynamoDB deletes an attribute when its set is emptied (e.g. by an update
// removing the last element); minidyn keeps an empty set, which no SDK can
// unmarshal into a typed set.
func dropEmptySets(out []byte) []byte {
	var resp map[string]any
	if err := json.Unmarshal(out, &resp); err != nil {
		return out
	}
	changed := false
	clean := func(item any) {
		m, ok := item.(map[string]any)
		if !ok {
			return
		}
		for k, v := range m {
			av, ok := v.(map[string]any)
			if !ok {
				continue
			}
			if len(av) == 0 { // an emptied set, as minidyn serialises it
				delete(m, k)
				changed = true
				continue
			}
			for _, t := range []string{"SS", "NS", "BS"} {
				if l, ok := av[t].([]any); ok && len(l) == 0 {
					delete(m, k)
					changed = true
				} else if ok && av[t] == nil {
					delete(m, k)
					changed = true
				}
			}
		}
	}
	if it, ok := resp["Item"]; ok {
		clean(it)
	}
	if items, ok := resp["Items"].([]any); ok {
		for _, it := range items {
			clean(it)
		}
	}
	if rs, ok := resp["Responses"].(map[string]any); ok { // BatchGetItem
		for _, items := range rs {
			if l, ok := items.([]any); ok {
				for _, it := range l {
					clean(it)
				}
			}
		}
	}
	if rs, ok := resp["Responses"].([]any); ok { // TransactGetItems
		for _, r := range rs {
			if m, ok := r.(map[string]any); ok {
				clean(m["Item"])
			}
		}
	}
	if !changed {
		return out
	}
	b, err := json.Marshal(resp)
	if err != nil {
		return out
	}
	return b
}

func setActive(out []byte) []byte {
	var resp map[string]map[string]any
	if err := json.Unmarshal(out, &resp); err != nil || resp["Table"] == nil {
		return out
	}
	if s, _ := resp["Table"]["TableStatus"].(string); s == "" {
		resp["Table"]["TableStatus"] = "ACTIVE"
	}
	b, err := json.Marshal(resp)
	if err != nil {
		return out
	}
	return b
}

func (b *bridge) listTables(w http.ResponseWriter) {
	b.mu.Lock()
	names := make([]string, 0, len(b.tables))
	for n := range b.tables {
		names = append(names, n)
	}
	b.mu.Unlock()
	sort.Strings(names)
	writeJSON(w, map[string]any{"TableNames": names})
}

func (b *bridge) updateTTL(w http.ResponseWriter, req map[string]any) {
	name, _ := req["TableName"].(string)
	spec, _ := req["TimeToLiveSpecification"].(map[string]any)
	attr, _ := spec["AttributeName"].(string)
	enabled, _ := spec["Enabled"].(bool)
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.tables[name]; !ok {
		writeErr(w, "ResourceNotFoundException", "Requested resource not found: Table: "+name+" not found")
		return
	}
	if enabled {
		b.tables[name] = attr
	} else {
		b.tables[name] = ""
	}
	writeJSON(w, map[string]any{"TimeToLiveSpecification": spec})
}

func (b *bridge) describeTTL(w http.ResponseWriter, req map[string]any) {
	name, _ := req["TableName"].(string)
	b.mu.Lock()
	attr, ok := b.tables[name]
	b.mu.Unlock()
	if !ok {
		writeErr(w, "ResourceNotFoundException", "Requested resource not found: Table: "+name+" not found")
		return
	}
	desc := map[string]any{"TimeToLiveStatus": "DISABLED"}
	if attr != "" {
		desc = map[string]any{"TimeToLiveStatus": "ENABLED", "AttributeName": attr}
	}
	writeJSON(w, map[string]any{"TimeToLiveDescription": desc})
}

func writeJSON(w http.ResponseWriter, v any) { writeBody(w, http.StatusOK, v) }

func writeErr(w http.ResponseWriter, typ, msg string) {
	writeBody(w, http.StatusBadRequest, map[string]string{"__type": "com.amazonaws.dynamodb.v20120810#" + typ, "message": msg})
}

func writeBody(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.Header().Set("X-Amz-Crc32", strconv.FormatUint(uint64(crc32.ChecksumIEEE(b)), 10))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
