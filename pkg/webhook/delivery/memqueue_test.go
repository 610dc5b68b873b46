package delivery_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scimless/scimless/pkg/webhook/delivery"
)

// script is a fake handler: per event id, the outcomes of its attempts in
// turn ("ok" after the list ends); it records the finished jobs in order
// and checks that no key is handled twice at once.
type script struct {
	steps    map[string][]string // "retry", "pause", "error", "panic", "ok"
	mu       sync.Mutex
	tries    map[string]int
	finished []string
	doneAt   map[string]int // event id → position in finished
	inFlight sync.Map       // key → *atomic.Int32
	overlap  atomic.Int64
}

func newScript(steps map[string][]string) *script {
	return &script{steps: steps, tries: map[string]int{}, doneAt: map[string]int{}}
}

func (s *script) handle(_ context.Context, j delivery.Job) (delivery.Outcome, error) {
	c, _ := s.inFlight.LoadOrStore(j.Key, new(atomic.Int32))
	if c.(*atomic.Int32).Add(1) > 1 {
		s.overlap.Add(1)
	}
	defer c.(*atomic.Int32).Add(-1)
	time.Sleep(time.Millisecond)
	s.mu.Lock()
	n := s.tries[j.EventID]
	s.tries[j.EventID]++
	step := "ok"
	if n < len(s.steps[j.EventID]) {
		step = s.steps[j.EventID][n]
	}
	if step == "ok" {
		s.doneAt[j.EventID] = len(s.finished)
		s.finished = append(s.finished, j.EventID)
	}
	s.mu.Unlock()
	switch step {
	case "retry":
		j.Attempt++
		j.NotBefore = time.Now().Add(20 * time.Millisecond)
		return delivery.Outcome{Retry: true, Job: j}, nil
	case "pause":
		j.NotBefore = time.Now().Add(20 * time.Millisecond)
		return delivery.Outcome{Retry: true, Paused: true, Job: j}, nil
	case "error":
		return delivery.Outcome{}, errors.New("store unreachable")
	case "panic":
		panic("boom")
	}
	return delivery.Outcome{}, nil
}

func (s *script) order() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.finished)
}

