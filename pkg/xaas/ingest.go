package xaas

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/scimless/scimless/pkg/store"
)

// Outcome of storing one record.
const (
	Created   = "created"
	Updated   = "updated"
	Unchanged = "unchanged"
)

// BulkResult is the answer to a bulk push: how many rows created, updated
// or left unchanged a record, how many failed, and why (the first
// MaxBulkErrors failures).
type BulkResult struct {
	Created   int        `json:"created"`
	Updated   int        `json:"updated"`
	Unchanged int        `json:"unchanged"`
	Failed    int        `json:"failed"`
	Errors    []RowError `json:"errors"`
}

// RowError is one failed row of a bulk push.
type RowError struct {
	Row        int    `json:"row"`
	ExternalID string `json:"externalId"`
	Detail     string `json:"detail"`
}

// MaxBulkErrors bounds the errors listed in a BulkResult (Failed counts
// them all).
const MaxBulkErrors = 1000

func (r *BulkResult) fail(row int, id, detail string) {
	r.Failed++
	if len(r.Errors) < MaxBulkErrors {
		r.Errors = append(r.Errors, RowError{Row: row, ExternalID: id, Detail: detail})
	}
}

func (r *BulkResult) count(outcome string) {
	switch outcome {
	case Created:
		r.Created++
	case Updated:
		r.Updated++
	case Unchanged:
		r.Unchanged++
	}
}

// Ingester stores pushed records: it compares each with the stored one by
// content hash and writes (and marks dirty) only what changed.
type Ingester struct {
	store *store.Store
	log   *slog.Logger
	now   func() time.Time
	// concurrency bounds the parallel writes of one chunk.
	concurrency int
	// writeRecord stores one changed record (write; tests replace it).
	writeRecord func(ctx context.Context, tenant string, rec *Record, hash string, prev *store.SourceUser, now time.Time) (string, *store.SourceUser, bool, error)
}

// chunkSize is how many rows are read, looked up (one BatchGetItem) and
// written together.
const chunkSize = 100

// NewIngester returns an ingester over st; log receives internal errors
// (none when nil); now is the clock (time.Now when nil); concurrency
// bounds parallel writes (16 when ≤ 0).
func NewIngester(st *store.Store, log *slog.Logger, now func() time.Time, concurrency int) *Ingester {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if now == nil {
		now = time.Now
	}
	if concurrency <= 0 {
		concurrency = 16
	}
	in := &Ingester{store: st, log: log, now: now, concurrency: concurrency}
	in.writeRecord = in.write
	return in
}

// Bulk reads rows from r and stores them in chunks of 100: one BatchGetItem
// per chunk, one conditional PutItem per changed record, and one UpdateItem
// of the tenant's sync state per chunk that changed something. A row's
// failure does not stop the others. Bulk returns when the body ends or
// cannot be read further (err), or ctx ends (err); the result counts what
// was done either way.
func (in *Ingester) Bulk(ctx context.Context, tenant string, r RowReader) (BulkResult, error) {
	res := BulkResult{Errors: []RowError{}}
	chunk := make([]Record, 0, chunkSize)
	rows := make([]int, 0, chunkSize)
	ids := make(map[string]bool, chunkSize)
	flush := func() error {
		if len(chunk) == 0 {
			return nil
		}
		outcomes, _, errs, err := in.putChunk(ctx, tenant, chunk)
		if err != nil {
			for i := range chunk {
				res.fail(rows[i], chunk[i].ExternalID, "not stored: "+err.Error())
			}
		} else {
			for i := range chunk {
				if errs[i] != nil {
					res.fail(rows[i], chunk[i].ExternalID, errs[i].Error())
				} else {
					res.count(outcomes[i])
				}
			}
		}
		chunk, rows = chunk[:0], rows[:0]
		clear(ids)
		return err
	}
	for {
		if err := ctx.Err(); err != nil {
			_ = flush()
			return res, err
		}
		row, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			if ferr := flush(); ferr != nil {
				return res, ferr
			}
			return res, err
		}
		if row.Err != nil {
			res.fail(row.N, row.ExternalID, row.Err.Error())
			continue
		}
		if ids[row.Record.ExternalID] {
			// The same record twice in a chunk: store the first before the
			// second, so that the last one wins.
			if err := flush(); err != nil && ctx.Err() != nil {
				return res, err
			}
		}
		ids[row.Record.ExternalID] = true
		chunk = append(chunk, row.Record)
		rows = append(rows, row.N)
		if len(chunk) == chunkSize {
			if err := flush(); err != nil && ctx.Err() != nil {
				return res, err
			}
		}
	}
	err := flush()
	if err != nil && ctx.Err() != nil {
		return res, err
	}
	return res, nil
}

