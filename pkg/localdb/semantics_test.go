package localdb_test

import (
	"context"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/scimless/scimless/pkg/localdb"
	"github.com/scimless/scimless/pkg/store"
)

func plain(t testing.TB, it av) map[string]any {
	t.Helper()
	var m map[string]any
	if err := attributevalue.UnmarshalMap(it, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestUpdateExpressions(t *testing.T) {
	e := start(t, localdb.Options{})
	e.createTable(t, "upd", "S")
	base := av{"pk": s("p"), "sk": s("k"), "n": n("10"), "tags": ss("a", "b"), "m": &types.AttributeValueMemberM{Value: av{"x": s("1")}},
		"l": &types.AttributeValueMemberL{Value: []types.AttributeValue{s("a"), s("b")}}, "keep": s("k")}
	cases := []struct {
		name   string
		expr   string
		names  map[string]string
		values av
		want   map[string]any // attributes besides pk/sk/keep that must hold
		gone   []string
		err    string
	}{
		{name: "SET arithmetic", expr: "SET n = n + :d", values: av{":d": n("5")}, want: map[string]any{"n": 15.0}},
		{name: "SET minus to negative decimal", expr: "SET n = n - :d", values: av{":d": n("10.25")}, want: map[string]any{"n": -0.25}},
		{name: "SET if_not_exists keeps", expr: "SET n = if_not_exists(n, :z)", values: av{":z": n("0")}, want: map[string]any{"n": 10.0}},
		{name: "SET if_not_exists creates", expr: "SET c = if_not_exists(c, :z)", values: av{":z": n("0")}, want: map[string]any{"c": 0.0}},
		{name: "SET nested map", expr: "SET m.y = :v", values: av{":v": s("2")}, want: map[string]any{"m": map[string]any{"x": "1", "y": "2"}}},
		{name: "SET list_append", expr: "SET l = list_append(l, :v)", values: av{":v": &types.AttributeValueMemberL{Value: []types.AttributeValue{s("c")}}}, want: map[string]any{"l": []any{"a", "b", "c"}}},
		{name: "REMOVE top level", expr: "REMOVE n, #t", names: map[string]string{"#t": "tags"}, gone: []string{"n", "tags"}},
		{name: "REMOVE list element", expr: "REMOVE l[0]", want: map[string]any{"l": []any{"b"}}},
		{name: "ADD number", expr: "ADD n :d", values: av{":d": n("-3")}, want: map[string]any{"n": 7.0}},
		{name: "ADD number to absent", expr: "ADD fresh :d", values: av{":d": n("2")}, want: map[string]any{"fresh": 2.0}},
		{name: "ADD to set", expr: "ADD tags :v", values: av{":v": ss("b", "c")}, want: map[string]any{"tags": []string{"a", "b", "c"}}},
		{name: "DELETE from set", expr: "DELETE tags :v", values: av{":v": ss("a")}, want: map[string]any{"tags": []string{"b"}}},
		{name: "DELETE empties set: attribute disappears", expr: "DELETE tags :v", values: av{":v": ss("a", "b")}, gone: []string{"tags"}},
		{name: "all four clauses", expr: "SET a = :a REMOVE n ADD c :one DELETE tags :v", values: av{":a": s("x"), ":one": n("1"), ":v": ss("a")},
			want: map[string]any{"a": "x", "c": 1.0, "tags": []string{"b"}}, gone: []string{"n"}},
		{name: "ADD string refused", expr: "ADD keep2 :v", values: av{":v": s("x")}, err: "Incorrect operand type"},
		{name: "arithmetic on string refused", expr: "SET keep = keep + :d", values: av{":d": n("1")}, err: "incorrect data type"},
		{name: "key attribute refused", expr: "SET sk = :v", values: av{":v": s("x")}, err: "Cannot update attribute sk. This attribute is part of the key"},
		{name: "overlapping paths", expr: "SET m = :v, m.x = :v", values: av{":v": s("x")}, err: "Two document paths overlap"},
		{name: "reserved word", expr: "SET status = :v", values: av{":v": s("x")}, err: "reserved keyword; reserved keyword: status"},
		{name: "undefined value", expr: "SET a = :nope", err: "An expression attribute value used in expression is not defined; attribute value: :nope"},
		{name: "unused value", expr: "SET a = :a", values: av{":a": s("x"), ":b": s("y")}, err: "Value provided in ExpressionAttributeValues unused in expressions: keys: {:b}"},
		{name: "syntax", expr: "SET a = = :a", values: av{":a": s("x")}, err: "Invalid UpdateExpression: Syntax error"},
	}
	ctx := context.Background()
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			it := av{}
			for k, v := range base {
				it[k] = v
			}
			it["sk"] = s(fmt.Sprint(i))
			e.put(t, "upd", it)
			key := av{"pk": s("p"), "sk": s(fmt.Sprint(i))}
			_, err := e.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String("upd"), Key: key, UpdateExpression: aws.String(tc.expr),
				ExpressionAttributeNames: tc.names, ExpressionAttributeValues: tc.values})
			if tc.err != "" {
				wantErr(t, err, "ValidationException", tc.err)
				if got := plain(t, e.get(t, "upd", key)); got["n"] != 10.0 {
					t.Fatalf("failed update changed the item: %v", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := plain(t, e.get(t, "upd", key))
			for k, want := range tc.want {
				g := got[k]
				if set, ok := g.([]string); ok { // sets come back unordered
					sort.Strings(set)
				}
				if !reflect.DeepEqual(g, want) {
					t.Errorf("%s = %#v, want %#v", k, g, want)
				}
			}
			for _, k := range tc.gone {
				if _, ok := got[k]; ok {
					t.Errorf("%s still present: %v", k, got[k])
				}
			}
			if got["keep"] != "k" {
				t.Errorf("untouched attribute changed: %v", got["keep"])
			}
		})
	}
}