func waitEmpty(t *testing.T, q *delivery.MemQueue, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for q.Pending() > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d jobs still pending after %v", q.Pending(), within)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestMemQueueLanes: a key's jobs are finished in the order they were
// queued whatever their attempts do, and a head that is not finished holds
// back its own key only.
func TestMemQueueLanes(t *testing.T) {
	tests := []struct {
		name  string
		jobs  string // "key:event ..." in queue order
		steps map[string][]string
		// before lists pairs "x<y": x finishes before y.
		before []string
	}{
		{name: "in order", jobs: "A:a1 A:a2 A:a3 B:b1 B:b2"},
		{name: "failing head holds its key only", jobs: "A:a1 A:a2 A:a3 B:b1 B:b2 B:b3",
			steps: map[string][]string{"a1": {"retry", "retry", "retry"}}, before: []string{"b3<a1"}},
		{name: "failing middle", jobs: "A:a1 A:a2 A:a3 A:a4 B:b1",
			steps: map[string][]string{"a2": {"retry", "retry"}}, before: []string{"b1<a2"}},
		{name: "paused", jobs: "A:a1 A:a2 B:b1 B:b2",
			steps: map[string][]string{"a1": {"pause", "pause"}}, before: []string{"b2<a1"}},
		{name: "handler error", jobs: "A:a1 A:a2 B:b1",
			steps: map[string][]string{"a1": {"error"}}, before: []string{"b1<a1"}},
		{name: "panic", jobs: "A:a1 A:a2 B:b1",
			steps: map[string][]string{"a1": {"panic"}}, before: []string{"b1<a1"}},
		{name: "every head fails", jobs: "A:a1 A:a2 B:b1 B:b2 C:c1 C:c2",
			steps: map[string][]string{"a1": {"retry"}, "b1": {"retry", "retry"}, "c1": {"retry", "pause", "retry"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newScript(tc.steps)
			q := delivery.NewMemQueue()
			delivery.SetHandBackDelay(q, 50*time.Millisecond)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { defer close(done); q.Run(ctx, 4, s.handle) }()
			defer func() { cancel(); <-done }()
			var jobs []delivery.Job
			want := map[string][]string{}
			for _, f := range strings.Fields(tc.jobs) {
				k, id, _ := strings.Cut(f, ":")
				jobs = append(jobs, delivery.Job{Key: k, EventID: id})
				want[k] = append(want[k], id)
			}
			if err := q.Enqueue(ctx, jobs); err != nil {
				t.Fatal(err)
			}
			waitEmpty(t, q, 15*time.Second)
			got := map[string][]string{}
			for _, id := range s.order() {
				k := strings.ToUpper(id[:1])
				got[k] = append(got[k], id)
			}
			for k, ids := range want {
				if !slices.Equal(got[k], ids) {
					t.Errorf("key %s finished %v, want %v", k, got[k], ids)
				}
			}
			for _, b := range tc.before {
				x, y, _ := strings.Cut(b, "<")
				if s.doneAt[x] > s.doneAt[y] {
					t.Errorf("%s finished after %s: %v", x, y, s.order())
				}
			}
			if s.overlap.Load() != 0 {
				t.Errorf("a key was handled twice at once %d times", s.overlap.Load())
			}
		})
	}
}

// TestMemQueueLongLane: one key with many jobs, some retried, some
// handed back: the lane's storage is reused as it drains and a job put back
// at its head keeps its place.
func TestMemQueueLongLane(t *testing.T) {
	const n = 500
	steps := map[string][]string{}
	var jobs []delivery.Job
	for i := range n {
		id := fmt.Sprintf("a%04d", i)
		if i%7 == 3 {
			steps[id] = []string{"retry"}
		}
		jobs = append(jobs, delivery.Job{Key: "A", EventID: id})
	}
	s := newScript(steps)
	q := delivery.NewMemQueue()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); q.Run(ctx, 8, s.handle) }()
	defer func() { cancel(); <-done }()
	// Queued in two halves, the second while the first drains.
	_ = q.Enqueue(ctx, jobs[:n/2])
	time.Sleep(20 * time.Millisecond)
	_ = q.Enqueue(ctx, jobs[n/2:])
	waitEmpty(t, q, time.Minute)
	if got := s.order(); len(got) != n || !slices.IsSorted(got) {
		t.Fatalf("finished %d jobs, sorted %v", len(got), slices.IsSorted(got))
	}
}

// TestMemQueueDueTime: a job is not handed out before its NotBefore, and
// lanes are served by their head's due time.
func TestMemQueueDueTime(t *testing.T) {
	q := delivery.NewMemQueue()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	var mu sync.Mutex
	var order []string
	started := time.Now()
	var lateAt time.Duration
	go func() {
		defer close(done)
		q.Run(ctx, 1, func(_ context.Context, j delivery.Job) (delivery.Outcome, error) {
			mu.Lock()
			order = append(order, j.EventID)
			if j.EventID == "later" {
				lateAt = time.Since(started)
			}
			mu.Unlock()
			return delivery.Outcome{}, nil
		})
	}()
	_ = q.Enqueue(ctx, []delivery.Job{{Key: "k1", EventID: "later", NotBefore: started.Add(150 * time.Millisecond)},
		{Key: "k1", EventID: "after-later"}, {Key: "k2", EventID: "a"}, {Key: "k3", EventID: "b"}})
	waitEmpty(t, q, 5*time.Second)
	cancel()
	<-done
	if got := strings.Join(order, ","); got != "a,b,later,after-later" {
		t.Fatalf("order = %s", got)
	}
	if lateAt < 150*time.Millisecond {
		t.Fatalf("a job due after 150 ms was handed out after %v", lateAt)
	}
}

