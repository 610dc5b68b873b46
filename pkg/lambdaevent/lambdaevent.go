// Package lambdaevent dispatches the raw events of a Lambda function that
// serves both an API Gateway HTTP API and an EventBridge schedule: API
// events go to an http.Handler (through package apigw, as for the SCIM
// function), scheduled events to a tick function.
package lambdaevent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/aws/aws-lambda-go/events"

	"github.com/scimless/scimless/pkg/apigw"
)

// ScheduledEventType is the detail-type of an EventBridge scheduled event.
const ScheduledEventType = "Scheduled Event"

// Kinds of events Kind tells apart.
const (
	HTTP     = "http"     // API Gateway HTTP API, payload 2.0 (with a routeKey)
	Schedule = "schedule" // EventBridge scheduled event (with a detail-type)
)

// Kind returns HTTP, Schedule or "" for any other JSON object; an error
// when raw is not a JSON object.
func Kind(raw json.RawMessage) (string, error) {
	var probe struct {
		Version    string `json:"version"`
		RouteKey   string `json:"routeKey"`
		DetailType string `json:"detail-type"`
	}
	if err := json.Unmarshal(raw, &probe); err != nil {
		return "", fmt.Errorf("event is not a JSON object: %w", err)
	}
	switch {
	case probe.RouteKey != "" && probe.Version == "2.0":
		return HTTP, nil
	case probe.DetailType == ScheduledEventType:
		return Schedule, nil
	}
	return "", nil
}

// Handler returns a Lambda handler: API Gateway events go to h, and
// EventBridge scheduled events call tick, whose result is the handler's.
func Handler(h http.Handler, tick func(ctx context.Context) (any, error)) func(ctx context.Context, raw json.RawMessage) (any, error) {
	api := apigw.New(h)
	return func(ctx context.Context, raw json.RawMessage) (any, error) {
		kind, err := Kind(raw)
		if err != nil {
			return nil, err
		}
		switch kind {
		case HTTP:
			var ev events.APIGatewayV2HTTPRequest
			if err := json.Unmarshal(raw, &ev); err != nil {
				return nil, fmt.Errorf("decode API Gateway event: %w", err)
			}
			return api(ctx, ev)
		case Schedule:
			var ev events.EventBridgeEvent
			if err := json.Unmarshal(raw, &ev); err != nil {
				return nil, fmt.Errorf("decode EventBridge event: %w", err)
			}
			return tick(ctx)
		}
		return nil, errors.New("unsupported event: neither an API Gateway HTTP API (payload 2.0) event nor an EventBridge scheduled event")
	}
}
