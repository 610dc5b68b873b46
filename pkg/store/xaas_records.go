package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/guregu/dynamo/v2"

	"github.com/scimless/scimless/pkg/table"
)

// SourceUser is a user record pushed by a source system.
type SourceUser struct {
	ExternalID string
	// Attrs are the record's attributes as strings (never empty values).
	Attrs map[string]string
	// Active false means the user is to be deactivated in Okta.
	Active bool
	// Deleted marks a tombstone: the source deleted the record; the sync
	// deactivates the user in Okta. A pushed tombstone expires after a TTL.
	Deleted bool
	// Hash is the content hash of Attrs, Active and Deleted.
	Hash    string
	Version int64
	Created time.Time
	Changed time.Time
	// State is SyncDirty, SyncSynced or SyncFailed.
	State string
	// Synced is when Okta last confirmed an import of the record.
	Synced time.Time
	// SyncError says why the record is SyncFailed.
	SyncError string
}

// ChangeKey returns the record's change key (its gsi3sk).
func (u *SourceUser) ChangeKey() string { return ChangeKey(u.Changed, u.ExternalID) }

type srcUserItem struct {
	PK         string            `dynamo:"pk,hash"`
	SK         string            `dynamo:"sk,range"`
	Type       string            `dynamo:"type"`
	ExternalID string            `dynamo:"externalId"`
	Attrs      map[string]string `dynamo:"attrs,omitempty"`
	Active     bool              `dynamo:"active"`
	Deleted    bool              `dynamo:"deleted,omitempty"`
	Hash       string            `dynamo:"hash"`
	Version    int64             `dynamo:"ver"`
	Created    time.Time         `dynamo:"created"`
	Changed    time.Time         `dynamo:"changed"`
	Synced     time.Time         `dynamo:"synced,omitempty"`
	SyncError  string            `dynamo:"syncErr,omitempty"`
	GSI3PK     string            `dynamo:"gsi3pk"`
	GSI3SK     string            `dynamo:"gsi3sk"`
	TTL        int64             `dynamo:"ttl,omitempty"`
	ActorStamp
}

func (it *srcUserItem) user() *SourceUser {
	return &SourceUser{ExternalID: it.ExternalID, Attrs: it.Attrs, Active: it.Active, Deleted: it.Deleted,
		Hash: it.Hash, Version: it.Version, Created: it.Created, Changed: it.Changed, State: stateOf(it.GSI3PK),
		Synced: it.Synced, SyncError: it.SyncError}
}

func srcUserSK(id string) string { return srcUserPrefix + id }

func srcGroupSK(id string) string { return srcGroupPrefix + id }

// sourceItem is the stored form of a source user or group: the two share
// their key layout, reads and paging.
type sourceItem interface{ srcUserItem | srcGroupItem }

