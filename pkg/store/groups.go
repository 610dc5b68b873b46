package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/guregu/dynamo/v2"

	"github.com/scimless/scimless/pkg/table"
)

// Group is a stored group. Doc is the SCIM resource as JSON without its
// members: memberships are items of their own (see Membership), so a group
// of any size is one small item and a rename is one write.
type Group struct {
	ID          string
	DisplayName string
	ExternalID  string
	Doc         []byte
	Version     int64
	Created     time.Time
	Modified    time.Time
}

// Member is one membership of a group.
type Member struct {
	UserID  string
	Display string // the user's display name or userName when added
}

type groupItem struct {
	PK          string    `dynamo:"pk,hash"`
	SK          string    `dynamo:"sk,range"`
	Type        string    `dynamo:"type"`
	ID          string    `dynamo:"id"`
	DisplayName string    `dynamo:"displayName"`
	ExternalID  string    `dynamo:"externalId,omitempty"`
	GSI1PK      string    `dynamo:"gsi1pk,omitempty"`
	GSI1SK      string    `dynamo:"gsi1sk,omitempty"`
	Doc         []byte    `dynamo:"doc"`
	Version     int64     `dynamo:"ver"`
	Created     time.Time `dynamo:"created"`
	Modified    time.Time `dynamo:"modified"`
	ActorStamp
}

type memberItem struct {
	PK      string `dynamo:"pk,hash"`
	SK      string `dynamo:"sk,range"`
	Type    string `dynamo:"type"`
	GSI2PK  string `dynamo:"gsi2pk"`
	GSI2SK  string `dynamo:"gsi2sk"`
	UserID  string `dynamo:"uid"`
	GroupID string `dynamo:"gid"`
	Display string `dynamo:"display,omitempty"`
	ActorStamp
}

const (
	groupPrefix     = "G#"
	groupNamePrefix = "GN#"
	groupCountSK    = "COUNT#G"
	memberPrefix    = "M#"
)

func groupSK(id string) string             { return groupPrefix + id }
func groupNameSK(name string) string       { return groupNamePrefix + strings.ToLower(name) }
func groupExtPK(tenant, ext string) string { return tenantPK(tenant) + "#GX#" + ext }
func memberPK(tenant, gid string) string   { return tenantPK(tenant) + "#G#" + gid }
func memberOfPK(tenant, uid string) string { return tenantPK(tenant) + "#U#" + uid }
func (g *groupItem) group() *Group {
	return &Group{ID: g.ID, DisplayName: g.DisplayName, ExternalID: g.ExternalID, Doc: g.Doc,
		Version: g.Version, Created: g.Created, Modified: g.Modified}
}

// groupItem returns the item of group g, stamped with ctx's actor.
func (s *Store) groupItem(ctx context.Context, tenant string, g *Group) groupItem {
	it := groupItem{PK: tenantPK(tenant), SK: groupSK(g.ID), Type: "group", ID: g.ID, DisplayName: g.DisplayName,
		ExternalID: g.ExternalID, Doc: g.Doc, Version: g.Version, Created: g.Created.UTC(), Modified: g.Modified.UTC(),
		ActorStamp: s.actorStamp(ctx)}
	if g.ExternalID != "" {
		it.GSI1PK, it.GSI1SK = groupExtPK(tenant, g.ExternalID), groupSK(g.ID)
	}
	return it
}

// CreateGroup stores a new group with its displayName guard and the tenant's
// group count in one transaction. A taken displayName (case-insensitive)
// yields ErrConflict. Members are added afterwards with AddMembers.
func (s *Store) CreateGroup(ctx context.Context, tenant string, g *Group) error {
	if err := checkKeyValues(g.DisplayName, g.ExternalID); err != nil {
		return fmt.Errorf("create group: %w", err)
	}
	g.Version = 1
	item := s.groupItem(ctx, tenant, g)
	if err := checkItemSize("group "+g.ID, item); err != nil {
		return fmt.Errorf("create group: %w", err)
	}
	pk := tenantPK(tenant)
	err := s.db.WriteTx().
		Put(s.table.Put(item).If("attribute_not_exists($)", table.PartitionKey)).
		Put(s.table.Put(guardItem{PK: pk, SK: groupNameSK(g.DisplayName), Type: "displayName", ID: g.ID}).If("attribute_not_exists($)", table.PartitionKey)).
		Update(s.table.Update(table.PartitionKey, pk).Range(table.SortKey, groupCountSK).Add(countAttr, 1)).
		Run(ctx)
	if err != nil {
		if isCondFailed(err) {
			return fmt.Errorf("create group %s: displayName taken: %w", g.ID, ErrConflict)
		}
		return fmt.Errorf("create group %s: %w", g.ID, err)
	}
	return nil
}