// TestMemQueueManyKeys: many keys, many workers, jobs queued from several
// goroutines while random attempts fail: every key's jobs finish in queue
// order, never two of one key at once, and nothing is lost.
func TestMemQueueManyKeys(t *testing.T) {
	const (
		keys    = 300
		perKey  = 20
		writers = 6
	)
	steps := map[string][]string{}
	r := rand.New(rand.NewPCG(1, 2))
	for k := range keys {
		for i := range perKey {
			if r.IntN(10) == 0 {
				steps[fmt.Sprintf("k%03d-%02d", k, i)] = []string{"retry"}
			}
		}
	}
	s := newScript(steps)
	q := delivery.NewMemQueue()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); q.Run(ctx, 32, s.handle) }()
	defer func() { cancel(); <-done }()
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perKey {
				var jobs []delivery.Job
				for k := w; k < keys; k += writers {
					jobs = append(jobs, delivery.Job{Key: fmt.Sprintf("k%03d", k), EventID: fmt.Sprintf("k%03d-%02d", k, i)})
				}
				_ = q.Enqueue(ctx, jobs)
			}
		}()
	}
	wg.Wait()
	waitEmpty(t, q, time.Minute)
	got := map[string][]string{}
	for _, id := range s.order() {
		got[id[:4]] = append(got[id[:4]], id)
	}
	if len(got) != keys {
		t.Fatalf("%d keys finished, want %d", len(got), keys)
	}
	for k, ids := range got {
		if len(ids) != perKey || !slices.IsSorted(ids) {
			t.Fatalf("key %s finished %v", k, ids)
		}
	}
	if s.overlap.Load() != 0 {
		t.Fatalf("a key was handled twice at once %d times", s.overlap.Load())
	}
}

// TestMemQueueStops: Run returns when its context ends, and the jobs not
// handed out stay queued.
func TestMemQueueStops(t *testing.T) {
	q := delivery.NewMemQueue()
	ctx, cancel := context.WithCancel(context.Background())
	_ = q.Enqueue(ctx, []delivery.Job{{Key: "a", EventID: "1", NotBefore: time.Now().Add(time.Hour)}, {Key: "a", EventID: "2"}})
	done := make(chan struct{})
	go func() {
		defer close(done)
		q.Run(ctx, 2, func(context.Context, delivery.Job) (delivery.Outcome, error) {
			t.Error("a job was handed out before it was due")
			return delivery.Outcome{}, nil
		})
	}()
	time.Sleep(50 * time.Millisecond)
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return")
	}
	if q.Pending() != 2 {
		t.Fatalf("pending %d, want 2", q.Pending())
	}
}

func TestOrderKey(t *testing.T) {
	tests := []struct {
		event, want string
	}{
		{`{"type":"user.created","data":{"id":"u1"}}`, "acme/wh/user/u1"},
		{`{"type":"user.deleted","data":{"id":"u1","userName":"x"}}`, "acme/wh/user/u1"},
		{`{"type":"group.updated","data":{"id":"g1"}}`, "acme/wh/group/g1"},
		{`{"type":"group.member_added","data":{"group":{"id":"g1"},"user":{"id":"u1"}}}`, "acme/wh/group/g1"},
		{`{"type":"group.member_removed","data":{"group":{"id":"g2"},"user":{"id":"u1"}}}`, "acme/wh/group/g2"},
		{`{"type":"user.updated","data":{"externalId":"emp-1","active":true}}`, "acme/wh/user/xaas/emp-1"},
		{`{"type":"group.updated","data":{"externalId":"eng","members":["emp-1"]}}`, "acme/wh/group/xaas/eng"},
		{`{"type":"user.updated","data":{}}`, "acme/wh"},
		{`not json`, "acme/wh"},
	}
	for _, tc := range tests {
		if got := delivery.OrderKey("acme", "wh", []byte(tc.event)); got != tc.want {
			t.Errorf("OrderKey(%s) = %q, want %q", tc.event, got, tc.want)
		}
	}
}

// BenchmarkMemQueue queues and handles jobs over 1,000 keys with 32
// workers and a handler that returns at once: the queue's own cost per job.
func BenchmarkMemQueue(b *testing.B) {
	q := delivery.NewMemQueue()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		q.Run(ctx, 32, func(context.Context, delivery.Job) (delivery.Outcome, error) { return delivery.Outcome{}, nil })
	}()
	keys := make([]string, 1000)
	for i := range keys {
		keys[i] = fmt.Sprintf("acme/wh/user/u%04d", i)
	}
	b.ReportAllocs()
	b.ResetTimer()
	batch := make([]delivery.Job, 0, 100)
	for i := 0; i < b.N; i++ {
		batch = append(batch, delivery.Job{Key: keys[i%len(keys)], EventID: "e"})
		if len(batch) == cap(batch) || i == b.N-1 {
			_ = q.Enqueue(ctx, batch)
			batch = batch[:0]
		}
	}
	for q.Pending() > 0 {
		time.Sleep(100 * time.Microsecond)
	}
	b.StopTimer()
	cancel()
	<-done
}
