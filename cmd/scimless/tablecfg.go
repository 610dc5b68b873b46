package main

import (
	"context"
	"errors"
	"flag"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/scimless/scimless/pkg/localdb"
	"github.com/scimless/scimless/pkg/store"
	"github.com/scimless/scimless/pkg/table"
)

// errUsage means the flags were wrong; the flag package already said why.
var errUsage = errors.New("usage")

// tableFlags selects the DynamoDB table a command works on: the embedded
// engine (default), an external endpoint, or AWS.
type tableFlags struct {
	endpoint    string
	endpointSet bool
	table       string
	region      string
	dataDir     string // embedded engine's data directory ("" in memory)
}

func (t *tableFlags) register(fs *flag.FlagSet, embeddedDefault bool) {
	fs.StringVar(&t.endpoint, "dynamodb-endpoint", "", "DynamoDB-compatible endpoint URL (e.g. DynamoDB Local); set to \"\" to use AWS with the standard credential chain")
	fs.StringVar(&t.table, "table", table.DefaultName, "DynamoDB table name")
	fs.StringVar(&t.region, "region", "", "AWS region (default: from the AWS environment)")
}

func (t *tableFlags) parsed(fs *flag.FlagSet) {
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "dynamodb-endpoint" {
			t.endpointSet = true
		}
	})
}

// openedTable is a ready store, with what must be closed after use.
type openedTable struct {
	Store    *store.Store
	Client   *dynamodb.Client
	Metrics  *store.Metrics
	Engine   *localdb.Engine // nil unless embedded
	Embedded bool
}

func (o *openedTable) Close() {
	if o.Engine != nil {
		_ = o.Engine.Close()
	}
}

// open connects to the table. With embedded true and no -dynamodb-endpoint
// flag, it starts the embedded engine. The table is created if missing.
func (t *tableFlags) open(ctx context.Context, embedded, create bool) (*openedTable, error) {
	o := &openedTable{Metrics: store.NewMetrics()}
	endpoint := t.endpoint
	var httpClient *localdb.Client
	if embedded && !t.endpointSet {
		eng, err := localdb.StartWith(localdb.Options{Dir: t.dataDir, TTLSweepInterval: localdb.DefaultTTLSweepInterval})
		if err != nil {
			return nil, err
		}
		o.Engine, o.Embedded, endpoint = eng, true, eng.Endpoint()
		// The engine also listens on endpoint, for other processes (the
		// CLI's -dynamodb-endpoint); this process reaches it without a socket.
		httpClient = eng.HTTPClient()
	}
	cc := store.ClientConfig{Endpoint: endpoint, Region: t.region, Metrics: o.Metrics}
	if httpClient != nil {
		cc.HTTPClient, cc.Unsigned = httpClient, true
	}
	client, err := store.NewClient(ctx, cc)
	if err != nil {
		o.Close()
		return nil, err
	}
	if create {
		if err := store.EnsureTable(ctx, client, t.table); err != nil {
			o.Close()
			return nil, fmt.Errorf("prepare table: %w", err)
		}
	}
	o.Client, o.Store = client, store.New(client, t.table)
	return o, nil
}
