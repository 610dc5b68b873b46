package store

import (
	"strings"
	"time"
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
//
// xaas_records.go holds the source users and groups, xaas_runs.go the
// configuration documents, sync runs, upload logs and sync state.

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
