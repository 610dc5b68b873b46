package store_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/scimless/scimless/pkg/store"
	"github.com/scimless/scimless/pkg/store/storetest"
)

func srcUser(id string, at time.Time, attrs ...string) *store.SourceUser {
	u := &store.SourceUser{ExternalID: id, Active: true, Attrs: map[string]string{}, Hash: "h" + strings.Join(attrs, ","),
		Created: at, Changed: at}
	for i := 0; i+1 < len(attrs); i += 2 {
		u.Attrs[attrs[i]] = attrs[i+1]
	}
	return u
}

func TestSourceUserVersions(t *testing.T) {
	env := storetest.New(t)
	st, ctx := env.Store, context.Background()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		user    *store.SourceUser
		prev    int64
		wantErr error
		wantVer int64
	}{
		{"create", srcUser("a", t0, "x", "1"), 0, nil, 1},
		{"create again", srcUser("a", t0, "x", "2"), 0, store.ErrVersion, 0},
		{"update at the version read", srcUser("a", t0.Add(time.Second), "x", "2"), 1, nil, 2},
		{"update at an old version", srcUser("a", t0.Add(2*time.Second), "x", "3"), 1, store.ErrVersion, 0},
		{"key too long", srcUser(strings.Repeat("k", 513), t0), 0, store.ErrTooLarge, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := st.PutSourceUser(ctx, "t1", tc.user, tc.prev)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if err == nil && tc.user.Version != tc.wantVer {
				t.Errorf("version %d, want %d", tc.user.Version, tc.wantVer)
			}
		})
	}
	u, err := st.GetSourceUser(ctx, "t1", "a")
	if err != nil || u.Version != 2 || u.Attrs["x"] != "2" || u.State != store.SyncDirty {
		t.Fatalf("get: %+v %v", u, err)
	}
	if _, err := st.GetSourceUser(ctx, "t2", "a"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("another tenant reads it: %v", err)
	}
	got, err := st.GetSourceUsers(ctx, "t1", []string{"a", "missing", "a"})
	if err != nil || len(got) != 1 || got["a"].Version != 2 {
		t.Errorf("batch get: %v %v", got, err)
	}
}

func TestDirtyIndex(t *testing.T) {
	env := storetest.New(t)
	st, ctx := env.Store, context.Background()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 10 {
		if err := st.PutSourceUser(ctx, "t1", srcUser(fmt.Sprintf("u%d", i), t0.Add(time.Duration(i)*time.Minute)), 0); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.PutSourceUser(ctx, "t2", srcUser("other", t0), 0); err != nil {
		t.Fatal(err)
	}
	ids := func(us []*store.SourceUser) string {
		var s []string
		for _, u := range us {
			s = append(s, u.ExternalID)
		}
		return strings.Join(s, ",")
	}
	upTo := store.ChangeKeyUpTo(t0.Add(5 * time.Minute))
	tests := []struct {
		name         string
		after, upTo  string
		limit        int
		want         string
		wantItemRead int64
	}{
		{"from the start, bounded", "", upTo, 100, "u0,u1,u2,u3,u4,u5", 6},
		{"a page", "", upTo, 2, "u0,u1", 2},
		{"after a key", store.ChangeKey(t0.Add(time.Minute), "u1"), upTo, 2, "u2,u3", 2},
		{"nothing after the bound", store.ChangeKey(t0.Add(5*time.Minute), "u5"), upTo, 10, "", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := env.Metrics.Snapshot()
			got, err := st.DirtySourceUsers(ctx, "t1", tc.after, tc.upTo, tc.limit)
			if err != nil {
				t.Fatal(err)
			}
			if ids(got) != tc.want {
				t.Errorf("got %s, want %s", ids(got), tc.want)
			}
			if d := env.Metrics.Snapshot().Sub(before); d.ItemsRead != tc.wantItemRead {
				t.Errorf("read %d items, want %d (only the records returned)", d.ItemsRead, tc.wantItemRead)
			}
		})
	}
	// Synced only at the version uploaded.
	if ok, err := st.MarkSourceUserSynced(ctx, "t1", "u0", 1, t0, time.Time{}); !ok || err != nil {
		t.Fatalf("mark u0: %v %v", ok, err)
	}
	u1 := srcUser("u1", t0.Add(time.Hour), "changed", "yes")
	if err := st.PutSourceUser(ctx, "t1", u1, 1); err != nil {
		t.Fatal(err)
	}
	if ok, _ := st.MarkSourceUserSynced(ctx, "t1", "u1", 1, t0, time.Time{}); ok {
		t.Error("u1 marked synced at a version it no longer has")
	}
	if ok, _ := st.MarkSourceUserFailed(ctx, "t1", "u2", 1, "bad email"); !ok {
		t.Error("u2 not marked failed")
	}
	got, _ := st.DirtySourceUsers(ctx, "t1", "", store.ChangeKeyUpTo(t0.Add(2*time.Hour)), 100)
	if ids(got) != "u3,u4,u5,u6,u7,u8,u9,u1" {
		t.Errorf("dirty after marks: %s", ids(got))
	}
	failed, _ := st.FailedSourceUsers(ctx, "t1", "", 10)
	if ids(failed.Users) != "u2" || failed.Users[0].SyncError != "bad email" || failed.Users[0].State != store.SyncFailed {
		t.Errorf("failed: %+v", failed.Users)
	}
	if n, err := st.RequeueFailedSourceUsers(ctx, "t1"); n != 1 || err != nil {
		t.Errorf("requeue: %d %v", n, err)
	}
	// Changed since: every state, in change order, paged.
	page, err := st.SourceUsersChanged(ctx, "t1", t0.Add(8*time.Minute), "", 2)
	if err != nil || ids(page.Users) != "u8,u9" || page.Next == "" {
		t.Fatalf("changed since page 1: %s next %q %v", ids(page.Users), page.Next, err)
	}
	page, _ = st.SourceUsersChanged(ctx, "t1", t0.Add(8*time.Minute), page.Next, 2)
	if ids(page.Users) != "u1" || page.Next != "" {
		t.Errorf("changed since page 2: %s next %q", ids(page.Users), page.Next)
	}
	page, _ = st.SourceUsersChanged(ctx, "t1", t0, "", 100)
	if len(page.Users) != 10 || page.Users[0].ExternalID != "u0" || page.Users[0].State != store.SyncSynced {
		t.Errorf("changed since t0: %s", ids(page.Users))
	}
}

