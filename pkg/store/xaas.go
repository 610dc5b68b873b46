package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/guregu/dynamo/v2"

	"github.com/scimless/scimless/pkg/table"
)

// XaaS (Okta Anything-as-a-Source) items. A source system pushes records;
// the sync engine pushes what changed to Okta. Per tenant:
//
//	source user   pk "T#{t}"  sk "SRC#U#{externalId}"  attrs, active, deleted, hash, ver, created, changed, synced, syncErr
//	              gsi3pk "T#{t}#DIRTY" | "T#{t}#SYNCED" | "T#{t}#FAILED"   gsi3sk "{changed}#{externalId}"
//	source group  pk "T#{t}"  sk "SRC#G#{externalId}"  displayName, description, members, pushed, deleted, hash, ver, …
//	              gsi3pk "T#{t}#DIRTY#G" | "T#{t}#SYNCED#G"                gsi3sk "{changed}#{externalId}"
//	config docs   pk "T#{t}"  sk "XAAS#{kind}"         doc (JSON owned by package xaas: "MAPPING", "CONFIG"; never a secret)
//	sync run      pk "T#{t}"  sk "XRUN#{runId}"        state, doc (JSON owned by package xaas), ver, ttl
//	upload log    pk "T#{t}"  sk "XLOG#{runId}#{session:03}#{upload:02}"  kind, ids, vers, ttl
//	sync state    pk "XAAS#SYNC"  sk "T#{t}"           schedule, push debounce, pending count, active run, lease
//
// {changed} is RFC 3339 UTC with nine fractional digits, so gsi3sk sorts in
// change order. The records waiting for a push are the "DIRTY" partitions of
// the Dirty index (gsi3): the sync reads O(changed) items, never the tenant.
//
// A pushed record moves to the "SYNCED" partition (a record whose profile
// cannot be sent to the "FAILED" one) instead of leaving the index, so that
// the same index also serves "changed since" listings (the three
// partitions merged by gsi3sk) and lists failed records in O(failed). The
// sync itself only ever reads the "DIRTY" partitions. The cost on DynamoDB
// is index storage for every source record (about 0.5 KB each), and a move
// between partitions is two index writes where a removal would be one.
//
// The sync-state items live in the operator partition "XAAS#SYNC" (like the
// tenant directory "TENANTS") so that the scheduler finds every tenant with
// one Query; only the sync engine and the CLI read it.

// Sync states of a source record.
const (
	SyncDirty  = "dirty"  // changed since the last import Okta confirmed; waiting for a push
	SyncSynced = "synced" // Okta confirmed (COMPLETED) the import that carried this version
	SyncFailed = "failed" // maps to a profile Okta would refuse; not sent until it changes
)

const (
	srcUserPrefix  = "SRC#U#"
	srcGroupPrefix = "SRC#G#"
	xaasDocPrefix  = "XAAS#"
	xaasRunPrefix  = "XRUN#"
	xaasLogPrefix  = "XLOG#"
	xaasSyncPK     = "XAAS#SYNC"
	changeTimeFmt  = "2006-01-02T15:04:05.000000000Z"
)

// ChangeTime formats t as the time part of a change key (gsi3sk).
func ChangeTime(t time.Time) string { return t.UTC().Format(changeTimeFmt) }

// ChangeKey returns the change key (gsi3sk) of a record changed at t.
func ChangeKey(t time.Time, externalID string) string { return ChangeTime(t) + "#" + externalID }

// ChangeKeyUpTo returns the largest change key of any record changed at or
// before t: an upper bound for DirtySourceUsers.
func ChangeKeyUpTo(t time.Time) string { return ChangeTime(t) + "$" } // '$' follows '#'

func userStatePK(tenant, state string) string {
	switch state {
	case SyncSynced:
		return tenantPK(tenant) + "#SYNCED"
	case SyncFailed:
		return tenantPK(tenant) + "#FAILED"
	}
	return tenantPK(tenant) + "#DIRTY"
}

func groupStatePK(tenant, state string) string {
	if state == SyncSynced {
		return tenantPK(tenant) + "#SYNCED#G"
	}
	return tenantPK(tenant) + "#DIRTY#G"
}

