package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"

	"github.com/scimless/scimless/pkg/auth"
	"github.com/scimless/scimless/pkg/events/local"
)

// startEventsDev starts the local directory-events pipeline on the embedded
// engine's stream, as the events function consumes the table's stream on
// AWS: the consumer, the Events API and in-process webhook deliveries. It
// returns nil when the table is not the embedded engine's (an external
// endpoint's stream is not read).
func startEventsDev(ctx context.Context, db *openedTable, authn *auth.Authenticator, base string, logger *slog.Logger) (*local.Pipeline, error) {
	if db.Engine == nil {
		return nil, nil
	}
	streams := dynamodbstreams.New(dynamodbstreams.Options{
		BaseEndpoint: aws.String(db.Engine.Endpoint()),
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("local", "local", ""),
		HTTPClient:   &http.Client{Transport: db.Engine.RoundTripper()},
	})
	p, err := local.Start(ctx, local.Config{Store: db.Store, Streams: streams, Auth: authn, BaseURL: base, Logger: logger})
	if err != nil {
		return nil, fmt.Errorf("start the directory events pipeline: %w", err)
	}
	return p, nil
}

// tokenTenants lists the tenants of -token values, once each, sorted.
func tokenTenants(tokens tokenList) []string {
	var ts []string
	for _, t := range tokens {
		tenant, _ := splitToken(t)
		ts = append(ts, tenant)
	}
	slices.Sort(ts)
	return slices.Compact(ts)
}
