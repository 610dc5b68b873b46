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

// MaxKeyValue is the longest userName, displayName or externalId (in bytes)
// the store accepts: it becomes part of a key, and DynamoDB sort keys hold at
// most 1,024 bytes.
const MaxKeyValue = 512

// User is a stored user. Doc is the SCIM resource as JSON, owned by the
// caller; the other fields are kept beside it for keys, indexes and
// conditions.
type User struct {
	ID         string
	UserName   string
	ExternalID string
	Active     bool
	Doc        []byte
	Version    int64
	Created    time.Time
	Modified   time.Time
	// Groups holds the ids of the groups the user is a direct member of.
	Groups []string
	// PasswordHash is the hash of a synced password, when password sync is on.
	PasswordHash string
}

type userItem struct {
	PK         string    `dynamo:"pk,hash"`
	SK         string    `dynamo:"sk,range"`
	Type       string    `dynamo:"type"`
	ID         string    `dynamo:"id"`
	UserName   string    `dynamo:"userName"`
	ExternalID string    `dynamo:"externalId,omitempty"`
	GSI1PK     string    `dynamo:"gsi1pk,omitempty"`
	GSI1SK     string    `dynamo:"gsi1sk,omitempty"`
	Active     bool      `dynamo:"active"`
	Doc        []byte    `dynamo:"doc"`
	Version    int64     `dynamo:"ver"`
	Created    time.Time `dynamo:"created"`
	Modified   time.Time `dynamo:"modified"`
	Groups     []string  `dynamo:"groups,set,omitempty"`
	Password   string    `dynamo:"pwd,omitempty"`
	ActorStamp
}

type guardItem struct {
	PK   string `dynamo:"pk,hash"`
	SK   string `dynamo:"sk,range"`
	Type string `dynamo:"type"`
	ID   string `dynamo:"id"`
}

const (
	userPrefix      = "U#"
	userNamePrefix  = "UN#"
	userCountSK     = "COUNT#U"
	countAttr       = "n"
	userExtIDPrefix = "#UX#"
)

func userSK(id string) string { return userPrefix + id }

func userNameSK(userName string) string { return userNamePrefix + strings.ToLower(userName) }

func userExtPK(tenant, externalID string) string {
	return tenantPK(tenant) + userExtIDPrefix + externalID
}

// userItem returns the item of user u, stamped with ctx's actor.
func (s *Store) userItem(ctx context.Context, tenant string, u *User) userItem {
	it := userItem{
		PK: tenantPK(tenant), SK: userSK(u.ID), Type: "user",
		ID: u.ID, UserName: u.UserName, ExternalID: u.ExternalID, Active: u.Active,
		Doc: u.Doc, Version: u.Version, Created: u.Created.UTC(), Modified: u.Modified.UTC(),
		Groups: u.Groups, Password: u.PasswordHash, ActorStamp: s.actorStamp(ctx),
	}
	if u.ExternalID != "" {
		it.GSI1PK, it.GSI1SK = userExtPK(tenant, u.ExternalID), userSK(u.ID)
	}
	return it
}

func (it *userItem) user() *User {
	slices.Sort(it.Groups)
	return &User{
		ID: it.ID, UserName: it.UserName, ExternalID: it.ExternalID, Active: it.Active,
		Doc: it.Doc, Version: it.Version, Created: it.Created, Modified: it.Modified,
		Groups: it.Groups, PasswordHash: it.Password,
	}
}

func checkKeyValues(vals ...string) error {
	for _, v := range vals {
		if len(v) > MaxKeyValue {
			return fmt.Errorf("value of %d bytes exceeds %d: %w", len(v), MaxKeyValue, ErrTooLarge)
		}
	}
	return nil
}

// CreateUser stores a new user in one transaction with its userName guard and
// the tenant's user count. A taken userName (case-insensitive) or id yields
// ErrConflict; concurrent creates of one userName let exactly one succeed.
// Version is set to 1.
func (s *Store) CreateUser(ctx context.Context, tenant string, u *User) error {
	if err := checkKeyValues(u.UserName, u.ExternalID); err != nil {
		return fmt.Errorf("create user: %w", err)
	}
	u.Version = 1
	item := s.userItem(ctx, tenant, u)
	if err := checkItemSize("user "+u.ID, item); err != nil {
		return fmt.Errorf("create user: %w", err)
	}
	pk := tenantPK(tenant)
	tx := s.db.WriteTx().
		Put(s.table.Put(item).If("attribute_not_exists($)", table.PartitionKey)).
		Put(s.table.Put(guardItem{PK: pk, SK: userNameSK(u.UserName), Type: "userName", ID: u.ID}).If("attribute_not_exists($)", table.PartitionKey)).
		Update(s.table.Update(table.PartitionKey, pk).Range(table.SortKey, userCountSK).Add(countAttr, 1))
	if err := tx.Run(ctx); err != nil {
		if isCondFailed(err) {
			return fmt.Errorf("create user %s: userName taken: %w", u.ID, ErrConflict)
		}
		if isValidation(err) {
			return fmt.Errorf("create user %s: %w: %w", u.ID, ErrTooLarge, err)
		}
		return fmt.Errorf("create user %s: %w", u.ID, err)
	}
	return nil
}

