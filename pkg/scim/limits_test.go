package scim

import (
	"testing"
	"time"
)

func TestLimiter(t *testing.T) {
	now := time.Unix(1000, 0)
	l := newLimiter(func() time.Time { return now })
	rl := RateLimit{Rate: 2, Burst: 3}
	tests := []struct {
		advance  time.Duration
		tenant   string
		want     bool
		wantWait time.Duration
	}{
		{0, "a", true, 0},
		{0, "a", true, 0},
		{0, "a", true, 0},
		{0, "a", false, 500 * time.Millisecond}, // burst spent; 2/s refills in 0.5 s
		{0, "b", true, 0},                       // other tenants are not affected
		{500 * time.Millisecond, "a", true, 0},
		{0, "a", false, 500 * time.Millisecond},
	}
	for i, tc := range tests {
		now = now.Add(tc.advance)
		ok, wait := l.allow(tc.tenant, rl)
		if ok != tc.want || wait != tc.wantWait {
			t.Fatalf("step %d: allow = %v, %v; want %v, %v", i, ok, wait, tc.want, tc.wantWait)
		}
	}
	if ok, _ := l.allow("a", RateLimit{}); !ok {
		t.Fatal("a zero rate must disable the limit")
	}
	if e := tooManyRequests(1500 * time.Millisecond); e.Status != 429 || e.RetryAfter != 2 {
		t.Fatalf("429 error = %+v", e)
	}
}
