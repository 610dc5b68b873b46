// Package store keeps scimless's data in one DynamoDB table (see package
// table for its keys and indexes). Every access pattern is a named method, so
// the cost table in docs/design.md maps one to one onto code; every key starts
// with the tenant, so no method can read or write across tenants.
//
// The store talks items; it knows nothing of SCIM or HTTP. Resource documents
// are opaque JSON owned by the caller.
package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
	"github.com/guregu/dynamo/v2"

	"github.com/scimless/scimless/pkg/table"
)

// Errors returned by the store. Callers test them with errors.Is.
var (
	// ErrNotFound means the item does not exist (in this tenant).
	ErrNotFound = errors.New("not found")
	// ErrConflict means a uniqueness guard is taken (userName, displayName…).
	ErrConflict = errors.New("conflict")
	// ErrVersion means the item changed since it was read (optimistic lock).
	ErrVersion = errors.New("version conflict")
	// ErrTooLarge means a request would exceed a DynamoDB limit.
	ErrTooLarge = errors.New("too large")
	// ErrBusy means a transaction collided with a concurrent one on the same
	// items (DynamoDB's TransactionConflict) even after the SDK's retries.
	// Nothing was written; the caller may retry.
	ErrBusy = errors.New("concurrent transaction")
)

// Store is the single-table data store. It is safe for concurrent use.
type Store struct {
	db    *dynamo.DB
	table dynamo.Table
	name  string
	now   func() time.Time
	// CursorTTL is how long an index-paging cursor is kept (default 15 min).
	cursorTTL time.Duration
}

// Option configures a Store.
type Option func(*Store)

// WithClock sets the clock used for timestamps and TTLs (tests).
func WithClock(now func() time.Time) Option { return func(s *Store) { s.now = now } }

// New returns a store over the named table, using client.
func New(client *dynamodb.Client, tableName string, opts ...Option) *Store {
	db := dynamo.NewFromIface(client)
	s := &Store{db: db, table: db.Table(tableName), name: tableName, now: time.Now, cursorTTL: 15 * time.Minute}
	for _, o := range opts {
		o(s)
	}
	return s
}

// TableName returns the name of the table the store uses.
func (s *Store) TableName() string { return s.name }

// ClientConfig says how to reach DynamoDB.
type ClientConfig struct {
	// Endpoint is a DynamoDB-compatible endpoint URL; empty means AWS.
	Endpoint string
	// Region is the AWS region; empty means the SDK's default chain
	// (us-east-1 for a local endpoint).
	Region string
	// Metrics, if set, counts every request and the items it reads and writes.
	Metrics *Metrics
	// HTTPClient, if set, carries the client's requests instead of the SDK's
	// default client: for example an in-process transport to the embedded
	// engine, which spares a loopback socket per request.
	HTTPClient aws.HTTPClient
	// Unsigned sends requests without a SigV4 signature: for the embedded
	// engine, which checks none, it spares hashing and signing every
	// request. DynamoDB, and DynamoDB Local (whose tables are per access
	// key), need signed requests.
	Unsigned bool
}

// NewClient returns a DynamoDB client. Against AWS it uses the standard
// credential chain; against a local endpoint it uses static dummy credentials.
// Transaction conflicts are retried by the SDK's standard retryer.
func NewClient(ctx context.Context, cfg ClientConfig) (*dynamodb.Client, error) {
	opts := []func(*config.LoadOptions) error{
		config.WithRetryer(func() aws.Retryer { return retry.NewStandard(dynamo.RetryTxConflicts) }),
	}
	if cfg.Region != "" {
		opts = append(opts, config.WithRegion(cfg.Region))
	}
	if cfg.Endpoint != "" {
		if cfg.Region == "" {
			opts = append(opts, config.WithRegion("us-east-1"))
		}
		opts = append(opts, config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("local", "local", "")))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("load aws config: %w", err)
	}
	return dynamodb.NewFromConfig(awsCfg, func(o *dynamodb.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
		if cfg.HTTPClient != nil {
			o.HTTPClient = cfg.HTTPClient
		}
		if cfg.Unsigned {
			o.Credentials = aws.AnonymousCredentials{}
		}
		if cfg.Metrics != nil {
			o.APIOptions = append(o.APIOptions, cfg.Metrics.middleware)
		}
	}), nil
}