func TestSourceGroups(t *testing.T) {
	env := storetest.New(t)
	st, ctx := env.Store, context.Background()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	g := &store.SourceGroup{ExternalID: "eng", DisplayName: "Eng", Members: []string{"b", "a"}, Hash: "1", Created: t0, Changed: t0}
	if err := st.PutSourceGroup(ctx, "t1", g, 0); err != nil {
		t.Fatal(err)
	}
	dirty, _ := st.DirtySourceGroups(ctx, "t1", "", store.ChangeKeyUpTo(t0), 10)
	if len(dirty) != 1 || strings.Join(dirty[0].Members, ",") != "a,b" || len(dirty[0].Pushed) != 0 {
		t.Fatalf("dirty groups %+v", dirty)
	}
	if ok, err := st.MarkSourceGroupSynced(ctx, "t1", "eng", 1, t0, time.Time{}); !ok || err != nil {
		t.Fatalf("mark: %v %v", ok, err)
	}
	got, _ := st.GetSourceGroup(ctx, "t1", "eng")
	if strings.Join(got.Pushed, ",") != "a,b" || got.State != store.SyncSynced {
		t.Errorf("after sync %+v", got)
	}
	// Emptied: pushed keeps the old members until the next sync.
	g2 := &store.SourceGroup{ExternalID: "eng", DisplayName: "Eng", Pushed: got.Pushed, Hash: "2", Created: t0, Changed: t0.Add(time.Minute)}
	if err := st.PutSourceGroup(ctx, "t1", g2, 1); err != nil {
		t.Fatal(err)
	}
	if ok, _ := st.MarkSourceGroupSynced(ctx, "t1", "eng", 1, t0, time.Time{}); ok {
		t.Error("marked at an old version")
	}
	if ok, _ := st.MarkSourceGroupSynced(ctx, "t1", "eng", 2, t0, time.Time{}); !ok {
		t.Error("not marked at its version")
	}
	got, _ = st.GetSourceGroup(ctx, "t1", "eng")
	if len(got.Members) != 0 || len(got.Pushed) != 0 {
		t.Errorf("emptied group %+v", got)
	}
	page, _ := st.ListSourceGroups(ctx, "t1", "", 10)
	if len(page.Groups) != 1 {
		t.Errorf("list %+v", page)
	}
}

