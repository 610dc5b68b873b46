package apigw_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/scimless/scimless/pkg/apigw"
	"github.com/scimless/scimless/pkg/reqlog"
)

// The handler sees API Gateway's request id and the client's source IP:
// the request id for logs and responses, the IP for the throttle of unknown
// tokens (auth keys it on reqlog.ClientFrom).
func TestRequestIDAndClient(t *testing.T) {
	h := apigw.New(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec, r := reqlog.Start(w, r)
		_ = json.NewEncoder(rec).Encode(map[string]string{
			"id": reqlog.IDFrom(r.Context()), "client": reqlog.ClientFrom(r.Context()), "path": r.URL.Path,
		})
	}))
	tests := []struct {
		name, requestID, sourceIP, path string
	}{
		{"IPv4", "req-abc", "203.0.113.9", "/scim/v2/Users"},
		{"IPv6", "req-def", "2001:db8::7", "/scim/v2//Users"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev := events.APIGatewayV2HTTPRequest{
				Version: "2.0", RawPath: tc.path,
				RequestContext: events.APIGatewayV2HTTPRequestContext{
					RequestID: tc.requestID,
					HTTP:      events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "GET", Path: tc.path, SourceIP: tc.sourceIP},
				},
			}
			resp, err := h(context.Background(), ev)
			if err != nil {
				t.Fatal(err)
			}
			var got map[string]string
			if err := json.Unmarshal([]byte(resp.Body), &got); err != nil {
				t.Fatalf("%d %q: %v", resp.StatusCode, resp.Body, err)
			}
			if got["id"] != tc.requestID || got["client"] != tc.sourceIP || got["path"] != tc.path {
				t.Errorf("handler saw %v, want id %s, client %s, path %s", got, tc.requestID, tc.sourceIP, tc.path)
			}
			if resp.Headers["X-Request-Id"] != tc.requestID {
				t.Errorf("X-Request-Id %q", resp.Headers["X-Request-Id"])
			}
		})
	}
}
