package safe_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/scimless/scimless/pkg/reqlog"
	"github.com/scimless/scimless/pkg/safe"
	"github.com/scimless/scimless/pkg/syncbuf"
)

func logLine(t *testing.T, out string) map[string]any {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 1 {
		t.Fatalf("want one log line, got %d: %s", len(lines), out)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &m); err != nil {
		t.Fatalf("log line %q: %v", lines[0], err)
	}
	return m
}

func TestGoRecovers(t *testing.T) {
	tests := []struct {
		name      string
		ctx       context.Context
		requestID string
	}{
		{"with a request id", reqlog.WithID(context.Background(), "req-123"), "req-123"},
		{"without a request id", context.Background(), ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out syncbuf.Buffer
			logged := make(chan struct{})
			log := slog.New(slog.NewJSONHandler(notify{&out, logged}, nil))
			safe.Go(tc.ctx, log, "worker", func(context.Context) {
				var m map[string]int
				m["boom"] = 1 // nil map: panics
			})
			<-logged
			m := logLine(t, out.String())
			if m["msg"] != "goroutine panic" || m["level"] != "ERROR" || m["goroutine"] != "worker" {
				t.Errorf("log line %v", m)
			}
			if !strings.Contains(m["panic"].(string), "nil map") || !strings.Contains(m["stack"].(string), "safe_test") {
				t.Errorf("panic %q, stack %q", m["panic"], m["stack"])
			}
			if got, _ := m["request_id"].(string); got != tc.requestID {
				t.Errorf("request_id %q, want %q", got, tc.requestID)
			}
		})
	}
}

// notify writes to w and then closes c (once: each test logs one line).
type notify struct {
	w *syncbuf.Buffer
	c chan struct{}
}

func (n notify) Write(p []byte) (int, error) {
	k, err := n.w.Write(p)
	close(n.c)
	return k, err
}

func TestGoRunsFn(t *testing.T) {
	var out syncbuf.Buffer
	log := slog.New(slog.NewJSONHandler(&out, nil))
	type key struct{}
	done := make(chan any)
	safe.Go(context.WithValue(context.Background(), key{}, "v"), log, "worker", func(ctx context.Context) {
		done <- ctx.Value(key{})
	})
	if v := <-done; v != "v" {
		t.Fatalf("fn got context value %v", v)
	}
	if out.Len() != 0 {
		t.Fatalf("logged without a panic: %s", out.String())
	}
}

func TestCall(t *testing.T) {
	errWork := errors.New("work failed")
	tests := []struct {
		name    string
		fn      func(context.Context) error
		want    error
		logged  bool
		message string
	}{
		{"nil", func(context.Context) error { return nil }, nil, false, ""},
		{"error", func(context.Context) error { return errWork }, errWork, false, "work failed"},
		{"panic", func(context.Context) error { panic("kaboom") }, safe.ErrPanic, true, "writer: panic: kaboom"},
		{"panic with error", func(context.Context) error { panic(errWork) }, safe.ErrPanic, true, "writer: panic: work failed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			log := slog.New(slog.NewJSONHandler(&out, nil))
			err := safe.Call(reqlog.WithID(context.Background(), "r1"), log, "writer", tc.fn)
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if err != nil && err.Error() != tc.message {
				t.Errorf("message %q, want %q", err.Error(), tc.message)
			}
			if (out.Len() > 0) != tc.logged {
				t.Fatalf("logged %q, want logged=%v", out.String(), tc.logged)
			}
			if tc.logged {
				if m := logLine(t, out.String()); m["request_id"] != "r1" || m["goroutine"] != "writer" {
					t.Errorf("log line %v", m)
				}
			}
		})
	}
}

func TestNilLogger(t *testing.T) {
	var out syncbuf.Buffer
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewJSONHandler(&out, nil)))
	defer slog.SetDefault(prev)
	if err := safe.Call(context.Background(), nil, "x", func(context.Context) error { panic("p") }); !errors.Is(err, safe.ErrPanic) {
		t.Fatalf("err = %v", err)
	}
	if !strings.Contains(out.String(), "goroutine panic") {
		t.Fatalf("default logger got %q", out.String())
	}
}
