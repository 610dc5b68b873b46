package xaas

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scimless/scimless/pkg/store"
	"github.com/scimless/scimless/pkg/syncbuf"
)

// logLines returns the JSON log lines with the given msg.
func logLines(t *testing.T, logs string, msg string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(logs, "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

// TestIngestWorkerPanic: a panic while writing a record fails that row (or
// that request) and is logged with the request id; the process lives on.
func TestIngestWorkerPanic(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	h.pushUsers(3, "")
	write := h.srv.ingest.writeRecord
	h.srv.ingest.writeRecord = func(ctx context.Context, tenant string, rec *Record, hash string, prev *store.SourceUser, now time.Time) (string, *store.SourceUser, bool, error) {
		if rec.ExternalID == userID(1) {
			panic("injected")
		}
		return write(ctx, tenant, rec, hash, prev, now)
	}
	res := h.pushUsers(3, "v2")
	if res.Failed != 1 || res.Updated != 2 || len(res.Errors) != 1 || res.Errors[0].ExternalID != userID(1) ||
		!strings.Contains(res.Errors[0].Detail, "internal error") {
		t.Errorf("bulk result %+v, want row 2 failed with an internal error", res)
	}
	req := map[string]any{"email": "x@example.com"}
	if rec := h.doJSON(http.MethodPut, Prefix+"/users/"+userID(1), req); rec.Code != http.StatusInternalServerError {
		t.Errorf("PUT: %d %s, want 500", rec.Code, rec.Body)
	}
	lines := logLines(t, h.logs.String(), "xaas record write panicked")
	if len(lines) != 2 {
		t.Fatalf("%d panic lines, want 2; logs:\n%s", len(lines), tail(h.logs.String(), 2000))
	}
	for _, l := range lines {
		if l["request_id"] == "" || l["request_id"] == nil || l["tenant"] != testTenant || l["panic"] != "injected" || l["stack"] == nil {
			t.Errorf("panic line %v", l)
		}
	}
	// The server still serves.
	if rec := h.doJSON(http.MethodPut, Prefix+"/users/"+userID(2), req); rec.Code != http.StatusOK {
		t.Errorf("after the panics: %d %s", rec.Code, rec.Body)
	}
}

// TestSyncStepPanic: a step that panics counts as a failed step: the run
// resumes from its last checkpoint and succeeds, or fails after MaxErrors
// panics in a row; the tick itself returns normally.
func TestSyncStepPanic(t *testing.T) {
	for _, tc := range []struct {
		name   string
		panics int32
		want   string
	}{
		{name: "once", panics: 1, want: store.RunSucceeded},
		{name: "every time", panics: 1 << 30, want: store.RunFailed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lim, fo := smallLimits()
			lim.MaxErrors = 3
			var left atomic.Int32
			left.Store(tc.panics)
			h := newHarness(t, harnessOpts{fake: fo, limits: lim, after: func(context.Context, string, int, int) error {
				if left.Add(-1) >= 0 {
					panic("injected")
				}
				return nil
			}})
			const n = 30
			h.pushUsers(n, "")
			run := h.sync(context.Background())
			if run.Status.State != tc.want {
				t.Fatalf("run %+v, want %s", run.Status, tc.want)
			}
			if tc.want == store.RunSucceeded {
				if run.Status.Counts.Upserted != n || len(h.fake.Users()) != n {
					t.Errorf("run %+v, okta has %d users; want %d", run.Status, len(h.fake.Users()), n)
				}
			} else if !strings.Contains(run.Status.Error, "giving up after 3") || strings.Contains(run.Status.Error, "injected") {
				t.Errorf("run error %q", run.Status.Error)
			}
			if lines := logLines(t, h.logs.String(), "xaas sync step panicked"); len(lines) == 0 || lines[0]["run"] != run.Status.ID {
				t.Errorf("panic lines %v", lines)
			}
		})
	}
}

// TestLoopSurvivesPanickingTick: the local loop logs a tick that panics and
// keeps ticking.
func TestLoopSurvivesPanickingTick(t *testing.T) {
	var logs syncbuf.Buffer
	e := NewEngine(EngineConfig{Logger: slog.New(slog.NewJSONHandler(&logs, nil))}) // no store: every tick panics
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); e.Loop(ctx, time.Millisecond) }()
	for len(logLines(t, logs.String(), "xaas tick panicked")) < 3 {
		select {
		case <-done:
			t.Fatal("the loop ended")
		case <-time.After(time.Millisecond):
		}
	}
	cancel()
	<-done
}
