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