func TestConditionExpressions(t *testing.T) {
	e := start(t, localdb.Options{})
	e.createTable(t, "cond", "S")
	e.put(t, "cond", av{"pk": s("p"), "sk": s("k"), "ver": n("3"), "name": s("Alice"), "tags": ss("a", "b"), "bin": b("\x00\x01")})
	cases := []struct {
		expr   string
		names  map[string]string
		values av
		want   bool
	}{
		{"attribute_exists(pk)", nil, nil, true},
		{"attribute_not_exists(pk)", nil, nil, false},
		{"attribute_not_exists(nope)", nil, nil, true},
		{"ver = :v", nil, av{":v": n("3.0")}, true},
		{"ver <> :v", nil, av{":v": n("3")}, false},
		{"ver < :v", nil, av{":v": n("10")}, true}, // numeric, not text, order
		{"ver BETWEEN :a AND :b", nil, av{":a": n("-1"), ":b": n("3")}, true},
		{"#n IN (:a, :b)", map[string]string{"#n": "name"}, av{":a": s("Bob"), ":b": s("Alice")}, true},
		{"begins_with(#n, :p)", map[string]string{"#n": "name"}, av{":p": s("Al")}, true},
		{"contains(tags, :t)", nil, av{":t": s("b")}, true},
		{"contains(#n, :t)", map[string]string{"#n": "name"}, av{":t": s("lic")}, true},
		{"size(tags) = :two", nil, av{":two": n("2")}, true},
		{"attribute_type(bin, :b)", nil, av{":b": s("B")}, true},
		{"NOT (ver = :v OR ver = :w) AND attribute_exists(tags)", nil, av{":v": n("1"), ":w": n("2")}, true},
		{"ver > :s", nil, av{":s": s("1")}, false}, // different types never compare
		{"absent = :v", nil, av{":v": s("x")}, false},
	}
	for _, tc := range cases {
		t.Run(tc.expr, func(t *testing.T) {
			_, err := e.db.UpdateItem(context.Background(), &dynamodb.UpdateItemInput{TableName: aws.String("cond"),
				Key: av{"pk": s("p"), "sk": s("k")}, UpdateExpression: aws.String("SET touched = :true"),
				ConditionExpression: aws.String(tc.expr), ExpressionAttributeNames: tc.names,
				ExpressionAttributeValues: merge(tc.values, av{":true": &types.AttributeValueMemberBOOL{Value: true}})})
			if tc.want && err != nil {
				t.Fatalf("condition should hold: %v", err)
			}
			if !tc.want {
				wantErr(t, err, "ConditionalCheckFailedException", "The conditional request failed")
			}
		})
	}
}

