package localdb_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/scimless/scimless/pkg/localdb"
)

// TestInProcessClient checks that the SDK gets the same answers through
// Engine.HTTPClient and Engine.RoundTripper as over the loopback port:
// items, typed errors, and a body that matches its X-Amz-Crc32 (which the
// SDK verifies).
func TestInProcessClient(t *testing.T) {
	eng, err := localdb.Open(localdb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = eng.Close() })
	for _, tc := range []struct {
		name   string
		client dynamodb.HTTPClient
	}{
		{"HTTPClient", eng.HTTPClient()},
		{"RoundTripper", &http.Client{Transport: eng.RoundTripper()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			e := clients(eng)
			e.db = dynamodb.New(dynamodb.Options{BaseEndpoint: aws.String("http://localdb.invalid"), Region: "us-east-1", Credentials: aws.AnonymousCredentials{}, RetryMaxAttempts: 1, HTTPClient: tc.client})
			name := "rt" + tc.name
			e.createTable(t, name, "S")
			big := strings.Repeat("x", 200<<10)
			if _, err := e.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(name), Item: av{"pk": s("a"), "sk": s("1"), "v": s(big)}}); err != nil {
				t.Fatal(err)
			}
			got, err := e.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(name), Key: av{"pk": s("a"), "sk": s("1")}, ConsistentRead: aws.Bool(true)})
			if err != nil {
				t.Fatal(err)
			}
			if v, _ := got.Item["v"].(*types.AttributeValueMemberS); v == nil || v.Value != big {
				t.Fatalf("GetItem: item %v, want v of %d bytes", got.Item, len(big))
			}
			_, err = e.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(name), Item: av{"pk": s("a"), "sk": s("1")}, ConditionExpression: aws.String("attribute_not_exists(pk)")})
			if !errors.As(err, new(*types.ConditionalCheckFailedException)) {
				t.Fatalf("conditional put: %v, want ConditionalCheckFailedException", err)
			}
			_, err = e.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("missing"), Key: av{"pk": s("a"), "sk": s("1")}})
			if !errors.As(err, new(*types.ResourceNotFoundException)) {
				t.Fatalf("GetItem of a missing table: %v, want ResourceNotFoundException", err)
			}
		})
	}
	t.Run("response", func(t *testing.T) {
		req, _ := http.NewRequest("POST", "http://localdb.invalid/", strings.NewReader(`{"TableName":"missing"}`))
		req.Header.Set("X-Amz-Target", "DynamoDB_20120810.DescribeTable")
		resp, err := eng.HTTPClient().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		if err := resp.Body.Close(); err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusBadRequest || resp.Status != "400 Bad Request" || resp.Request != req {
			t.Errorf("status %d %q, request %p; want 400 of %p", resp.StatusCode, resp.Status, resp.Request, req)
		}
		if resp.ContentLength != int64(len(body)) || resp.Header.Get("Content-Length") != strconv.Itoa(len(body)) {
			t.Errorf("Content-Length %d / %q, body %d bytes", resp.ContentLength, resp.Header.Get("Content-Length"), len(body))
		}
		if !strings.Contains(string(body), "ResourceNotFoundException") || resp.Header.Get("X-Amz-Crc32") == "" {
			t.Errorf("body %s, X-Amz-Crc32 %q", body, resp.Header.Get("X-Amz-Crc32"))
		}
	})
}
