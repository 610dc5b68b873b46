package scim

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/scimless/scimless/pkg/reqlog"
	"github.com/scimless/scimless/pkg/scim/scimerr"
	"github.com/scimless/scimless/pkg/store"
)

// parallel runs n requests at once (from n goroutines released together) and
// returns their responses in order.
func (h *harness) parallel(n int, rq func(i int) req) []*httptest.ResponseRecorder {
	out := make([]*httptest.ResponseRecorder, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := h.newRequest(rq(i))
			<-start
			w := httptest.NewRecorder()
			h.srv.ServeHTTP(w, r)
			out[i] = w
		}()
	}
	close(start)
	wg.Wait()
	for i, w := range out {
		checkEnvelope(h.t, fmt.Sprintf("parallel request %d", i), w)
	}
	return out
}

// TestParallelMemberPatches checks that parallel add-member PATCHes on one
// group without If-Match all succeed and all take effect: no 412 for a
// precondition the client never sent.
func TestParallelMemberPatches(t *testing.T) {
	h := newHarness(t)
	const n = 50
	users := make([]string, n)
	for i := range n {
		users[i] = h.createUser(map[string]any{"userName": fmt.Sprintf("m%02d@example.com", i)})
	}
	g := mustStatus(t, h.do(req{method: "POST", path: "/Groups", body: map[string]any{"displayName": "Parallel"}}), http.StatusCreated)
	gid := g["id"].(string)
	ws := h.parallel(n, func(i int) req {
		// Okta's membership PATCH: a rename to the same name, then the add.
		return req{method: "PATCH", path: "/Groups/" + gid, body: map[string]any{
			"schemas": []any{patchOpMsgURN},
			"Operations": []any{
				map[string]any{"op": "replace", "value": map[string]any{"id": gid, "displayName": "Parallel"}},
				map[string]any{"op": "add", "path": "members", "value": []any{map[string]any{"value": users[i]}}},
			},
		}}
	})
	for i, w := range ws {
		if w.Code/100 != 2 {
			t.Errorf("PATCH %d: status %d: %s", i, w.Code, w.Body)
		}
	}
	got := mustStatus(t, h.do(req{method: "GET", path: "/Groups/" + gid}), http.StatusOK)
	members, _ := got["members"].([]any)
	if len(members) != n {
		t.Fatalf("group has %d members, want %d", len(members), n)
	}
	// Every change bumped the version once.
	if v := got["meta"].(map[string]any)["version"]; v != etag(1+n) {
		t.Errorf("version %v after %d membership changes, want %s", v, n, etag(1+n))
	}
}

// TestParallelUserPatches checks that parallel PATCHes of one user without
// If-Match all succeed and none is lost.
func TestParallelUserPatches(t *testing.T) {
	h := newHarness(t)
	id := h.createUser(map[string]any{"userName": "busy@example.com"})
	const n = 50
	ws := h.parallel(n, func(i int) req {
		return req{method: "PATCH", path: "/Users/" + id, body: map[string]any{
			"schemas": []any{patchOpMsgURN},
			"Operations": []any{map[string]any{"op": "add", "path": "emails", "value": []any{
				map[string]any{"value": fmt.Sprintf("alias%02d@example.com", i), "type": "other"},
			}}},
		}}
	})
	for i, w := range ws {
		if w.Code != http.StatusOK {
			t.Errorf("PATCH %d: status %d: %s", i, w.Code, w.Body)
		}
	}
	got := mustStatus(t, h.do(req{method: "GET", path: "/Users/" + id}), http.StatusOK)
	emails, _ := got["emails"].([]any)
	var values []string
	for _, e := range emails {
		values = append(values, e.(map[string]any)["value"].(string))
	}
	sort.Strings(values)
	if len(values) != n {
		t.Fatalf("%d emails applied, want %d: %v", len(values), n, values)
	}
	for i, v := range values {
		if want := fmt.Sprintf("alias%02d@example.com", i); v != want {
			t.Fatalf("emails[%d] = %s, want %s", i, v, want)
		}
	}
}

