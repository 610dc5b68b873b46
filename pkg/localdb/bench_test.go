package localdb_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/scimless/scimless/pkg/localdb"
	"github.com/scimless/scimless/pkg/store"
	"github.com/scimless/scimless/pkg/table"
)

// BenchmarkEngine measures each operation through the real SDK client over
// loopback HTTP, as the store calls it, against a table of 1k, 10k and 100k
// user-like items in one tenant partition (scimless's layout). It reports
// the median and 99th percentile latency. Sizes: LOCALDB_BENCH_SIZES
// (default "1000,10000,100000"); run with -benchtime=Nx.
//
//	make bench-engine
func BenchmarkEngine(b *testing.B) {
	sizes := []int{1000, 10000, 100000}
	if v := os.Getenv("LOCALDB_BENCH_SIZES"); v != "" {
		sizes = nil
		for _, f := range strings.Split(v, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil {
				b.Fatalf("LOCALDB_BENCH_SIZES: %v", err)
			}
			sizes = append(sizes, n)
		}
	}
	for _, size := range sizes {
		b.Run(fmt.Sprint("items=", size), func(b *testing.B) {
			e := start(b, localdb.Options{})
			ctx := context.Background()
			c, err := store.NewClient(ctx, store.ClientConfig{Endpoint: e.eng.Endpoint()})
			if err != nil {
				b.Fatal(err)
			}
			if err := store.EnsureTable(ctx, c, table.DefaultName); err != nil {
				b.Fatal(err)
			}
			load(b, e, size)
			tbl := aws.String(table.DefaultName)
			key := func(i int) av { return av{"pk": s("T#bench"), "sk": s(fmt.Sprintf("U#%08d", i))} }
			ops := []struct {
				name string
				run  func(r *rand.Rand) error
			}{
				{"GetItem", func(r *rand.Rand) error {
					_, err := c.GetItem(ctx, &dynamodb.GetItemInput{TableName: tbl, Key: key(r.IntN(size)), ConsistentRead: aws.Bool(true)})
					return err
				}},
				{"Query1", func(r *rand.Rand) error {
					out, err := c.Query(ctx, &dynamodb.QueryInput{TableName: tbl, KeyConditionExpression: aws.String("pk = :p AND begins_with(sk, :s)"),
						ExpressionAttributeValues: av{":p": s("T#bench"), ":s": s(fmt.Sprintf("U#%08d", r.IntN(size)))}})
					if err == nil && out.Count != 1 {
						err = fmt.Errorf("query returned %d items", out.Count)
					}
					return err
				}},
				{"PutItem", func(r *rand.Rand) error {
					_, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: tbl, Item: user(r.IntN(size))})
					return err
				}},
				{"TransactWrite3", func(r *rand.Rand) error {
					var items []types.TransactWriteItem
					i := r.IntN(size - 3)
					for j := range 3 {
						items = append(items, types.TransactWriteItem{Update: &types.Update{TableName: tbl, Key: key(i + j),
							UpdateExpression: aws.String("ADD ver :one"), ConditionExpression: aws.String("attribute_exists(pk)"),
							ExpressionAttributeValues: av{":one": n("1")}}})
					}
					_, err := c.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
					return err
				}},
			}
			for _, op := range ops {
				b.Run(op.name, func(b *testing.B) {
					r := rand.New(rand.NewPCG(1, uint64(size)))
					lat := make([]time.Duration, 0, b.N)
					b.ResetTimer()
					for range b.N {
						t0 := time.Now()
						if err := op.run(r); err != nil {
							b.Fatal(err)
						}
						lat = append(lat, time.Since(t0))
					}
					b.StopTimer()
					slices.Sort(lat)
					b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
					b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
				})
			}
		})
	}
}

// user is a user-like item: the size and shape of a stored SCIM user.
func user(i int) av {
	id := fmt.Sprintf("%08d", i)
	return av{
		"pk": s("T#bench"), "sk": s("U#" + id), "type": s("user"), "id": s(id), "ver": n("1"),
		"userName": s("user" + id + "@example.com"), "gsi1pk": s("T#bench#UX#ext" + id), "gsi1sk": s("U#" + id),
		"doc": s(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"user` + id + `@example.com","name":{"givenName":"Given` + id +
			`","familyName":"Family"},"emails":[{"value":"user` + id + `@example.com","primary":true,"type":"work"}],"active":true,"externalId":"ext` + id + `"}`),
	}
}

// load writes size users with BatchWriteItem.
func load(b testing.TB, e *testEnv, size int) {
	ctx := context.Background()
	for i := 0; i < size; i += 25 {
		var reqs []types.WriteRequest
		for j := i; j < min(size, i+25); j++ {
			reqs = append(reqs, types.WriteRequest{PutRequest: &types.PutRequest{Item: user(j)}})
		}
		if _, err := e.db.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{table.DefaultName: reqs}}); err != nil {
			b.Fatal(err)
		}
	}
}
