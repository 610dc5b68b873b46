package store_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/scimless/scimless/pkg/store/storetest"
	"github.com/scimless/scimless/pkg/table"
)

func TestCountRequest(t *testing.T) {
	env := storetest.New(t)
	s, ctx := env.Store, context.Background()
	w1 := time.Unix(1_700_000_000, 0)
	w2 := w1.Add(time.Second)
	steps := []struct {
		name   string
		tenant string
		start  time.Time
		limit  int
		want   bool
	}{
		{"first", "acme", w1, 2, true},
		{"second", "acme", w1, 2, true},
		{"over the limit", "acme", w1, 2, false},
		{"still over", "acme", w1, 2, false},
		{"a higher limit in the same window", "acme", w1, 3, true},
		{"next window", "acme", w2, 2, true},
		{"other tenant", "globex", w1, 1, true},
		{"other tenant over", "globex", w1, 1, false},
		{"a zero limit refuses", "initech", w1, 0, false},
	}
	for _, st := range steps {
		got, err := s.CountRequest(ctx, st.tenant, st.start, st.limit)
		if err != nil || got != st.want {
			t.Fatalf("%s: %v, %v; want %v", st.name, got, err, st.want)
		}
	}
	for _, c := range []struct {
		tenant string
		start  time.Time
		want   int
	}{{"acme", w1, 3}, {"acme", w2, 1}, {"globex", w1, 1}, {"initech", w1, 0}, {"acme", w2.Add(time.Second), 0}} {
		if n, err := s.RequestCount(ctx, c.tenant, c.start); err != nil || n != c.want {
			t.Errorf("count %s %v = %d, %v; want %d", c.tenant, c.start.Unix(), n, err, c.want)
		}
	}
}

// The counter carries its type and a TTL, so DynamoDB deletes it and a
// scan of the table can tell it apart.
func TestCountRequestItem(t *testing.T) {
	env := storetest.New(t)
	ctx := context.Background()
	w := time.Unix(1_700_000_000, 0)
	if ok, err := env.Store.CountRequest(ctx, "acme", w, 5); !ok || err != nil {
		t.Fatal(ok, err)
	}
	out, err := env.Client.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table.DefaultName), ConsistentRead: aws.Bool(true),
		Key: map[string]types.AttributeValue{
			table.PartitionKey: &types.AttributeValueMemberS{Value: "T#acme#RATE#1700000000"},
			table.SortKey:      &types.AttributeValueMemberS{Value: "RATE"},
		}})
	if err != nil {
		t.Fatal(err)
	}
	ttl, _ := out.Item[table.TTLAttribute].(*types.AttributeValueMemberN)
	typ, _ := out.Item["type"].(*types.AttributeValueMemberS)
	n, _ := out.Item["n"].(*types.AttributeValueMemberN)
	if ttl == nil || ttl.Value != "1700000600" || typ == nil || typ.Value != "rateCounter" || n == nil || n.Value != "1" {
		t.Fatalf("counter item %v", out.Item)
	}
}

// Parallel writers of one window: exactly limit of them are counted.
func TestCountRequestParallel(t *testing.T) {
	env := storetest.New(t)
	s, ctx := env.Store, context.Background()
	w := time.Unix(1_700_000_000, 0)
	const limit, writers = 25, 80
	var allowed atomic.Int64
	var wg sync.WaitGroup
	for range writers {
		wg.Go(func() {
			ok, err := s.CountRequest(ctx, "acme", w, limit)
			if err != nil {
				t.Error(err)
			}
			if ok {
				allowed.Add(1)
			}
		})
	}
	wg.Wait()
	if allowed.Load() != limit {
		t.Fatalf("%d allowed, want exactly %d", allowed.Load(), limit)
	}
	if n, _ := s.RequestCount(ctx, "acme", w); n != limit {
		t.Fatalf("counter %d, want %d", n, limit)
	}
}