// TestIfMatchStillPreconditions checks that a stale If-Match is still a 412
// and changes nothing, members included.
func TestIfMatchStillPreconditions(t *testing.T) {
	h := newHarness(t)
	uid := h.createUser(map[string]any{"userName": "pin@example.com"})
	g := mustStatus(t, h.do(req{method: "POST", path: "/Groups", body: map[string]any{"displayName": "Pinned"}}), http.StatusCreated)
	gid := g["id"].(string)
	stale := g["meta"].(map[string]any)["version"].(string)
	mustStatus(t, h.do(req{method: "PATCH", path: "/Groups/" + gid, body: map[string]any{
		"schemas": []any{patchOpMsgURN}, "Operations": []any{map[string]any{"op": "replace", "path": "displayName", "value": "Pinned 2"}},
	}}), http.StatusNoContent)
	w := h.do(req{method: "PATCH", path: "/Groups/" + gid, headers: map[string]string{"If-Match": stale}, body: map[string]any{
		"schemas": []any{patchOpMsgURN}, "Operations": []any{map[string]any{"op": "add", "path": "members", "value": []any{map[string]any{"value": uid}}}},
	}})
	mustStatus(t, w, http.StatusPreconditionFailed)
	got := mustStatus(t, h.do(req{method: "GET", path: "/Groups/" + gid}), http.StatusOK)
	if ms, _ := got["members"].([]any); len(ms) != 0 {
		t.Fatalf("a failed precondition added members: %v", ms)
	}
}

// TestRetryWrite checks the retry policy: lost races are retried without
// If-Match, returned with it, and a write that keeps losing ends in a 503
// with Retry-After before the request's deadline.
func TestRetryWrite(t *testing.T) {
	s := New(Config{})
	conflict := fmt.Errorf("update: %w", store.ErrVersion)
	busy := fmt.Errorf("tx: %w", store.ErrBusy)
	for _, tc := range []struct {
		name     string
		ifMatch  string
		errs     []error // returned by successive attempts; then nil
		want     int     // status of the result; 0 for success
		attempts int
	}{
		{"conflicts are retried", "", []error{conflict, conflict, conflict, conflict, conflict}, 0, 6},
		{"a pinned conflict is the client's 412", `W/"3"`, []error{conflict}, -1, 1},
		{"a busy transaction is retried even when pinned", `W/"3"`, []error{busy, busy}, 0, 3},
		{"other errors are returned at once", "", []error{scimerr.NotFound("gone")}, 404, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("PATCH", "/", nil)
			if tc.ifMatch != "" {
				r.Header.Set("If-Match", tc.ifMatch)
			}
			n := 0
			err := s.retryWrite(r, func() error {
				n++
				if n <= len(tc.errs) {
					return tc.errs[n-1]
				}
				return nil
			})
			if n != tc.attempts {
				t.Errorf("%d attempts, want %d", n, tc.attempts)
			}
			switch {
			case tc.want == 0 && err != nil:
				t.Errorf("err = %v, want success", err)
			case tc.want == -1 && !errors.Is(err, store.ErrVersion):
				t.Errorf("err = %v, want the version conflict", err)
			case tc.want > 0 && toSCIM(err).Status != tc.want:
				t.Errorf("err = %v, want status %d", err, tc.want)
			}
		})
	}
	t.Run("endless conflicts end in 503 before the deadline", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		r := httptest.NewRequest("PATCH", "/", nil).WithContext(ctx)
		n := 0
		err := s.retryWrite(r, func() error { n++; return conflict })
		e := toSCIM(err)
		if e.Status != http.StatusServiceUnavailable || e.RetryAfter < 1 {
			t.Fatalf("err = %v (Retry-After %d), want 503 with Retry-After", err, e.RetryAfter)
		}
		if ctx.Err() != nil {
			t.Errorf("retries ran until the deadline; the handler must answer before it")
		}
		if n < 2 {
			t.Errorf("%d attempts, want retries", n)
		}
	})
}

// lineWriter hands each log line to the test through a channel.
type lineWriter chan string

func (c lineWriter) Write(p []byte) (int, error) { c <- string(p); return len(p), nil }

// TestHandlerPanics checks that a handler's panic is answered with a SCIM
// 500 and logged with the request id, also when the request has already been
// answered with a timeout and the panic comes later.
func TestHandlerPanics(t *testing.T) {
	logs := make(lineWriter, 16)
	s := New(Config{Logger: slog.New(slog.NewJSONHandler(logs, nil)), RequestTimeout: 50 * time.Millisecond})
	for _, tc := range []struct {
		name    string
		handler http.HandlerFunc
		status  int
	}{
		{"at once", func(http.ResponseWriter, *http.Request) { panic("boom at once") }, http.StatusInternalServerError},
		{"after the timeout", func(_ http.ResponseWriter, r *http.Request) { <-r.Context().Done(); panic("boom after the timeout") }, http.StatusServiceUnavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec, r := reqlog.Start(httptest.NewRecorder(), httptest.NewRequest("GET", "/scim/v2/Users", nil))
			w := httptest.NewRecorder()
			s.withTimeout(w, r, tc.handler)
			checkEnvelope(t, tc.name, w)
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d", w.Code, tc.status)
			}
			deadline := time.After(5 * time.Second)
			for {
				select {
				case line := <-logs:
					if strings.Contains(line, `"msg":"panic"`) && strings.Contains(line, tc.name) {
						if !strings.Contains(line, `"request_id":"`+rec.ID+`"`) {
							t.Errorf("panic logged without the request id %s: %s", rec.ID, line)
						}
						return
					}
				case <-deadline:
					t.Fatal("the panic was not logged")
				}
			}
		})
	}
}