func merge(a, b av) av {
	out := av{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

// TestKeyOrder checks key conditions and sort order for S, N and B keys.
func TestKeyOrder(t *testing.T) {
	e := start(t, localdb.Options{})
	ctx := context.Background()
	e.createTable(t, "sks", "S")
	e.createTable(t, "skn", "N")
	e.createTable(t, "skb", "B")
	for _, v := range []string{"a", "B", "ab", "abc", "b", "é", "Z", "a\x00"} {
		e.put(t, "sks", av{"pk": s("p"), "sk": s(v)})
	}
	for _, v := range []string{"-10", "-2.5", "0", "2", "10", "100", "1e3", "0.001"} {
		e.put(t, "skn", av{"pk": s("p"), "sk": n(v)})
	}
	for _, v := range []string{"\x00", "\x01\xff", "\xff", "\x7f", "\x80"} {
		e.put(t, "skb", av{"pk": s("p"), "sk": b(v)})
	}
	e.put(t, "sks", av{"pk": s("other"), "sk": s("a")})
	type q struct {
		table, cond string
		values      av
		backward    bool
		want        []string
	}
	cases := []q{
		{"sks", "pk = :p", nil, false, []string{"B", "Z", "a", "a\x00", "ab", "abc", "b", "é"}},
		{"sks", "pk = :p", nil, true, []string{"é", "b", "abc", "ab", "a\x00", "a", "Z", "B"}},
		{"sks", "pk = :p AND begins_with(sk, :x)", av{":x": s("a")}, false, []string{"a", "a\x00", "ab", "abc"}},
		{"sks", "pk = :p AND begins_with(sk, :x)", av{":x": s("ab")}, true, []string{"abc", "ab"}},
		{"sks", "pk = :p AND sk BETWEEN :lo AND :hi", av{":lo": s("Z"), ":hi": s("ab")}, false, []string{"Z", "a", "a\x00", "ab"}},
		{"sks", "pk = :p AND sk > :x", av{":x": s("b")}, false, []string{"é"}},
		{"sks", "pk = :p AND sk < :x", av{":x": s("a")}, true, []string{"Z", "B"}},
		{"skn", "pk = :p", nil, false, []string{"-10", "-2.5", "0", "0.001", "2", "10", "100", "1000"}},
		{"skn", "pk = :p AND sk BETWEEN :lo AND :hi", av{":lo": n("-3"), ":hi": n("10")}, false, []string{"-2.5", "0", "0.001", "2", "10"}},
		{"skn", "pk = :p AND sk >= :x", av{":x": n("10.0")}, true, []string{"1000", "100", "10"}},
		{"skb", "pk = :p", nil, false, []string{"\x00", "\x01\xff", "\x7f", "\x80", "\xff"}},
		{"skb", "pk = :p AND begins_with(sk, :x)", av{":x": b("\x01")}, false, []string{"\x01\xff"}},
	}
	for _, tc := range cases {
		t.Run(tc.table+" "+tc.cond, func(t *testing.T) {
			out, err := e.db.Query(ctx, &dynamodb.QueryInput{TableName: aws.String(tc.table), KeyConditionExpression: aws.String(tc.cond),
				ExpressionAttributeValues: merge(tc.values, av{":p": s("p")}), ScanIndexForward: aws.Bool(!tc.backward)})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, it := range out.Items {
				switch v := it["sk"].(type) {
				case *types.AttributeValueMemberS:
					got = append(got, v.Value)
				case *types.AttributeValueMemberN:
					got = append(got, v.Value)
				case *types.AttributeValueMemberB:
					got = append(got, string(v.Value))
				}
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
			if int(out.ScannedCount) != len(tc.want) {
				t.Fatalf("ScannedCount %d, want %d: a key condition reads only its range", out.ScannedCount, len(tc.want))
			}
		})
	}
	// Key condition errors.
	for _, tc := range []struct{ cond, msg string }{
		{"sk = :p", "Query condition missed key schema element: pk"},
		{"pk = :p OR sk = :p", "Invalid operator used in KeyConditionExpression: OR"},
		{"pk = :p AND sk BETWEEN :hi AND :lo", "The BETWEEN operator requires upper bound to be greater than or equal to lower bound"},
		{"pk = :p AND attr2 = :p", "Query condition missed key schema element"},
	} {
		_, err := e.db.Query(ctx, &dynamodb.QueryInput{TableName: aws.String("sks"), KeyConditionExpression: aws.String(tc.cond),
			ExpressionAttributeValues: av{":p": s("p"), ":hi": s("z"), ":lo": s("a")}})
		wantErr(t, err, "ValidationException", tc.msg)
	}
}

func gsi(name, pk, sk, projection string, include ...string) types.GlobalSecondaryIndex {
	g := types.GlobalSecondaryIndex{IndexName: aws.String(name),
		KeySchema:  []types.KeySchemaElement{{AttributeName: aws.String(pk), KeyType: types.KeyTypeHash}, {AttributeName: aws.String(sk), KeyType: types.KeyTypeRange}},
		Projection: &types.Projection{ProjectionType: types.ProjectionType(projection)}}
	if len(include) > 0 {
		g.Projection.NonKeyAttributes = include
	}
	return g
}

func TestGSIProjectionsAndSparseIndexes(t *testing.T) {
	e := start(t, localdb.Options{})
	ctx := context.Background()
	e.createTable(t, "gsis", "S", gsi("all", "gpk", "gsk", "ALL"), gsi("keys", "gpk", "gsk", "KEYS_ONLY"), gsi("inc", "gpk", "gsk", "INCLUDE", "a"))
	for i := range 5 {
		it := av{"pk": s(fmt.Sprint("u", i)), "sk": s("x"), "a": s("A"), "b": s("B")}
		if i%2 == 0 { // only even items are indexed: a sparse index
			it["gpk"] = s("G")
			it["gsk"] = s(fmt.Sprint(9 - i))
		}
		e.put(t, "gsis", it)
	}
	cases := []struct {
		index string
		attrs []string
	}{
		{"all", []string{"a", "b", "gpk", "gsk", "pk", "sk"}},
		{"keys", []string{"gpk", "gsk", "pk", "sk"}},
		{"inc", []string{"a", "gpk", "gsk", "pk", "sk"}},
	}
	for _, tc := range cases {
		t.Run(tc.index, func(t *testing.T) {
			out, err := e.db.Query(ctx, &dynamodb.QueryInput{TableName: aws.String("gsis"), IndexName: aws.String(tc.index),
				KeyConditionExpression: aws.String("gpk = :g"), ExpressionAttributeValues: av{":g": s("G")}})
			if err != nil {
				t.Fatal(err)
			}
			if out.Count != 3 || out.ScannedCount != 3 {
				t.Fatalf("count %d scanned %d, want 3 and 3 (sparse: odd items are not indexed)", out.Count, out.ScannedCount)
			}
			if pk := out.Items[0]["pk"].(*types.AttributeValueMemberS).Value; pk != "u4" {
				t.Fatalf("first item %s, want u4 (gsk 5 sorts first)", pk)
			}
			var names []string
			for k := range out.Items[0] {
				names = append(names, k)
			}
			sort.Strings(names)
			if !reflect.DeepEqual(names, tc.attrs) {
				t.Fatalf("projected %v, want %v", names, tc.attrs)
			}
		})
	}
	// Removing the index key takes the item out of the index; changing it moves it.
	if _, err := e.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String("gsis"), Key: av{"pk": s("u0"), "sk": s("x")}, UpdateExpression: aws.String("REMOVE gpk")}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String("gsis"), Key: av{"pk": s("u1"), "sk": s("x")}, UpdateExpression: aws.String("SET gpk = :g, gsk = :k"),
		ExpressionAttributeValues: av{":g": s("G"), ":k": s("0")}}); err != nil {
		t.Fatal(err)
	}
	out, err := e.db.Query(ctx, &dynamodb.QueryInput{TableName: aws.String("gsis"), IndexName: aws.String("keys"),
		KeyConditionExpression: aws.String("gpk = :g"), ExpressionAttributeValues: av{":g": s("G")}})
	if err != nil {
		t.Fatal(err)
	}
	var pks []string
	for _, it := range out.Items {
		pks = append(pks, it["pk"].(*types.AttributeValueMemberS).Value)
	}
	if !reflect.DeepEqual(pks, []string{"u1", "u4", "u2"}) {
		t.Fatalf("index holds %v, want [u1 u4 u2]", pks)
	}
	_, err = e.db.Query(ctx, &dynamodb.QueryInput{TableName: aws.String("gsis"), IndexName: aws.String("all"), ConsistentRead: aws.Bool(true),
		KeyConditionExpression: aws.String("gpk = :g"), ExpressionAttributeValues: av{":g": s("G")}})
	wantErr(t, err, "ValidationException", "Consistent reads are not supported on global secondary indexes")
	_, err = e.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("gsis"), Item: av{"pk": s("z"), "sk": s("z"), "gpk": n("1")}})
	wantErr(t, err, "ValidationException", "Type mismatch for Index Key gpk Expected: S Actual: N IndexName: all")
}

