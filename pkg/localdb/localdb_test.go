package localdb_test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/scimless/scimless/pkg/localdb"
	"github.com/scimless/scimless/pkg/store"
)

// TestStoreTableSetup runs the store's own table setup (waiter, TTL) and
// guregu/dynamo's legacy KeyConditions query against the engine.
func TestStoreTableSetup(t *testing.T) {
	eng, err := localdb.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	ctx := context.Background()
	c, err := store.NewClient(ctx, store.ClientConfig{Endpoint: eng.Endpoint()})
	if err != nil {
		t.Fatal(err)
	}
	if err := store.EnsureTable(ctx, c, "tbl"); err != nil {
		t.Fatalf("ensure table (waiter needs ACTIVE, TTL needs UpdateTimeToLive): %v", err)
	}
	if err := store.EnsureTable(ctx, c, "tbl"); err != nil {
		t.Fatalf("ensure an existing table: %v", err)
	}
	for _, sk := range []string{"a1", "a2", "b1"} {
		if _, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("tbl"), Item: map[string]types.AttributeValue{"pk": s("p"), "sk": s(sk)}}); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		op             types.ComparisonOperator
		values         []types.AttributeValue
		count, scanned int32
	}{
		{types.ComparisonOperatorBeginsWith, []types.AttributeValue{s("a")}, 2, 2},
		{types.ComparisonOperatorEq, []types.AttributeValue{s("b1")}, 1, 1},
		{types.ComparisonOperatorBetween, []types.AttributeValue{s("a2"), s("b")}, 1, 1},
		{types.ComparisonOperatorGt, []types.AttributeValue{s("a1")}, 2, 2},
		{types.ComparisonOperatorLe, []types.AttributeValue{s("a2")}, 2, 2},
	}
	for _, tc := range cases {
		t.Run(string(tc.op), func(t *testing.T) {
			q, err := c.Query(ctx, &dynamodb.QueryInput{TableName: aws.String("tbl"), KeyConditions: map[string]types.Condition{
				"pk": {ComparisonOperator: types.ComparisonOperatorEq, AttributeValueList: []types.AttributeValue{s("p")}},
				"sk": {ComparisonOperator: tc.op, AttributeValueList: tc.values},
			}})
			if err != nil || q.Count != tc.count || q.ScannedCount != tc.scanned {
				t.Fatalf("KeyConditions %s: count %d scanned %d (%v), want %d and %d", tc.op, q.Count, q.ScannedCount, err, tc.count, tc.scanned)
			}
		})
	}
	lt, err := c.ListTables(ctx, &dynamodb.ListTablesInput{})
	if err != nil || len(lt.TableNames) != 1 || lt.TableNames[0] != "tbl" {
		t.Fatalf("ListTables: %+v %v", lt, err)
	}
}