func stateOf(pk string) string {
	switch {
	case strings.HasSuffix(pk, "#SYNCED"), strings.HasSuffix(pk, "#SYNCED#G"):
		return SyncSynced
	case strings.HasSuffix(pk, "#FAILED"):
		return SyncFailed
	}
	return SyncDirty
}

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
}

func (it *srcUserItem) user() *SourceUser {
	return &SourceUser{ExternalID: it.ExternalID, Attrs: it.Attrs, Active: it.Active, Deleted: it.Deleted,
		Hash: it.Hash, Version: it.Version, Created: it.Created, Changed: it.Changed, State: stateOf(it.GSI3PK),
		Synced: it.Synced, SyncError: it.SyncError}
}

func srcUserSK(id string) string  { return srcUserPrefix + id }
func srcGroupSK(id string) string { return srcGroupPrefix + id }

// GetSourceUser reads one source user (tombstones included): one GetItem.
func (s *Store) GetSourceUser(ctx context.Context, tenant, externalID string) (*SourceUser, error) {
	if externalID == "" || len(externalID) > MaxKeyValue {
		return nil, fmt.Errorf("get source user: %w", ErrNotFound)
	}
	var it srcUserItem
	err := s.table.Get(table.PartitionKey, tenantPK(tenant)).Range(table.SortKey, dynamo.Equal, srcUserSK(externalID)).
		Consistent(true).One(ctx, &it)
	if errors.Is(err, dynamo.ErrNotFound) {
		return nil, fmt.Errorf("get source user: %w", ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get source user: %w", err)
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
		GSI3PK: userStatePK(tenant, SyncDirty), GSI3SK: ChangeKey(u.Changed, u.ExternalID)}
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
	if limit <= 0 {
		return page, nil
	}
	var afterSK string
	if after != "" {
		afterSK = srcUserSK(after)
	}
	items, more, err := listPrefix[srcUserItem](ctx, s, tenant, srcUserPrefix, afterSK, limit)
	if err != nil {
		return page, fmt.Errorf("list source users: %w", err)
	}
	page.Users = make([]*SourceUser, len(items))
	for i := range items {
		page.Users[i] = items[i].user()
	}
	if more {
		page.Next = items[len(items)-1].ExternalID
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
	q := s.table.Get(table.DirtyPK, userStatePK(tenant, SyncDirty)).Index(table.Dirty)
	if after == "" {
		q = q.Range(table.DirtySK, dynamo.LessOrEqual, upTo)
	} else {
		q = q.Range(table.DirtySK, dynamo.Between, after+"\x00", upTo)
	}
	var items []srcUserItem
	if err := q.Limit(limit).All(ctx, &items); err != nil {
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
	if externalID == "" || len(externalID) > MaxKeyValue {
		return nil, fmt.Errorf("get source group: %w", ErrNotFound)
	}
	var it srcGroupItem
	err := s.table.Get(table.PartitionKey, tenantPK(tenant)).Range(table.SortKey, dynamo.Equal, srcGroupSK(externalID)).
		Consistent(true).One(ctx, &it)
	if errors.Is(err, dynamo.ErrNotFound) {
		return nil, fmt.Errorf("get source group: %w", ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get source group: %w", err)
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
	if err := s.putVersioned(ctx, "put source group", s.srcGroupItem(tenant, g, SyncDirty, prevVersion+1), prevVersion); err != nil {
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
	if limit <= 0 {
		return page, nil
	}
	var afterSK string
	if after != "" {
		afterSK = srcGroupSK(after)
	}
	items, more, err := listPrefix[srcGroupItem](ctx, s, tenant, srcGroupPrefix, afterSK, limit)
	if err != nil {
		return page, fmt.Errorf("list source groups: %w", err)
	}
	page.Groups = make([]*SourceGroup, len(items))
	for i := range items {
		page.Groups[i] = items[i].group()
	}
	if more {
		page.Next = items[len(items)-1].ExternalID
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
	q := s.table.Get(table.DirtyPK, groupStatePK(tenant, SyncDirty)).Index(table.Dirty)
	if after == "" {
		q = q.Range(table.DirtySK, dynamo.LessOrEqual, upTo)
	} else {
		q = q.Range(table.DirtySK, dynamo.Between, after+"\x00", upTo)
	}
	var items []srcGroupItem
	if err := q.Limit(limit).All(ctx, &items); err != nil {
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

// XaaS documents kept per tenant (see GetXaaSDoc).
const (
	XaaSDocMapping = "MAPPING" // the profile mapping
	XaaSDocConfig  = "CONFIG"  // the Okta org, identity source and credential reference
)

type xaasDocItem struct {
	PK       string    `dynamo:"pk,hash"`
	SK       string    `dynamo:"sk,range"`
	Type     string    `dynamo:"type"`
	Doc      []byte    `dynamo:"doc"`
	Modified time.Time `dynamo:"modified"`
}

// GetXaaSDoc reads a tenant's XaaS document of the given kind (XaaSDoc…):
// one GetItem; ErrNotFound when there is none.
func (s *Store) GetXaaSDoc(ctx context.Context, tenant, kind string) ([]byte, error) {
	var it xaasDocItem
	err := s.table.Get(table.PartitionKey, tenantPK(tenant)).Range(table.SortKey, dynamo.Equal, xaasDocPrefix+kind).
		Consistent(true).One(ctx, &it)
	if errors.Is(err, dynamo.ErrNotFound) {
		return nil, fmt.Errorf("xaas %s of %s: %w", strings.ToLower(kind), tenant, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("xaas %s of %s: %w", strings.ToLower(kind), tenant, err)
	}
	return it.Doc, nil
}

// PutXaaSDoc stores a tenant's XaaS document of the given kind: one PutItem.
func (s *Store) PutXaaSDoc(ctx context.Context, tenant, kind string, doc []byte) error {
	it := xaasDocItem{PK: tenantPK(tenant), SK: xaasDocPrefix + kind, Type: "xaas" + strings.ToLower(kind), Doc: doc, Modified: s.now().UTC()}
	if err := s.table.Put(it).Run(ctx); err != nil {
		return fmt.Errorf("put xaas %s of %s: %w", strings.ToLower(kind), tenant, err)
	}
	return nil
}

// Run states.
const (
	RunQueued    = "queued"
	RunRunning   = "running"
	RunSucceeded = "succeeded"
	RunFailed    = "failed"
)

// XaaSRun is one sync run of a tenant. Doc is its state as JSON, owned by
// package xaas.
type XaaSRun struct {
	ID      string
	State   string
	Doc     []byte
	Version int64
	Created time.Time
}

type xaasRunItem struct {
	PK      string    `dynamo:"pk,hash"`
	SK      string    `dynamo:"sk,range"`
	Type    string    `dynamo:"type"`
	ID      string    `dynamo:"id"`
	State   string    `dynamo:"state"`
	Doc     []byte    `dynamo:"doc"`
	Version int64     `dynamo:"ver"`
	Created time.Time `dynamo:"created"`
	TTL     int64     `dynamo:"ttl"`
}

// XaaSRunTTL is how long runs and their upload logs are kept.
const XaaSRunTTL = 90 * 24 * time.Hour

func (it *xaasRunItem) run() *XaaSRun {
	return &XaaSRun{ID: it.ID, State: it.State, Doc: it.Doc, Version: it.Version, Created: it.Created}
}

func (s *Store) xaasRunItem(tenant string, r *XaaSRun, version int64) xaasRunItem {
	return xaasRunItem{PK: tenantPK(tenant), SK: xaasRunPrefix + r.ID, Type: "xaasRun", ID: r.ID, State: r.State,
		Doc: r.Doc, Version: version, Created: r.Created.UTC(), TTL: r.Created.Add(XaaSRunTTL).Unix()}
}

// GetXaaSRun reads one run: one GetItem; ErrNotFound when unknown.
func (s *Store) GetXaaSRun(ctx context.Context, tenant, id string) (*XaaSRun, error) {
	if id == "" || len(id) > MaxKeyValue {
		return nil, fmt.Errorf("get sync run: %w", ErrNotFound)
	}
	var it xaasRunItem
	err := s.table.Get(table.PartitionKey, tenantPK(tenant)).Range(table.SortKey, dynamo.Equal, xaasRunPrefix+id).
		Consistent(true).One(ctx, &it)
	if errors.Is(err, dynamo.ErrNotFound) {
		return nil, fmt.Errorf("get sync run %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get sync run %s: %w", id, err)
	}
	return it.run(), nil
}

// UpdateXaaSRun replaces a run read at version prev, in one conditional
// PutItem; r.Version becomes prev+1. ErrVersion means another worker moved
// it on meanwhile.
func (s *Store) UpdateXaaSRun(ctx context.Context, tenant string, r *XaaSRun, prev int64) error {
	err := s.table.Put(s.xaasRunItem(tenant, r, prev+1)).If("$ = ?", "ver", prev).Run(ctx)
	if isCondFailed(err) {
		return fmt.Errorf("update sync run %s: %w", r.ID, ErrVersion)
	}
	if err != nil {
		return fmt.Errorf("update sync run %s: %w", r.ID, err)
	}
	r.Version = prev + 1
	return nil
}

// ListXaaSRuns returns up to limit runs of the tenant, newest first (run ids
// sort by time), starting before the given id when set: one Query.
func (s *Store) ListXaaSRuns(ctx context.Context, tenant, before string, limit int) ([]*XaaSRun, error) {
	hi := "XRUN$" // after every "XRUN#…" key
	if before != "" {
		hi = xaasRunPrefix + before
	}
	var items []xaasRunItem
	err := s.table.Get(table.PartitionKey, tenantPK(tenant)).Range(table.SortKey, dynamo.Between, xaasRunPrefix, hi).
		Order(dynamo.Descending).Limit(max(limit, 1)+1).All(ctx, &items)
	if err != nil {
		return nil, fmt.Errorf("list sync runs: %w", err)
	}
	out := make([]*XaaSRun, 0, len(items))
	for i := range items {
		if items[i].ID == before {
			continue
		}
		out = append(out, items[i].run())
	}
	if len(out) > max(limit, 1) {
		out = out[:max(limit, 1)]
	}
	return out, nil
}

// XaaSUploadLog is what one upload of a sync session carried: the records'
// externalIds and (for users and groups) the versions sent, so that they are
// marked synced once Okta confirms the import, without reading them again.
type XaaSUploadLog struct {
	Run      string
	Session  int
	Index    int
	Kind     string
	IDs      []string
	Versions []int64
	// Deleted flags, parallel to IDs, the tombstones (deleted records).
	Deleted []bool
}

type xaasLogItem struct {
	PK       string   `dynamo:"pk,hash"`
	SK       string   `dynamo:"sk,range"`
	Type     string   `dynamo:"type"`
	Kind     string   `dynamo:"kind"`
	IDs      []string `dynamo:"ids"`
	Versions []int64  `dynamo:"vers,omitempty"`
	Deleted  []bool   `dynamo:"del,omitempty"`
	TTL      int64    `dynamo:"ttl"`
}

func xaasLogSK(run string, session, index int) string {
	return fmt.Sprintf("%s%s#%03d#%02d", xaasLogPrefix, run, session, index)
}

// PutXaaSUploadLog stores an upload log (one PutItem), kept until expires.
func (s *Store) PutXaaSUploadLog(ctx context.Context, tenant string, l XaaSUploadLog, expires time.Time) error {
	it := xaasLogItem{PK: tenantPK(tenant), SK: xaasLogSK(l.Run, l.Session, l.Index), Type: "xaasLog", Kind: l.Kind,
		IDs: l.IDs, Versions: l.Versions, Deleted: l.Deleted, TTL: expires.Unix()}
	if err := s.table.Put(it).Run(ctx); err != nil {
		if isValidation(err) {
			return fmt.Errorf("put upload log: %w: %w", ErrTooLarge, err)
		}
		return fmt.Errorf("put upload log: %w", err)
	}
	return nil
}

// DeleteXaaSUploadLog deletes an upload log: one DeleteItem.
func (s *Store) DeleteXaaSUploadLog(ctx context.Context, tenant, run string, session, index int) error {
	err := s.table.Delete(table.PartitionKey, tenantPK(tenant)).Range(table.SortKey, xaasLogSK(run, session, index)).Run(ctx)
	if err != nil {
		return fmt.Errorf("delete upload log: %w", err)
	}
	return nil
}

// XaaSUploadLogs returns the upload logs of one session of a run, in upload
// order: one Query (a session has at most 50 uploads).
func (s *Store) XaaSUploadLogs(ctx context.Context, tenant, run string, session int) ([]XaaSUploadLog, error) {
	prefix := fmt.Sprintf("%s%s#%03d#", xaasLogPrefix, run, session)
	var items []xaasLogItem
	err := s.table.Get(table.PartitionKey, tenantPK(tenant)).Range(table.SortKey, dynamo.BeginsWith, prefix).
		Consistent(true).All(ctx, &items)
	if err != nil {
		return nil, fmt.Errorf("upload logs: %w", err)
	}
	out := make([]XaaSUploadLog, 0, len(items))
	for _, it := range items {
		idx, err := strconv.Atoi(strings.TrimPrefix(it.SK, prefix))
		if err != nil {
			continue
		}
		out = append(out, XaaSUploadLog{Run: run, Session: session, Index: idx, Kind: it.Kind, IDs: it.IDs, Versions: it.Versions, Deleted: it.Deleted})
	}
	slices.SortFunc(out, func(a, b XaaSUploadLog) int { return a.Index - b.Index })
	return out, nil
}

// XaaSSync is a tenant's sync state: its schedule, pushes waiting for a
// debounced run, the active run and the lease of the worker running it.
type XaaSSync struct {
	Tenant string
	// Scheduled is true when Interval and Debounce were set for the tenant
	// (else the deployment's defaults apply).
	Scheduled bool
	// Interval between scheduled runs; 0: none.
	Interval time.Duration
	// Debounce is how long after the last push a run starts; 0: pushes do
	// not start runs.
	Debounce time.Duration
	// NextDue is when the next scheduled run is due.
	NextDue time.Time
	// PushAt is the time of the last push that changed a record; PushFirst
	// the time of the first one since the last run started; PushHandled the
	// PushAt the last run started after.
	PushAt, PushFirst, PushHandled time.Time
	// Pending approximates the records waiting for a push (for progress).
	Pending int64
	// Run is the active (queued or running) run; empty when idle.
	Run string
	// LastRun is the last run that finished.
	LastRun string
	// Due is when the active run next needs a worker.
	Due time.Time
	// LastTrigger is when an import of the tenant's identity source was last
	// started (Okta wants 5 minutes before the next session).
	LastTrigger time.Time
	// Owner and LeaseUntil say which worker runs the active run until when.
	Owner      string
	LeaseUntil time.Time
}

type xaasSyncItem struct {
	PK          string `dynamo:"pk,hash"`
	SK          string `dynamo:"sk,range"`
	Type        string `dynamo:"type"`
	Tenant      string `dynamo:"tenant"`
	Scheduled   bool   `dynamo:"sched,omitempty"`
	Interval    int64  `dynamo:"interval,omitempty"`
	Debounce    int64  `dynamo:"debounce,omitempty"`
	NextDue     int64  `dynamo:"nextDue,omitempty"`
	PushAt      int64  `dynamo:"pushAt,omitempty"`
	PushFirst   int64  `dynamo:"pushFirst,omitempty"`
	PushHandled int64  `dynamo:"pushHandled,omitempty"`
	Pending     int64  `dynamo:"pending,omitempty"`
	Run         string `dynamo:"run,omitempty"`
	LastRun     string `dynamo:"lastRun,omitempty"`
	Due         int64  `dynamo:"due,omitempty"`
	LastTrigger int64  `dynamo:"lastTrigger,omitempty"`
	Owner       string `dynamo:"owner,omitempty"`
	Lease       int64  `dynamo:"lease,omitempty"`
}

func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromMS(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.UnixMilli(n).UTC()
}

func (it *xaasSyncItem) sync() XaaSSync {
	return XaaSSync{Tenant: it.Tenant, Scheduled: it.Scheduled, Interval: time.Duration(it.Interval) * time.Millisecond,
		Debounce: time.Duration(it.Debounce) * time.Millisecond, NextDue: fromMS(it.NextDue),
		PushAt: fromMS(it.PushAt), PushFirst: fromMS(it.PushFirst), PushHandled: fromMS(it.PushHandled),
		Pending: it.Pending, Run: it.Run, LastRun: it.LastRun, Due: fromMS(it.Due), LastTrigger: fromMS(it.LastTrigger),
		Owner: it.Owner, LeaseUntil: fromMS(it.Lease)}
}

func (s *Store) syncUpdate(tenant string) *dynamo.Update {
	return s.table.Update(table.PartitionKey, xaasSyncPK).Range(table.SortKey, tenantDirSK(tenant))
}

// GetXaaSSync reads a tenant's sync state: one GetItem; ErrNotFound when
// the tenant never pushed nor was configured.
func (s *Store) GetXaaSSync(ctx context.Context, tenant string) (*XaaSSync, error) {
	var it xaasSyncItem
	err := s.table.Get(table.PartitionKey, xaasSyncPK).Range(table.SortKey, dynamo.Equal, tenantDirSK(tenant)).
		Consistent(true).One(ctx, &it)
	if errors.Is(err, dynamo.ErrNotFound) {
		return nil, fmt.Errorf("sync state of %s: %w", tenant, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("sync state of %s: %w", tenant, err)
	}
	st := it.sync()
	return &st, nil
}

// ListXaaSSyncs returns the sync state of every tenant: one Query of the
// operator partition (paged by DynamoDB per MB), what a scheduled tick reads.
func (s *Store) ListXaaSSyncs(ctx context.Context) ([]XaaSSync, error) {
	var items []xaasSyncItem
	err := s.table.Get(table.PartitionKey, xaasSyncPK).Range(table.SortKey, dynamo.BeginsWith, "T#").Consistent(true).All(ctx, &items)
	if err != nil {
		return nil, fmt.Errorf("list sync states: %w", err)
	}
	out := make([]XaaSSync, len(items))
	for i := range items {
		out[i] = items[i].sync()
	}
	return out, nil
}

// SetXaaSSchedule sets a tenant's run interval (0: no scheduled runs), push
// debounce (0: pushes do not start runs) and when the next scheduled run is
// due: one UpdateItem, creating the sync state if needed.
func (s *Store) SetXaaSSchedule(ctx context.Context, tenant string, interval, debounce time.Duration, nextDue time.Time) error {
	err := s.syncUpdate(tenant).Set("type", "xaasSync").Set("tenant", tenant).Set("sched", true).
		Set("interval", interval.Milliseconds()).Set("debounce", debounce.Milliseconds()).Set("nextDue", ms(nextDue)).Run(ctx)
	if err != nil {
		return fmt.Errorf("set sync schedule of %s: %w", tenant, err)
	}
	return nil
}

// SetXaaSNextDue moves the tenant's next scheduled run: one UpdateItem.
func (s *Store) SetXaaSNextDue(ctx context.Context, tenant string, nextDue time.Time) error {
	if err := s.syncUpdate(tenant).Set("nextDue", ms(nextDue)).Run(ctx); err != nil {
		return fmt.Errorf("set next sync of %s: %w", tenant, err)
	}
	return nil
}

// NoteXaaSPush records a push that changed records at at, newlyDirty of
// which were not waiting for a push before: one UpdateItem (two for the
// first push since the last run started).
func (s *Store) NoteXaaSPush(ctx context.Context, tenant string, at time.Time, newlyDirty int) error {
	var old xaasSyncItem
	err := s.syncUpdate(tenant).Set("type", "xaasSync").Set("tenant", tenant).Set("pushAt", ms(at)).
		Add("pending", newlyDirty).OldValue(ctx, &old)
	if err != nil && !errors.Is(err, dynamo.ErrNotFound) {
		return fmt.Errorf("note push of %s: %w", tenant, err)
	}
	if old.PushAt <= old.PushHandled {
		if err := s.syncUpdate(tenant).Set("pushFirst", ms(at)).Run(ctx); err != nil {
			return fmt.Errorf("note push of %s: %w", tenant, err)
		}
	}
	return nil
}

// AddXaaSPending adds delta (negative after a push) to the tenant's count of
// records waiting for a push: one UpdateItem.
func (s *Store) AddXaaSPending(ctx context.Context, tenant string, delta int) error {
	if delta == 0 {
		return nil
	}
	if err := s.syncUpdate(tenant).Set("type", "xaasSync").Set("tenant", tenant).Add("pending", delta).Run(ctx); err != nil {
		return fmt.Errorf("count pending of %s: %w", tenant, err)
	}
	return nil
}

// StartXaaSRun makes r (state queued) the tenant's active run, in one
// transaction with the run item, unless a run is active: then it returns
// that run's id and ErrConflict. The run covers every push so far
// (PushHandled becomes PushAt); nextDue, when not zero, moves the schedule.
func (s *Store) StartXaaSRun(ctx context.Context, tenant string, r *XaaSRun, nextDue time.Time) (string, error) {
	r.Version = 1
	u := s.syncUpdate(tenant).Set("type", "xaasSync").Set("tenant", tenant).Set("run", r.ID).Set("due", ms(r.Created)).
		SetExpr("$ = if_not_exists($, ?)", "pushHandled", "pushAt", 0)
	if !nextDue.IsZero() {
		u.Set("nextDue", ms(nextDue))
	}
	err := s.db.WriteTx().
		Update(u.If("attribute_not_exists($) OR $ = ?", "run", "run", "")).
		Put(s.table.Put(s.xaasRunItem(tenant, r, 1)).If("attribute_not_exists($)", table.PartitionKey)).
		Run(ctx)
	if err == nil {
		return r.ID, nil
	}
	if !isCondFailed(err) {
		return "", fmt.Errorf("start sync run of %s: %w", tenant, err)
	}
	st, gerr := s.GetXaaSSync(ctx, tenant)
	if gerr != nil {
		return "", fmt.Errorf("start sync run of %s: %w", tenant, gerr)
	}
	return st.Run, fmt.Errorf("start sync run of %s: run %s is active: %w", tenant, st.Run, ErrConflict)
}

// FinishXaaSRun clears the tenant's active run id if it is still id: one
// UpdateItem.
func (s *Store) FinishXaaSRun(ctx context.Context, tenant, id string) error {
	err := s.syncUpdate(tenant).Set("run", "").Set("lastRun", id).Set("due", 0).Set("lease", 0).
		If("$ = ?", "run", id).Run(ctx)
	if err != nil && !isCondFailed(err) {
		return fmt.Errorf("finish sync run %s: %w", id, err)
	}
	return nil
}

// AcquireXaaSLease gives owner the right to work on the tenant's active run
// id until until, if no other worker holds an unexpired lease: one
// conditional UpdateItem. false means someone else holds it (or id is no
// longer active).
func (s *Store) AcquireXaaSLease(ctx context.Context, tenant, id, owner string, now, until time.Time) (bool, error) {
	err := s.syncUpdate(tenant).Set("owner", owner).Set("lease", ms(until)).
		If("$ = ? AND (attribute_not_exists($) OR $ < ? OR $ = ?)", "run", id, "lease", "lease", ms(now), "owner", owner).Run(ctx)
	if isCondFailed(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("acquire sync lease of %s: %w", tenant, err)
	}
	return true, nil
}

// RenewXaaSLease extends owner's lease: one conditional UpdateItem; false
// when owner lost it.
func (s *Store) RenewXaaSLease(ctx context.Context, tenant, owner string, until time.Time) (bool, error) {
	err := s.syncUpdate(tenant).Set("lease", ms(until)).If("$ = ?", "owner", owner).Run(ctx)
	if isCondFailed(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("renew sync lease of %s: %w", tenant, err)
	}
	return true, nil
}

// ReleaseXaaSLease ends owner's lease and says when the active run next
// needs a worker: one conditional UpdateItem (a no-op if owner lost it).
func (s *Store) ReleaseXaaSLease(ctx context.Context, tenant, owner string, due time.Time) error {
	err := s.syncUpdate(tenant).Set("lease", 0).Set("due", ms(due)).If("$ = ?", "owner", owner).Run(ctx)
	if err != nil && !isCondFailed(err) {
		return fmt.Errorf("release sync lease of %s: %w", tenant, err)
	}
	return nil
}

// SetXaaSLastTrigger records when an import of the tenant's identity source
// was started: one UpdateItem.
func (s *Store) SetXaaSLastTrigger(ctx context.Context, tenant string, at time.Time) error {
	if err := s.syncUpdate(tenant).Set("lastTrigger", ms(at)).Run(ctx); err != nil {
		return fmt.Errorf("set last trigger of %s: %w", tenant, err)
	}
	return nil
}