// getSource reads the item of one source record (tombstones included), whose
// sort key sk returns: one GetItem. what names the operation in errors.
func getSource[T sourceItem](ctx context.Context, s *Store, tenant, externalID string, sk func(string) string, what string) (*T, error) {
	if externalID == "" || len(externalID) > MaxKeyValue {
		return nil, fmt.Errorf("%s: %w", what, ErrNotFound)
	}
	var it T
	err := s.table.Get(table.PartitionKey, tenantPK(tenant)).Range(table.SortKey, dynamo.Equal, sk(externalID)).
		Consistent(true).One(ctx, &it)
	if errors.Is(err, dynamo.ErrNotFound) {
		return nil, fmt.Errorf("%s: %w", what, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return &it, nil
}

// dirtySources returns up to limit items of the Dirty index partition
// statePK whose change keys are after after (all when empty) and at most
// upTo, in change order: one Query reading only the items returned.
func dirtySources[T sourceItem](ctx context.Context, s *Store, statePK, after, upTo string, limit int) ([]T, error) {
	q := s.table.Get(table.DirtyPK, statePK).Index(table.Dirty)
	if after == "" {
		q = q.Range(table.DirtySK, dynamo.LessOrEqual, upTo)
	} else {
		q = q.Range(table.DirtySK, dynamo.Between, after+"\x00", upTo)
	}
	var items []T
	if err := q.Limit(limit).All(ctx, &items); err != nil {
		return nil, err
	}
	return items, nil
}

// GetSourceUser reads one source user (tombstones included): one GetItem.
func (s *Store) GetSourceUser(ctx context.Context, tenant, externalID string) (*SourceUser, error) {
	it, err := getSource[srcUserItem](ctx, s, tenant, externalID, srcUserSK, "get source user")
	if err != nil {
		return nil, err
	}
	return it.user(), nil
}

// GetSourceUsers reads the source users with the given externalIds that
// exist, in BatchGetItem calls of up to 100 keys.
func (s *Store) GetSourceUsers(ctx context.Context, tenant string, externalIDs []string) (map[string]*SourceUser, error) {
	out := make(map[string]*SourceUser, len(externalIDs))
	for start := 0; start < len(externalIDs); start += table.MaxBatchGet {
		chunk := externalIDs[start:min(start+table.MaxBatchGet, len(externalIDs))]
		keys := make([]dynamo.Keyed, 0, len(chunk))
		seen := make(map[string]bool, len(chunk))
		for _, id := range chunk {
			if id != "" && len(id) <= MaxKeyValue && !seen[id] {
				seen[id] = true
				keys = append(keys, dynamo.Keys{tenantPK(tenant), srcUserSK(id)})
			}
		}
		if len(keys) == 0 {
			continue
		}
		var items []srcUserItem
		err := s.table.Batch(table.PartitionKey, table.SortKey).Get(keys...).Consistent(true).All(ctx, &items)
		if err != nil && !errors.Is(err, dynamo.ErrNotFound) {
			return nil, fmt.Errorf("get source users: %w", err)
		}
		for i := range items {
			out[items[i].ExternalID] = items[i].user()
		}
	}
	return out, nil
}

// PutSourceUser stores u as a new version waiting for a push (State
// SyncDirty) in one conditional PutItem: the record must not exist when
// prevVersion is 0, else it must still be at prevVersion (ErrVersion
// otherwise). u.Version becomes prevVersion+1; u.Changed must be set.
func (s *Store) PutSourceUser(ctx context.Context, tenant string, u *SourceUser, prevVersion int64) error {
	if err := checkKeyValues(u.ExternalID); err != nil {
		return fmt.Errorf("put source user: %w", err)
	}
	it := srcUserItem{PK: tenantPK(tenant), SK: srcUserSK(u.ExternalID), Type: "srcUser", ExternalID: u.ExternalID,
		Attrs: u.Attrs, Active: u.Active, Deleted: u.Deleted, Hash: u.Hash, Version: prevVersion + 1,
		Created: u.Created.UTC(), Changed: u.Changed.UTC(), Synced: u.Synced.UTC(),
		GSI3PK: userStatePK(tenant, SyncDirty), GSI3SK: ChangeKey(u.Changed, u.ExternalID), ActorStamp: s.actorStamp(ctx)}
	if err := s.putVersioned(ctx, "put source user", it, prevVersion); err != nil {
		return err
	}
	u.Version, u.State, u.SyncError = prevVersion+1, SyncDirty, ""
	u.Created, u.Changed, u.Synced = it.Created, it.Changed, it.Synced // as stored
	return nil
}

// SourceUserPage is one page of source users.
type SourceUserPage struct {
	Users []*SourceUser
	// Next is the cursor of the next page; empty when there is none.
	Next string
}

// ListSourceUsers returns up to limit source users (tombstones included)
// with externalIds after the given one, in externalId order: one Query
// reading only the records returned.
func (s *Store) ListSourceUsers(ctx context.Context, tenant, after string, limit int) (SourceUserPage, error) {
	var page SourceUserPage
	var err error
	page.Users, page.Next, err = listPage(ctx, s, tenant, srcUserPrefix, after, limit, func(it *srcUserItem) (*SourceUser, string) { return it.user(), it.ExternalID })
	if err != nil {
		return page, fmt.Errorf("list source users: %w", err)
	}
	return page, nil
}

// SourceUsersChanged returns up to limit source users (tombstones included)
// changed at or after since, in change order, starting after the change key
// after (a previous page's Next): at most one Query of limit items per sync
// state (three), merged.
func (s *Store) SourceUsersChanged(ctx context.Context, tenant string, since time.Time, after string, limit int) (SourceUserPage, error) {
	var page SourceUserPage
	if limit <= 0 {
		return page, nil
	}
	lo := ChangeTime(since)
	if after != "" && after >= lo {
		lo = after + "\x00" // the first key after "after"
	}
	var all []srcUserItem
	more := false
	for _, state := range []string{SyncDirty, SyncSynced, SyncFailed} {
		var items []srcUserItem
		lek, err := s.table.Get(table.DirtyPK, userStatePK(tenant, state)).Index(table.Dirty).
			Range(table.DirtySK, dynamo.GreaterOrEqual, lo).Limit(limit).AllWithLastEvaluatedKey(ctx, &items)
		if err != nil {
			return page, fmt.Errorf("source users changed: %w", err)
		}
		more = more || lek != nil
		all = append(all, items...)
	}
	slices.SortFunc(all, func(a, b srcUserItem) int { return strings.Compare(a.GSI3SK, b.GSI3SK) })
	if len(all) > limit {
		all, more = all[:limit], true
	}
	page.Users = make([]*SourceUser, len(all))
	for i := range all {
		page.Users[i] = all[i].user()
	}
	if more && len(all) > 0 {
		page.Next = all[len(all)-1].GSI3SK
	}
	return page, nil
}

// DirtySourceUsers returns up to limit source users waiting for a push whose
// change keys are after after (all when empty) and at most upTo, in change
// order: one Query of the Dirty index reading only the records returned.
func (s *Store) DirtySourceUsers(ctx context.Context, tenant, after, upTo string, limit int) ([]*SourceUser, error) {
	if limit <= 0 {
		return nil, nil
	}
	items, err := dirtySources[srcUserItem](ctx, s, userStatePK(tenant, SyncDirty), after, upTo, limit)
	if err != nil {
		return nil, fmt.Errorf("dirty source users: %w", err)
	}
	out := make([]*SourceUser, len(items))
	for i := range items {
		out[i] = items[i].user()
	}
	return out, nil
}

// FailedSourceUsers returns up to limit source users whose profile could
// not be sent, in change order after the change key after: one Query.
func (s *Store) FailedSourceUsers(ctx context.Context, tenant, after string, limit int) (SourceUserPage, error) {
	var page SourceUserPage
	q := s.table.Get(table.DirtyPK, userStatePK(tenant, SyncFailed)).Index(table.Dirty)
	if after != "" {
		q = q.Range(table.DirtySK, dynamo.Greater, after)
	}
	var items []srcUserItem
	lek, err := q.Limit(max(limit, 1)).AllWithLastEvaluatedKey(ctx, &items)
	if err != nil {
		return page, fmt.Errorf("failed source users: %w", err)
	}
	page.Users = make([]*SourceUser, len(items))
	for i := range items {
		page.Users[i] = items[i].user()
	}
	if lek != nil && len(items) > 0 {
		page.Next = items[len(items)-1].GSI3SK
	}
	return page, nil
}

// MarkSourceUserSynced records that Okta imported version of the record: it
// leaves the dirty partition, unless it changed since (then false, and it
// stays dirty for the next push). A pushed tombstone gets expires as its TTL.
// One conditional UpdateItem, no read.
func (s *Store) MarkSourceUserSynced(ctx context.Context, tenant, externalID string, version int64, at, expires time.Time) (bool, error) {
	u := s.table.Update(table.PartitionKey, tenantPK(tenant)).Range(table.SortKey, srcUserSK(externalID)).
		Set(table.DirtyPK, userStatePK(tenant, SyncSynced)).Set("synced", at.UTC())
	if !expires.IsZero() {
		u.Set(table.TTLAttribute, expires.Unix())
	}
	err := u.If("$ = ? AND $ = ?", "ver", version, table.DirtyPK, userStatePK(tenant, SyncDirty)).Run(ctx)
	if isCondFailed(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("mark source user synced: %w", err)
	}
	return true, nil
}

// MarkSourceUserFailed records that version of the record maps to a
// profile Okta would refuse: it moves to the failed partition with reason,
// unless it changed since (then false). One conditional UpdateItem.
func (s *Store) MarkSourceUserFailed(ctx context.Context, tenant, externalID string, version int64, reason string) (bool, error) {
	if reason == "" {
		reason = "invalid profile"
	}
	err := s.table.Update(table.PartitionKey, tenantPK(tenant)).Range(table.SortKey, srcUserSK(externalID)).
		Set(table.DirtyPK, userStatePK(tenant, SyncFailed)).Set("syncErr", reason).
		If("$ = ? AND $ = ?", "ver", version, table.DirtyPK, userStatePK(tenant, SyncDirty)).Run(ctx)
	if isCondFailed(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("mark source user failed: %w", err)
	}
	return true, nil
}

// RequeueFailedSourceUsers moves every failed record back to the dirty
// partition (after a mapping change): O(failed) reads and writes. Returns
// how many moved.
func (s *Store) RequeueFailedSourceUsers(ctx context.Context, tenant string) (int, error) {
	n, after := 0, ""
	for {
		page, err := s.FailedSourceUsers(ctx, tenant, after, 500)
		if err != nil {
			return n, err
		}
		for _, u := range page.Users {
			err := s.table.Update(table.PartitionKey, tenantPK(tenant)).Range(table.SortKey, srcUserSK(u.ExternalID)).
				Set(table.DirtyPK, userStatePK(tenant, SyncDirty)).
				If("$ = ? AND $ = ?", "ver", u.Version, table.DirtyPK, userStatePK(tenant, SyncFailed)).Run(ctx)
			switch {
			case err == nil:
				n++
			case !isCondFailed(err):
				return n, fmt.Errorf("requeue failed source users: %w", err)
			}
		}
		if page.Next == "" {
			return n, nil
		}
		after = page.Next
	}
}

// SourceGroup is a group record pushed by a source system.
type SourceGroup struct {
	ExternalID  string
	DisplayName string
	Description string
	// Members are the member users' externalIds, sorted.
	Members []string
	// Pushed are the members as of the last import Okta confirmed, sorted.
	Pushed []string
	// Deleted marks a tombstone: the group is deleted in Okta by the next sync.
	Deleted bool
	Hash    string
	Version int64
	Created time.Time
	Changed time.Time
	// State is SyncDirty or SyncSynced.
	State  string
	Synced time.Time
}

// ChangeKey returns the record's change key (its gsi3sk).
func (g *SourceGroup) ChangeKey() string { return ChangeKey(g.Changed, g.ExternalID) }

type srcGroupItem struct {
	PK          string    `dynamo:"pk,hash"`
	SK          string    `dynamo:"sk,range"`
	Type        string    `dynamo:"type"`
	ExternalID  string    `dynamo:"externalId"`
	DisplayName string    `dynamo:"displayName,omitempty"`
	Description string    `dynamo:"description,omitempty"`
	Members     []string  `dynamo:"members,set,omitempty"`
	Pushed      []string  `dynamo:"pushed,set,omitempty"`
	Deleted     bool      `dynamo:"deleted,omitempty"`
	Hash        string    `dynamo:"hash"`
	Version     int64     `dynamo:"ver"`
	Created     time.Time `dynamo:"created"`
	Changed     time.Time `dynamo:"changed"`
	Synced      time.Time `dynamo:"synced,omitempty"`
	GSI3PK      string    `dynamo:"gsi3pk"`
	GSI3SK      string    `dynamo:"gsi3sk"`
	TTL         int64     `dynamo:"ttl,omitempty"`
	ActorStamp
}

func (it *srcGroupItem) group() *SourceGroup {
	slices.Sort(it.Members)
	slices.Sort(it.Pushed)
	return &SourceGroup{ExternalID: it.ExternalID, DisplayName: it.DisplayName, Description: it.Description,
		Members: it.Members, Pushed: it.Pushed, Deleted: it.Deleted, Hash: it.Hash, Version: it.Version,
		Created: it.Created, Changed: it.Changed, State: stateOf(it.GSI3PK), Synced: it.Synced}
}

func (s *Store) srcGroupItem(tenant string, g *SourceGroup, state string, version int64) srcGroupItem {
	return srcGroupItem{PK: tenantPK(tenant), SK: srcGroupSK(g.ExternalID), Type: "srcGroup", ExternalID: g.ExternalID,
		DisplayName: g.DisplayName, Description: g.Description, Members: g.Members, Pushed: g.Pushed,
		Deleted: g.Deleted, Hash: g.Hash, Version: version, Created: g.Created.UTC(), Changed: g.Changed.UTC(),
		Synced: g.Synced.UTC(), GSI3PK: groupStatePK(tenant, state), GSI3SK: ChangeKey(g.Changed, g.ExternalID)}
}

// GetSourceGroup reads one source group (tombstones included): one GetItem.
func (s *Store) GetSourceGroup(ctx context.Context, tenant, externalID string) (*SourceGroup, error) {
	it, err := getSource[srcGroupItem](ctx, s, tenant, externalID, srcGroupSK, "get source group")
	if err != nil {
		return nil, err
	}
	return it.group(), nil
}

// PutSourceGroup stores g as a new version waiting for a push, like
// PutSourceUser. The caller carries Pushed over from the previous version.
// An item over DynamoDB's 400 KB yields ErrTooLarge.
func (s *Store) PutSourceGroup(ctx context.Context, tenant string, g *SourceGroup, prevVersion int64) error {
	if err := checkKeyValues(g.ExternalID); err != nil {
		return fmt.Errorf("put source group: %w", err)
	}
	it := s.srcGroupItem(tenant, g, SyncDirty, prevVersion+1)
	it.ActorStamp = s.actorStamp(ctx)
	if err := s.putVersioned(ctx, "put source group", it, prevVersion); err != nil {
		return err
	}
	g.Version, g.State = prevVersion+1, SyncDirty
	g.Created, g.Changed, g.Synced = g.Created.UTC(), g.Changed.UTC(), g.Synced.UTC() // as stored
	return nil
}

// SourceGroupPage is one page of source groups.
type SourceGroupPage struct {
	Groups []*SourceGroup
	// Next is the cursor of the next page; empty when there is none.
	Next string
}

// ListSourceGroups returns up to limit source groups (tombstones included)
// with externalIds after the given one, in externalId order: one Query.
func (s *Store) ListSourceGroups(ctx context.Context, tenant, after string, limit int) (SourceGroupPage, error) {
	var page SourceGroupPage
	var err error
	page.Groups, page.Next, err = listPage(ctx, s, tenant, srcGroupPrefix, after, limit, func(it *srcGroupItem) (*SourceGroup, string) { return it.group(), it.ExternalID })
	if err != nil {
		return page, fmt.Errorf("list source groups: %w", err)
	}
	return page, nil
}

// DirtySourceGroups returns up to limit source groups waiting for a push
// with change keys after after (all when empty) and at most upTo, in change
// order: one Query of the Dirty index.
func (s *Store) DirtySourceGroups(ctx context.Context, tenant, after, upTo string, limit int) ([]*SourceGroup, error) {
	if limit <= 0 {
		return nil, nil
	}
	items, err := dirtySources[srcGroupItem](ctx, s, groupStatePK(tenant, SyncDirty), after, upTo, limit)
	if err != nil {
		return nil, fmt.Errorf("dirty source groups: %w", err)
	}
	out := make([]*SourceGroup, len(items))
	for i := range items {
		out[i] = items[i].group()
	}
	return out, nil
}

// MarkSourceGroupSynced records that Okta imported version of the group:
// its members become its pushed members and it leaves the dirty partition,
// unless it changed since (then false). One GetItem and one conditional
// PutItem (a group's member sets are rewritten whole).
func (s *Store) MarkSourceGroupSynced(ctx context.Context, tenant, externalID string, version int64, at, expires time.Time) (bool, error) {
	g, err := s.GetSourceGroup(ctx, tenant, externalID)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("mark source group synced: %w", err)
	}
	if g.Version != version || g.State != SyncDirty {
		return false, nil
	}
	g.Pushed, g.Synced = g.Members, at
	it := s.srcGroupItem(tenant, g, SyncSynced, version)
	if !expires.IsZero() {
		it.TTL = expires.Unix()
	}
	err = s.table.Put(it).If("$ = ? AND $ = ?", "ver", version, table.DirtyPK, groupStatePK(tenant, SyncDirty)).Run(ctx)
	if isCondFailed(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("mark source group synced: %w", err)
	}
	return true, nil
}