// Put stores one record and returns its outcome (Created, Updated or
// Unchanged) and the record as stored.
func (in *Ingester) Put(ctx context.Context, tenant string, rec Record) (string, *store.SourceUser, error) {
	outcomes, stored, errs, err := in.putChunk(ctx, tenant, []Record{rec})
	if err != nil {
		return "", nil, err
	}
	if errs[0] != nil {
		return "", nil, errs[0]
	}
	return outcomes[0], stored[0], nil
}

// Delete turns a record into a tombstone that the next sync deactivates in
// Okta (its attributes are dropped). A record never stored yields
// store.ErrNotFound; deleting a tombstone again is a no-op.
func (in *Ingester) Delete(ctx context.Context, tenant, externalID string) error {
	var (
		now   time.Time
		newly int
		done  bool
	)
	err := retryConflicts(ctx, func() error {
		prev, err := in.store.GetSourceUser(ctx, tenant, externalID)
		if err != nil {
			return err
		}
		if prev.Deleted {
			done = true
			return nil
		}
		now = in.now()
		u := &store.SourceUser{ExternalID: externalID, Active: false, Deleted: true, Hash: hashRecord(false, true, nil),
			Created: prev.Created, Changed: now, Synced: prev.Synced}
		if err := in.store.PutSourceUser(ctx, tenant, u, prev.Version); err != nil {
			return err
		}
		newly = 0
		if prev.State != store.SyncDirty {
			newly = 1
		}
		return nil
	})
	if err != nil || done {
		return err
	}
	return in.store.NoteXaaSPush(ctx, tenant, now, newly)
}

// putChunk stores records with distinct externalIds. stored holds each
// record as stored, errs each record's own failure; err a failure of the
// whole chunk (reading the stored records).
func (in *Ingester) putChunk(ctx context.Context, tenant string, recs []Record) (outcomes []string, stored []*store.SourceUser, errs []error, err error) {
	ids := make([]string, len(recs))
	for i, r := range recs {
		ids[i] = r.ExternalID
	}
	existing, err := in.store.GetSourceUsers(ctx, tenant, ids)
	if err != nil {
		return nil, nil, nil, err
	}
	outcomes, stored, errs = make([]string, len(recs)), make([]*store.SourceUser, len(recs)), make([]error, len(recs))
	now := in.now()
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		newly int
		wrote bool
		sem   = make(chan struct{}, in.concurrency)
	)
	for i := range recs {
		rec := &recs[i]
		hash := hashRecord(rec.Active, false, rec.Attrs)
		prev := existing[rec.ExternalID]
		if prev != nil && !prev.Deleted && prev.Hash == hash {
			outcomes[i], stored[i] = Unchanged, prev
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			defer func() {
				if err := recovered(ctx, in.log, "xaas record write panicked", recover(), slog.String("tenant", tenant)); err != nil {
					mu.Lock()
					errs[i] = err
					mu.Unlock()
				}
			}()
			outcome, u, wasDirty, err := in.writeRecord(ctx, tenant, rec, hash, prev, now)
			mu.Lock()
			defer mu.Unlock()
			outcomes[i], stored[i], errs[i] = outcome, u, err
			if err == nil && outcome != Unchanged {
				wrote = true
				if !wasDirty {
					newly++
				}
			}
		}()
	}
	wg.Wait()
	if wrote {
		if err := in.store.NoteXaaSPush(ctx, tenant, now, newly); err != nil {
			return outcomes, stored, errs, fmt.Errorf("records stored, push not noted: %w", err)
		}
	}
	return outcomes, stored, errs, nil
}

