// Package xaas is scimless's Okta Anything-as-a-Source (XaaS) side: a
// source system (an HR tool, a database, a script, the seed's Okta
// Workflows flows) pushes user and group records to scimless, and scimless
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
//   - Mapping (mapping.go): a per-tenant template per Okta profile attribute
//     turns a record into an Okta identity source profile; the built-in
//     default fits the seed's record shape.
//   - The HTTP API (server.go): /xaas/v1 users, groups and syncs, and the
//     seed-compatible /items routes, behind bearer tokens with the xaas scope.
//   - The sync engine (engine.go, run.go): a resumable state machine
//     per run, checkpointed in the table after every Okta upload, continued
//     by scheduled ticks (EventBridge on AWS, a loop locally), holding a
//     lease so that a tenant never has two workers, and respecting every
//     limit of the Identity Sources API (200 entities per upload, 50 uploads
//     and 10,000 entities per session, one open session per source, 5
//     minutes between an import and the next session).
//
// Logs are JSON (log/slog) and never carry credentials or record contents:
// tenant, run and session ids, counts, Okta status codes.
package xaas
