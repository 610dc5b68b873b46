// Package storetest starts a store on the embedded DynamoDB-compatible engine
// for tests: the same store code and SDK client that run on AWS.
package storetest

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/scimless/scimless/pkg/localdb"
	"github.com/scimless/scimless/pkg/store"
	"github.com/scimless/scimless/pkg/table"
)

// Env is a test store with its engine, client and request metrics.
type Env struct {
	Store   *store.Store
	Client  *dynamodb.Client
	Metrics *store.Metrics
	Engine  *localdb.Engine
}

// New starts an engine, creates the table and returns the store. Everything
// is torn down when the test ends.
func New(tb testing.TB, opts ...store.Option) *Env {
	tb.Helper()
	return NewTable(tb, table.DefaultName, opts...)
}

// NewTable is New with the table named name (a function's test proves its
// table setting is read by not using the default name).
func NewTable(tb testing.TB, name string, opts ...store.Option) *Env {
	tb.Helper()
	eng, err := localdb.Start()
	if err != nil {
		tb.Fatalf("start engine: %v", err)
	}
	tb.Cleanup(func() { _ = eng.Close() })
	ctx := context.Background()
	m := store.NewMetrics()
	client, err := store.NewClient(ctx, store.ClientConfig{Endpoint: eng.Endpoint(), Metrics: m})
	if err != nil {
		tb.Fatalf("client: %v", err)
	}
	if err := store.EnsureTable(ctx, client, name); err != nil {
		tb.Fatalf("ensure table: %v", err)
	}
	return &Env{Store: store.New(client, name, opts...), Client: client, Metrics: m, Engine: eng}
}
