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

// MemQueue is an in-process Queue for the local run. Jobs wait in one
// first-in-first-out lane per ordering key (Job.Key); a lane hands out its
// head only, and not again until the head is finished, so a key's jobs are
// handled one at a time in the order they were queued, and a failing head
// holds back its key's later jobs (and no other key's). Lanes wait in a heap
// ordered by their head's due time. Jobs are lost when the process ends
// (the local run's data is too, unless kept in a directory; replay re-sends
// them).
type MemQueue struct {
	mu       sync.Mutex
	lanes    map[string]*lane
	ready    laneHeap // lanes with jobs whose head is not being handled
	seq      uint64
	queued   int // jobs in lanes
	running  int // jobs being handled
	wake     chan struct{}
	now      func() time.Time
	log      *slog.Logger
	handBack time.Duration // how long a handed-back job waits: handBackDelay
}

// lane is the queue of one ordering key.
type lane struct {
	key  string
	jobs []queued // jobs[head:] wait, in order
	head int
	busy bool // its head is being handled
}

type queued struct {
	job Job
	seq uint64 // FIFO among lanes due at the same time
}

func (l *lane) len() int      { return len(l.jobs) - l.head }
func (l *lane) front() queued { return l.jobs[l.head] }

func (l *lane) popFront() Job {
	j := l.jobs[l.head].job
	l.jobs[l.head] = queued{}
	l.head++
	if l.head > 32 && l.head*2 >= len(l.jobs) {
		l.jobs = append(l.jobs[:0], l.jobs[l.head:]...)
		l.head = 0
	}
	return j
}

func (l *lane) pushFront(q queued) {
	if l.head > 0 {
		l.head--
		l.jobs[l.head] = q
		return
	}
	l.jobs = append(l.jobs, queued{})
	copy(l.jobs[1:], l.jobs)
	l.jobs[0] = q
}

// NewMemQueue returns an empty in-process queue.
func NewMemQueue() *MemQueue {
	return &MemQueue{lanes: map[string]*lane{}, wake: make(chan struct{}, 1), now: time.Now, log: slog.Default(), handBack: handBackDelay}
}

// Enqueue adds jobs at the end of their keys' lanes.
func (q *MemQueue) Enqueue(_ context.Context, jobs []Job) error {
	q.mu.Lock()
	for _, j := range jobs {
		k := j.key()
		l := q.lanes[k]
		if l == nil {
			l = &lane{key: k}
			q.lanes[k] = l
		}
		q.seq++
		l.jobs = append(l.jobs, queued{job: j, seq: q.seq})
		q.queued++
		if !l.busy && l.len() == 1 {
			heap.Push(&q.ready, l)
		}
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
	return q.queued + q.running
}

// handBackDelay is how long a job whose handler failed waits to be retried.
const handBackDelay = 5 * time.Second

// Handler handles one job; Dispatcher.Handle is one.
type Handler func(context.Context, Job) (Outcome, error)

// Run hands due jobs to handle on up to workers goroutines until ctx ends.
// A job to be retried goes back to the head of its lane, due at its
// NotBefore; a job whose handler returns an error or panics goes back to
// the head of its lane after a short delay.
func (q *MemQueue) Run(ctx context.Context, workers int, handle Handler) {
	sem := make(chan struct{}, max(workers, 1))
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		// A worker first, so a job taken is never held while all are busy.
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return
		}
		q.mu.Lock()
		var wait time.Duration = -1
		var l *lane
		var job Job
		if len(q.ready) > 0 {
			due := q.ready[0].front().job.NotBefore
			if d := due.Sub(q.now()); d > 0 {
				wait = d
			} else {
				l = heap.Pop(&q.ready).(*lane)
				l.busy = true
				job = l.popFront()
				q.queued--
				q.running++
			}
		}
		q.mu.Unlock()
		if l != nil {
			wg.Add(1)
			go q.work(ctx, l, job, handle, sem, &wg)
			continue
		}
		<-sem
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

func (q *MemQueue) work(ctx context.Context, l *lane, j Job, handle Handler, sem chan struct{}, wg *sync.WaitGroup) {
	defer wg.Done()
	defer func() { <-sem }()
	var (
		out Outcome
		err error
	)
	func() {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("panic: %v", r)
				q.log.Error("webhook delivery panicked", "tenant", j.Tenant, "event_id", j.EventID, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			}
		}()
		out, err = handle(ctx, j)
	}()
	if err != nil {
		if ctx.Err() == nil {
			q.log.Warn("webhook delivery handed back", "tenant", j.Tenant, "event_id", j.EventID, "err", err.Error())
		}
		j.NotBefore = q.now().Add(q.handBack)
		out = Outcome{Retry: true, Job: j}
	}
	q.finish(l, out)
}

// finish ends the handling of l's head: a job to retry goes back to the
// head; the lane is ready again if it has jobs, and forgotten if not.
func (q *MemQueue) finish(l *lane, out Outcome) {
	q.mu.Lock()
	q.running--
	l.busy = false
	if out.Retry {
		q.seq++
		out.Job.Key = l.key
		l.pushFront(queued{job: out.Job, seq: q.seq})
		q.queued++
	}
	if l.len() > 0 {
		heap.Push(&q.ready, l)
	} else {
		delete(q.lanes, l.key)
	}
	q.mu.Unlock()
	q.signal()
}

// laneHeap orders ready lanes by their head's due time, then by when the
// head was queued.
type laneHeap []*lane

func (h laneHeap) Len() int { return len(h) }
func (h laneHeap) Less(i, j int) bool {
	a, b := h[i].front(), h[j].front()
	if !a.job.NotBefore.Equal(b.job.NotBefore) {
		return a.job.NotBefore.Before(b.job.NotBefore)
	}
	return a.seq < b.seq
}
func (h laneHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *laneHeap) Push(x any)   { *h = append(*h, x.(*lane)) }
func (h *laneHeap) Pop() any {
	old := *h
	l := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return l
}
