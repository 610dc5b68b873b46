// Package okta is a client for Okta's Identity Sources API, the API behind
// "Anything-as-a-Source" (XaaS): a Custom Identity Source app receives users,
// groups and group memberships through an identity source session
// (create session → bulk uploads → start import → poll until the import ends).
//
// # Why a hand-written client
//
// The client is written against net/http and encoding/json instead of
// github.com/okta/okta-sdk-golang/v5 because v5 (every tag, including v5.0.2,
// the only one our module proxy serves) cannot be used for this API as it is:
// CreateIdentitySourceSession and StartImportFromIdentitySource are generated
// to return a JSON array while Okta returns a single session object, so their
// responses do not decode; BulkUpsertRequestBody has flat profiles without the
// documented {"externalId", "profile"} wrapper, so the documented upsert body
// cannot be sent; and v5 has no group or group-membership upload calls. v6
// fixes these but is not available here. The API is eleven small JSON calls,
// so a typed client of our own is simpler than working around the SDK.
//
// # Authentication
//
// Two kinds of [Credentials] are supported: an Okta API token ([APIToken],
// sent as "Authorization: SSWS …") and an OAuth 2.0 service app that
// authenticates with a private-key JWT ([PrivateKeyJWT]): the client signs an
// RS256 client assertion, exchanges it at {org}/oauth2/v1/token with the
// client_credentials grant for an access token with scope
// okta.identitySources.manage, and caches that token until shortly before it
// expires. DPoP (proof-of-possession) tokens are not supported: the service
// app's "Require Demonstrating Proof of Possession (DPoP) header in token
// requests" setting must be off. (The project's Okta XaaS reference does not
// mention DPoP for this API.) Credentials never appear in errors, and the
// package does not log.
//
// # Retries
//
// A 429 response is retried after the rate-limit window resets (the
// X-Rate-Limit-Reset header, measured against the response's Date header so
// that clock skew does not matter). 5xx responses, timeouts and connection
// errors are retried with exponential backoff and full jitter. Retries are
// bounded by [RetryPolicy] and stop when the context is done. Every other 4xx
// is returned at once as an [*APIError], except that a 401 to a request made
// with a cached OAuth access token fetches a new token and tries once more. Note that Okta's uploads are not
// idempotent: if a 5xx or a timeout hides an upload that Okta did accept, the
// retry uploads the same entities again and uses one more of the session's
// 50 uploads; callers planning a session's uploads should allow for that.
//
// # Limits
//
// Each bulk call checks its batch before sending it: 1 to [MaxBatchSize]
// entities, valid externalIds and profiles (see [User.Validate]), no
// externalId twice. The per-session limits ([MaxUploadsPerSession],
// [MaxEntitiesPerSession]), one active session per identity source and the
// [MinSessionGap] between triggering an import and creating the next session
// span many calls and runs, so they are left to the caller; the constants
// name them.
package okta
