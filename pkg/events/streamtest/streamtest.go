// Package streamtest builds table stream records for tests and benchmarks:
// it reads the raw items before and after a write made through the real
// store on the embedded engine, and turns each changed item into the
// NEW_AND_OLD_IMAGES record that DynamoDB Streams would deliver.
package streamtest

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	lambdaevents "github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/scimless/scimless/pkg/events"
	"github.com/scimless/scimless/pkg/table"
)

// Key is an item's primary key.
type Key struct{ PK, SK string }

// Recorder turns writes into stream records. It is safe for concurrent use;
// sequence numbers increase across all records it makes.
type Recorder struct {
	tb     testing.TB
	client *dynamodb.Client
	table  string
	mu     sync.Mutex
	seq    int64
}

// New returns a recorder reading items of table through client.
func New(tb testing.TB, client *dynamodb.Client, table string) *Recorder {
	return &Recorder{tb: tb, client: client, table: table}
}

// Raw reads one item as a stream image (nil when absent).
func (r *Recorder) Raw(k Key) events.Image {
	r.tb.Helper()
	out, err := r.client.GetItem(context.Background(), &dynamodb.GetItemInput{
		TableName:      aws.String(r.table),
		ConsistentRead: aws.Bool(true),
		Key: map[string]types.AttributeValue{
			"pk": &types.AttributeValueMemberS{Value: k.PK},
			"sk": &types.AttributeValueMemberS{Value: k.SK},
		},
	})
	if err != nil {
		r.tb.Fatalf("get %v: %v", k, err)
	}
	im, err := events.ImageFromSDK(out.Item)
	if err != nil {
		r.tb.Fatal(err)
	}
	return im
}

// Write runs fn and returns the stream records of the items at keys that
// it changed, in the order of keys.
func (r *Recorder) Write(fn func() error, keys ...Key) []lambdaevents.DynamoDBEventRecord {
	r.tb.Helper()
	before := make([]events.Image, len(keys))
	for i, k := range keys {
		before[i] = r.Raw(k)
	}
	if err := fn(); err != nil {
		r.tb.Fatalf("write: %v", err)
	}
	var recs []lambdaevents.DynamoDBEventRecord
	for i, k := range keys {
		if rec, ok := r.Record(before[i], r.Raw(k)); ok {
			recs = append(recs, rec)
		}
	}
	return recs
}

// Record returns the stream record of an item changing from before to
// after (nil: absent); false when both are absent.
func (r *Recorder) Record(before, after events.Image) (lambdaevents.DynamoDBEventRecord, bool) {
	name := "MODIFY"
	switch {
	case before == nil && after == nil:
		return lambdaevents.DynamoDBEventRecord{}, false
	case before == nil:
		name = "INSERT"
	case after == nil:
		name = "REMOVE"
	}
	r.mu.Lock()
	r.seq++
	seq := r.seq
	r.mu.Unlock()
	return lambdaevents.DynamoDBEventRecord{
		EventID: fmt.Sprintf("rec-%d", seq), EventName: name, EventSource: "aws:dynamodb", AWSRegion: "us-east-1",
		Change: lambdaevents.DynamoDBStreamRecord{
			ApproximateCreationDateTime: lambdaevents.SecondsEpochTime{Time: time.Now().Truncate(time.Second)},
			SequenceNumber:              fmt.Sprintf("%d%020d", 1, seq),
			OldImage:                    before, NewImage: after, StreamViewType: "NEW_AND_OLD_IMAGES",
		},
	}, true
}

// UserKeys are the items a user write touches: the user, its userName
// guard, the tenant's user counter and the user's deletion marker.
func UserKeys(tenant, id, userName string) []Key {
	pk := "T#" + tenant
	return []Key{{pk, "U#" + id}, {pk, "UN#" + strings.ToLower(userName)}, {pk, "COUNT#U"}, {pk, table.DeletionPrefix + "U#" + id}}
}

// GroupKeys are the items a group write touches.
func GroupKeys(tenant, id, displayName string) []Key {
	pk := "T#" + tenant
	return []Key{{pk, "G#" + id}, {pk, "GN#" + strings.ToLower(displayName)}, {pk, "COUNT#G"}, {pk, table.DeletionPrefix + "G#" + id}}
}

// MemberKeys are the items a membership change touches: each membership,
// its user and its deletion marker.
func MemberKeys(tenant, gid string, uids ...string) []Key {
	ks := make([]Key, 0, 3*len(uids))
	for _, u := range uids {
		mpk := "T#" + tenant + "#G#" + gid
		ks = append(ks, Key{mpk, "M#" + u}, Key{"T#" + tenant, "U#" + u}, Key{mpk, table.DeletionPrefix + "M#" + u})
	}
	return ks
}

// Snapshot is every item of the table, by key.
type Snapshot map[Key]events.Image

// Snapshot reads the whole table (tests only: a Scan).
func (r *Recorder) Snapshot() Snapshot {
	r.tb.Helper()
	out := Snapshot{}
	p := dynamodb.NewScanPaginator(r.client, &dynamodb.ScanInput{TableName: aws.String(r.table), ConsistentRead: aws.Bool(true)})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			r.tb.Fatalf("scan: %v", err)
		}
		for _, it := range page.Items {
			im, err := events.ImageFromSDK(it)
			if err != nil {
				r.tb.Fatal(err)
			}
			out[Key{im["pk"].String(), im["sk"].String()}] = im
		}
	}
	return out
}

// Diff returns the stream records that turn snapshot before into after:
// one per inserted, modified or removed item, in key order.
func (r *Recorder) Diff(before, after Snapshot) []lambdaevents.DynamoDBEventRecord {
	keys := make([]Key, 0, len(after))
	for k := range after {
		keys = append(keys, k)
	}
	for k := range before {
		if _, ok := after[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b Key) int {
		if c := strings.Compare(a.PK, b.PK); c != 0 {
			return c
		}
		return strings.Compare(a.SK, b.SK)
	})
	var recs []lambdaevents.DynamoDBEventRecord
	for _, k := range keys {
		b, a := before[k], after[k]
		if b != nil && a != nil && reflect.DeepEqual(b, a) {
			continue
		}
		if rec, ok := r.Record(b, a); ok {
			recs = append(recs, rec)
		}
	}
	return recs
}
