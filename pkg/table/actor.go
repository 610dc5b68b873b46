package table

// Actor attributes: every write of a user, group or membership item records
// who made it on the item itself, so the table's stream attributes each
// change without an extra write. All are strings.
const (
	// ActorToken is the id of the token that made the write (empty for the CLI).
	ActorToken = "actorToken"
	// ActorRequest is the request id of the write.
	ActorRequest = "actorRequest"
	// ActorVia is the path the write came through: "scim", "xaas" or "cli".
	ActorVia = "actorVia"
	// ActorAt is the time of the write, RFC 3339 with nanoseconds, UTC.
	ActorAt = "actorAt"
	// ActorDeleted is written on a deletion marker: "{pk}|{sk}" of the item
	// deleted. A deleted item records nothing, so this is how a deletion is
	// attributed.
	ActorDeleted = "actorDeleted"
)

// Deletion markers. The transaction that deletes a user, group or membership
// also puts a marker in the deleted item's partition, at sort key
// DeletionPrefix + the deleted item's sort key, holding the deletion's actor
// attributes and ActorDeleted. Its stream record is usually in the same batch
// as the deletion's; when it is not (a batch boundary, another shard), the
// events consumer reads the marker by its key. Markers expire through the
// TTL attribute after DeletionMarkerHours, longer than a stream keeps records.
const (
	DeletionPrefix      = "DEL#"
	DeletionType        = "deletion"
	DeletionMarkerHours = 48
)