// TestPaging covers Limit, ExclusiveStartKey, LastEvaluatedKey and the 1 MB page.
func TestPaging(t *testing.T) {
	e := start(t, localdb.Options{})
	ctx := context.Background()
	e.createTable(t, "pages", "S")
	big := strings.Repeat("x", 100*1024)
	for i := range 25 {
		e.put(t, "pages", av{"pk": s("p"), "sk": s(fmt.Sprintf("%03d", i)), "data": s(big)})
	}
	for _, tc := range []struct {
		name      string
		limit     int32
		wantPages []int
	}{
		{"limit 10", 10, []int{10, 10, 5}},
		{"limit 5 (last page full: DynamoDB still returns a LastEvaluatedKey, then an empty page)", 5, []int{5, 5, 5, 5, 5, 0}},
		{"1 MB page", 0, []int{11, 11, 3}}, // 100 KB items: the page stops once 1 MB is read
	} {
		t.Run(tc.name, func(t *testing.T) {
			var pages []int
			var seen []string
			var start av
			for {
				in := &dynamodb.QueryInput{TableName: aws.String("pages"), KeyConditionExpression: aws.String("pk = :p"),
					ExpressionAttributeValues: av{":p": s("p")}, ExclusiveStartKey: start, ProjectionExpression: aws.String("sk")}
				if tc.limit > 0 {
					in.Limit = aws.Int32(tc.limit)
				}
				out, err := e.db.Query(ctx, in)
				if err != nil {
					t.Fatal(err)
				}
				pages = append(pages, len(out.Items))
				for _, it := range out.Items {
					seen = append(seen, it["sk"].(*types.AttributeValueMemberS).Value)
				}
				if out.LastEvaluatedKey == nil {
					break
				}
				start = out.LastEvaluatedKey
				if len(pages) > 30 {
					t.Fatal("paging does not end")
				}
			}
			if !reflect.DeepEqual(pages, tc.wantPages) {
				t.Fatalf("pages %v, want %v", pages, tc.wantPages)
			}
			if len(seen) != 25 || !sort.StringsAreSorted(seen) || seen[0] != "000" {
				t.Fatalf("paging returned %d items %v", len(seen), seen)
			}
		})
	}
}

