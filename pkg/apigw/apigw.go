// Package apigw adapts a net/http handler to API Gateway HTTP API (payload
// 2.0) Lambda events, through aws-lambda-go-api-proxy. The Lambda functions
// and `scimless invoke` use the same adapter, so an event replayed locally
// takes the path it takes on AWS.
package apigw

import (
	"context"
	"net/http"

	"github.com/aws/aws-lambda-go/events"
	"github.com/awslabs/aws-lambda-go-api-proxy/core"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"
)

// Handler is a Lambda handler for HTTP API payload 2.0 events.
type Handler func(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error)

// New returns a Lambda handler serving h. API Gateway's request id is passed
// to h as the X-Request-Id header, so logs and responses carry it.
func New(h http.Handler) Handler {
	withID := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rc, ok := core.GetAPIGatewayV2ContextFromContext(r.Context()); ok && rc.RequestID != "" {
			r.Header.Set("X-Request-Id", rc.RequestID)
		}
		h.ServeHTTP(w, r)
	})
	return httpadapter.NewV2(withID).ProxyWithContext
}
