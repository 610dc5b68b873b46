package selftest

import (
	"slices"
	"sync"
	"time"
)

// opStats collects the answers and latencies of one operation.
type opStats struct {
	mu        sync.Mutex
	latencies []time.Duration
	statuses  map[int]int
	retried   map[int]int
	errors    int
}

func (s *opStats) add(resp *response, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.statuses == nil {
		s.statuses, s.retried = map[int]int{}, map[int]int{}
	}
	if err != nil {
		s.errors++
		return
	}
	s.latencies = append(s.latencies, resp.Latency)
	s.statuses[resp.Status]++
	for code, n := range resp.RetriedStatus {
		s.retried[code] += n
	}
}

// OpReport is the load figures of one operation.
type OpReport struct {
	Op       string  `json:"op"`
	Requests int     `json:"requests"`
	PerSec   float64 `json:"reqPerSec"`
	P50MS    float64 `json:"p50Ms"`
	P99MS    float64 `json:"p99Ms"`
	// Statuses counts the final answers by status.
	Statuses map[int]int `json:"statuses"`
	// Retried counts the 429 and 503 answers waited out and retried.
	Retried map[int]int `json:"retried,omitempty"`
	// Errors counts requests that got no answer (timeouts, resets).
	Errors int `json:"errors,omitempty"`
}

func (s *opStats) report(op string, elapsed time.Duration) OpReport {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := slices.Clone(s.latencies)
	slices.Sort(l)
	r := OpReport{Op: op, Requests: len(l) + s.errors, Statuses: s.statuses, Retried: s.retried, Errors: s.errors}
	if elapsed > 0 {
		r.PerSec = float64(r.Requests) / elapsed.Seconds()
	}
	r.P50MS, r.P99MS = ms(percentile(l, 50)), ms(percentile(l, 99))
	if len(r.Retried) == 0 {
		r.Retried = nil
	}
	return r
}

// percentile returns the p-th percentile of sorted latencies (nearest rank).
func percentile(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := (len(sorted)*p + 99) / 100
	return sorted[min(max(i-1, 0), len(sorted)-1)]
}