func TestXaaSRunsAndSyncState(t *testing.T) {
	env := storetest.New(t)
	st, ctx := env.Store, context.Background()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := st.NoteXaaSPush(ctx, "t1", t0, 3); err != nil {
		t.Fatal(err)
	}
	if err := st.NoteXaaSPush(ctx, "t1", t0.Add(time.Minute), 2); err != nil {
		t.Fatal(err)
	}
	s, err := st.GetXaaSSync(ctx, "t1")
	if err != nil || s.Pending != 5 || !s.PushFirst.Equal(t0) || !s.PushAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("sync state %+v %v", s, err)
	}
	r1 := &store.XaaSRun{ID: "20260101T000000.000Z-aa", State: store.RunQueued, Doc: []byte(`{}`), Created: t0}
	if id, err := st.StartXaaSRun(ctx, "t1", r1, time.Time{}); err != nil || id != r1.ID {
		t.Fatalf("start: %s %v", id, err)
	}
	r2 := &store.XaaSRun{ID: "20260101T000100.000Z-bb", State: store.RunQueued, Doc: []byte(`{}`), Created: t0.Add(time.Minute)}
	if id, err := st.StartXaaSRun(ctx, "t1", r2, time.Time{}); !errors.Is(err, store.ErrConflict) || id != r1.ID {
		t.Fatalf("second start: %s %v, want conflict with %s", id, err, r1.ID)
	}
	s, _ = st.GetXaaSSync(ctx, "t1")
	if s.Run != r1.ID || !s.PushHandled.Equal(s.PushAt) {
		t.Errorf("after start %+v", s)
	}
	// Leases.
	if ok, _ := st.AcquireXaaSLease(ctx, "t1", r1.ID, "w1", t0, t0.Add(time.Minute)); !ok {
		t.Fatal("w1 did not get the lease")
	}
	if ok, _ := st.AcquireXaaSLease(ctx, "t1", r1.ID, "w2", t0.Add(30*time.Second), t0.Add(time.Minute)); ok {
		t.Fatal("w2 got a held lease")
	}
	if ok, _ := st.AcquireXaaSLease(ctx, "t1", "other-run", "w1", t0, t0.Add(time.Minute)); ok {
		t.Fatal("lease on a run that is not active")
	}
	if ok, _ := st.RenewXaaSLease(ctx, "t1", "w2", t0.Add(time.Hour)); ok {
		t.Fatal("w2 renewed w1's lease")
	}
	if ok, _ := st.AcquireXaaSLease(ctx, "t1", r1.ID, "w2", t0.Add(2*time.Minute), t0.Add(3*time.Minute)); !ok {
		t.Fatal("w2 did not get an expired lease")
	}
	if err := st.ReleaseXaaSLease(ctx, "t1", "w2", t0.Add(5*time.Minute)); err != nil {
		t.Fatal(err)
	}
	s, _ = st.GetXaaSSync(ctx, "t1")
	if !s.LeaseUntil.IsZero() || !s.Due.Equal(t0.Add(5*time.Minute)) {
		t.Errorf("after release %+v", s)
	}
	// Run versions.
	r, _ := st.GetXaaSRun(ctx, "t1", r1.ID)
	r.State = store.RunRunning
	if err := st.UpdateXaaSRun(ctx, "t1", r, 1); err != nil || r.Version != 2 {
		t.Fatalf("update: %v %d", err, r.Version)
	}
	if err := st.UpdateXaaSRun(ctx, "t1", r, 1); !errors.Is(err, store.ErrVersion) {
		t.Errorf("stale update: %v", err)
	}
	if err := st.FinishXaaSRun(ctx, "t1", r1.ID); err != nil {
		t.Fatal(err)
	}
	if id, err := st.StartXaaSRun(ctx, "t1", r2, time.Time{}); err != nil || id != r2.ID {
		t.Fatalf("start after finish: %s %v", id, err)
	}
	runs, _ := st.ListXaaSRuns(ctx, "t1", "", 10)
	if len(runs) != 2 || runs[0].ID != r2.ID {
		t.Errorf("runs newest first: %+v", runs)
	}
	if runs, _ := st.ListXaaSRuns(ctx, "t1", r2.ID, 10); len(runs) != 1 || runs[0].ID != r1.ID {
		t.Errorf("runs before r2: %+v", runs)
	}
	all, _ := st.ListXaaSSyncs(ctx)
	if len(all) != 1 || all[0].Tenant != "t1" {
		t.Errorf("syncs %+v", all)
	}
	// Upload logs.
	for i := range 3 {
		l := store.XaaSUploadLog{Run: r2.ID, Session: 1, Index: i, Kind: "users.upsert", IDs: []string{"a", "b"}, Versions: []int64{1, 2}, Deleted: []bool{false, true}}
		if err := st.PutXaaSUploadLog(ctx, "t1", l, t0.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	_ = st.PutXaaSUploadLog(ctx, "t1", store.XaaSUploadLog{Run: r2.ID, Session: 2, Index: 0, Kind: "x", IDs: []string{"z"}}, t0)
	if err := st.DeleteXaaSUploadLog(ctx, "t1", r2.ID, 1, 1); err != nil {
		t.Fatal(err)
	}
	logs, err := st.XaaSUploadLogs(ctx, "t1", r2.ID, 1)
	if err != nil || len(logs) != 2 || logs[1].Index != 2 || !logs[0].Deleted[1] || logs[0].Versions[1] != 2 {
		t.Errorf("logs %+v %v", logs, err)
	}
}

func TestXaaSDocs(t *testing.T) {
	env := storetest.New(t)
	st, ctx := env.Store, context.Background()
	if _, err := st.GetXaaSDoc(ctx, "t1", store.XaaSDocMapping); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("missing doc: %v", err)
	}
	if err := st.PutXaaSDoc(ctx, "t1", store.XaaSDocMapping, []byte(`{"a":1}`)); err != nil {
		t.Fatal(err)
	}
	if b, err := st.GetXaaSDoc(ctx, "t1", store.XaaSDocMapping); err != nil || string(b) != `{"a":1}` {
		t.Errorf("doc %s %v", b, err)
	}
}
