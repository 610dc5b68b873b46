package main

// Benchmarks of the local stack's read path: the SCIM handler's ServeHTTP
// (authentication, routing, the store's reads through the SDK to the
// in-process engine, rendering) for GET /Users/{id} and Okta's
// userName eq filter, with the directory at each size of
// SCIMLESS_BENCH_USERS (default 1000; `SCIMLESS_BENCH_USERS=1000,100000`
// for the figures' two sizes):
//
//	go test -run '^$' -bench 'BenchmarkLocal' -benchmem ./cmd/scimless/
//
// They call the handler directly, so allocs/op counts what the service
// allocates per request, without the HTTP client and connection of the
// figures (make figures-local).

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/scimless/scimless/pkg/scim"
)

// benchSizes are the directory sizes of the BenchmarkLocal benchmarks.
func benchSizes(b *testing.B) []int {
	spec := os.Getenv("SCIMLESS_BENCH_USERS")
	if spec == "" {
		return []int{1000}
	}
	var sizes []int
	for _, f := range strings.Split(spec, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			b.Fatalf("SCIMLESS_BENCH_USERS: %q is not a positive size", f)
		}
		sizes = append(sizes, n)
	}
	return sizes
}

// loadedStack is a figureHandler holding a directory of users.
type loadedStack struct {
	*figureHandler
	ids, names []string
}

// loadStack returns a figureHandler with size users, created through the
// handler's POST /Users by 8 clients.
func loadStack(b *testing.B, size int) *loadedStack {
	b.Helper()
	ls := &loadedStack{figureHandler: newFigureHandler(b), ids: make([]string, size), names: make([]string, size)}
	var next atomic.Int64
	var wg sync.WaitGroup
	var failed atomic.Value
	for range figureClients {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= size {
					return
				}
				ls.names[i] = fmt.Sprintf("user%07d@example.com", i)
				r := httptest.NewRequest("POST", scim.Prefix+"/Users", strings.NewReader(createBody(ls.names[i])))
				r.Header.Set("Authorization", "Bearer "+figuresToken)
				r.Header.Set("Content-Type", "application/scim+json")
				w := httptest.NewRecorder()
				ls.handler.ServeHTTP(w, r)
				if w.Code != http.StatusCreated {
					failed.Store(fmt.Sprintf("create %d: status %d: %s", i, w.Code, w.Body))
					return
				}
				ls.ids[i] = w.Header().Get("Location")[strings.LastIndexByte(w.Header().Get("Location"), '/')+1:]
			}
		})
	}
	wg.Wait()
	if msg := failed.Load(); msg != nil {
		b.Fatal(msg)
	}
	return ls
}

// benchRead runs GET requests to the paths path(k) through the handler at
// each size; every one must answer 200.
func benchRead(b *testing.B, path func(ls *loadedStack, k int) string) {
	for _, size := range benchSizes(b) {
		b.Run(fmt.Sprint("users=", size), func(b *testing.B) {
			ls := loadStack(b, size)
			reqs := make([]*http.Request, 256)
			for k := range reqs {
				reqs[k] = httptest.NewRequest("GET", scim.Prefix+path(ls, k), nil)
				reqs[k].Header.Set("Authorization", "Bearer "+figuresToken)
			}
			b.ReportAllocs()
			b.ResetTimer()
			k := 0
			for b.Loop() {
				w := httptest.NewRecorder()
				ls.handler.ServeHTTP(w, reqs[k%len(reqs)])
				if w.Code != http.StatusOK {
					b.Fatalf("status %d: %s", w.Code, w.Body)
				}
				k++
			}
		})
	}
}

// BenchmarkLocalGetUser is GET /Users/{id} of a random user.
func BenchmarkLocalGetUser(b *testing.B) {
	benchRead(b, func(ls *loadedStack, _ int) string {
		return "/Users/" + ls.ids[rand.IntN(len(ls.ids))]
	})
}

// BenchmarkLocalFilterUserName is Okta's existence check,
// GET /Users?filter=userName eq "…", of a random user.
func BenchmarkLocalFilterUserName(b *testing.B) {
	benchRead(b, func(ls *loadedStack, _ int) string {
		return "/Users?filter=" + url.QueryEscape(`userName eq "`+ls.names[rand.IntN(len(ls.names))]+`"`)
	})
}
