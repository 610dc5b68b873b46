// Package table is the single definition of scimless's DynamoDB table: key
// attribute names, global secondary indexes and the TTL attribute. The store,
// the local run, the tests and the CDK app all build the table from it.
//
// Every item key starts with the tenant ("T#{tenant}"), so no access pattern
// can read across tenants. The package has no dependencies so that infra/ can
// import it without pulling in the AWS SDK.
package table

// DefaultName is the table name used when none is configured.
const DefaultName = "scimless"

// Primary key and TTL attribute names.
const (
	PartitionKey = "pk"  // string: "T#{tenant}", "T#{tenant}#G#{gid}", "TOKEN#{sha256}", …
	SortKey      = "sk"  // string: "U#{id}", "UN#{lower(userName)}", "M#{uid}", …
	TTLAttribute = "ttl" // number: Unix seconds after which DynamoDB deletes the item
)

// StreamViewType is what the table's stream records carry: the item's old
// and new images, from which directory events are derived.
const StreamViewType = "NEW_AND_OLD_IMAGES"

// Global secondary index names and their key attributes. All indexes use
// string keys and project all attributes.
const (
	// ByExternalID finds users and groups by externalId:
	// gsi1pk "T#{t}#UX#{externalId}" or "T#{t}#GX#{externalId}", gsi1sk "U#{id}"/"G#{id}".
	ByExternalID   = "gsi1"
	ByExternalIDPK = "gsi1pk"
	ByExternalIDSK = "gsi1sk"

	// ByMember is the inverted membership index, a user's groups:
	// gsi2pk "T#{t}#U#{uid}", gsi2sk "G#{gid}".
	ByMember   = "gsi2"
	ByMemberPK = "gsi2pk"
	ByMemberSK = "gsi2sk"

	// Dirty indexes XaaS source records by sync state and change time:
	// gsi3pk "T#{t}#DIRTY" (waiting to be pushed to Okta), "T#{t}#FAILED"
	// (refused, waiting for a fix) or "T#{t}#SYNCED" (Okta confirmed it;
	// groups use "…#DIRTY#G" and "…#SYNCED#G"), gsi3sk
	// "{changedAt}#{externalId}". A sync reads only the DIRTY partition, so
	// its cost is O(changed records); moving a record to SYNCED when Okta
	// confirms an import is what clears it. The other partitions serve
	// "changed since" listings and retries of failed records. Only source
	// records carry these attributes.
	Dirty   = "gsi3"
	DirtyPK = "gsi3pk"
	DirtySK = "gsi3sk"
)

// Index describes one global secondary index.
type Index struct {
	Name         string
	PartitionKey string
	SortKey      string
}

// Indexes lists every global secondary index of the table.
func Indexes() []Index {
	return []Index{
		{Name: ByExternalID, PartitionKey: ByExternalIDPK, SortKey: ByExternalIDSK},
		{Name: ByMember, PartitionKey: ByMemberPK, SortKey: ByMemberSK},
		{Name: Dirty, PartitionKey: DirtyPK, SortKey: DirtySK},
	}
}

// MaxTransactItems is DynamoDB's limit on the actions in one transaction.
const MaxTransactItems = 100

// MaxBatchWrite is DynamoDB's limit on the requests in one BatchWriteItem.
const MaxBatchWrite = 25

// MaxBatchGet is DynamoDB's limit on the keys in one BatchGetItem.
const MaxBatchGet = 100
