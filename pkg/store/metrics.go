package store

import (
	"context"
	"sync"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/smithy-go/middleware"
)

// Metrics counts DynamoDB requests by operation and the items they read and
// write. ItemsRead counts what DynamoDB evaluated (and charges for):
// ScannedCount of each Query and Scan, and the items returned by GetItem,
// BatchGetItem and TransactGetItems. It is safe for concurrent use.
type Metrics struct {
	mu       sync.Mutex
	requests map[string]int64
	read     int64
	written  int64
}

// NewMetrics returns zeroed metrics.
func NewMetrics() *Metrics { return &Metrics{requests: map[string]int64{}} }

// Snapshot is a point-in-time copy of Metrics, in the JSON shape of the local
// run's /debug/metrics "dynamodb" object.
type Snapshot struct {
	Requests     map[string]int64 `json:"requests"`
	ItemsRead    int64            `json:"itemsRead"`
	ItemsWritten int64            `json:"itemsWritten"`
}

// Total returns the number of requests of all operations.
func (s Snapshot) Total() int64 {
	var n int64
	for _, v := range s.Requests {
		n += v
	}
	return n
}

// Sub returns s minus an earlier snapshot.
func (s Snapshot) Sub(earlier Snapshot) Snapshot {
	d := Snapshot{Requests: map[string]int64{}, ItemsRead: s.ItemsRead - earlier.ItemsRead, ItemsWritten: s.ItemsWritten - earlier.ItemsWritten}
	for k, v := range s.Requests {
		if n := v - earlier.Requests[k]; n != 0 {
			d.Requests[k] = n
		}
	}
	return d
}

// Snapshot returns the current counts. Operations never seen report 0 for the
// common ones, so the JSON always has them.
func (m *Metrics) Snapshot() Snapshot {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := Snapshot{Requests: map[string]int64{}, ItemsRead: m.read, ItemsWritten: m.written}
	for _, op := range []string{"GetItem", "Query", "TransactWriteItems", "PutItem", "UpdateItem", "DeleteItem", "BatchGetItem", "BatchWriteItem", "Scan"} {
		s.Requests[op] = 0
	}
	for k, v := range m.requests {
		s.Requests[k] = v
	}
	return s
}

func (m *Metrics) middleware(stack *middleware.Stack) error {
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("scimlessMetrics",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			out, md, err := next.HandleInitialize(ctx, in)
			m.record(middleware.GetOperationName(ctx), in.Parameters, out.Result)
			return out, md, err
		}), middleware.After)
}

func (m *Metrics) record(op string, params, result any) {
	var read, written int64
	switch r := result.(type) {
	case *dynamodb.GetItemOutput:
		if r.Item != nil {
			read = 1
		}
	case *dynamodb.QueryOutput:
		read = int64(r.ScannedCount)
	case *dynamodb.ScanOutput:
		read = int64(r.ScannedCount)
	case *dynamodb.BatchGetItemOutput:
		for _, items := range r.Responses {
			read += int64(len(items))
		}
	case *dynamodb.TransactGetItemsOutput:
		for _, it := range r.Responses {
			if it.Item != nil {
				read++
			}
		}
	case *dynamodb.PutItemOutput, *dynamodb.UpdateItemOutput, *dynamodb.DeleteItemOutput:
		written = 1
	case *dynamodb.TransactWriteItemsOutput:
		if in, ok := params.(*dynamodb.TransactWriteItemsInput); ok {
			for _, it := range in.TransactItems {
				if it.ConditionCheck == nil {
					written++
				}
			}
		}
	case *dynamodb.BatchWriteItemOutput:
		if in, ok := params.(*dynamodb.BatchWriteItemInput); ok {
			for _, reqs := range in.RequestItems {
				written += int64(len(reqs))
			}
			for _, reqs := range r.UnprocessedItems {
				written -= int64(len(reqs))
			}
		}
	}
	m.mu.Lock()
	m.requests[op]++
	m.read += read
	m.written += written
	m.mu.Unlock()
}
