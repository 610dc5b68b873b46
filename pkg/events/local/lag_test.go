package local_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scimless/scimless/pkg/auth"
	"github.com/scimless/scimless/pkg/events"
	"github.com/scimless/scimless/pkg/events/local"
	"github.com/scimless/scimless/pkg/scim"
)

// BenchmarkLag measures, on the local stack under load, the time from a
// SCIM write's answer to its event in the Events API: 8 clients create 400
// users through the SCIM handler while one client long-polls the Events API;
// it reports the p50 and p99 lag. It reads the table's stream through the
// embedded engine's DynamoDB Streams API and is skipped when the engine does
// not serve it; with SCIMLESS_STREAMS_ENDPOINT it runs against that
// endpoint instead (see TestPipelineOnStreamsAPI).
//
//	go test -run '^$' -bench Lag -benchtime 1x ./pkg/events/local
func BenchmarkLag(b *testing.B) {
	const (
		writers = 8
		users   = 400
	)
	ctx := context.Background()
	st, streams := streamsStore(b)
	secret, _, err := auth.Issue(ctx, st, auth.IssueOptions{Tenant: "acme"})
	if err != nil {
		b.Fatal(err)
	}
	logger := slog.New(slog.DiscardHandler)
	p, err := local.Start(ctx, local.Config{Store: st, Streams: streams, Auth: oneToken{}, Logger: logger})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Stop()
	mux := http.NewServeMux()
	mux.Handle("/scim/v2/", scim.New(scim.Config{Store: st, Auth: auth.NewAuthenticator(st, 0), Logger: logger}))
	p.API.Routes(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	var (
		mu       sync.Mutex
		answered = map[string]time.Time{}
		seen     = map[string]time.Time{}
	)
	readerCtx, stopReader := context.WithCancel(ctx)
	defer stopReader()
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		after := ""
		for readerCtx.Err() == nil {
			req, _ := http.NewRequestWithContext(readerCtx, http.MethodGet, srv.URL+"/events/v1?wait=20s&limit=1000&types=user.created&after="+after, nil)
			req.Header.Set("Authorization", "Bearer t")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				continue
			}
			var pg struct {
				Data []events.Event `json:"data"`
				Next string         `json:"next"`
			}
			_ = json.NewDecoder(resp.Body).Decode(&pg)
			resp.Body.Close()
			now := time.Now()
			mu.Lock()
			for _, e := range pg.Data {
				seen[e.ResourceID()] = now
			}
			mu.Unlock()
			after = pg.Next
		}
	}()
	b.ResetTimer()
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < users; i += writers {
				body := fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"lag%d@example.com","active":true}`, i)
				req, _ := http.NewRequest(http.MethodPost, srv.URL+"/scim/v2/Users", strings.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+secret)
				req.Header.Set("Content-Type", "application/scim+json")
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					b.Error(err)
					return
				}
				var u struct {
					ID string `json:"id"`
				}
				_ = json.NewDecoder(resp.Body).Decode(&u)
				resp.Body.Close()
				mu.Lock()
				answered[u.ID] = time.Now()
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		mu.Lock()
		n := len(seen)
		mu.Unlock()
		if n >= users || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	stopReader()
	<-readerDone
	mu.Lock()
	defer mu.Unlock()
	var lags []time.Duration
	for id, at := range answered {
		if s, ok := seen[id]; ok {
			lags = append(lags, max(s.Sub(at), 0))
		}
	}
	if len(lags) != users {
		b.Fatalf("%d of %d events reached the Events API", len(lags), users)
	}
	slices.Sort(lags)
	p50, p99 := lags[len(lags)/2], lags[len(lags)*99/100]
	b.ReportMetric(float64(p50.Milliseconds()), "p50-ms")
	b.ReportMetric(float64(p99.Milliseconds()), "p99-ms")
	b.Logf("lag from a SCIM write's answer to its event in the Events API, %d writers, %d users: p50 %v, p99 %v",
		writers, users, p50, p99)
}
