package store_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scimless/scimless/pkg/store/storetest"
)

func TestCountRequest(t *testing.T) {
	env := storetest.New(t)
	s, ctx := env.Store, context.Background()
	w1 := time.Unix(1_700_000_000, 0)
	w2 := w1.Add(time.Second)
	steps := []struct {
		name   string
		tenant string
		start  time.Time
		limit  int
		want   bool
	}{
		{"first", "acme", w1, 2, true},
		{"second", "acme", w1, 2, true},
		{"over the limit", "acme", w1, 2, false},
		{"still over", "acme", w1, 2, false},
		{"a higher limit in the same window", "acme", w1, 3, true},
		{"next window", "acme", w2, 2, true},
		{"other tenant", "globex", w1, 1, true},
		{"other tenant over", "globex", w1, 1, false},
		{"a zero limit refuses", "initech", w1, 0, false},
	}
	for _, st := range steps {
		got, err := s.CountRequest(ctx, st.tenant, st.start, st.limit)
		if err != nil || got != st.want {
			t.Fatalf("%s: %v, %v; want %v", st.name, got, err, st.want)
		}
	}
	for _, c := range []struct {
		tenant string
		start  time.Time
		want   int
	}{{"acme", w1, 3}, {"acme", w2, 1}, {"globex", w1, 1}, {"initech", w1, 0}, {"acme", w2.Add(time.Second), 0}} {
		if n, err := s.RequestCount(ctx, c.tenant, c.start); err != nil || n != c.want {
			t.Errorf("count %s %v = %d, %v; want %d", c.tenant, c.start.Unix(), n, err, c.want)
		}
	}
}

// Parallel writers of one window: exactly limit of them are counted.
func TestCountRequestParallel(t *testing.T) {
	env := storetest.New(t)
	s, ctx := env.Store, context.Background()
	w := time.Unix(1_700_000_000, 0)
	const limit, writers = 25, 80
	var allowed atomic.Int64
	var wg sync.WaitGroup
	for range writers {
		wg.Go(func() {
			ok, err := s.CountRequest(ctx, "acme", w, limit)
			if err != nil {
				t.Error(err)
			}
			if ok {
				allowed.Add(1)
			}
		})
	}
	wg.Wait()
	if allowed.Load() != limit {
		t.Fatalf("%d allowed, want exactly %d", allowed.Load(), limit)
	}
	if n, _ := s.RequestCount(ctx, "acme", w); n != limit {
		t.Fatalf("counter %d, want %d", n, limit)
	}
}
