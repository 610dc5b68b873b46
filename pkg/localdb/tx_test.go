package localdb_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/scimless/scimless/pkg/localdb"
)

func asErr[T error](err error, target *T) bool { return errors.As(err, target) }

func TestTransactWriteItems(t *testing.T) {
	e := start(t, localdb.Options{})
	ctx := context.Background()
	e.createTable(t, "txn", "S")
	e.put(t, "txn", av{"pk": s("p"), "sk": s("exists"), "v": n("1")})
	put := func(sk string) types.TransactWriteItem {
		return types.TransactWriteItem{Put: &types.Put{TableName: aws.String("txn"), Item: av{"pk": s("p"), "sk": s(sk)}, ConditionExpression: aws.String("attribute_not_exists(pk)")}}
	}
	cases := []struct {
		name    string
		items   []types.TransactWriteItem
		reasons []string // nil: success
		errCode string
		errMsg  string
	}{
		{name: "all succeed", items: []types.TransactWriteItem{put("a"), put("b"),
			{Update: &types.Update{TableName: aws.String("txn"), Key: av{"pk": s("p"), "sk": s("exists")}, UpdateExpression: aws.String("ADD v :one"), ExpressionAttributeValues: av{":one": n("1")}}}}},
		{name: "one condition fails: nothing applied, reasons in order", items: []types.TransactWriteItem{put("c"), put("a"),
			{ConditionCheck: &types.ConditionCheck{TableName: aws.String("txn"), Key: av{"pk": s("p"), "sk": s("exists")}, ConditionExpression: aws.String("v = :v"), ExpressionAttributeValues: av{":v": n("99")}}},
			{Delete: &types.Delete{TableName: aws.String("txn"), Key: av{"pk": s("p"), "sk": s("b")}}}},
			reasons: []string{"None", "ConditionalCheckFailed", "ConditionalCheckFailed", "None"}},
		{name: "update type error cancels", items: []types.TransactWriteItem{put("d"),
			{Update: &types.Update{TableName: aws.String("txn"), Key: av{"pk": s("p"), "sk": s("exists")}, UpdateExpression: aws.String("ADD v :x"), ExpressionAttributeValues: av{":x": ss("x")}}}},
			reasons: []string{"None", "ValidationError"}},
		{name: "two actions on one item", items: []types.TransactWriteItem{put("e"), put("e")}, errCode: "ValidationException", errMsg: "Transaction request cannot include multiple operations on one item"},
		{name: "101 actions", items: func() []types.TransactWriteItem {
			var out []types.TransactWriteItem
			for i := range 101 {
				out = append(out, put(fmt.Sprint("many", i)))
			}
			return out
		}(), errCode: "ValidationException", errMsg: "Member must have length less than or equal to 100"},
		{name: "over 4 MB", items: func() []types.TransactWriteItem {
			var out []types.TransactWriteItem
			for i := range 11 {
				out = append(out, types.TransactWriteItem{Put: &types.Put{TableName: aws.String("txn"), Item: av{"pk": s("p"), "sk": s(fmt.Sprint("big", i)), "d": s(strings.Repeat("z", 390*1024))}}})
			}
			return out
		}(), errCode: "ValidationException", errMsg: "Transaction request cannot be larger than 4 MB"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := count(t, e, "txn")
			_, err := e.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: tc.items})
			switch {
			case tc.errCode != "":
				wantErr(t, err, tc.errCode, tc.errMsg)
			case tc.reasons != nil:
				var tce *types.TransactionCanceledException
				if !asErr(err, &tce) {
					t.Fatalf("want TransactionCanceledException, got %v", err)
				}
				var got []string
				for _, r := range tce.CancellationReasons {
					got = append(got, aws.ToString(r.Code))
				}
				if strings.Join(got, ",") != strings.Join(tc.reasons, ",") {
					t.Fatalf("reasons %v, want %v", got, tc.reasons)
				}
				if !strings.Contains(tce.ErrorMessage(), "["+strings.Join(tc.reasons, ", ")+"]") {
					t.Fatalf("message %q", tce.ErrorMessage())
				}
			case err != nil:
				t.Fatal(err)
			}
			if tc.errCode != "" || tc.reasons != nil {
				if after := count(t, e, "txn"); after != before {
					t.Fatalf("a cancelled transaction changed the table: %d items, was %d", after, before)
				}
			}
		})
	}
	if v := e.get(t, "txn", av{"pk": s("p"), "sk": s("exists")})["v"].(*types.AttributeValueMemberN).Value; v != "2" {
		t.Fatalf("v = %s, want 2 (only the first transaction applied)", v)
	}
	// Idempotency token: a retry with the same token is not applied twice.
	tok := aws.String("token-1")
	upd := []types.TransactWriteItem{{Update: &types.Update{TableName: aws.String("txn"), Key: av{"pk": s("p"), "sk": s("exists")}, UpdateExpression: aws.String("ADD v :one"), ExpressionAttributeValues: av{":one": n("1")}}}}
	for range 2 {
		if _, err := e.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: upd, ClientRequestToken: tok}); err != nil {
			t.Fatal(err)
		}
	}
	if v := e.get(t, "txn", av{"pk": s("p"), "sk": s("exists")})["v"].(*types.AttributeValueMemberN).Value; v != "3" {
		t.Fatalf("v = %s after a retried token, want 3", v)
	}
}