// TestScannedCountUnderFilter is what the store's "items read" metric relies
// on: ScannedCount counts every item the key condition read, Count only the
// ones the filter kept.
func TestScannedCountUnderFilter(t *testing.T) {
	e := start(t, localdb.Options{})
	ctx := context.Background()
	e.createTable(t, "filt", "S")
	for i := range 10 {
		e.put(t, "filt", av{"pk": s("p"), "sk": s(fmt.Sprint(i)), "even": &types.AttributeValueMemberBOOL{Value: i%2 == 0}})
	}
	e.put(t, "filt", av{"pk": s("q"), "sk": s("0"), "even": &types.AttributeValueMemberBOOL{Value: true}})
	cases := []struct {
		name           string
		filter         string
		limit          int32
		count, scanned int32
		sel            types.Select
	}{
		{"no filter", "", 0, 10, 10, ""},
		{"filter keeps half", "even = :t", 0, 5, 10, ""},
		{"filter keeps none", "attribute_exists(nope)", 0, 0, 10, ""},
		{"limit applies before the filter", "even = :t", 4, 2, 4, ""},
		{"count only", "even = :t", 0, 5, 10, types.SelectCount},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := &dynamodb.QueryInput{TableName: aws.String("filt"), KeyConditionExpression: aws.String("pk = :p"), ExpressionAttributeValues: av{":p": s("p")}, Select: tc.sel}
			if tc.filter != "" {
				in.FilterExpression = aws.String(tc.filter)
				if strings.Contains(tc.filter, ":t") {
					in.ExpressionAttributeValues[":t"] = &types.AttributeValueMemberBOOL{Value: true}
				}
			}
			if tc.limit > 0 {
				in.Limit = aws.Int32(tc.limit)
			}
			out, err := e.db.Query(ctx, in)
			if err != nil {
				t.Fatal(err)
			}
			if out.Count != tc.count || out.ScannedCount != tc.scanned {
				t.Fatalf("Count %d ScannedCount %d, want %d and %d", out.Count, out.ScannedCount, tc.count, tc.scanned)
			}
			if tc.sel != types.SelectCount && len(out.Items) != int(tc.count) {
				t.Fatalf("%d items for Count %d", len(out.Items), out.Count)
			}
		})
	}
	sc, err := e.db.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String("filt"), FilterExpression: aws.String("even = :t"), ExpressionAttributeValues: av{":t": &types.AttributeValueMemberBOOL{Value: true}}})
	if err != nil || sc.Count != 6 || sc.ScannedCount != 11 {
		t.Fatalf("scan: count %d scanned %d err %v, want 6 and 11", sc.Count, sc.ScannedCount, err)
	}
}

