package localdb_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/smithy-go"

	"github.com/scimless/scimless/pkg/localdb"
)

// testEnv is an engine with raw SDK clients (no retries, so every error is
// the engine's first answer).
type testEnv struct {
	eng     *localdb.Engine
	db      *dynamodb.Client
	streams *dynamodbstreams.Client
}

func start(t testing.TB, opts localdb.Options) *testEnv {
	t.Helper()
	eng, err := localdb.StartWith(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = eng.Close() })
	return clients(eng)
}

func clients(eng *localdb.Engine) *testEnv {
	creds := credentials.NewStaticCredentialsProvider("local", "local", "")
	db := dynamodb.New(dynamodb.Options{BaseEndpoint: aws.String(eng.Endpoint()), Region: "us-east-1", Credentials: creds, RetryMaxAttempts: 1})
	st := dynamodbstreams.New(dynamodbstreams.Options{BaseEndpoint: aws.String(eng.Endpoint()), Region: "us-east-1", Credentials: creds, RetryMaxAttempts: 1})
	return &testEnv{eng: eng, db: db, streams: st}
}

func s(v string) types.AttributeValue     { return &types.AttributeValueMemberS{Value: v} }
func n(v string) types.AttributeValue     { return &types.AttributeValueMemberN{Value: v} }
func b(v string) types.AttributeValue     { return &types.AttributeValueMemberB{Value: []byte(v)} }
func ss(v ...string) types.AttributeValue { return &types.AttributeValueMemberSS{Value: v} }

type av = map[string]types.AttributeValue

// createTable makes a table with hash key pk (S) and sort key sk of type
// skType ("" for none), plus the given GSIs.
func (e *testEnv) createTable(t testing.TB, name, skType string, gsis ...types.GlobalSecondaryIndex) {
	t.Helper()
	defs := []types.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: types.ScalarAttributeTypeS}}
	ks := []types.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: types.KeyTypeHash}}
	if skType != "" {
		defs = append(defs, types.AttributeDefinition{AttributeName: aws.String("sk"), AttributeType: types.ScalarAttributeType(skType)})
		ks = append(ks, types.KeySchemaElement{AttributeName: aws.String("sk"), KeyType: types.KeyTypeRange})
	}
	seen := map[string]bool{"pk": true, "sk": true}
	for _, g := range gsis {
		for _, k := range g.KeySchema {
			if !seen[*k.AttributeName] {
				seen[*k.AttributeName] = true
				defs = append(defs, types.AttributeDefinition{AttributeName: k.AttributeName, AttributeType: types.ScalarAttributeTypeS})
			}
		}
	}
	in := &dynamodb.CreateTableInput{TableName: aws.String(name), AttributeDefinitions: defs, KeySchema: ks, BillingMode: types.BillingModePayPerRequest}
	if len(gsis) > 0 {
		in.GlobalSecondaryIndexes = gsis
	}
	if _, err := e.db.CreateTable(context.Background(), in); err != nil {
		t.Fatalf("create table %s: %v", name, err)
	}
}

func (e *testEnv) put(t testing.TB, table string, it av) {
	t.Helper()
	if _, err := e.db.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String(table), Item: it}); err != nil {
		t.Fatalf("put: %v", err)
	}
}

func (e *testEnv) get(t testing.TB, table string, key av) av {
	t.Helper()
	out, err := e.db.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String(table), Key: key, ConsistentRead: aws.Bool(true)})
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	return out.Item
}

// apiErr returns the error code and message of err ("" when err is nil).
func apiErr(err error) (code, msg string) {
	if err == nil {
		return "", ""
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode(), ae.ErrorMessage()
	}
	return "?", err.Error()
}

// wantErr fails unless err has the code and its message contains msg.
func wantErr(t testing.TB, err error, code, msg string) {
	t.Helper()
	c, m := apiErr(err)
	if c != code || !strings.Contains(m, msg) {
		t.Fatalf("error %q %q, want %q containing %q", c, m, code, msg)
	}
}

// fakeClock is a settable clock.
type fakeClock struct{ now time.Time }

func (c *fakeClock) Now() time.Time { return c.now }

func credsLocal() aws.CredentialsProvider {
	return credentials.NewStaticCredentialsProvider("local", "local", "")
}

// httpClient adapts a RoundTripper to the SDK's HTTPClient.
type httpClient struct{ rt http.RoundTripper }

func (c *httpClient) Do(r *http.Request) (*http.Response, error) { return c.rt.RoundTrip(r) }
