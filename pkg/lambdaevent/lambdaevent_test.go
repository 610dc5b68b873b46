package lambdaevent

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

func TestKind(t *testing.T) {
	tests := []struct {
		raw, want string
		err       bool
	}{
		{`{"version":"2.0","routeKey":"ANY /xaas/v1/{proxy+}"}`, HTTP, false},
		{`{"version":"1.0","routeKey":"ANY /x"}`, "", false},
		{`{"detail-type":"Scheduled Event","source":"aws.events"}`, Schedule, false},
		{`{"detail-type":"Something Else"}`, "", false},
		{`[]`, "", true},
		{`not json`, "", true},
	}
	for _, tc := range tests {
		got, err := Kind(json.RawMessage(tc.raw))
		if got != tc.want || (err != nil) != tc.err {
			t.Errorf("Kind(%s) = %q, %v; want %q (error %v)", tc.raw, got, err, tc.want, tc.err)
		}
	}
}

func TestHandler(t *testing.T) {
	ticks := 0
	h := Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"path":"` + r.URL.Path + `"}`))
	}), func(context.Context) (any, error) { ticks++; return "ticked", nil })
	ctx := context.Background()
	api := `{"version":"2.0","routeKey":"ANY /xaas/v1/{proxy+}","rawPath":"/xaas/v1/users","rawQueryString":"",
		"headers":{},"requestContext":{"http":{"method":"GET","path":"/xaas/v1/users"},"requestId":"rid-1"},"isBase64Encoded":false}`
	out, err := h(ctx, json.RawMessage(api))
	resp, ok := out.(events.APIGatewayV2HTTPResponse)
	if err != nil || !ok || resp.StatusCode != 200 || !strings.Contains(resp.Body, `"/xaas/v1/users"`) {
		t.Fatalf("API event: %T %+v %v", out, out, err)
	}
	out, err = h(ctx, json.RawMessage(`{"version":"0","id":"x","detail-type":"Scheduled Event","source":"aws.events","time":"2025-11-24T16:05:00Z","detail":{}}`))
	if err != nil || out != "ticked" || ticks != 1 {
		t.Fatalf("scheduled event: %v %v, %d ticks", out, err, ticks)
	}
	for _, bad := range []string{`{"detail-type":"Something Else"}`, `[]`, `{"routeKey":"GET /x"}`} {
		if _, err := h(ctx, json.RawMessage(bad)); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
	fail := Handler(http.NotFoundHandler(), func(context.Context) (any, error) { return nil, errors.New("boom") })
	if _, err := fail(ctx, json.RawMessage(`{"detail-type":"Scheduled Event"}`)); err == nil || err.Error() != "boom" {
		t.Errorf("tick error: %v", err)
	}
}
