package store_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

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

// orphanMemberships scans the whole table and returns the membership items
// whose group does not exist, and the users whose group-id set names a group
// that does not exist, as "user → group".
func orphanMemberships(t *testing.T, env *storetest.Env) []string {
	t.Helper()
	ctx := context.Background()
	groups := map[string]bool{}
	type member struct{ uid, gid string }
	var members []member
	userGroups := map[string][]string{}
	p := dynamodb.NewScanPaginator(env.Client, &dynamodb.ScanInput{TableName: aws.String(env.Store.TableName())})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range out.Items {
			typ, _ := it["type"].(*types.AttributeValueMemberS)
			if typ == nil {
				continue
			}
			str := func(k string) string {
				v, _ := it[k].(*types.AttributeValueMemberS)
				if v == nil {
					return ""
				}
				return v.Value
			}
			switch typ.Value {
			case "group":
				groups[str("id")] = true
			case "member":
				members = append(members, member{str("uid"), str("gid")})
			case "user":
				if ss, ok := it["groups"].(*types.AttributeValueMemberSS); ok {
					userGroups[str("id")] = ss.Value
				}
			}
		}
	}
	var orphans []string
	for _, m := range members {
		if !groups[m.gid] {
			orphans = append(orphans, "membership "+m.uid+" → "+m.gid)
		}
	}
	for uid, gids := range userGroups {
		for _, g := range gids {
			if !groups[g] {
				orphans = append(orphans, "user "+uid+" → "+g)
			}
		}
	}
	return orphans
}

// TestGroupDeletedWhileMemberAdded races a group's deletion with adding a
// member to it: whichever wins, no membership item (and no group id in a
// user) may outlive the group.
func TestGroupDeletedWhileMemberAdded(t *testing.T) {
	env := storetest.New(t)
	s, ctx := env.Store, context.Background()
	const rounds = 20
	for i := range rounds {
		uid, gid := fmt.Sprintf("u%02d", i), fmt.Sprintf("g%02d", i)
		if err := s.CreateUser(ctx, "t1", newUser(uid, uid+"@x")); err != nil {
			t.Fatal(err)
		}
		g := newGroup(gid, gid)
		if err := s.CreateGroup(ctx, "t1", g); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		start := make(chan struct{})
		wg.Add(2)
		go func() {
			defer wg.Done()
			<-start
			if err := s.DeleteGroup(ctx, "t1", g); err != nil {
				t.Errorf("round %d: delete: %v", i, err)
			}
		}()
		go func() {
			defer wg.Done()
			<-start
			_, err := s.AddMembers(ctx, "t1", gid, 0, []store.Member{{UserID: uid}})
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				t.Errorf("round %d: add: %v, want success or ErrNotFound", i, err)
			}
		}()
		close(start)
		wg.Wait()
	}
	if o := orphanMemberships(t, env); len(o) > 0 {
		t.Fatalf("orphans after %d races: %v", rounds, o)
	}
	// Adding to a group that is already gone writes nothing.
	if _, err := s.AddMembers(ctx, "t1", "g00", 0, []store.Member{{UserID: "u00"}}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("add to a deleted group: %v, want ErrNotFound", err)
	}
	if o := orphanMemberships(t, env); len(o) > 0 {
		t.Fatalf("orphans: %v", o)
	}
}

// TestMemberChangesPinnedToVersion checks that with a group version the
// membership writes are conditional on it: a stale version changes nothing.
func TestMemberChangesPinnedToVersion(t *testing.T) {
	env := storetest.New(t)
	s, ctx := env.Store, context.Background()
	if err := s.CreateUser(ctx, "t1", newUser("u1", "u1@x")); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateGroup(ctx, "t1", newGroup("g1", "G")); err != nil {
		t.Fatal(err)
	}
	g, err := s.TouchGroup(ctx, "t1", "g1", time.Now(), 1)
	if err != nil || g.Version != 2 || g.DisplayName != "G" {
		t.Fatalf("touch: %+v, %v; want version 2 with the group's fields", g, err)
	}
	if _, err := s.AddMembers(ctx, "t1", "g1", 1, []store.Member{{UserID: "u1"}}); !errors.Is(err, store.ErrVersion) {
		t.Fatalf("add at a stale version: %v, want ErrVersion", err)
	}
	if err := s.RemoveMembers(ctx, "t1", "g1", 1, []string{"u1"}); !errors.Is(err, store.ErrVersion) {
		t.Fatalf("remove at a stale version: %v, want ErrVersion", err)
	}
	if got := memberIDs(t, s, "t1", "g1"); len(got) != 0 {
		t.Fatalf("members %v after a stale add", got)
	}
	if _, err := s.TouchGroup(ctx, "t1", "g1", time.Now(), 1); !errors.Is(err, store.ErrVersion) {
		t.Fatalf("touch at a stale version: %v, want ErrVersion", err)
	}
	if _, err := s.TouchGroup(ctx, "t1", "nope", time.Now(), 0); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("touch of a missing group: %v, want ErrNotFound", err)
	}
	if _, err := s.AddMembers(ctx, "t1", "g1", 2, []store.Member{{UserID: "u1"}}); err != nil {
		t.Fatal(err)
	}
	if got := memberIDs(t, s, "t1", "g1"); !slices.Equal(got, []string{"u1"}) {
		t.Fatalf("members %v", got)
	}
}
