package schema

// Caps on multi-valued attributes. Every write path (POST, PUT and PATCH)
// refuses more values than these with a 400 invalidValue, so the work one
// request can cause stays bounded and an item stays far below DynamoDB's
// 400 KB limit. A PATCH operation is refused when it leaves an attribute
// with more than MaxValues values and more than it had before, so that a
// list stored before a cap was lowered can still be edited and shrunk.
//
// Okta and Entra send a handful of values per attribute on a user: at most a
// few emails, phone numbers, addresses, entitlements and roles; 100 leaves
// ample room for custom attributes and for directories that hold many
// aliases. Group membership is stored as one item per member, not in the
// group item, so members are capped per request instead: Okta sends up to
// 1,000 membership changes in one PATCH (its OIN setting allows 100–1,000),
// and Entra sends fewer, so 10,000 leaves room for a replace of a whole
// large group while keeping the request well inside API Gateway's 29 s.
const (
	// MaxValues is the most values one multi-valued attribute of a resource
	// may hold (emails, phoneNumbers, addresses, roles, custom lists, …).
	MaxValues = 100

	// MaxMembersPerRequest is the most members one POST, PUT or PATCH of a
	// group may name, summed over all of its operations.
	MaxMembersPerRequest = 10000
)
