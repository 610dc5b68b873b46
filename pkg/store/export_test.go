package store

// Unexported write helpers, for the package's external tests.
var (
	StampUpdate  = (*Store).stampUpdate
	MarkDeletion = (*Store).markDeletion
	StampOf      = (*Store).actorStamp
)
