package store_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/scimless/scimless/pkg/store"
	"github.com/scimless/scimless/pkg/store/storetest"
)

func newGroup(id, name string) *store.Group {
	now := time.Now().UTC()
	return &store.Group{ID: id, DisplayName: name, Doc: []byte(`{"displayName":"` + name + `"}`), Created: now, Modified: now}
}

func memberIDs(t *testing.T, s *store.Store, tenant, gid string) []string {
	t.Helper()
	ms, err := s.Members(context.Background(), tenant, gid)
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]string, len(ms))
	for i, m := range ms {
		ids[i] = m.UserID
	}
	return ids
}

func TestGroupMembershipLifecycle(t *testing.T) {
	env := storetest.New(t)
	s, ctx := env.Store, context.Background()
	for _, id := range []string{"u1", "u2", "u3"} {
		if err := s.CreateUser(ctx, "t1", newUser(id, id+"@x")); err != nil {
			t.Fatal(err)
		}
	}
	g := newGroup("g1", "Admins")
	if err := s.CreateGroup(ctx, "t1", g); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateGroup(ctx, "t1", newGroup("g2", "ADMINS")); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate displayName: %v", err)
	}
	added, err := s.AddMembers(ctx, "t1", "g1", 0, []store.Member{{UserID: "u1"}, {UserID: "u2"}, {UserID: "ghost"}})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(added, []string{"u1", "u2"}) {
		t.Fatalf("added = %v; a missing user must be skipped, never written", added)
	}
	if got := memberIDs(t, s, "t1", "g1"); !slices.Equal(got, []string{"u1", "u2"}) {
		t.Fatalf("members = %v", got)
	}
	u1, _ := s.GetUser(ctx, "t1", "u1")
	if !slices.Equal(u1.Groups, []string{"g1"}) || u1.Version != 2 {
		t.Fatalf("user groups = %v version %d; want [g1] and a bumped version", u1.Groups, u1.Version)
	}
	if ids, _ := s.GroupsOf(ctx, "t1", "u2"); !slices.Equal(ids, []string{"g1"}) {
		t.Fatalf("groups of u2 = %v", ids)
	}
	// Idempotent add and remove of a non-member.
	if _, err := s.AddMembers(ctx, "t1", "g1", 0, []store.Member{{UserID: "u1"}}); err != nil {
		t.Fatal(err)
	}
	if err := s.RemoveMembers(ctx, "t1", "g1", 0, []string{"u3", "u2"}); err != nil {
		t.Fatal(err)
	}
	if got := memberIDs(t, s, "t1", "g1"); !slices.Equal(got, []string{"u1"}) {
		t.Fatalf("members after remove = %v", got)
	}
	// Rename: one conditional write, guard moved, old name free.
	prev, _ := s.GetGroup(ctx, "t1", "g1")
	next := *prev
	next.DisplayName = "Operators"
	before := env.Metrics.Snapshot()
	if err := s.UpdateGroup(ctx, "t1", &next, prev); err != nil {
		t.Fatal(err)
	}
	if d := env.Metrics.Snapshot().Sub(before); d.Total() != 1 || d.ItemsWritten != 3 {
		t.Fatalf("rename cost %+v, want one transaction of 3 writes", d)
	}
	if err := s.CreateGroup(ctx, "t1", newGroup("g3", "admins")); err != nil {
		t.Fatalf("old name not freed: %v", err)
	}
	// Delete: group gone, memberships and user group ids cleaned.
	cur, _ := s.GetGroup(ctx, "t1", "g1")
	if err := s.DeleteGroup(ctx, "t1", cur); err != nil {
		t.Fatal(err)
	}
	if got := memberIDs(t, s, "t1", "g1"); len(got) != 0 {
		t.Fatalf("memberships left: %v", got)
	}
	if u1, _ := s.GetUser(ctx, "t1", "u1"); len(u1.Groups) != 0 {
		t.Fatalf("user still lists deleted group: %v", u1.Groups)
	}
	if n, _ := s.CountGroups(ctx, "t1"); n != 1 {
		t.Fatalf("group count = %d, want 1", n)
	}
}

func TestConcurrentMemberChanges(t *testing.T) {
	env := storetest.New(t)
	s, ctx := env.Store, context.Background()
	if err := s.CreateGroup(ctx, "t1", newGroup("g1", "G")); err != nil {
		t.Fatal(err)
	}
	const n = 40
	var all []string
	for i := range n {
		id := fmt.Sprintf("u%02d", i)
		all = append(all, id)
		if err := s.CreateUser(ctx, "t1", newUser(id, id+"@x")); err != nil {
			t.Fatal(err)
		}
	}
	// Two PATCHes at once, overlapping on half the users.
	var wg sync.WaitGroup
	for _, part := range [][]string{all[:30], all[10:]} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ms := make([]store.Member, len(part))
			for i, id := range part {
				ms[i] = store.Member{UserID: id}
			}
			if _, err := s.AddMembers(ctx, "t1", "g1", 0, ms); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if got := memberIDs(t, s, "t1", "g1"); !slices.Equal(got, all) {
		t.Fatalf("members = %d, want all %d", len(got), n)
	}
	for _, id := range all {
		u, _ := s.GetUser(ctx, "t1", id)
		if !slices.Equal(u.Groups, []string{"g1"}) {
			t.Fatalf("user %s groups = %v", id, u.Groups)
		}
	}
}

func TestUserDeletedWhileBeingAdded(t *testing.T) {
	env := storetest.New(t)
	s, ctx := env.Store, context.Background()
	if err := s.CreateGroup(ctx, "t1", newGroup("g1", "G")); err != nil {
		t.Fatal(err)
	}
	u := newUser("u1", "u1@x")
	if err := s.CreateUser(ctx, "t1", u); err != nil {
		t.Fatal(err)
	}
	// The delete wins: the add must not leave a membership of a ghost.
	prev, _ := s.GetUser(ctx, "t1", "u1")
	if err := s.DeleteUser(ctx, "t1", prev); err != nil {
		t.Fatal(err)
	}
	if added, err := s.AddMembers(ctx, "t1", "g1", 0, []store.Member{{UserID: "u1"}}); err != nil || len(added) != 0 {
		t.Fatalf("added %v, %v", added, err)
	}
	if got := memberIDs(t, s, "t1", "g1"); len(got) != 0 {
		t.Fatalf("dangling member %v", got)
	}
	// The add wins: the delete with the old version fails, so the caller
	// re-reads and cleans up the new membership first.
	u2 := newUser("u2", "u2@x")
	if err := s.CreateUser(ctx, "t1", u2); err != nil {
		t.Fatal(err)
	}
	stale, _ := s.GetUser(ctx, "t1", "u2")
	if _, err := s.AddMembers(ctx, "t1", "g1", 0, []store.Member{{UserID: "u2"}}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteUser(ctx, "t1", stale); !errors.Is(err, store.ErrVersion) {
		t.Fatalf("stale delete: %v, want ErrVersion", err)
	}
}