// GetUser reads one user: one GetItem.
func (s *Store) GetUser(ctx context.Context, tenant, id string) (*User, error) {
	if len(id) > MaxKeyValue {
		return nil, fmt.Errorf("get user: %w", ErrNotFound) // could not be a key
	}
	var it userItem
	err := s.table.Get(table.PartitionKey, tenantPK(tenant)).Range(table.SortKey, dynamo.Equal, userSK(id)).
		Consistent(true).One(ctx, &it)
	if errors.Is(err, dynamo.ErrNotFound) {
		return nil, fmt.Errorf("get user %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get user %s: %w", id, err)
	}
	return it.user(), nil
}

// UserByUserName finds the user with userName (case-insensitive): a GetItem on
// the userName guard, then a GetItem on the user. Strongly consistent, so a
// user is found right after it was created.
func (s *Store) UserByUserName(ctx context.Context, tenant, userName string) (*User, error) {
	if len(userName) > MaxKeyValue {
		return nil, fmt.Errorf("user by userName: %w", ErrNotFound)
	}
	var g guardItem
	err := s.table.Get(table.PartitionKey, tenantPK(tenant)).Range(table.SortKey, dynamo.Equal, userNameSK(userName)).
		Consistent(true).One(ctx, &g)
	if errors.Is(err, dynamo.ErrNotFound) {
		return nil, fmt.Errorf("user by userName: %w", ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("user by userName: %w", err)
	}
	return s.GetUser(ctx, tenant, g.ID)
}

// UsersByExternalID returns the users with externalId (case-exact): one Query
// of the externalId index.
func (s *Store) UsersByExternalID(ctx context.Context, tenant, externalID string) ([]*User, error) {
	if externalID == "" || len(externalID) > MaxKeyValue {
		return nil, nil
	}
	var items []userItem
	err := s.table.Get(table.ByExternalIDPK, userExtPK(tenant, externalID)).Index(table.ByExternalID).All(ctx, &items)
	if err != nil {
		return nil, fmt.Errorf("users by externalId: %w", err)
	}
	users := make([]*User, len(items))
	for i := range items {
		users[i] = items[i].user()
	}
	return users, nil
}

// UpdateUser replaces a user read at version prev with u, in one conditional
// write; u.Version becomes prev+1. If the userName changed (other than in
// case), the guard moves in the same transaction. ErrVersion means the user
// changed or vanished since it was read; ErrConflict that the new userName is
// taken.
func (s *Store) UpdateUser(ctx context.Context, tenant string, u *User, prev *User) error {
	if err := checkKeyValues(u.UserName, u.ExternalID); err != nil {
		return fmt.Errorf("update user %s: %w", u.ID, err)
	}
	u.Version = prev.Version + 1
	u.Created = prev.Created
	item := s.userItem(ctx, tenant, u)
	if err := checkItemSize("user "+u.ID, item); err != nil {
		u.Version = prev.Version
		return fmt.Errorf("update user: %w", err)
	}
	put := s.table.Put(item).If("$ = ?", "ver", prev.Version)
	if strings.EqualFold(u.UserName, prev.UserName) {
		if err := put.Run(ctx); err != nil {
			u.Version = prev.Version
			if isTxConflict(err) {
				return fmt.Errorf("update user %s: %w: %w", u.ID, ErrBusy, err)
			}
			if isCondFailed(err) {
				return fmt.Errorf("update user %s: %w", u.ID, ErrVersion)
			}
			return fmt.Errorf("update user %s: %w", u.ID, err)
		}
		return nil
	}
	pk := tenantPK(tenant)
	tx := s.db.WriteTx().
		Put(put).
		Delete(s.table.Delete(table.PartitionKey, pk).Range(table.SortKey, userNameSK(prev.UserName)).If("id = ?", u.ID)).
		Put(s.table.Put(guardItem{PK: pk, SK: userNameSK(u.UserName), Type: "userName", ID: u.ID}).If("attribute_not_exists($)", table.PartitionKey))
	if err := tx.Run(ctx); err != nil {
		u.Version = prev.Version
		reasons := txReasons(err)
		switch {
		case isTxConflict(err):
			return fmt.Errorf("update user %s: %w: %w", u.ID, ErrBusy, err)
		case len(reasons) == 3 && reasons[2] == "ConditionalCheckFailed":
			return fmt.Errorf("update user %s: userName taken: %w", u.ID, ErrConflict)
		case isCondFailed(err):
			return fmt.Errorf("update user %s: %w", u.ID, ErrVersion)
		}
		return fmt.Errorf("update user %s: %w", u.ID, err)
	}
	return nil
}

// DeleteUser deletes a user read at version prev, its userName guard and its
// share of the user count in one transaction, with the marker that records
// ctx's actor as the deletion's. ErrVersion means it changed or vanished
// since it was read.
func (s *Store) DeleteUser(ctx context.Context, tenant string, prev *User) error {
	pk := tenantPK(tenant)
	tx := s.db.WriteTx().
		Delete(s.table.Delete(table.PartitionKey, pk).Range(table.SortKey, userSK(prev.ID)).If("$ = ?", "ver", prev.Version)).
		Delete(s.table.Delete(table.PartitionKey, pk).Range(table.SortKey, userNameSK(prev.UserName))).
		Update(s.table.Update(table.PartitionKey, pk).Range(table.SortKey, userCountSK).Add(countAttr, -1)).
		Put(s.markDeletion(ctx, pk, userSK(prev.ID)))
	if err := tx.Run(ctx); err != nil {
		if isTxConflict(err) {
			return fmt.Errorf("delete user %s: %w: %w", prev.ID, ErrBusy, err)
		}
		if isCondFailed(err) {
			return fmt.Errorf("delete user %s: %w", prev.ID, ErrVersion)
		}
		return fmt.Errorf("delete user %s: %w", prev.ID, err)
	}
	return nil
}

// UserPage is one page of users in id order.
type UserPage struct {
	Users []*User
	// Last is the id of the last user on the page; pass it as after to read the
	// next page. Empty when there are no more users.
	Last string
}

// ListUsers returns up to limit users with ids greater than after (all when
// after is empty), in id order: one Query reading only the users returned.
func (s *Store) ListUsers(ctx context.Context, tenant, after string, limit int) (UserPage, error) {
	var page UserPage
	var err error
	page.Users, page.Last, err = listPage(ctx, s, tenant, userPrefix, after, limit, func(it *userItem) (*User, string) { return it.user(), it.ID })
	if err != nil {
		return page, fmt.Errorf("list users: %w", err)
	}
	return page, nil
}

// EachUser calls fn for the tenant's users in id order, starting after the
// given id, until fn returns false or the users run out. It reads in pages of
// up to 1 MB, so it costs one item read per user visited.
func (s *Store) EachUser(ctx context.Context, tenant, after string, fn func(*User) bool) error {
	for {
		page, err := s.ListUsers(ctx, tenant, after, 500)
		if err != nil {
			return err
		}
		for _, u := range page.Users {
			if !fn(u) {
				return nil
			}
		}
		if page.Last == "" {
			return nil
		}
		after = page.Last
	}
}

// CountUsers returns the number of users in the tenant from its counter item:
// one GetItem, never a scan.
func (s *Store) CountUsers(ctx context.Context, tenant string) (int, error) {
	return s.count(ctx, tenant, userCountSK)
}

func (s *Store) count(ctx context.Context, tenant, sk string) (int, error) {
	var c struct {
		N int `dynamo:"n"`
	}
	err := s.table.Get(table.PartitionKey, tenantPK(tenant)).Range(table.SortKey, dynamo.Equal, sk).Consistent(true).One(ctx, &c)
	if errors.Is(err, dynamo.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("count %s: %w", sk, err)
	}
	return c.N, nil
}

// ImportUsers bulk-loads users that are known to be new and to have unique
// userNames (a migration, or seeding a benchmark): BatchWriteItem 25 items
// at a time (each user and its userName guard), then one update of the
// tenant's count. Unlike CreateUser it checks no uniqueness, so it must not
// serve client requests.
func (s *Store) ImportUsers(ctx context.Context, tenant string, users []*User) error {
	items := make([]any, 0, 2*len(users))
	for _, u := range users {
		if err := checkKeyValues(u.UserName, u.ExternalID); err != nil {
			return fmt.Errorf("import user %s: %w", u.ID, err)
		}
		if u.Version == 0 {
			u.Version = 1
		}
		if err := checkItemSize("user "+u.ID, s.userItem(ctx, tenant, u)); err != nil {
			return fmt.Errorf("import users: %w", err)
		}
		items = append(items, s.userItem(ctx, tenant, u),
			guardItem{PK: tenantPK(tenant), SK: userNameSK(u.UserName), Type: "userName", ID: u.ID})
	}
	for start := 0; start < len(items); start += table.MaxBatchWrite {
		if _, err := s.table.Batch().Write().Put(items[start:min(start+table.MaxBatchWrite, len(items))]...).Run(ctx); err != nil {
			return fmt.Errorf("import users: %w", err)
		}
	}
	err := s.table.Update(table.PartitionKey, tenantPK(tenant)).Range(table.SortKey, userCountSK).Add(countAttr, len(users)).Run(ctx)
	if err != nil {
		return fmt.Errorf("import users: count: %w", err)
	}
	return nil
}