func TestReturnValues(t *testing.T) {
	e := start(t, localdb.Options{})
	ctx := context.Background()
	e.createTable(t, "rvals", "S")
	key := av{"pk": s("p"), "sk": s("k")}
	e.put(t, "rvals", av{"pk": s("p"), "sk": s("k"), "a": s("1"), "b": s("2")})
	cases := []struct {
		rv   types.ReturnValue
		want map[string]any
	}{
		{types.ReturnValueNone, nil},
		{types.ReturnValueAllOld, map[string]any{"pk": "p", "sk": "k", "a": "1", "b": "2"}},
		{types.ReturnValueUpdatedOld, map[string]any{"a": "1"}},
		{types.ReturnValueUpdatedNew, map[string]any{"a": "1!"}},
		{types.ReturnValueAllNew, map[string]any{"pk": "p", "sk": "k", "a": "1!", "b": "2"}},
	}
	for _, tc := range cases {
		t.Run(string(tc.rv), func(t *testing.T) {
			e.put(t, "rvals", av{"pk": s("p"), "sk": s("k"), "a": s("1"), "b": s("2")})
			out, err := e.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String("rvals"), Key: key, UpdateExpression: aws.String("SET a = :v"),
				ExpressionAttributeValues: av{":v": s("1!")}, ReturnValues: tc.rv})
			if err != nil {
				t.Fatal(err)
			}
			got := plain(t, out.Attributes)
			if len(got) == 0 {
				got = nil
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
	out, err := e.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String("rvals"), Key: key, ReturnValues: types.ReturnValueAllOld})
	if err != nil || plain(t, out.Attributes)["a"] != "1!" {
		t.Fatalf("delete ALL_OLD: %v %v", out, err)
	}
	_, err = e.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("rvals"), Item: key, ReturnValues: types.ReturnValueAllNew})
	wantErr(t, err, "ValidationException", "ReturnValues can only be ALL_OLD or NONE")
	// The old item comes back with a failed condition when asked for.
	e.put(t, "rvals", av{"pk": s("p"), "sk": s("k"), "a": s("old")})
	_, err = e.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("rvals"), Item: key, ConditionExpression: aws.String("attribute_not_exists(pk)"),
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld})
	var ccf *types.ConditionalCheckFailedException
	if !asErr(err, &ccf) || plain(t, ccf.Item)["a"] != "old" {
		t.Fatalf("condition failure: %v", err)
	}
}

