package store

// Unexported write helpers, for the package's external tests.
var (
	StampUpdate = (*Store).stampUpdate
	StampDelete = (*Store).stampDelete
	StampOf     = (*Store).actorStamp
)
