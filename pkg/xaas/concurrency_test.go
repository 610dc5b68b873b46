package xaas

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scimless/scimless/pkg/store"
)

// TestParallelPutsOfOneRecord sends 50 PUTs of one record at once, each
// with its own content. Every one is applied (no 5xx, one 201, distinct
// versions) and the record ends as the write acknowledged with the highest
// version: the last write wins.
func TestParallelPutsOfOneRecord(t *testing.T) {
	for _, kind := range []string{"users", "groups"} {
		t.Run(kind, func(t *testing.T) {
			h := newHarness(t, harnessOpts{})
			const n = 50
			type answer struct {
				code    int
				version int64
				n       string
				body    string
			}
			answers := make([]answer, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					body := map[string]any{"email": "ana@example.com", "n": strconv.Itoa(i)}
					if kind == "groups" {
						body = map[string]any{"displayName": "g" + strconv.Itoa(i)}
					}
					b, _ := json.Marshal(body)
					rec := h.do(http.MethodPut, Prefix+"/"+kind+"/rec-1", "application/json", bytes.NewReader(b))
					a := answer{code: rec.Code, body: rec.Body.String()}
					var got struct {
						N           string `json:"n"`
						DisplayName string `json:"displayName"`
						Meta        struct {
							Version int64 `json:"version"`
						} `json:"meta"`
					}
					if json.Unmarshal(rec.Body.Bytes(), &got) == nil {
						a.version, a.n = got.Meta.Version, got.N+got.DisplayName
					}
					answers[i] = a
				}()
			}
			wg.Wait()
			created, versions := 0, map[int64]bool{}
			var last answer
			for i, a := range answers {
				if a.code != http.StatusOK && a.code != http.StatusCreated {
					t.Fatalf("PUT %d: %d %s", i, a.code, a.body)
				}
				if a.code == http.StatusCreated {
					created++
				}
				if versions[a.version] {
					t.Errorf("version %d acknowledged twice", a.version)
				}
				versions[a.version] = true
				if a.version > last.version {
					last = a
				}
			}
			if created != 1 || last.version != n {
				t.Errorf("%d created, highest version %d; want 1 and %d", created, last.version, n)
			}
			rec := h.do(http.MethodGet, Prefix+"/"+kind+"/rec-1", "", nil)
			final := decode[map[string]any](t, rec)
			field := "n"
			if kind == "groups" {
				field = "displayName"
			}
			if final[field] != last.n || final["meta"].(map[string]any)["version"] != float64(last.version) {
				t.Errorf("final %v, want the write acknowledged last (n=%s, version %d)", final, last.n, last.version)
			}
		})
	}
}

// TestParallelBulkPushesOfSameRows pushes the same rows, with different
// content, in parallel bulk requests: no row fails with a conflict, and
// every record ends as one of the pushes left it.
func TestParallelBulkPushesOfSameRows(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	const pushes, rows = 6, 40
	results := make([]BulkResult, pushes)
	codes := make([]int, pushes)
	var wg sync.WaitGroup
	for p := range pushes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var buf bytes.Buffer
			genCSV(&buf, rows, "v"+strconv.Itoa(p))
			rec := h.do(http.MethodPost, Prefix+"/users:bulk", "text/csv", &buf)
			codes[p] = rec.Code
			_ = json.Unmarshal(rec.Body.Bytes(), &results[p])
		}()
	}
	wg.Wait()
	for p, res := range results {
		if codes[p] != http.StatusOK || res.Failed != 0 || res.Created+res.Updated+res.Unchanged != rows {
			t.Errorf("push %d: %d %+v", p, codes[p], res)
		}
	}
	page, err := h.st.ListSourceUsers(context.Background(), testTenant, "", rows+1)
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Users) != rows {
		t.Fatalf("%d records, want %d", len(page.Users), rows)
	}
	for _, u := range page.Users {
		last := u.Attrs["last_name"]
		p, err := strconv.Atoi(strings.TrimPrefix(last, "Lastv"))
		if err != nil || p < 0 || p >= pushes || u.Version < 1 || u.Version > pushes {
			t.Errorf("%s: last_name %q, version %d", u.ExternalID, last, u.Version)
		}
	}
}

func TestRetryConflicts(t *testing.T) {
	conflict := fmt.Errorf("put: %w", store.ErrVersion)
	t.Run("applied after conflicts", func(t *testing.T) {
		calls := 0
		err := retryConflicts(context.Background(), func() error {
			if calls++; calls < 5 {
				return conflict
			}
			return nil
		})
		if err != nil || calls != 5 {
			t.Errorf("err %v after %d calls", err, calls)
		}
	})
	t.Run("other errors are not retried", func(t *testing.T) {
		calls := 0
		boom := errors.New("boom")
		if err := retryConflicts(context.Background(), func() error { calls++; return boom }); err != boom || calls != 1 {
			t.Errorf("err %v after %d calls", err, calls)
		}
	})
	t.Run("stops when the request ends", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
		defer cancel()
		err := retryConflicts(ctx, func() error { return conflict })
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("err %v, want the deadline", err)
		}
	})
	t.Run("delays are jittered and bounded", func(t *testing.T) {
		seen := map[time.Duration]bool{}
		for attempt := range 40 {
			d := conflictDelay(attempt)
			if d <= 0 || d > conflictMaxDelay+1 {
				t.Fatalf("attempt %d: delay %v", attempt, d)
			}
			seen[d] = true
		}
		if len(seen) < 10 {
			t.Errorf("only %d distinct delays in 40: not jittered", len(seen))
		}
	})
}
