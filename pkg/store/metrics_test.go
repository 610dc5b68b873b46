package store_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/scimless/scimless/pkg/store/storetest"
	"github.com/scimless/scimless/pkg/table"
)

// TestItemsReadSeesOverReads proves the store's "items read" checks can
// fail: the metric counts what DynamoDB evaluates (ScannedCount), not what
// it returns, so a query that reads more than it returns is caught.
func TestItemsReadSeesOverReads(t *testing.T) {
	env := storetest.New(t)
	ctx := context.Background()
	for i := range 10 {
		_, err := env.Client.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table.DefaultName), Item: map[string]types.AttributeValue{
			table.PartitionKey: &types.AttributeValueMemberS{Value: "T#metrics"},
			table.SortKey:      &types.AttributeValueMemberS{Value: fmt.Sprintf("X#%02d", i)},
			"keep":             &types.AttributeValueMemberBOOL{Value: i < 2},
		}})
		if err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name     string
		filter   *string
		limit    *int32
		returned int
		read     int64
	}{
		{"key condition only", nil, nil, 10, 10},
		{"filter drops 8 of 10: all 10 are read", aws.String("keep = :t"), nil, 2, 10},
		{"limit bounds the read", nil, aws.Int32(3), 3, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := &dynamodb.QueryInput{TableName: aws.String(table.DefaultName), KeyConditionExpression: aws.String("pk = :p"),
				ExpressionAttributeValues: map[string]types.AttributeValue{":p": &types.AttributeValueMemberS{Value: "T#metrics"}},
				FilterExpression:          tc.filter, Limit: tc.limit}
			if tc.filter != nil {
				in.ExpressionAttributeValues[":t"] = &types.AttributeValueMemberBOOL{Value: true}
			}
			before := env.Metrics.Snapshot()
			out, err := env.Client.Query(ctx, in)
			if err != nil {
				t.Fatal(err)
			}
			d := env.Metrics.Snapshot().Sub(before)
			if len(out.Items) != tc.returned || d.ItemsRead != tc.read {
				t.Fatalf("returned %d, read %d; want %d and %d", len(out.Items), d.ItemsRead, tc.returned, tc.read)
			}
		})
	}
}