// CreateTableInput returns the CreateTable request for the table definition in
// package table: on-demand billing, string keys, every index projecting all.
func CreateTableInput(name string) *dynamodb.CreateTableInput {
	attrs := []types.AttributeDefinition{
		{AttributeName: aws.String(table.PartitionKey), AttributeType: types.ScalarAttributeTypeS},
		{AttributeName: aws.String(table.SortKey), AttributeType: types.ScalarAttributeTypeS},
	}
	var gsis []types.GlobalSecondaryIndex
	for _, ix := range table.Indexes() {
		attrs = append(attrs,
			types.AttributeDefinition{AttributeName: aws.String(ix.PartitionKey), AttributeType: types.ScalarAttributeTypeS},
			types.AttributeDefinition{AttributeName: aws.String(ix.SortKey), AttributeType: types.ScalarAttributeTypeS})
		gsis = append(gsis, types.GlobalSecondaryIndex{
			IndexName: aws.String(ix.Name),
			KeySchema: []types.KeySchemaElement{
				{AttributeName: aws.String(ix.PartitionKey), KeyType: types.KeyTypeHash},
				{AttributeName: aws.String(ix.SortKey), KeyType: types.KeyTypeRange},
			},
			Projection: &types.Projection{ProjectionType: types.ProjectionTypeAll},
		})
	}
	return &dynamodb.CreateTableInput{
		TableName:            aws.String(name),
		AttributeDefinitions: attrs,
		KeySchema: []types.KeySchemaElement{
			{AttributeName: aws.String(table.PartitionKey), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String(table.SortKey), KeyType: types.KeyTypeRange},
		},
		GlobalSecondaryIndexes: gsis,
		BillingMode:            types.BillingModePayPerRequest,
		// Directory events are derived from the stream's old and new item
		// images (see package events).
		StreamSpecification: &types.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: types.StreamViewType(table.StreamViewType)},
	}
}

// EnsureTable creates the table if it does not exist, waits until it is
// active and enables TTL on table.TTLAttribute.
func EnsureTable(ctx context.Context, client *dynamodb.Client, name string) error {
	_, err := client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)})
	var nf *types.ResourceNotFoundException
	switch {
	case err == nil:
		return nil
	case !errors.As(err, &nf):
		return fmt.Errorf("describe table %s: %w", name, err)
	}
	if _, err := client.CreateTable(ctx, CreateTableInput(name)); err != nil {
		var inUse *types.ResourceInUseException
		if !errors.As(err, &inUse) {
			return fmt.Errorf("create table %s: %w", name, err)
		}
	}
	w := dynamodb.NewTableExistsWaiter(client)
	if err := w.Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)}, 5*time.Minute); err != nil {
		return fmt.Errorf("wait for table %s: %w", name, err)
	}
	_, err = client.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
		TableName: aws.String(name),
		TimeToLiveSpecification: &types.TimeToLiveSpecification{
			AttributeName: aws.String(table.TTLAttribute), Enabled: aws.Bool(true),
		},
	})
	if err != nil {
		return fmt.Errorf("enable ttl on %s: %w", name, err)
	}
	return nil
}

// Ping checks that the table is reachable.
func (s *Store) Ping(ctx context.Context) error {
	var it struct{}
	err := s.table.Get(table.PartitionKey, "PING").Range(table.SortKey, dynamo.Equal, "PING").One(ctx, &it)
	if err != nil && !errors.Is(err, dynamo.ErrNotFound) {
		return fmt.Errorf("ping table %s: %w", s.name, err)
	}
	return nil
}

// txReason returns the cancellation reason codes of a transaction error.
func txReasons(err error) []string {
	var txe *types.TransactionCanceledException
	if !errors.As(err, &txe) {
		return nil
	}
	codes := make([]string, len(txe.CancellationReasons))
	for i, r := range txe.CancellationReasons {
		codes[i] = aws.ToString(r.Code)
	}
	return codes
}

// isTxConflict reports whether a write collided with a transaction on the
// same item: a transaction cancelled for a TransactionConflict, or a single
// write refused with TransactionConflictException.
func isTxConflict(err error) bool {
	var tce *types.TransactionConflictException
	return errors.As(err, &tce) || slices.Contains(txReasons(err), "TransactionConflict")
}

// isCondFailed reports whether err is a failed condition (plain or in a transaction).
func isCondFailed(err error) bool { return dynamo.IsCondCheckFailed(err) }

// isValidation reports a ValidationException (e.g. an item over 400 KB).
func isValidation(err error) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && ae.ErrorCode() == "ValidationException"
}

func tenantPK(tenant string) string { return "T#" + tenant }

// listPrefix reads up to limit of the tenant's items whose sort keys start
// with prefix, after the item whose sort key is afterSK (from the first when
// empty), in sort-key order: one Query reading only the items returned.
// more reports whether DynamoDB stopped before the end of the prefix.
func listPrefix[T any](ctx context.Context, s *Store, tenant, prefix, afterSK string, limit int) (items []T, more bool, err error) {
	pk := tenantPK(tenant)
	q := s.table.Get(table.PartitionKey, pk).Range(table.SortKey, dynamo.BeginsWith, prefix).Consistent(true)
	if afterSK != "" {
		q = q.StartFrom(dynamo.PagingKey{
			table.PartitionKey: &types.AttributeValueMemberS{Value: pk},
			table.SortKey:      &types.AttributeValueMemberS{Value: afterSK},
		})
	}
	lek, err := q.Limit(limit).AllWithLastEvaluatedKey(ctx, &items)
	return items, lek != nil && len(items) > 0, err
}

