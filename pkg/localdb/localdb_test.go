package localdb_test

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/scimless/scimless/pkg/localdb"
	"github.com/scimless/scimless/pkg/store"
)

// TestBridgeBehavesLikeDynamoDB covers each gap the bridge closes.
func TestBridgeBehavesLikeDynamoDB(t *testing.T) {
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
	if _, err := c.CreateTable(ctx, store.CreateTableInput("ab")); err == nil {
		t.Fatal("a 2-character table name must be rejected")
	}
	if err := store.EnsureTable(ctx, c, "tbl"); err != nil {
		t.Fatalf("ensure table (waiter needs ACTIVE, TTL needs UpdateTimeToLive): %v", err)
	}
	s := func(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
	key := map[string]types.AttributeValue{"pk": s("p"), "sk": s("a")}
	put := map[string]types.AttributeValue{"pk": s("p"), "sk": s("a"), "x": s("1"), "set": &types.AttributeValueMemberSS{Value: []string{"g"}}}
	if _, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("tbl"), Item: put}); err != nil {
		t.Fatal(err)
	}
	// Legacy KeyConditions (guregu/dynamo) return the item, with ScannedCount.
	q, err := c.Query(ctx, &dynamodb.QueryInput{TableName: aws.String("tbl"), KeyConditions: map[string]types.Condition{
		"pk": {ComparisonOperator: types.ComparisonOperatorEq, AttributeValueList: []types.AttributeValue{s("p")}},
		"sk": {ComparisonOperator: types.ComparisonOperatorBeginsWith, AttributeValueList: []types.AttributeValue{s("a")}},
	}})
	if err != nil || q.Count != 1 || q.ScannedCount != 1 {
		t.Fatalf("KeyConditions query: %+v %v", q, err)
	}
	// DELETE of the last set element and REMOVE both drop the attribute.
	_, err = c.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String("tbl"), Key: key,
		UpdateExpression:          aws.String("DELETE #s :g REMOVE x"),
		ExpressionAttributeNames:  map[string]string{"#s": "set"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":g": &types.AttributeValueMemberSS{Value: []string{"g"}}}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("tbl"), Key: key, ConsistentRead: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := got.Item["set"]; ok {
		t.Fatal("emptied set kept")
	}
	if _, ok := got.Item["x"]; ok {
		t.Fatal("REMOVE ignored")
	}
	// Transactions over 100 actions are refused.
	var items []types.TransactWriteItem
	for i := range 101 {
		items = append(items, types.TransactWriteItem{Put: &types.Put{TableName: aws.String("tbl"),
			Item: map[string]types.AttributeValue{"pk": s("p"), "sk": s(string(rune('A'+i%26)) + string(rune('a'+i/26)))}}})
	}
	_, err = c.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	var ve interface{ ErrorCode() string }
	if !errors.As(err, &ve) || ve.ErrorCode() != "ValidationException" {
		t.Fatalf("101-action transaction: %v", err)
	}
	lt, err := c.ListTables(ctx, &dynamodb.ListTablesInput{})
	if err != nil || len(lt.TableNames) != 1 || lt.TableNames[0] != "tbl" {
		t.Fatalf("ListTables: %+v %v", lt, err)
	}
}
