package localdb

import (
	"fmt"
	"testing"
	"time"
)

// TestCostIsLogarithmic counts key comparisons (the unit of work of every
// tree operation) for GetItem, PutItem, a 1-item Query and a transaction's
// writes at 1k and 100k items: growing the table 100-fold may add only a
// few comparisons (log n), never a factor of the size.
func TestCostIsLogarithmic(t *testing.T) {
	if testing.Short() {
		t.Skip("loads 100k items")
	}
	costs := map[int]map[string]int{}
	for _, size := range []int{1000, 100000} {
		var compares int
		counting := func(less func(a, b *entry) bool) func(a, b *entry) bool {
			return func(a, b *entry) bool { compares++; return less(a, b) }
		}
		e := &Engine{tables: map[string]*table{}, opts: Options{Now: time.Now, StreamRetention: 24 * time.Hour}, notify: make(chan struct{})}
		if _, err := e.createTableLocked([]byte(`{"TableName":"cost","AttributeDefinitions":[{"AttributeName":"pk","AttributeType":"S"},{"AttributeName":"sk","AttributeType":"S"},{"AttributeName":"g","AttributeType":"S"}],
			"KeySchema":[{"AttributeName":"pk","KeyType":"HASH"},{"AttributeName":"sk","KeyType":"RANGE"}],
			"GlobalSecondaryIndexes":[{"IndexName":"gsi","KeySchema":[{"AttributeName":"g","KeyType":"HASH"},{"AttributeName":"sk","KeyType":"RANGE"}],"Projection":{"ProjectionType":"ALL"}}]}`), time.Now()); err != nil {
			t.Fatal(err)
		}
		tb := e.tables["cost"]
		tb.tree = newTree(counting(lessTable))
		tb.indexes[0].tree = newTree(counting(lessIndex))
		mk := func(i int) item {
			return item{"pk": sv("T#t"), "sk": sv(fmt.Sprintf("U#%08d", i)), "g": sv(fmt.Sprintf("X#%08d", i%10))}
		}
		for i := range size {
			it := mk(i)
			tb.set(it["pk"], it["sk"], it)
		}
		c := map[string]int{}
		measure := func(name string, fn func()) {
			compares = 0
			fn()
			c[name] = compares
		}
		k := size / 2
		measure("GetItem", func() {
			if tb.get(sv("T#t"), sv(fmt.Sprintf("U#%08d", k))) == nil {
				t.Fatal("missing")
			}
		})
		measure("PutItem", func() { it := mk(k); tb.set(it["pk"], it["sk"], it) })
		measure("Query1", func() {
			n := 0
			walk(tb.tree, false, sv("T#t"), keyRange{lo: sv(fmt.Sprintf("U#%08d", k)), loIn: true, prefix: fmt.Sprintf("U#%08d", k), hasPrefix: true}, nil, true, func(*entry) bool { n++; return true })
			if n != 1 {
				t.Fatalf("query read %d", n)
			}
		})
		measure("Transaction3", func() {
			for j := range 3 {
				it := mk(k + j)
				tb.get(it["pk"], it["sk"])
				tb.set(it["pk"], it["sk"], it)
			}
		})
		costs[size] = c
	}
	for op, small := range costs[1000] {
		big := costs[100000][op]
		t.Logf("%s: %d comparisons at 1k items, %d at 100k", op, small, big)
		if big > 2*small {
			t.Errorf("%s: %d comparisons at 100k items vs %d at 1k: not O(log n)", op, big, small)
		}
	}
}