// count counts a table's items, page by page.
func count(t testing.TB, e *testEnv, table string) int32 {
	t.Helper()
	var total int32
	var start av
	for {
		out, err := e.db.Scan(context.Background(), &dynamodb.ScanInput{TableName: aws.String(table), Select: types.SelectCount, ExclusiveStartKey: start})
		if err != nil {
			t.Fatal(err)
		}
		total += out.Count
		if out.LastEvaluatedKey == nil {
			return total
		}
		start = out.LastEvaluatedKey
	}
}

// TestTransactionsIsolated moves amounts between two accounts in
// transactions while readers check, with TransactGetItems and with Query,
// that the total never changes: no reader sees half a transaction.
func TestTransactionsIsolated(t *testing.T) {
	e := start(t, localdb.Options{})
	ctx := context.Background()
	e.createTable(t, "acct", "S")
	e.put(t, "acct", av{"pk": s("bank"), "sk": s("a"), "bal": n("1000")})
	e.put(t, "acct", av{"pk": s("bank"), "sk": s("b"), "bal": n("1000")})
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	stop := make(chan struct{})
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 100 {
				from, to := "a", "b"
				if (i+w)%2 == 0 {
					from, to = "b", "a"
				}
				_, err := e.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
					{Update: &types.Update{TableName: aws.String("acct"), Key: av{"pk": s("bank"), "sk": s(from)}, UpdateExpression: aws.String("SET bal = bal - :x"), ExpressionAttributeValues: av{":x": n("7")}}},
					{Update: &types.Update{TableName: aws.String("acct"), Key: av{"pk": s("bank"), "sk": s(to)}, UpdateExpression: aws.String("SET bal = bal + :x"), ExpressionAttributeValues: av{":x": n("7")}}},
				}})
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	var readers sync.WaitGroup
	for range 2 {
		readers.Add(1)
		go func() {
			defer readers.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				q, err := e.db.Query(ctx, &dynamodb.QueryInput{TableName: aws.String("acct"), KeyConditionExpression: aws.String("pk = :p"), ExpressionAttributeValues: av{":p": s("bank")}, ConsistentRead: aws.Bool(true)})
				if err != nil {
					errs <- err
					return
				}
				total := 0
				for _, it := range q.Items {
					v, _ := strconv.Atoi(it["bal"].(*types.AttributeValueMemberN).Value)
					total += v
				}
				if total != 2000 {
					errs <- fmt.Errorf("a reader saw total %d", total)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	readers.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// TestConditionalIncrements: 50 goroutines each increment one counter 4
// times with a version check, retrying on conflict; no increment is lost.
func TestConditionalIncrements(t *testing.T) {
	e := start(t, localdb.Options{})
	ctx := context.Background()
	e.createTable(t, "ctr", "S")
	key := av{"pk": s("c"), "sk": s("c")}
	e.put(t, "ctr", av{"pk": s("c"), "sk": s("c"), "n": n("0"), "ver": n("0")})
	const workers, each = 50, 4
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failures []error
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for done := 0; done < each; {
				out, err := e.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("ctr"), Key: key, ConsistentRead: aws.Bool(true)})
				if err != nil {
					mu.Lock()
					failures = append(failures, err)
					mu.Unlock()
					return
				}
				ver := out.Item["ver"].(*types.AttributeValueMemberN).Value
				_, err = e.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String("ctr"), Key: key,
					UpdateExpression:    aws.String("SET n = n + :one, ver = ver + :one"),
					ConditionExpression: aws.String("ver = :v"), ExpressionAttributeValues: av{":one": n("1"), ":v": n(ver)}})
				var ccf *types.ConditionalCheckFailedException
				switch {
				case err == nil:
					done++
				case asErr(err, &ccf):
				default:
					mu.Lock()
					failures = append(failures, err)
					mu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	for _, err := range failures {
		t.Fatal(err)
	}
	got := e.get(t, "ctr", key)
	if v := got["n"].(*types.AttributeValueMemberN).Value; v != strconv.Itoa(workers*each) {
		t.Fatalf("n = %s, want %d", v, workers*each)
	}
}

func TestTransactGetItems(t *testing.T) {
	e := start(t, localdb.Options{})
	ctx := context.Background()
	e.createTable(t, "tget", "S")
	e.put(t, "tget", av{"pk": s("p"), "sk": s("a"), "x": s("1"), "y": s("2")})
	out, err := e.db.TransactGetItems(ctx, &dynamodb.TransactGetItemsInput{TransactItems: []types.TransactGetItem{
		{Get: &types.Get{TableName: aws.String("tget"), Key: av{"pk": s("p"), "sk": s("missing")}}},
		{Get: &types.Get{TableName: aws.String("tget"), Key: av{"pk": s("p"), "sk": s("a")}, ProjectionExpression: aws.String("x")}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Responses) != 2 || out.Responses[0].Item != nil || len(out.Responses[1].Item) != 1 || plain(t, out.Responses[1].Item)["x"] != "1" {
		t.Fatalf("responses %+v", out.Responses)
	}
}

func TestTTLSweep(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1_800_000_000, 0)}
	e := start(t, localdb.Options{Now: clock.Now})
	ctx := context.Background()
	e.createTable(t, "ttl", "S")
	if _, err := e.db.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{TableName: aws.String("ttl"),
		TimeToLiveSpecification: &types.TimeToLiveSpecification{AttributeName: aws.String("exp"), Enabled: aws.Bool(true)}}); err != nil {
		t.Fatal(err)
	}
	now := clock.now.Unix()
	items := []struct {
		sk      string
		exp     types.AttributeValue
		expired bool
	}{
		{"past", n(strconv.FormatInt(now-10, 10)), true},
		{"now", n(strconv.FormatInt(now, 10)), true},
		{"future", n(strconv.FormatInt(now+10, 10)), false},
		{"ancient", n(strconv.FormatInt(now-6*365*24*3600, 10)), false}, // DynamoDB ignores values over 5 years old
		{"string", s("0"), false},
		{"none", nil, false},
	}
	for _, it := range items {
		item := av{"pk": s("p"), "sk": s(it.sk)}
		if it.exp != nil {
			item["exp"] = it.exp
		}
		e.put(t, "ttl", item)
	}
	if got := e.eng.SweepExpired(); got != 2 {
		t.Fatalf("swept %d, want 2", got)
	}
	for _, it := range items {
		present := e.get(t, "ttl", av{"pk": s("p"), "sk": s(it.sk)}) != nil
		if present == it.expired {
			t.Errorf("%s: present %v", it.sk, present)
		}
	}
	clock.now = clock.now.Add(time.Minute)
	if got := e.eng.SweepExpired(); got != 1 {
		t.Fatalf("swept %d after a minute, want 1 (future)", got)
	}
	d, err := e.db.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String("ttl")})
	if err != nil || d.TimeToLiveDescription.TimeToLiveStatus != types.TimeToLiveStatusEnabled || aws.ToString(d.TimeToLiveDescription.AttributeName) != "exp" {
		t.Fatalf("describe ttl: %+v %v", d, err)
	}
}

// TestTTLBackgroundSweep: with a sweep interval, expired items go away on
// their own.
func TestTTLBackgroundSweep(t *testing.T) {
	e := start(t, localdb.Options{TTLSweepInterval: 10 * time.Millisecond})
	ctx := context.Background()
	e.createTable(t, "ttlbg", "S")
	if _, err := e.db.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{TableName: aws.String("ttlbg"),
		TimeToLiveSpecification: &types.TimeToLiveSpecification{AttributeName: aws.String("ttl"), Enabled: aws.Bool(true)}}); err != nil {
		t.Fatal(err)
	}
	e.put(t, "ttlbg", av{"pk": s("p"), "sk": s("x"), "ttl": n(strconv.FormatInt(time.Now().Unix()-1, 10))})
	deadline := time.Now().Add(30 * time.Second)
	for e.get(t, "ttlbg", av{"pk": s("p"), "sk": s("x")}) != nil {
		if time.Now().After(deadline) {
			t.Fatal("expired item never swept")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
