package localdb

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
)

// FuzzDecodeItem: the item decoder never panics, and what it accepts
// re-encodes to JSON that decodes to the same item and encodes to the same
// bytes again.
func FuzzDecodeItem(f *testing.F) {
	for _, s := range []string{
		`{"pk":{"S":"a"},"n":{"N":"-1.50e2"},"b":{"B":"AAE="},"l":{"L":[{"BOOL":true},{"NULL":true}]},"m":{"M":{"x":{"SS":["a","b"]}}}}`,
		`{"ns":{"NS":["1","2"]},"bs":{"BS":["AA=="]},"e":{"S":"\u00e9\"\\"}}`,
		`{}`, `{"a":{}}`, `{"a":{"S":"x","N":"1"}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if !json.Valid(data) {
			return
		}
		var it item
		if err := json.Unmarshal(data, &it); err != nil {
			return
		}
		out := appendItem(nil, it)
		var again item
		if err := json.Unmarshal(out, &again); err != nil {
			t.Fatalf("re-decode %s: %v", out, err)
		}
		if !equal(value{k: kM, c: it}, value{k: kM, c: again}) {
			t.Fatalf("round trip changed the item: %s", out)
		}
		// Stored items are kept encoded and decoded on use: the encoding
		// of a decoded stored item is the stored bytes.
		if again2 := appendItem(nil, again); !bytes.Equal(again2, out) {
			t.Fatalf("re-encoding changed the bytes:\n%s\n%s", out, again2)
		}
	})
}

// FuzzExpressions: the expression parsers never panic, and a parsed
// condition evaluates without panicking.
func FuzzExpressions(f *testing.F) {
	for _, s := range []string{
		"attribute_not_exists(pk) OR (#s = :v AND size(l[0].x) > :n)",
		"SET a = if_not_exists(a, :v) + :n, l = list_append(l, :l) REMOVE b[1] ADD c :n DELETE d :s",
		"a.b[2], #s", "NOT begins_with(a, :v) AND c IN (:v, :n) AND d BETWEEN :n AND :n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		names := map[string]string{"#s": "status"}
		values := map[string]value{":v": sv("x"), ":n": {k: kN, s: "1"}, ":l": {k: kL, c: []value{sv("y")}}, ":s": {k: kSS, c: []string{"x"}}}
		it := item{"a": sv("xa"), "l": {k: kL, c: []value{{k: kM, c: map[string]value{"x": sv("q")}}}}, "c": {k: kN, s: "1"}}
		if c, err := parseCondition(src, newParams(names, values)); err == nil {
			_, _ = evalCond(it, c)
		}
		if acts, err := parseUpdate(src, newParams(names, values)); err == nil {
			_, _ = applyUpdate(it, acts)
		}
		if ps, err := parseProjection(src, newParams(names, values)); err == nil {
			_ = project(it, ps)
		}
	})
}

// FuzzDecodeGetItem: the direct GetItem decoder gives the same request, or
// the same error, as encoding/json does.
func FuzzDecodeGetItem(f *testing.F) {
	for _, s := range []string{
		`{"ConsistentRead":true,"Key":{"pk":{"S":"t#default"},"sk":{"S":"user#1"}},"TableName":"scimless"}`,
		`{"TableName":"t","Key":{"pk":{"S":"a"}},"ProjectionExpression":"#a, b","ExpressionAttributeNames":{"#a":"a"}}`,
		`{"TableName":"t","Key":{"pk":{"N":"1e3"}},"AttributesToGet":["a","b"]}`,
		`{"tablename":"t","Key":{"pk":{"S":"a"}}}`,
		`{"TableName":"t","Key":{"pk":{}}}`,
		`{"TableName":null,"Key":{"pk":{"S":"a"}}}`,
		`{"TableName":"t","ExpressionAttributeNames":{"#a":"a"},"ExpressionAttributeNames":{"#b":"b"}}`,
		`{"TableName":"t\u00e9","Key":{"pk":{"S":"\ud800"}}}`,
		`{}`, ``, ` `, `[]`, `{"TableName":5}`, `{"ConsistentRead":"true"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var fast, slow getItemRequest
		errFast := decodeGetItem(data, &fast)
		errSlow := decode(data, &slow)
		if (errFast == nil) != (errSlow == nil) || errFast != nil && errFast.Error() != errSlow.Error() {
			t.Fatalf("%s: error %v, encoding/json's %v", data, errFast, errSlow)
		}
		if errFast != nil {
			return
		}
		if fast.TableName != slow.TableName || fast.ConsistentRead != slow.ConsistentRead ||
			!equal(value{k: kM, c: map[string]value(fast.Key)}, value{k: kM, c: map[string]value(slow.Key)}) ||
			(fast.Key == nil) != (slow.Key == nil) ||
			!reflect.DeepEqual(fast.projectionInput, slow.projectionInput) {
			t.Fatalf("%s: decoded %+v, encoding/json %+v", data, fast, slow)
		}
	})
}
