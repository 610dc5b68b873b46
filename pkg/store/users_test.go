package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/scimless/scimless/pkg/store"
	"github.com/scimless/scimless/pkg/store/storetest"
)

func newUser(id, userName string) *store.User {
	now := time.Now().UTC().Truncate(time.Millisecond)
	return &store.User{ID: id, UserName: userName, Active: true, Doc: []byte(`{"userName":"` + userName + `"}`), Created: now, Modified: now}
}

func TestUserLifecycle(t *testing.T) {
	env := storetest.New(t)
	s, ctx := env.Store, context.Background()

	u := newUser("u1", "Alice@Example.com")
	u.ExternalID = "ext-1"
	if err := s.CreateUser(ctx, "t1", u); err != nil {
		t.Fatalf("create: %v", err)
	}
	if u.Version != 1 {
		t.Fatalf("version = %d, want 1", u.Version)
	}

	tests := []struct {
		name     string
		userName string
		wantErr  error
	}{
		{"exact", "Alice@Example.com", nil},
		{"case-insensitive", "alice@EXAMPLE.com", nil},
		{"missing", "bob@example.com", store.ErrNotFound},
	}
	for _, tc := range tests {
		t.Run("byUserName/"+tc.name, func(t *testing.T) {
			got, err := s.UserByUserName(ctx, "t1", tc.userName)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if err == nil && got.ID != "u1" {
				t.Fatalf("id = %q", got.ID)
			}
		})
	}
	if _, err := s.UserByUserName(ctx, "t2", "alice@example.com"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("other tenant sees user: %v", err)
	}
	if got, err := s.UsersByExternalID(ctx, "t1", "ext-1"); err != nil || len(got) != 1 || got[0].ID != "u1" {
		t.Fatalf("by externalId: %v %v", got, err)
	}
	if got, _ := s.UsersByExternalID(ctx, "t1", "EXT-1"); len(got) != 0 {
		t.Fatalf("externalId must be case-exact, got %d", len(got))
	}

	// Duplicate userName in another case → conflict.
	if err := s.CreateUser(ctx, "t1", newUser("u2", "ALICE@example.com")); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate: %v", err)
	}
	// Same userName in another tenant is fine.
	if err := s.CreateUser(ctx, "t2", newUser("u1", "alice@example.com")); err != nil {
		t.Fatalf("other tenant: %v", err)
	}

	// Rename moves the guard.
	prev, err := s.GetUser(ctx, "t1", "u1")
	if err != nil {
		t.Fatal(err)
	}
	next := *prev
	next.UserName = "alice2@example.com"
	if err := s.UpdateUser(ctx, "t1", &next, prev); err != nil {
		t.Fatalf("rename: %v", err)
	}
	if _, err := s.UserByUserName(ctx, "t1", "alice@example.com"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("old name still found: %v", err)
	}
	if err := s.CreateUser(ctx, "t1", newUser("u3", "alice@example.com")); err != nil {
		t.Fatalf("old name not freed: %v", err)
	}
	// Stale version → ErrVersion.
	stale := *prev
	stale.Active = false
	if err := s.UpdateUser(ctx, "t1", &stale, prev); !errors.Is(err, store.ErrVersion) {
		t.Fatalf("stale update: %v", err)
	}
	// Rename onto a taken name → ErrConflict.
	cur, _ := s.GetUser(ctx, "t1", "u1")
	clash := *cur
	clash.UserName = "ALICE@example.com"
	if err := s.UpdateUser(ctx, "t1", &clash, cur); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("rename clash: %v", err)
	}
	if n, err := s.CountUsers(ctx, "t1"); err != nil || n != 2 {
		t.Fatalf("count = %d, %v; want 2", n, err)
	}
	cur, _ = s.GetUser(ctx, "t1", "u1")
	if err := s.DeleteUser(ctx, "t1", cur); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if _, err := s.GetUser(ctx, "t1", "u1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("get after delete: %v", err)
	}
	if _, err := s.UserByUserName(ctx, "t1", "alice2@example.com"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("guard left after delete: %v", err)
	}
	if n, _ := s.CountUsers(ctx, "t1"); n != 1 {
		t.Fatalf("count after delete = %d, want 1", n)
	}
}

func TestConcurrentCreateOneWins(t *testing.T) {
	env := storetest.New(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make([]error, 20)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = env.Store.CreateUser(ctx, "t1", newUser(fmt.Sprintf("id%d", i), "same@example.com"))
		}()
	}
	wg.Wait()
	ok, conflicts := 0, 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, store.ErrConflict):
			conflicts++
		default:
			t.Errorf("unexpected error: %v", err)
		}
	}
	if ok != 1 || conflicts != 19 {
		t.Fatalf("ok=%d conflicts=%d, want 1 and 19", ok, conflicts)
	}
	if n, _ := env.Store.CountUsers(ctx, "t1"); n != 1 {
		t.Fatalf("count = %d, want 1", n)
	}
}

