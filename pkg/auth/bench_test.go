package auth_test

import (
	"context"
	"testing"
	"time"

	"github.com/scimless/scimless/pkg/auth"
	"github.com/scimless/scimless/pkg/store/storetest"
)

// BenchmarkAuthenticateWarm is the auth overhead of a request on a warm
// Lambda: the token is in the cache, no DynamoDB request.
//
//	go test ./pkg/auth -run '^$' -bench Authenticate -benchmem
func BenchmarkAuthenticateWarm(b *testing.B) {
	env := storetest.New(b)
	secret, _, err := auth.Issue(context.Background(), env.Store, auth.IssueOptions{Tenant: "acme"})
	if err != nil {
		b.Fatal(err)
	}
	a := auth.NewAuthenticator(env.Store, time.Hour)
	ctx, header := context.Background(), "Bearer "+secret
	if _, err := a.Authenticate(ctx, header); err != nil {
		b.Fatal(err)
	}
	a.Wait()
	before := env.Metrics.Snapshot()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := a.Authenticate(ctx, header); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(env.Metrics.Snapshot().Sub(before).Total())/float64(b.N), "roundtrips/op")
}

// BenchmarkAuthenticateCold is a request on a cold cache (a new Lambda
// instance, or the first request after the cache TTL): one GetItem of the
// token's hash on the embedded engine. The asynchronous last-used update is
// off the request path and not counted (it is disabled here).
func BenchmarkAuthenticateCold(b *testing.B) {
	env := storetest.New(b)
	secret, _, err := auth.Issue(context.Background(), env.Store, auth.IssueOptions{Tenant: "acme"})
	if err != nil {
		b.Fatal(err)
	}
	ctx, header := context.Background(), "Bearer "+secret
	before := env.Metrics.Snapshot()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		a := auth.NewAuthenticator(env.Store, time.Hour, auth.WithoutLastUsed())
		if _, err := a.Authenticate(ctx, header); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(env.Metrics.Snapshot().Sub(before).Total())/float64(b.N), "roundtrips/op")
}
