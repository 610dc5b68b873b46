package reqlog

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

var newIDPattern = regexp.MustCompile(`^[0-9a-f]{16}$`)

func TestStart(t *testing.T) {
	long := strings.Repeat("a", MaxIDLen)
	tests := []struct {
		name   string
		header string
		want   string // "" means a new id
	}{
		{"no header", "", ""},
		{"API Gateway id", "c0ffee-1234", "c0ffee-1234"},
		{"longest kept", long, long},
		{"too long", long + "b", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/x", nil)
			if tt.header != "" {
				r.Header.Set("X-Request-Id", tt.header)
			}
			w := httptest.NewRecorder()
			rec, r2 := Start(w, r)
			switch {
			case tt.want != "" && rec.ID != tt.want:
				t.Errorf("ID = %q, want %q", rec.ID, tt.want)
			case tt.want == "" && !newIDPattern.MatchString(rec.ID):
				t.Errorf("ID = %q, want 16 hex digits", rec.ID)
			}
			if got := w.Header().Get("X-Request-Id"); got != rec.ID {
				t.Errorf("X-Request-Id response header = %q, want %q", got, rec.ID)
			}
			if got := IDFrom(r2.Context()); got != rec.ID {
				t.Errorf("IDFrom = %q, want %q", got, rec.ID)
			}
		})
	}
}

func TestClient(t *testing.T) {
	if got := ClientFrom(context.Background()); got != "" {
		t.Errorf("ClientFrom(background) = %q, want empty", got)
	}
	for _, addr := range []string{"192.0.2.7:51234", "198.51.100.9", "[2001:db8::1]:443"} {
		r := httptest.NewRequest(http.MethodGet, "/x", nil)
		r.RemoteAddr = addr
		_, r2 := Start(httptest.NewRecorder(), r)
		if got := ClientFrom(r2.Context()); got != addr {
			t.Errorf("ClientFrom after Start = %q, want %q", got, addr)
		}
	}
}

func TestIDFromNone(t *testing.T) {
	if got := IDFrom(context.Background()); got != "" {
		t.Errorf("IDFrom(background) = %q, want empty", got)
	}
	if got := IDFrom(WithID(context.Background(), "abc")); got != "abc" {
		t.Errorf("IDFrom(WithID(abc)) = %q", got)
	}
}

func TestRecorderStatus(t *testing.T) {
	tests := []struct {
		name  string
		serve func(w http.ResponseWriter)
		want  int
	}{
		{"nothing written", func(http.ResponseWriter) {}, 0},
		{"body only", func(w http.ResponseWriter) { _, _ = w.Write([]byte("x")) }, http.StatusOK},
		{"header", func(w http.ResponseWriter) { w.WriteHeader(http.StatusCreated) }, http.StatusCreated},
		{"first header wins", func(w http.ResponseWriter) {
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte("x"))
			w.WriteHeader(http.StatusOK)
		}, http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			rec := &Recorder{ResponseWriter: w}
			tt.serve(rec)
			if rec.Status != tt.want {
				t.Errorf("Status = %d, want %d", rec.Status, tt.want)
			}
			if rec.Unwrap() != w {
				t.Error("Unwrap does not return the wrapped writer")
			}
		})
	}
}

func TestLog(t *testing.T) {
	tests := []struct {
		name   string
		panic  any
		status int
		extra  []slog.Attr
		want   []string // lines' messages
		answer bool     // Recovered's report
	}{
		{"served", nil, http.StatusOK, nil, []string{"request"}, false},
		{"extra attributes", nil, http.StatusOK, []slog.Attr{slog.Int("created", 2)}, []string{"request"}, false},
		{"panic before writing", errors.New("boom"), 0, nil, []string{"panic", "request"}, true},
		{"panic after writing", "boom", http.StatusAccepted, nil, []string{"panic", "request"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			log := slog.New(slog.NewJSONHandler(&buf, nil))
			r := httptest.NewRequest(http.MethodPost, "/x", nil)
			r.Header.Set("X-Request-Id", "rid-1")
			rec, r := Start(httptest.NewRecorder(), r)
			if tt.status != 0 {
				rec.WriteHeader(tt.status)
			}
			if got := rec.Recovered(r.Context(), log, tt.panic); got != tt.answer {
				t.Errorf("Recovered = %v, want %v", got, tt.answer)
			}
			rec.Log(r.Context(), log, r.Method, "POST /x", "t1", tt.extra...)

			lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
			if len(lines) != len(tt.want) {
				t.Fatalf("%d lines, want %d:\n%s", len(lines), len(tt.want), buf.String())
			}
			for i, line := range lines {
				var m map[string]any
				if err := json.Unmarshal([]byte(line), &m); err != nil {
					t.Fatalf("line %d: %v", i, err)
				}
				if m["msg"] != tt.want[i] || m["request_id"] != "rid-1" {
					t.Errorf("line %d = %s, want msg %q with request_id rid-1", i, line, tt.want[i])
				}
				if m["msg"] == "panic" && m["level"] != "ERROR" {
					t.Errorf("panic line at level %v", m["level"])
				}
			}
			var m map[string]any
			_ = json.Unmarshal([]byte(lines[len(lines)-1]), &m)
			for _, k := range []string{"method", "route", "status", "latency_ms", "tenant", "request_id"} {
				if _, ok := m[k]; !ok {
					t.Errorf("request line lacks %q: %s", k, lines[len(lines)-1])
				}
			}
			if m["method"] != "POST" || m["route"] != "POST /x" || m["tenant"] != "t1" || m["status"] != float64(tt.status) {
				t.Errorf("request line = %s", lines[len(lines)-1])
			}
			for _, a := range tt.extra {
				if _, ok := m[a.Key]; !ok {
					t.Errorf("request line lacks extra %q", a.Key)
				}
			}
		})
	}
}