// listPage reads one page of up to limit of the tenant's items whose sort
// keys are prefix+key, with keys after after (from the first when empty), in
// key order, and converts each with conv, which also returns its key. next
// is the key of the last item when more may follow, else empty. One Query
// reading only the items returned.
func listPage[T, R any](ctx context.Context, s *Store, tenant, prefix, after string, limit int, conv func(*T) (R, string)) (out []R, next string, err error) {
	if limit <= 0 {
		return nil, "", nil
	}
	var afterSK string
	if after != "" {
		afterSK = prefix + after
	}
	items, more, err := listPrefix[T](ctx, s, tenant, prefix, afterSK, limit)
	if err != nil {
		return nil, "", err
	}
	out = make([]R, len(items))
	for i := range items {
		out[i], next = conv(&items[i])
	}
	if !more {
		next = ""
	}
	return out, next, nil
}

// putVersioned writes item in one conditional PutItem: it must not exist
// when prevVersion is 0, else its "ver" must still be prevVersion
// (ErrVersion otherwise). An item over MaxItemBytes, or one DynamoDB refuses
// as invalid, yields ErrTooLarge. what names the operation in errors.
func (s *Store) putVersioned(ctx context.Context, what string, item any, prevVersion int64) error {
	if err := checkItemSize(what, item); err != nil {
		return err
	}
	put := s.table.Put(item)
	if prevVersion == 0 {
		put.If("attribute_not_exists($)", table.PartitionKey)
	} else {
		put.If("$ = ?", "ver", prevVersion)
	}
	if err := put.Run(ctx); err != nil {
		if isTxConflict(err) {
			return fmt.Errorf("%s: %w: %w", what, ErrBusy, err)
		}
		if isCondFailed(err) {
			return fmt.Errorf("%s: %w", what, ErrVersion)
		}
		if isValidation(err) {
			return fmt.Errorf("%s: %w: %w", what, ErrTooLarge, err)
		}
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// MaxItemBytes is DynamoDB's item size limit (400 KB): attribute names and
// values counted as DynamoDB counts them.
const MaxItemBytes = 400 << 10

// SizeError is a write refused because its item would exceed MaxItemBytes.
// It wraps ErrTooLarge.
type SizeError struct {
	What string // the item, e.g. "user 2819c223-…"
	Size int    // its size as DynamoDB counts it
}

func (e *SizeError) Error() string {
	return fmt.Sprintf("%s is %d bytes as a DynamoDB item, over the %d-byte limit", e.What, e.Size, MaxItemBytes)
}

// Unwrap makes errors.Is(err, ErrTooLarge) hold.
func (e *SizeError) Unwrap() error { return ErrTooLarge }

// checkItemSize refuses item, as DynamoDB would, when it exceeds
// MaxItemBytes: before the request is sent, so the error is the same on AWS
// and on the embedded engine.
func checkItemSize(what string, item any) error {
	av, err := dynamo.MarshalItem(item)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if n := ItemSize(av); n > MaxItemBytes {
		return &SizeError{What: what, Size: n}
	}
	return nil
}

// ItemSize returns the size of an item as DynamoDB counts it against the
// 400 KB limit: for each attribute, the UTF-8 length of its name plus the
// size of its value (see attrSize).
func ItemSize(item map[string]types.AttributeValue) int {
	n := 0
	for name, v := range item {
		n += len(name) + attrSize(v)
	}
	return n
}

// attrSize is the size of one value: strings and binaries their length,
// numbers one byte per two significant digits plus one, booleans and nulls
// one byte, sets the sum of their elements, and lists and maps 3 bytes plus
// one byte and the size of each element (and each key of a map).
func attrSize(v types.AttributeValue) int {
	switch t := v.(type) {
	case *types.AttributeValueMemberS:
		return len(t.Value)
	case *types.AttributeValueMemberB:
		return len(t.Value)
	case *types.AttributeValueMemberN:
		return numberSize(t.Value)
	case *types.AttributeValueMemberBOOL, *types.AttributeValueMemberNULL:
		return 1
	case *types.AttributeValueMemberSS:
		n := 0
		for _, s := range t.Value {
			n += len(s)
		}
		return n
	case *types.AttributeValueMemberNS:
		n := 0
		for _, s := range t.Value {
			n += numberSize(s)
		}
		return n
	case *types.AttributeValueMemberBS:
		n := 0
		for _, b := range t.Value {
			n += len(b)
		}
		return n
	case *types.AttributeValueMemberL:
		n := 3
		for _, e := range t.Value {
			n += 1 + attrSize(e)
		}
		return n
	case *types.AttributeValueMemberM:
		n := 3
		for k, e := range t.Value {
			n += 1 + len(k) + attrSize(e)
		}
		return n
	}
	return 0
}

// numberSize is the stored size of a DynamoDB number: its significant
// digits (leading and trailing zeros trimmed), two per byte, plus one byte.
func numberSize(s string) int {
	mant, _, _ := strings.Cut(strings.ToLower(s), "e")
	mant = strings.TrimLeft(mant, "+-")
	mant = strings.Replace(mant, ".", "", 1)
	mant = strings.Trim(mant, "0")
	return (len(mant)+1)/2 + 1
}