func TestItemSizeLimit(t *testing.T) {
	e := start(t, localdb.Options{})
	ctx := context.Background()
	e.createTable(t, "sizes", "S")
	limit := 400 * 1024
	// name "d" (1 byte) + value; keys "pk"+"p" (3) and "sk"+"k" (3).
	fits := strings.Repeat("x", limit-1-6)
	if _, err := e.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("sizes"), Item: av{"pk": s("p"), "sk": s("k"), "d": s(fits)}}); err != nil {
		t.Fatalf("an item of exactly 400 KB is allowed: %v", err)
	}
	_, err := e.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("sizes"), Item: av{"pk": s("p"), "sk": s("k2"), "d": s(fits + "xx")}})
	wantErr(t, err, "ValidationException", "Item size has exceeded the maximum allowed size")
	_, err = e.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String("sizes"), Key: av{"pk": s("p"), "sk": s("k")}, UpdateExpression: aws.String("SET e = :v"),
		ExpressionAttributeValues: av{":v": s("more")}})
	wantErr(t, err, "ValidationException", "Item size to update has exceeded the maximum allowed size")
	_, err = e.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Put: &types.Put{TableName: aws.String("sizes"), Item: av{"pk": s("p"), "sk": s("k3"), "d": s(fits + "xx")}}}}})
	wantErr(t, err, "ValidationException", "Item size has exceeded the maximum allowed size")
}

func TestBatchLimits(t *testing.T) {
	e := start(t, localdb.Options{})
	ctx := context.Background()
	e.createTable(t, "batch", "S")
	puts := func(k int) []types.WriteRequest {
		var w []types.WriteRequest
		for i := range k {
			w = append(w, types.WriteRequest{PutRequest: &types.PutRequest{Item: av{"pk": s("p"), "sk": s(fmt.Sprint(i))}}})
		}
		return w
	}
	_, err := e.db.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{"batch": puts(26)}})
	wantErr(t, err, "ValidationException", "Member must have length less than or equal to 25")
	out, err := e.db.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{"batch": puts(25)}})
	if err != nil || out.UnprocessedItems == nil || len(out.UnprocessedItems) != 0 {
		t.Fatalf("25 puts: %+v %v (UnprocessedItems must be present and empty)", out, err)
	}
	dup := append(puts(2), puts(1)...)
	_, err = e.db.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{"batch": dup}})
	wantErr(t, err, "ValidationException", "Provided list of item keys contains duplicates")
	keys := func(k int) []av {
		var out []av
		for i := range k {
			out = append(out, av{"pk": s("p"), "sk": s(fmt.Sprint(i))})
		}
		return out
	}
	_, err = e.db.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: map[string]types.KeysAndAttributes{"batch": {Keys: keys(101)}}})
	wantErr(t, err, "ValidationException", "Too many items requested for the BatchGetItem call")
	got, err := e.db.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: map[string]types.KeysAndAttributes{"batch": {Keys: keys(100)}}})
	if err != nil || len(got.Responses["batch"]) != 25 || len(got.UnprocessedKeys) != 0 {
		t.Fatalf("100 keys: %d items, %d unprocessed, %v", len(got.Responses["batch"]), len(got.UnprocessedKeys), err)
	}
}

// TestBatchGetUnprocessed: past 16 MB of response, keys are reported
// unprocessed, never dropped.
func TestBatchGetUnprocessed(t *testing.T) {
	e := start(t, localdb.Options{})
	ctx := context.Background()
	e.createTable(t, "bget", "S")
	big := strings.Repeat("y", 390*1024)
	var keys []av
	for i := range 50 {
		e.put(t, "bget", av{"pk": s("p"), "sk": s(fmt.Sprint(i)), "d": s(big)})
		keys = append(keys, av{"pk": s("p"), "sk": s(fmt.Sprint(i))})
	}
	got := 0
	req := map[string]types.KeysAndAttributes{"bget": {Keys: keys}}
	for round := 0; len(req) > 0; round++ {
		out, err := e.db.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: req})
		if err != nil {
			t.Fatal(err)
		}
		if round == 0 && len(out.UnprocessedKeys) == 0 {
			t.Fatal("19 MB of items fit in one response")
		}
		got += len(out.Responses["bget"])
		req = out.UnprocessedKeys
	}
	if got != 50 {
		t.Fatalf("read %d items, want 50", got)
	}
}

