// Package xaas is scimless's Okta Anything-as-a-Source (XaaS) side: a
// source system (an HR tool, a database, a script, Okta Workflows flows)
// pushes user and group records to scimless, and scimless
// imports what changed into a Custom Identity Source in Okta through the
// Identity Sources API (package okta).
//
// The package has four parts:
//
//   - Records (record.go, bulk.go, ingest.go): source users are flat
//     records of string attributes keyed by externalId, with an active flag;
//     groups have a displayName, a description and member externalIds. A
//     content hash decides whether a push changed anything; only a change
//     marks a record dirty (the Dirty index of the table). Bulk bodies (CSV,
//     NDJSON, JSON arrays) are parsed and stored row by row in chunks, never
//     held whole.
//   - The sample items API: Okta's Anything-as-a-Source how-to for Okta
//     Workflows reads its records from a small "items" API (GET /items,
//     PUT /items, GET and DELETE /items/{id}; records keyed by "id"). The
//     server serves the same routes and record shape, so that those flows
//     work against scimless unchanged.
//   - Mapping (mapping.go): a per-tenant template per Okta profile attribute
//     turns a record into an Okta identity source profile; the built-in
//     default fits the record shape of the sample items API.
//   - The HTTP API (server.go): /xaas/v1 users, groups and syncs, and the
//     /items routes of the sample items API, behind bearer tokens with the xaas scope.
//   - The sync engine: a resumable state machine
//     per run, checkpointed in the table after every Okta upload, continued
//     by scheduled ticks (EventBridge on AWS, a loop locally), holding a
//     lease so that a tenant never has two workers, and respecting every
//     limit of the Identity Sources API (200 entities per upload, 50 uploads
//     and 10,000 entities per session, one open session per source, 5
//     minutes between an import and the next session). engine.go holds its
//     configuration, scheduler.go the ticks and leases, step.go the state
//     machine of one run, upload_users.go and upload_groups.go what a
//     session uploads, import.go the start of the import and its polling,
//     and run.go the checkpointed state of a run.
//
// Logs are JSON (log/slog) and never carry credentials or record contents:
// tenant, run and session ids, counts, Okta status codes.
package xaas