// TestHandlersRunConcurrently checks that the workers running handlers
// never make a request wait for another: 20 handlers that each wait until
// all 20 are running finish, and each request gets its own response, also
// when the workers and response buffers are reused for the next round.
func TestHandlersRunConcurrently(t *testing.T) {
	s := New(Config{RequestTimeout: 5 * time.Second})
	const n = 20
	for round := range 3 {
		var running sync.WaitGroup
		running.Add(n)
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			running.Done()
			running.Wait()
			w.Header().Set("X-Request", r.URL.Query().Get("k"))
			w.WriteHeader(http.StatusAccepted)
			fmt.Fprintf(w, "response %s", r.URL.Query().Get("k"))
		})
		var wg sync.WaitGroup
		for k := range n {
			wg.Go(func() {
				w := httptest.NewRecorder()
				s.withTimeout(w, httptest.NewRequest("GET", fmt.Sprintf("/scim/v2/Users?k=%d", k), nil), h)
				want := fmt.Sprint(k)
				if w.Code != http.StatusAccepted || w.Header().Get("X-Request") != want || w.Body.String() != "response "+want {
					t.Errorf("round %d, request %d: %d %q %q", round, k, w.Code, w.Header().Get("X-Request"), w.Body)
				}
			})
		}
		wg.Wait()
	}
}

// TestDeleteGroupWhileAddingMember races DELETE /Groups/{id} with a PATCH
// adding a member to it, 20 times, then reads the whole table: no membership
// item and no group id in a user may outlive its group.
func TestDeleteGroupWhileAddingMember(t *testing.T) {
	h := newHarness(t)
	const rounds = 20
	for i := range rounds {
		uid := h.createUser(map[string]any{"userName": fmt.Sprintf("race%02d@example.com", i)})
		gid := mustStatus(t, h.do(req{method: "POST", path: "/Groups", body: map[string]any{"displayName": fmt.Sprintf("race %d", i)}}), http.StatusCreated)["id"].(string)
		ws := h.parallel(2, func(j int) req {
			if j == 0 {
				return req{method: "DELETE", path: "/Groups/" + gid}
			}
			return req{method: "PATCH", path: "/Groups/" + gid, body: map[string]any{"schemas": []any{patchOpMsgURN},
				"Operations": []any{map[string]any{"op": "add", "path": "members", "value": []any{map[string]any{"value": uid}}}}}}
		})
		if ws[0].Code != http.StatusNoContent {
			t.Errorf("round %d: DELETE %d: %s", i, ws[0].Code, ws[0].Body)
		}
		if c := ws[1].Code; c != http.StatusNoContent && c != http.StatusNotFound {
			t.Errorf("round %d: PATCH %d, want 204 or 404: %s", i, c, ws[1].Body)
		}
	}
	groups, members, userGroups := map[string]bool{}, map[string]string{}, map[string][]string{}
	p := dynamodb.NewScanPaginator(h.env.Client, &dynamodb.ScanInput{TableName: aws.String(h.env.Store.TableName())})
	for p.HasMorePages() {
		out, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range out.Items {
			str := func(k string) string {
				v, _ := it[k].(*types.AttributeValueMemberS)
				if v == nil {
					return ""
				}
				return v.Value
			}
			switch str("type") {
			case "group":
				groups[str("id")] = true
			case "member":
				members[str("uid")] = str("gid")
			case "user":
				if ss, ok := it["groups"].(*types.AttributeValueMemberSS); ok {
					userGroups[str("id")] = ss.Value
				}
			}
		}
	}
	for uid, gid := range members {
		if !groups[gid] {
			t.Errorf("membership of %s in deleted group %s", uid, gid)
		}
	}
	for uid, gids := range userGroups {
		for _, gid := range gids {
			if !groups[gid] {
				t.Errorf("user %s still names deleted group %s", uid, gid)
			}
		}
	}
}
