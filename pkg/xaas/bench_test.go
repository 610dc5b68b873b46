package xaas

import (
	"bytes"
	"context"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/scimless/scimless/pkg/store"
)

// BenchmarkIngestCSV pushes 1,000-row CSVs through the bulk route; every
// iteration changes every row. Reports rows/s.
//
//	go test -run '^$' -bench IngestCSV -benchtime 5x ./pkg/xaas/
func BenchmarkIngestCSV(b *testing.B) {
	h := newHarness(b, harnessOpts{})
	const rows = 1000
	bodies := make([][]byte, b.N)
	for i := range bodies {
		var buf bytes.Buffer
		genCSV(&buf, rows, strconv.Itoa(i))
		bodies[i] = buf.Bytes()
	}
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		rec := h.do(http.MethodPost, Prefix+"/users:bulk", "text/csv", bytes.NewReader(bodies[i]))
		if rec.Code != http.StatusOK {
			b.Fatalf("%d %s", rec.Code, rec.Body)
		}
	}
	b.ReportMetric(float64(rows*b.N)/time.Since(start).Seconds(), "rows/s")
}

// BenchmarkParseCSV measures the CSV row reader alone (no storage).
func BenchmarkParseCSV(b *testing.B) {
	var buf bytes.Buffer
	genCSV(&buf, 10000, "")
	body := buf.Bytes()
	b.SetBytes(int64(len(body)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rr, err := NewRowReader(bytes.NewReader(body), FormatCSV)
		if err != nil {
			b.Fatal(err)
		}
		for {
			if _, err := rr.Next(); err != nil {
				break
			}
		}
	}
	b.ReportMetric(float64(10000*b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkSync pushes 1,000 changed users and syncs them to the fake Okta
// (one session of 5 uploads). Reports users/s (wall time, the 5-minute gap
// simulated) and Okta calls and DynamoDB items read per run.
//
//	go test -run '^$' -bench 'Sync$' -benchtime 5x ./pkg/xaas/
func BenchmarkSync(b *testing.B) {
	ctx := context.Background()
	h := newHarness(b, harnessOpts{})
	const users = 1000
	var calls, reads int64
	var elapsed time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		h.pushUsers(users, strconv.Itoa(i))
		h.api.reset()
		m0 := h.env.Metrics.Snapshot()
		h.clock.Advance(10 * time.Minute)
		b.StartTimer()
		start := time.Now()
		d := h.sync(ctx)
		elapsed += time.Since(start)
		if d.Status.State != store.RunSucceeded || d.Status.Counts.Upserted != users {
			b.Fatalf("run %+v", d.Status)
		}
		calls += int64(h.api.total())
		reads += h.env.Metrics.Snapshot().Sub(m0).ItemsRead
	}
	b.ReportMetric(float64(users*b.N)/elapsed.Seconds(), "users/s")
	b.ReportMetric(float64(calls)/float64(b.N), "okta-calls/run")
	b.ReportMetric(float64(reads)/float64(b.N), "items-read/run")
}

// BenchmarkMapping maps one record of the sample items API.
func BenchmarkMapping(b *testing.B) {
	m := DefaultMapping()
	rec := map[string]string{"title": "Mr", "first_name": "Brad", "last_name": "Gibson", "street_number": "9278",
		"street_name": "New Road", "city": "Kilcoole", "state": "Waterford", "country": "IE", "postcode": "93027",
		"email": "brad.gibson@example.com", "phone": "011-962-7516", "cell": "081-454-0666"}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := m.Apply("brad", rec); err != nil {
			b.Fatal(err)
		}
	}
}
