package localdb

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkHandler measures the engine alone (request decoding, the
// operation, response encoding; no SDK, no socket) at 1k and 100k items in
// one partition, to show the cost per operation does not grow with the
// table.
func BenchmarkHandler(b *testing.B) {
	for _, size := range []int{1000, 100000} {
		b.Run(fmt.Sprint("items=", size), func(b *testing.B) {
			e, err := Open(Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer e.Close()
			call := func(op, body string) *httptest.ResponseRecorder {
				r := httptest.NewRequest("POST", "/", bytes.NewReader([]byte(body)))
				r.Header.Set("X-Amz-Target", "DynamoDB_20120810."+op)
				w := httptest.NewRecorder()
				e.Handler().ServeHTTP(w, r)
				if w.Code != http.StatusOK {
					b.Fatalf("%s: %d %s", op, w.Code, w.Body)
				}
				return w
			}
			call("CreateTable", `{"TableName":"bench","AttributeDefinitions":[{"AttributeName":"pk","AttributeType":"S"},{"AttributeName":"sk","AttributeType":"S"},{"AttributeName":"g","AttributeType":"S"}],
				"KeySchema":[{"AttributeName":"pk","KeyType":"HASH"},{"AttributeName":"sk","KeyType":"RANGE"}],
				"GlobalSecondaryIndexes":[{"IndexName":"gsi","KeySchema":[{"AttributeName":"g","KeyType":"HASH"},{"AttributeName":"sk","KeyType":"RANGE"}],"Projection":{"ProjectionType":"ALL"}}]}`)
			itemJSON := func(i int) string {
				return fmt.Sprintf(`{"pk":{"S":"T#bench"},"sk":{"S":"U#%08d"},"g":{"S":"X#%08d"},"ver":{"N":"1"},"userName":{"S":"user%08d@example.com"},"doc":{"S":"{\"name\":{\"givenName\":\"G\",\"familyName\":\"F\"},\"active\":true,\"emails\":[{\"value\":\"user%08d@example.com\"}]}"}}`, i, i, i, i)
			}
			e.mu.Lock()
			t := e.tables["bench"]
			for i := range size {
				var it item
				if err := it.UnmarshalJSON([]byte(itemJSON(i))); err != nil {
					b.Fatal(err)
				}
				t.set(it["pk"], it["sk"], it)
			}
			e.mu.Unlock()
			ops := []struct{ op, body string }{
				{"GetItem", `{"TableName":"bench","Key":{"pk":{"S":"T#bench"},"sk":{"S":"U#%08d"}},"ConsistentRead":true}`},
				{"Query", `{"TableName":"bench","KeyConditionExpression":"pk = :p AND begins_with(sk, :s)","ExpressionAttributeValues":{":p":{"S":"T#bench"},":s":{"S":"U#%08d"}}}`},
				{"PutItem", `{"TableName":"bench","Item":ITEM}`},
				{"TransactWriteItems", `{"TransactItems":[{"Update":{"TableName":"bench","Key":{"pk":{"S":"T#bench"},"sk":{"S":"U#%08d"}},"UpdateExpression":"ADD ver :one","ConditionExpression":"attribute_exists(pk)","ExpressionAttributeValues":{":one":{"N":"1"}}}},` +
					`{"Put":{"TableName":"bench","Item":NEWITEM}},{"ConditionCheck":{"TableName":"bench","Key":{"pk":{"S":"T#bench"},"sk":{"S":"U#00000000"}},"ConditionExpression":"attribute_exists(pk)"}}]}`},
			}
			for _, op := range ops {
				b.Run(op.op, func(b *testing.B) {
					bodies := make([]string, 1024)
					for j := range bodies {
						k := (j*7919 + 1) % size
						if k == 0 {
							k = 1
						}
						s := bytes.ReplaceAll([]byte(op.body), []byte("NEWITEM"), []byte(itemJSON(size+k)))
						s = bytes.ReplaceAll(s, []byte("ITEM"), []byte(itemJSON(k)))
						if bytes.Contains(s, []byte("%08d")) {
							s = []byte(fmt.Sprintf(string(s), k))
						}
						bodies[j] = string(s)
					}
					b.ReportAllocs()
					b.ResetTimer()
					for i := range b.N {
						call(op.op, bodies[i%len(bodies)])
					}
				})
			}
		})
	}
}