// GetGroup reads one group (without members): one GetItem.
func (s *Store) GetGroup(ctx context.Context, tenant, id string) (*Group, error) {
	if len(id) > MaxKeyValue {
		return nil, fmt.Errorf("get group: %w", ErrNotFound) // could not be a key
	}
	var it groupItem
	err := s.table.Get(table.PartitionKey, tenantPK(tenant)).Range(table.SortKey, dynamo.Equal, groupSK(id)).Consistent(true).One(ctx, &it)
	if errors.Is(err, dynamo.ErrNotFound) {
		return nil, fmt.Errorf("get group %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get group %s: %w", id, err)
	}
	return it.group(), nil
}

// GroupByDisplayName finds a group by displayName (case-insensitive): two
// GetItems (guard, group).
func (s *Store) GroupByDisplayName(ctx context.Context, tenant, name string) (*Group, error) {
	if len(name) > MaxKeyValue {
		return nil, fmt.Errorf("group by displayName: %w", ErrNotFound)
	}
	var g guardItem
	err := s.table.Get(table.PartitionKey, tenantPK(tenant)).Range(table.SortKey, dynamo.Equal, groupNameSK(name)).Consistent(true).One(ctx, &g)
	if errors.Is(err, dynamo.ErrNotFound) {
		return nil, fmt.Errorf("group by displayName: %w", ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("group by displayName: %w", err)
	}
	return s.GetGroup(ctx, tenant, g.ID)
}

// GroupsByExternalID returns the groups with externalId: one Query.
func (s *Store) GroupsByExternalID(ctx context.Context, tenant, externalID string) ([]*Group, error) {
	if externalID == "" || len(externalID) > MaxKeyValue {
		return nil, nil
	}
	var items []groupItem
	if err := s.table.Get(table.ByExternalIDPK, groupExtPK(tenant, externalID)).Index(table.ByExternalID).All(ctx, &items); err != nil {
		return nil, fmt.Errorf("groups by externalId: %w", err)
	}
	out := make([]*Group, len(items))
	for i := range items {
		out[i] = items[i].group()
	}
	return out, nil
}

// GetGroups reads the groups with the given ids that exist, in BatchGetItem
// calls of up to 100 keys; missing ids are left out.
func (s *Store) GetGroups(ctx context.Context, tenant string, ids []string) (map[string]*Group, error) {
	out := make(map[string]*Group, len(ids))
	for start := 0; start < len(ids); start += table.MaxBatchGet {
		chunk := ids[start:min(start+table.MaxBatchGet, len(ids))]
		keys := make([]dynamo.Keyed, len(chunk))
		keys = keys[:0]
		for _, id := range chunk {
			if len(id) <= MaxKeyValue {
				keys = append(keys, dynamo.Keys{tenantPK(tenant), groupSK(id)})
			}
		}
		if len(keys) == 0 {
			continue
		}
		var items []groupItem
		err := s.table.Batch(table.PartitionKey, table.SortKey).Get(keys...).Consistent(true).All(ctx, &items)
		if err != nil && !errors.Is(err, dynamo.ErrNotFound) {
			return nil, fmt.Errorf("get groups: %w", err)
		}
		for i := range items {
			out[items[i].ID] = items[i].group()
		}
	}
	return out, nil
}

// ExistingUsers returns which of the ids are users of the tenant, reading
// only keys in BatchGetItem calls of up to 100.
func (s *Store) ExistingUsers(ctx context.Context, tenant string, ids []string) (map[string]*User, error) {
	out := make(map[string]*User, len(ids))
	for start := 0; start < len(ids); start += table.MaxBatchGet {
		chunk := ids[start:min(start+table.MaxBatchGet, len(ids))]
		keys := make([]dynamo.Keyed, 0, len(chunk))
		seen := map[string]bool{}
		for _, id := range chunk {
			if !seen[id] && len(id) <= MaxKeyValue {
				seen[id] = true
				keys = append(keys, dynamo.Keys{tenantPK(tenant), userSK(id)})
			}
		}
		if len(keys) == 0 {
			continue
		}
		var items []userItem
		err := s.table.Batch(table.PartitionKey, table.SortKey).Get(keys...).Consistent(true).
			Project("id", "userName", "doc").All(ctx, &items)
		if err != nil && !errors.Is(err, dynamo.ErrNotFound) {
			return nil, fmt.Errorf("existing users: %w", err)
		}
		for i := range items {
			out[items[i].ID] = items[i].user()
		}
	}
	return out, nil
}

// UpdateGroup replaces a group read at version prev with g (members are not
// touched); a displayName change moves the guard in the same transaction.
func (s *Store) UpdateGroup(ctx context.Context, tenant string, g *Group, prev *Group) error {
	if err := checkKeyValues(g.DisplayName, g.ExternalID); err != nil {
		return fmt.Errorf("update group %s: %w", g.ID, err)
	}
	g.Version, g.Created = prev.Version+1, prev.Created
	item := s.groupItem(ctx, tenant, g)
	if err := checkItemSize("group "+g.ID, item); err != nil {
		g.Version = prev.Version
		return fmt.Errorf("update group: %w", err)
	}
	put := s.table.Put(item).If("$ = ?", "ver", prev.Version)
	if strings.EqualFold(g.DisplayName, prev.DisplayName) {
		if err := put.Run(ctx); err != nil {
			g.Version = prev.Version
			if isTxConflict(err) {
				return fmt.Errorf("update group %s: %w: %w", g.ID, ErrBusy, err)
			}
			if isCondFailed(err) {
				return fmt.Errorf("update group %s: %w", g.ID, ErrVersion)
			}
			return fmt.Errorf("update group %s: %w", g.ID, err)
		}
		return nil
	}
	pk := tenantPK(tenant)
	err := s.db.WriteTx().
		Put(put).
		Delete(s.table.Delete(table.PartitionKey, pk).Range(table.SortKey, groupNameSK(prev.DisplayName)).If("id = ?", g.ID)).
		Put(s.table.Put(guardItem{PK: pk, SK: groupNameSK(g.DisplayName), Type: "displayName", ID: g.ID}).If("attribute_not_exists($)", table.PartitionKey)).
		Run(ctx)
	if err != nil {
		g.Version = prev.Version
		reasons := txReasons(err)
		switch {
		case isTxConflict(err):
			return fmt.Errorf("update group %s: %w: %w", g.ID, ErrBusy, err)
		case len(reasons) == 3 && reasons[2] == "ConditionalCheckFailed":
			return fmt.Errorf("update group %s: displayName taken: %w", g.ID, ErrConflict)
		case isCondFailed(err):
			return fmt.Errorf("update group %s: %w", g.ID, ErrVersion)
		}
		return fmt.Errorf("update group %s: %w", g.ID, err)
	}
	return nil
}

// Members returns all members of a group in user-id order: one Query per
// 1 MB of membership items (about 6,000 members).
func (s *Store) Members(ctx context.Context, tenant, gid string) ([]Member, error) {
	var items []memberItem
	q := s.table.Get(table.PartitionKey, memberPK(tenant, gid)).Range(table.SortKey, dynamo.BeginsWith, memberPrefix)
	if err := q.Consistent(true).All(ctx, &items); err != nil {
		return nil, fmt.Errorf("members of %s: %w", gid, err)
	}
	out := make([]Member, len(items))
	for i, it := range items {
		out[i] = Member{UserID: it.UserID, Display: it.Display}
	}
	return out, nil
}

// IsMember reports whether user uid is a member of group gid: one GetItem.
func (s *Store) IsMember(ctx context.Context, tenant, gid, uid string) (bool, error) {
	var it memberItem
	err := s.table.Get(table.PartitionKey, memberPK(tenant, gid)).Range(table.SortKey, dynamo.Equal, memberPrefix+uid).One(ctx, &it)
	if errors.Is(err, dynamo.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("is member: %w", err)
	}
	return true, nil
}

// GroupsOf returns the ids of the groups user uid belongs to: one Query of
// the inverted membership index.
func (s *Store) GroupsOf(ctx context.Context, tenant, uid string) ([]string, error) {
	var items []memberItem
	if err := s.table.Get(table.ByMemberPK, memberOfPK(tenant, uid)).Index(table.ByMember).All(ctx, &items); err != nil {
		return nil, fmt.Errorf("groups of %s: %w", uid, err)
	}
	ids := make([]string, len(items))
	for i, it := range items {
		ids[i] = it.GroupID
	}
	return ids, nil
}

// membersPerTx is how many membership changes go in one transaction: each is
// two actions (the membership item and the user's group-id set), and every
// transaction also checks the group item.
const membersPerTx = (table.MaxTransactItems - 1) / 2

// removalsPerTx is how many membership removals go in one transaction: each
// is three actions (the membership item, the user's group-id set and the
// removal's deletion marker), and a transaction may check the group item.
const removalsPerTx = (table.MaxTransactItems - 1) / 3

// AddMembers makes the users members of group gid. Each membership is written
// together with the user's group-id set in one transaction per 49 members,
// each also checking that the group exists (and, with ifVersion > 0, that it
// is still at that version): a group deleted concurrently never gets a
// membership item (ErrNotFound; ErrVersion when ifVersion is set). The user
// must exist too, so a user deleted concurrently is skipped rather than left
// dangling. Adding an existing member rewrites the same item (idempotent). It
// returns the ids actually added.
func (s *Store) AddMembers(ctx context.Context, tenant, gid string, ifVersion int64, members []Member) ([]string, error) {
	var added []string
	for start := 0; start < len(members); start += membersPerTx {
		chunk := members[start:min(start+membersPerTx, len(members))]
		ok, err := s.memberTx(ctx, tenant, gid, ifVersion, chunk, true)
		if err != nil {
			return added, err
		}
		added = append(added, ok...)
	}
	return added, nil
}

// RemoveMembers removes the users from group gid, each membership item with
// the user's group-id set and a deletion marker, 33 per transaction. Removing a non-member is a
// no-op. With ifVersion > 0 each transaction checks that the group is still
// at that version (ErrVersion otherwise); with 0 the group need not exist, so
// the memberships of a deleted group can be removed.
func (s *Store) RemoveMembers(ctx context.Context, tenant, gid string, ifVersion int64, uids []string) error {
	members := make([]Member, len(uids))
	for i, u := range uids {
		members[i] = Member{UserID: u}
	}
	for start := 0; start < len(members); start += removalsPerTx {
		if _, err := s.memberTx(ctx, tenant, gid, ifVersion, members[start:min(start+removalsPerTx, len(members))], false); err != nil {
			return err
		}
	}
	return nil
}

// memberTx writes one chunk of membership changes. A user that no longer
// exists fails its condition; the chunk is retried without it.
func (s *Store) memberTx(ctx context.Context, tenant, gid string, ifVersion int64, chunk []Member, add bool) ([]string, error) {
	upk := tenantPK(tenant)
	checked := add || ifVersion > 0
	per := 2 // actions per member: the membership and the user's group set
	if !add {
		per = 3 // and the removal's deletion marker
	}
	for len(chunk) > 0 {
		tx := s.db.WriteTx()
		if checked {
			check := s.table.Check(table.PartitionKey, upk).Range(table.SortKey, groupSK(gid))
			if ifVersion > 0 {
				check.If("$ = ?", "ver", ifVersion)
			} else {
				check.If("attribute_exists($)", table.PartitionKey)
			}
			tx.Check(check)
		}
		for _, m := range chunk {
			if add {
				tx.Put(s.table.Put(memberItem{PK: memberPK(tenant, gid), SK: memberPrefix + m.UserID, Type: "member",
					GSI2PK: memberOfPK(tenant, m.UserID), GSI2SK: groupSK(gid), UserID: m.UserID, GroupID: gid, Display: m.Display,
					ActorStamp: s.actorStamp(ctx)}))
				tx.Update(s.stampUpdate(ctx, s.table.Update(table.PartitionKey, upk).Range(table.SortKey, userSK(m.UserID))).
					AddStringsToSet("groups", gid).Add("ver", 1).If("attribute_exists($)", table.PartitionKey))
			} else {
				// The marker records the actor of the membership's removal (a
				// deleted item carries no actor of its own).
				tx.Delete(s.table.Delete(table.PartitionKey, memberPK(tenant, gid)).Range(table.SortKey, memberPrefix+m.UserID))
				tx.Update(s.stampUpdate(ctx, s.table.Update(table.PartitionKey, upk).Range(table.SortKey, userSK(m.UserID))).
					DeleteStringsFromSet("groups", gid).Add("ver", 1).If("attribute_exists($)", table.PartitionKey))
				tx.Put(s.markDeletion(ctx, memberPK(tenant, gid), memberPrefix+m.UserID))
			}
		}
		err := tx.Run(ctx)
		if err == nil {
			ids := make([]string, len(chunk))
			for i, m := range chunk {
				ids[i] = m.UserID
			}
			return ids, nil
		}
		reasons := txReasons(err)
		if checked && len(reasons) > 0 {
			if reasons[0] == "ConditionalCheckFailed" {
				if ifVersion > 0 {
					return nil, fmt.Errorf("change members of %s: group changed: %w", gid, ErrVersion)
				}
				return nil, fmt.Errorf("change members of %s: no such group: %w", gid, ErrNotFound)
			}
			reasons = reasons[1:]
		}
		if isTxConflict(err) {
			return nil, fmt.Errorf("change members of %s: %w: %w", gid, ErrBusy, err)
		}
		if len(reasons) != per*len(chunk) {
			return nil, fmt.Errorf("change members of %s: %w", gid, err)
		}
		var keep []Member
		for i, m := range chunk {
			if reasons[per*i+1] != "ConditionalCheckFailed" {
				keep = append(keep, m)
			}
		}
		if len(keep) == len(chunk) {
			return nil, fmt.Errorf("change members of %s: %w", gid, err)
		}
		chunk = keep // drop users that vanished; memberships of ghosts are never written
	}
	return nil, nil
}

// TouchGroup records a change of group id's memberships: its version goes up
// by one and its modification time becomes modified, in one UpdateItem that
// needs no prior read, so concurrent membership changes never conflict. With
// ifVersion > 0 the group must still be at that version (ErrVersion
// otherwise); without, it must exist (ErrNotFound otherwise). It returns the
// group as written.
func (s *Store) TouchGroup(ctx context.Context, tenant, id string, modified time.Time, ifVersion int64) (*Group, error) {
	u := s.stampUpdate(ctx, s.table.Update(table.PartitionKey, tenantPK(tenant)).Range(table.SortKey, groupSK(id))).
		Set("modified", modified.UTC()).Add("ver", 1)
	if ifVersion > 0 {
		u.If("$ = ?", "ver", ifVersion)
	} else {
		u.If("attribute_exists($)", table.PartitionKey)
	}
	var it groupItem
	if err := u.Value(ctx, &it); err != nil {
		switch {
		case isTxConflict(err):
			return nil, fmt.Errorf("touch group %s: %w: %w", id, ErrBusy, err)
		case isCondFailed(err) && ifVersion > 0:
			return nil, fmt.Errorf("touch group %s: %w", id, ErrVersion)
		case isCondFailed(err):
			return nil, fmt.Errorf("touch group %s: %w", id, ErrNotFound)
		}
		return nil, fmt.Errorf("touch group %s: %w", id, err)
	}
	return it.group(), nil
}

// DeleteGroup deletes a group read at version prev with its displayName guard
// and share of the count in one transaction, then its memberships (each with
// the member's group-id set). Deletion markers record ctx's actor as the
// group deletion's and as each membership removal's.
// Readers never see the group's memberships once the transaction is done: a
// user's group ids are resolved against existing groups, so ids of a group
// being cleaned up are not returned.
func (s *Store) DeleteGroup(ctx context.Context, tenant string, prev *Group) error {
	pk := tenantPK(tenant)
	err := s.db.WriteTx().
		Delete(s.table.Delete(table.PartitionKey, pk).Range(table.SortKey, groupSK(prev.ID)).If("$ = ?", "ver", prev.Version)).
		Delete(s.table.Delete(table.PartitionKey, pk).Range(table.SortKey, groupNameSK(prev.DisplayName))).
		Update(s.table.Update(table.PartitionKey, pk).Range(table.SortKey, groupCountSK).Add(countAttr, -1)).
		Put(s.markDeletion(ctx, pk, groupSK(prev.ID))).
		Run(ctx)
	if err != nil {
		if isTxConflict(err) {
			return fmt.Errorf("delete group %s: %w: %w", prev.ID, ErrBusy, err)
		}
		if isCondFailed(err) {
			return fmt.Errorf("delete group %s: %w", prev.ID, ErrVersion)
		}
		return fmt.Errorf("delete group %s: %w", prev.ID, err)
	}
	return s.CleanupGroup(ctx, tenant, prev.ID)
}

// CleanupGroup removes every membership of a (deleted) group. It is
// idempotent, so a cleanup cut short is finished by running it again.
func (s *Store) CleanupGroup(ctx context.Context, tenant, gid string) error {
	members, err := s.Members(ctx, tenant, gid)
	if err != nil {
		return err
	}
	uids := make([]string, len(members))
	for i, m := range members {
		uids[i] = m.UserID
	}
	return s.RemoveMembers(ctx, tenant, gid, 0, uids)
}

// RemoveUserFromGroups deletes the memberships of user uid in the given
// groups. Used before deleting a user, so no group ever lists a deleted
// user. Each membership goes in one transaction with an update of the user
// item (its version is left alone, so a delete of the user read before still
// applies) and the marker that records ctx's actor as the removal's; once the
// user is gone, a membership left over is deleted with its marker alone.
func (s *Store) RemoveUserFromGroups(ctx context.Context, tenant, uid string, gids []string) error {
	pk := tenantPK(tenant)
	for _, gid := range gids {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("remove user %s from groups: %w", uid, err)
		}
		mpk, msk := memberPK(tenant, gid), memberPrefix+uid
		err := s.db.WriteTx().
			Delete(s.table.Delete(table.PartitionKey, mpk).Range(table.SortKey, msk)).
			Update(s.stampUpdate(ctx, s.table.Update(table.PartitionKey, pk).Range(table.SortKey, userSK(uid))).
				DeleteStringsFromSet("groups", gid).If("attribute_exists($)", table.PartitionKey)).
			Put(s.markDeletion(ctx, mpk, msk)).
			Run(ctx)
		if isCondFailed(err) {
			err = s.db.WriteTx().
				Delete(s.table.Delete(table.PartitionKey, mpk).Range(table.SortKey, msk)).
				Put(s.markDeletion(ctx, mpk, msk)).
				Run(ctx)
		}
		if err != nil {
			if isTxConflict(err) {
				return fmt.Errorf("remove user %s from group %s: %w: %w", uid, gid, ErrBusy, err)
			}
			return fmt.Errorf("remove user %s from group %s: %w", uid, gid, err)
		}
	}
	return nil
}

// GroupPage is one page of groups in id order.
type GroupPage struct {
	Groups []*Group
	Last   string // id of the last group; empty when there are no more
}

// ListGroups returns up to limit groups with ids greater than after, in id
// order: one Query reading only the groups returned (members are not read).
func (s *Store) ListGroups(ctx context.Context, tenant, after string, limit int) (GroupPage, error) {
	var page GroupPage
	var err error
	page.Groups, page.Last, err = listPage(ctx, s, tenant, groupPrefix, after, limit, func(it *groupItem) (*Group, string) { return it.group(), it.ID })
	if err != nil {
		return page, fmt.Errorf("list groups: %w", err)
	}
	return page, nil
}

// CountGroups returns the number of groups in the tenant: one GetItem.
func (s *Store) CountGroups(ctx context.Context, tenant string) (int, error) {
	return s.count(ctx, tenant, groupCountSK)
}