func TestErrors(t *testing.T) {
	e := start(t, localdb.Options{})
	ctx := context.Background()
	e.createTable(t, "errs", "S")
	cases := []struct {
		name string
		call func() error
		code string
		msg  string
	}{
		{"missing table", func() error {
			_, err := e.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("nope"), Key: av{"pk": s("a")}})
			return err
		}, "ResourceNotFoundException", "Requested resource not found"},
		{"describe missing table", func() error {
			_, err := e.db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String("nope")})
			return err
		}, "ResourceNotFoundException", "Table: nope not found"},
		{"table exists", func() error {
			_, err := e.db.CreateTable(ctx, store.CreateTableInput("errs"))
			return err
		}, "ResourceInUseException", "Table already exists: er"},
		{"short table name", func() error {
			_, err := e.db.CreateTable(ctx, store.CreateTableInput("ab"))
			return err
		}, "ValidationException", "have length between 3 and 255"},
		{"key mismatch", func() error {
			_, err := e.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("errs"), Key: av{"pk": s("a")}})
			return err
		}, "ValidationException", "The provided key element does not match the schema"},
		{"missing key in item", func() error {
			_, err := e.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("errs"), Item: av{"pk": s("a")}})
			return err
		}, "ValidationException", "One or more parameter values were invalid: Missing the key sk in the item"},
		{"key type", func() error {
			_, err := e.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("errs"), Item: av{"pk": s("a"), "sk": n("1")}})
			return err
		}, "ValidationException", "Type mismatch for key sk expected: S actual: N"},
		{"empty key", func() error {
			_, err := e.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("errs"), Item: av{"pk": s(""), "sk": s("x")}})
			return err
		}, "ValidationException", "The AttributeValue for a key attribute cannot contain an empty string value. Key: pk"},
		{"empty set", func() error {
			_, err := e.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("errs"), Item: av{"pk": s("a"), "sk": s("x"), "t": ss()}})
			return err
		}, "ValidationException", "may not be empty"},
		{"bad number", func() error {
			_, err := e.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("errs"), Item: av{"pk": s("a"), "sk": s("x"), "t": n("1x")}})
			return err
		}, "ValidationException", "cannot be converted into a number"},
		{"39 digits", func() error {
			_, err := e.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("errs"), Item: av{"pk": s("a"), "sk": s("x"), "t": n(strings.Repeat("1", 39))}})
			return err
		}, "ValidationException", "more than 38 significant digits"},
		{"condition failed", func() error {
			_, err := e.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String("errs"), Key: av{"pk": s("a"), "sk": s("x")}, ConditionExpression: aws.String("attribute_exists(pk)")})
			return err
		}, "ConditionalCheckFailedException", "The conditional request failed"},
		{"unknown index", func() error {
			_, err := e.db.Query(ctx, &dynamodb.QueryInput{TableName: aws.String("errs"), IndexName: aws.String("nope"), KeyConditionExpression: aws.String("pk = :p"), ExpressionAttributeValues: av{":p": s("a")}})
			return err
		}, "ValidationException", "The table does not have the specified index: nope"},
		{"limit 0", func() error {
			_, err := e.db.Query(ctx, &dynamodb.QueryInput{TableName: aws.String("errs"), Limit: aws.Int32(0), KeyConditionExpression: aws.String("pk = :p"), ExpressionAttributeValues: av{":p": s("a")}})
			return err
		}, "ValidationException", "Member must have value greater than or equal to 1"},
		{"undefined name", func() error {
			_, err := e.db.Query(ctx, &dynamodb.QueryInput{TableName: aws.String("errs"), KeyConditionExpression: aws.String("#x = :p"), ExpressionAttributeValues: av{":p": s("a")}})
			return err
		}, "ValidationException", "An expression attribute name used in the document path is not defined; attribute name: #x"},
		{"names without expression", func() error {
			_, err := e.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("errs"), Item: av{"pk": s("a"), "sk": s("x")}, ExpressionAttributeNames: map[string]string{"#a": "a"}})
			return err
		}, "ValidationException", "ExpressionAttributeNames can only be specified when using expressions"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { wantErr(t, tc.call(), tc.code, tc.msg) })
	}
}
