package delivery

import (
	"container/heap"
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"
)

// MemQueue is an in-process Queue for the local run: jobs wait in a heap
// ordered by due time and are handed to workers when due. Jobs are lost when
// the process ends (the local run's data is too, unless kept in a
// directory; replay re-sends them).
type MemQueue struct {
	mu      sync.Mutex
	jobs    jobHeap
	seq     uint64
	wake    chan struct{}
	now     func() time.Time
	running int // jobs being handled
	log     *slog.Logger
}

// NewMemQueue returns an empty in-process queue.
func NewMemQueue() *MemQueue {
	return &MemQueue{wake: make(chan struct{}, 1), now: time.Now, log: slog.Default()}
}

// Enqueue adds jobs.
func (q *MemQueue) Enqueue(_ context.Context, jobs []Job) error {
	q.mu.Lock()
	for _, j := range jobs {
		q.seq++
		heap.Push(&q.jobs, queued{job: j, seq: q.seq})
	}
	q.mu.Unlock()
	q.signal()
	return nil
}

func (q *MemQueue) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// Pending returns how many jobs are queued or being handled.
func (q *MemQueue) Pending() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.jobs) + q.running
}

// handBackDelay is how long a job whose handler failed waits to be retried.
const handBackDelay = 5 * time.Second

// Run hands due jobs to handle on up to workers goroutines until ctx ends.
// A job whose handler returns an error or panics is queued again after a
// short delay.
func (q *MemQueue) Run(ctx context.Context, workers int, handle func(context.Context, Job) error) {
	sem := make(chan struct{}, max(workers, 1))
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		q.mu.Lock()
		var wait time.Duration = -1
		var job *Job
		if len(q.jobs) > 0 {
			due := q.jobs[0].job.NotBefore
			if d := due.Sub(q.now()); d > 0 {
				wait = d
			} else {
				j := heap.Pop(&q.jobs).(queued).job
				job = &j
				q.running++
			}
		}
		q.mu.Unlock()
		if job != nil {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				q.mu.Lock()
				q.running--
				q.mu.Unlock()
				_ = q.Enqueue(context.Background(), []Job{*job})
				return
			}
			wg.Add(1)
			go q.work(ctx, *job, handle, sem, &wg)
			continue
		}
		var (
			timer *time.Timer
			fire  <-chan time.Time
		)
		if wait >= 0 {
			timer = time.NewTimer(wait)
			fire = timer.C
		}
		select {
		case <-ctx.Done():
		case <-q.wake:
		case <-fire:
		}
		if timer != nil {
			timer.Stop()
		}
		if ctx.Err() != nil {
			return
		}
	}
}

func (q *MemQueue) work(ctx context.Context, j Job, handle func(context.Context, Job) error, sem chan struct{}, wg *sync.WaitGroup) {
	defer wg.Done()
	defer func() { <-sem }()
	var err error
	func() {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("panic: %v", r)
				q.log.Error("webhook delivery panicked", "tenant", j.Tenant, "event_id", j.EventID, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			}
		}()
		err = handle(ctx, j)
	}()
	q.mu.Lock()
	q.running--
	q.mu.Unlock()
	if err != nil {
		if ctx.Err() == nil {
			q.log.Warn("webhook delivery handed back", "tenant", j.Tenant, "event_id", j.EventID, "err", err.Error())
		}
		j.NotBefore = q.now().Add(handBackDelay)
		_ = q.Enqueue(context.Background(), []Job{j})
	}
}

type queued struct {
	job Job
	seq uint64 // FIFO among jobs due at the same time
}

type jobHeap []queued

func (h jobHeap) Len() int { return len(h) }
func (h jobHeap) Less(i, j int) bool {
	a, b := h[i].job.NotBefore, h[j].job.NotBefore
	if !a.Equal(b) {
		return a.Before(b)
	}
	return h[i].seq < h[j].seq
}
func (h jobHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *jobHeap) Push(x any)   { *h = append(*h, x.(queued)) }
func (h *jobHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