func TestListUsersPagesAndCursor(t *testing.T) {
	env := storetest.New(t)
	s, ctx := env.Store, context.Background()
	for i := range 25 {
		if err := s.CreateUser(ctx, "t1", newUser(fmt.Sprintf("id%03d", i), fmt.Sprintf("u%d@x", i))); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.CreateUser(ctx, "t2", newUser("zzz", "other@x")); err != nil {
		t.Fatal(err)
	}
	var got []string
	after := ""
	for {
		before := env.Metrics.Snapshot()
		page, err := s.ListUsers(ctx, "t1", after, 10)
		if err != nil {
			t.Fatal(err)
		}
		if d := env.Metrics.Snapshot().Sub(before); d.Requests["Query"] != 1 || d.ItemsRead != int64(len(page.Users)) {
			t.Fatalf("page cost %+v, want 1 query reading %d items", d, len(page.Users))
		}
		for _, u := range page.Users {
			got = append(got, u.ID)
		}
		if page.Last == "" {
			break
		}
		after = page.Last
	}
	if len(got) != 25 || got[0] != "id000" || got[24] != "id024" {
		t.Fatalf("listed %d users: %v", len(got), got)
	}

	if err := s.SaveCursor(ctx, "t1", "users", 10, "id009"); err != nil {
		t.Fatal(err)
	}
	if a, ok, err := s.LoadCursor(ctx, "t1", "users", 10); err != nil || !ok || a != "id009" {
		t.Fatalf("cursor = %q %v %v", a, ok, err)
	}
	if _, ok, _ := s.LoadCursor(ctx, "t2", "users", 10); ok {
		t.Fatal("cursor visible in another tenant")
	}
}

func TestImportUsers(t *testing.T) {
	env := storetest.New(t)
	s, ctx := env.Store, context.Background()
	var users []*store.User
	for i := range 60 {
		users = append(users, newUser(fmt.Sprintf("id%03d", i), fmt.Sprintf("User%d@x", i)))
	}
	before := env.Metrics.Snapshot()
	if err := s.ImportUsers(ctx, "t1", users); err != nil {
		t.Fatal(err)
	}
	if d := env.Metrics.Snapshot().Sub(before); d.Requests["BatchWriteItem"] != 5 || d.ItemsWritten != 121 {
		t.Fatalf("cost %+v, want 5 batches writing 120 items + the count", d)
	}
	if n, _ := s.CountUsers(ctx, "t1"); n != 60 {
		t.Fatalf("count = %d", n)
	}
	if u, err := s.UserByUserName(ctx, "t1", "user59@X"); err != nil || u.ID != "id059" {
		t.Fatalf("guard: %v %v", u, err)
	}
	if err := s.CreateUser(ctx, "t1", newUser("new", "user0@x")); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("imported guard not enforced: %v", err)
	}
}

// TestItemSize checks the item size DynamoDB counts against its 400 KB limit
// on known items.
func TestItemSize(t *testing.T) {
	for _, tc := range []struct {
		name string
		item map[string]types.AttributeValue
		want int
	}{
		{"string", map[string]types.AttributeValue{"ab": &types.AttributeValueMemberS{Value: "héllo"}}, 2 + 6},
		{"binary", map[string]types.AttributeValue{"doc": &types.AttributeValueMemberB{Value: make([]byte, 10)}}, 3 + 10},
		{"number", map[string]types.AttributeValue{"n": &types.AttributeValueMemberN{Value: "-00123.4500"}}, 1 + 4}, // 12345: 3 bytes of digits + 1
		{"zero", map[string]types.AttributeValue{"n": &types.AttributeValueMemberN{Value: "0"}}, 1 + 1},
		{"bool and null", map[string]types.AttributeValue{"a": &types.AttributeValueMemberBOOL{Value: true}, "b": &types.AttributeValueMemberNULL{Value: true}}, 2 + 2},
		{"string set", map[string]types.AttributeValue{"groups": &types.AttributeValueMemberSS{Value: []string{"g1", "g22"}}}, 6 + 5},
		{"list", map[string]types.AttributeValue{"l": &types.AttributeValueMemberL{Value: []types.AttributeValue{&types.AttributeValueMemberS{Value: "abc"}}}}, 1 + 3 + 1 + 3},
		{"map", map[string]types.AttributeValue{"m": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"k": &types.AttributeValueMemberS{Value: "v"}}}}, 1 + 3 + 1 + 1 + 1},
	} {
		if got := store.ItemSize(tc.item); got != tc.want {
			t.Errorf("%s: ItemSize = %d, want %d", tc.name, got, tc.want)
		}
	}
}

// TestOversizedUserRefused checks that a user item over 400 KB is refused
// with a SizeError before any request reaches DynamoDB, on create, update
// and import.
func TestOversizedUserRefused(t *testing.T) {
	env := storetest.New(t)
	s, ctx := env.Store, context.Background()
	u := newUser("u1", "u1@x")
	// The document alone is under the limit; with the other attributes and
	// their names the item is over it by a few bytes.
	u.Doc = make([]byte, store.MaxItemBytes-40)
	before := env.Metrics.Snapshot()
	err := s.CreateUser(ctx, "t1", u)
	var se *store.SizeError
	if !errors.As(err, &se) || !errors.Is(err, store.ErrTooLarge) || se.Size <= store.MaxItemBytes {
		t.Fatalf("create: %v, want a SizeError over %d", err, store.MaxItemBytes)
	}
	if err := s.ImportUsers(ctx, "t1", []*store.User{u}); !errors.Is(err, store.ErrTooLarge) {
		t.Fatalf("import: %v, want ErrTooLarge", err)
	}
	if d := env.Metrics.Snapshot().Sub(before); d.Total() != 0 {
		t.Fatalf("%d DynamoDB requests for refused items", d.Total())
	}
	small := newUser("u2", "u2@x")
	if err := s.CreateUser(ctx, "t1", small); err != nil {
		t.Fatal(err)
	}
	next := *small
	next.Doc = u.Doc
	if err := s.UpdateUser(ctx, "t1", &next, small); !errors.Is(err, store.ErrTooLarge) {
		t.Fatalf("update: %v, want ErrTooLarge", err)
	}
	if next.Version != small.Version {
		t.Errorf("a refused update changed the version to %d", next.Version)
	}
}