// write stores one changed record, retrying (with a fresh read) while it
// changes concurrently, and returns it as stored. prev is the record as
// read before (nil when there was none).
func (in *Ingester) write(ctx context.Context, tenant string, rec *Record, hash string, prev *store.SourceUser, now time.Time) (outcome string, stored *store.SourceUser, wasDirty bool, err error) {
	first := true
	err = retryConflicts(ctx, func() error {
		if !first {
			// A retry is a new write: it changes the record now, after the
			// write it lost to.
			now = in.now()
			var err error
			prev, err = in.store.GetSourceUser(ctx, tenant, rec.ExternalID)
			switch {
			case errors.Is(err, store.ErrNotFound):
				prev = nil
			case err != nil:
				return err
			case !prev.Deleted && prev.Hash == hash:
				outcome, stored, wasDirty = Unchanged, prev, false
				return nil
			}
		}
		first = false
		u := &store.SourceUser{ExternalID: rec.ExternalID, Attrs: rec.Attrs, Active: rec.Active, Hash: hash,
			Created: now, Changed: now}
		var prevVersion int64
		outcome, wasDirty = Created, false
		if prev != nil {
			prevVersion, u.Created, u.Synced = prev.Version, prev.Created, prev.Synced
			wasDirty = prev.State == store.SyncDirty
			if !prev.Deleted {
				outcome = Updated
			}
		}
		if err := in.store.PutSourceUser(ctx, tenant, u, prevVersion); err != nil {
			return err
		}
		stored = u
		return nil
	})
	if errors.Is(err, store.ErrTooLarge) {
		return "", nil, false, recordErr("record too large to store")
	}
	if err != nil {
		return "", nil, false, err
	}
	return outcome, stored, wasDirty, nil
}

// PutGroup stores a group record and returns its outcome and the group as
// stored. Members are kept sorted; the members last pushed to Okta are
// carried over so that the next sync sends only the membership changes.
func (in *Ingester) PutGroup(ctx context.Context, tenant string, g Group) (string, *store.SourceGroup, error) {
	hash := hashGroup(g.DisplayName, g.Description, g.Members, false)
	var (
		outcome string
		stored  *store.SourceGroup
		now     time.Time
	)
	err := retryConflicts(ctx, func() error {
		prev, err := in.store.GetSourceGroup(ctx, tenant, g.ExternalID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		now = in.now()
		sg := &store.SourceGroup{ExternalID: g.ExternalID, DisplayName: g.DisplayName, Description: g.Description,
			Members: slices.Clone(g.Members), Hash: hash, Created: now, Changed: now}
		var prevVersion int64
		outcome = Created
		if prev != nil {
			if !prev.Deleted && prev.Hash == hash {
				outcome, stored = Unchanged, prev
				return nil
			}
			prevVersion, sg.Created, sg.Pushed, sg.Synced = prev.Version, prev.Created, prev.Pushed, prev.Synced
			if !prev.Deleted {
				outcome = Updated
			}
		}
		if err := in.store.PutSourceGroup(ctx, tenant, sg, prevVersion); err != nil {
			return err
		}
		stored = sg
		return nil
	})
	if err != nil {
		return "", nil, err
	}
	if outcome == Unchanged {
		return outcome, stored, nil
	}
	return outcome, stored, in.store.NoteXaaSPush(ctx, tenant, now, 0)
}

// DeleteGroup turns a group into a tombstone that the next sync deletes in
// Okta. A group never stored yields store.ErrNotFound.
func (in *Ingester) DeleteGroup(ctx context.Context, tenant, externalID string) error {
	var (
		now  time.Time
		done bool
	)
	err := retryConflicts(ctx, func() error {
		prev, err := in.store.GetSourceGroup(ctx, tenant, externalID)
		if err != nil {
			return err
		}
		if prev.Deleted {
			done = true
			return nil
		}
		now = in.now()
		sg := &store.SourceGroup{ExternalID: externalID, Deleted: true, Hash: hashGroup("", "", nil, true),
			Pushed: prev.Pushed, Created: prev.Created, Changed: now, Synced: prev.Synced}
		return in.store.PutSourceGroup(ctx, tenant, sg, prev.Version)
	})
	if err != nil || done {
		return err
	}
	return in.store.NoteXaaSPush(ctx, tenant, now, 0)
}
