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
	// ActorDeleted is written on the item that a deleting transaction updates
	// (the tenant's counter for a user or group, the user for a membership):
	// "{pk}|{sk}" of the item deleted. A deleted item records nothing, so
	// this is how a deletion is attributed.
	ActorDeleted = "actorDeleted"
)
