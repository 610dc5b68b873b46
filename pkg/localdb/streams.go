package localdb

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/scimless/scimless/pkg/jsonstr"
)

// Streams: each table with a StreamSpecification has a stream of one shard
// holding, in commit order, one record per item written. Sequence numbers
// increase across the whole engine; the records of one transaction are
// contiguous and carry the same creation time. Records older than the
// retention (24 h) are trimmed.

const (
	region          = "us-east-1"
	account         = "000000000000"
	iteratorTimeout = 15 * time.Minute
)

type streamRecord struct {
	seq      uint64
	commit   uint64
	at       time.Time
	h, r     value  // the item's key (r is zero without a sort key)
	old, new stored // the images (raw nil when there is none)
	ttl      bool
}

func (r *streamRecord) eventName() string {
	switch {
	case r.old.raw == nil:
		return "INSERT"
	case r.new.raw == nil:
		return "REMOVE"
	}
	return "MODIFY"
}

type stream struct {
	table    string
	arn      string
	label    string
	viewType string
	created  time.Time
	keys     keySchema
	start    uint64 // first sequence number the shard can hold
	end      uint64 // last sequence number once the stream is disabled
	disabled bool
	records  []streamRecord
	trimmed  uint64 // highest sequence number trimmed
}

func newStream(tableName, viewType string, ks keySchema, now time.Time, nextSeq uint64) *stream {
	label := now.UTC().Format("2006-01-02T15:04:05.000")
	return &stream{
		table:    tableName,
		arn:      tableARN(tableName) + "/stream/" + label,
		label:    label,
		viewType: viewType,
		created:  now,
		keys:     ks,
		start:    nextSeq,
	}
}

func tableARN(name string) string {
	return "arn:aws:dynamodb:" + region + ":" + account + ":table/" + name
}

func (s *stream) shardID() string {
	return fmt.Sprintf("shardId-%020d-%08x", s.start, crc32.ChecksumIEEE([]byte(s.arn)))
}

func (s *stream) add(r streamRecord, retention time.Duration) {
	s.records = append(s.records, r)
	s.trim(r.at, retention)
}

// trim drops records older than retention (amortised O(1) per record).
func (s *stream) trim(now time.Time, retention time.Duration) {
	cut := sort.Search(len(s.records), func(i int) bool { return now.Sub(s.records[i].at) <= retention })
	if cut == 0 {
		return
	}
	s.trimmed = s.records[cut-1].seq
	if cut > len(s.records)/2 {
		s.records = append([]streamRecord(nil), s.records[cut:]...)
	} else {
		s.records = s.records[cut:]
	}
}

// after returns up to limit records with a sequence number above seq.
func (s *stream) after(seq uint64, limit int) []streamRecord {
	i := sort.Search(len(s.records), func(i int) bool { return s.records[i].seq > seq })
	j := min(len(s.records), i+limit)
	return s.records[i:j]
}

func seqString(n uint64) string { return fmt.Sprintf("%021d", n) }

// appendRecord encodes r in the Streams API shape (and Lambda's, when arn
// is not empty).
func (s *stream) appendRecord(b []byte, r *streamRecord, arn string) []byte {
	b = append(b, `{"eventID":"`...)
	b = append(b, fmt.Sprintf("%x", crc32.ChecksumIEEE([]byte(s.arn)))...)
	b = append(b, '-')
	b = strconv.AppendUint(b, r.seq, 10)
	b = append(b, `","eventName":"`...)
	b = append(b, r.eventName()...)
	b = append(b, `","eventVersion":"1.1","eventSource":"aws:dynamodb","awsRegion":"`+region+`",`...)
	if arn != "" {
		b = append(b, `"eventSourceARN":`...)
		b = jsonstr.Append(b, arn)
		b = append(b, ',')
	}
	b = append(b, `"dynamodb":{"ApproximateCreationDateTime":`...)
	b = strconv.AppendInt(b, r.at.Unix(), 10)
	b = append(b, `,"Keys":`...)
	keys := s.keys.item(r.h, r.r)
	b = appendItem(b, keys)
	size := keys.size()
	if r.new.raw != nil && (s.viewType == "NEW_IMAGE" || s.viewType == "NEW_AND_OLD_IMAGES") {
		b = append(b, `,"NewImage":`...)
		b = append(b, r.new.raw...)
		size += r.new.size
	}
	if r.old.raw != nil && (s.viewType == "OLD_IMAGE" || s.viewType == "NEW_AND_OLD_IMAGES") {
		b = append(b, `,"OldImage":`...)
		b = append(b, r.old.raw...)
		size += r.old.size
	}
	b = append(b, `,"SequenceNumber":"`...)
	b = append(b, seqString(r.seq)...)
	b = append(b, `","SizeBytes":`...)
	b = strconv.AppendInt(b, int64(size), 10)
	b = append(b, `,"StreamViewType":"`...)
	b = append(b, s.viewType...)
	b = append(b, `"}`...)
	if r.ttl {
		b = append(b, `,"userIdentity":{"type":"Service","principalId":"dynamodb.amazonaws.com"}`...)
	}
	return append(b, '}')
}

func (s *stream) describe() map[string]any {
	shard := map[string]any{"ShardId": s.shardID()}
	rng := map[string]any{"StartingSequenceNumber": seqString(s.start)}
	if s.disabled {
		rng["EndingSequenceNumber"] = seqString(s.end)
	}
	shard["SequenceNumberRange"] = rng
	status := "ENABLED"
	if s.disabled {
		status = "DISABLED"
	}
	ks := []map[string]string{{"AttributeName": s.keys.hash, "KeyType": "HASH"}}
	if s.keys.rng != "" {
		ks = append(ks, map[string]string{"AttributeName": s.keys.rng, "KeyType": "RANGE"})
	}
	return map[string]any{
		"StreamArn":               s.arn,
		"StreamLabel":             s.label,
		"StreamStatus":            status,
		"StreamViewType":          s.viewType,
		"CreationRequestDateTime": float64(s.created.UnixMilli()) / 1000,
		"TableName":               s.table,
		"KeySchema":               ks,
		"Shards":                  []any{shard},
	}
}

// ---- Streams API ----

func (e *Engine) findStream(arn string) (*stream, error) {
	for _, t := range e.tables {
		for _, s := range t.streams {
			if s.arn == arn {
				return s, nil
			}
		}
	}
	return nil, &apiError{typ: "ResourceNotFoundException", msg: "Requested resource not found: Stream: " + arn + " not found"}
}

func (e *Engine) listStreams(body []byte) (any, error) {
	var req struct {
		TableName               string
		Limit                   int
		ExclusiveStartStreamArn string
	}
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	var all []*stream
	for _, t := range e.tables {
		if req.TableName != "" && t.name != req.TableName {
			continue
		}
		all = append(all, t.streams...)
	}
	if req.TableName != "" && e.tables[req.TableName] == nil {
		return nil, &apiError{typ: "ResourceNotFoundException", msg: "Requested resource not found: Table: " + req.TableName + " not found"}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].arn < all[j].arn })
	limit := req.Limit
	if limit <= 0 || limit > 100 {
		limit = 100
	}
	out := []map[string]string{}
	var last string
	for _, s := range all {
		if req.ExclusiveStartStreamArn != "" && s.arn <= req.ExclusiveStartStreamArn {
			continue
		}
		if len(out) == limit {
			last = out[len(out)-1]["StreamArn"]
			break
		}
		out = append(out, map[string]string{"StreamArn": s.arn, "StreamLabel": s.label, "TableName": s.table})
	}
	resp := map[string]any{"Streams": out}
	if last != "" {
		resp["LastEvaluatedStreamArn"] = last
	}
	return resp, nil
}

func (e *Engine) describeStream(body []byte) (any, error) {
	var req struct{ StreamArn string }
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	s, err := e.findStream(req.StreamArn)
	if err != nil {
		return nil, err
	}
	return map[string]any{"StreamDescription": s.describe()}, nil
}

type shardIterator struct {
	Arn    string `json:"a"`
	After  uint64 `json:"s"`
	Issued int64  `json:"t"`
}

func (it shardIterator) encode() string {
	b, _ := json.Marshal(it)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeIterator(s string) (shardIterator, error) {
	var it shardIterator
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || json.Unmarshal(b, &it) != nil || it.Arn == "" {
		return it, validationf("Invalid ShardIterator")
	}
	return it, nil
}

func (e *Engine) getShardIterator(body []byte) (any, error) {
	var req struct {
		StreamArn         string
		ShardId           string
		ShardIteratorType string
		SequenceNumber    string
	}
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	s, err := e.findStream(req.StreamArn)
	if err != nil {
		return nil, err
	}
	if req.ShardId != s.shardID() {
		return nil, &apiError{typ: "ResourceNotFoundException", msg: "Requested resource not found: Shard does not exist"}
	}
	it := shardIterator{Arn: s.arn, Issued: e.opts.Now().Unix()}
	seq := func() (uint64, error) {
		n, err := strconv.ParseUint(strings.TrimLeft(req.SequenceNumber, "0"), 10, 64)
		if req.SequenceNumber != "" && strings.Trim(req.SequenceNumber, "0") == "" {
			n, err = 0, nil
		}
		if err != nil || req.SequenceNumber == "" {
			return 0, validationf("Invalid SequenceNumber: %q", req.SequenceNumber)
		}
		if n <= s.trimmed && s.trimmed > 0 {
			return 0, &apiError{typ: "TrimmedDataAccessException", msg: "The operation attempted to read past the oldest stream record in a shard."}
		}
		return n, nil
	}
	switch req.ShardIteratorType {
	case "TRIM_HORIZON":
		it.After = s.trimmed
		if s.start > 0 && s.start-1 > it.After {
			it.After = s.start - 1
		}
	case "LATEST":
		it.After = e.recSeq
		if s.disabled {
			it.After = s.end
		}
	case "AT_SEQUENCE_NUMBER":
		n, err := seq()
		if err != nil {
			return nil, err
		}
		it.After = n - 1
	case "AFTER_SEQUENCE_NUMBER":
		n, err := seq()
		if err != nil {
			return nil, err
		}
		it.After = n
	default:
		return nil, validationf("1 validation error detected: Value '%s' at 'shardIteratorType' failed to satisfy constraint: Member must satisfy enum value set: [AFTER_SEQUENCE_NUMBER, LATEST, AT_SEQUENCE_NUMBER, TRIM_HORIZON]", req.ShardIteratorType)
	}
	return map[string]string{"ShardIterator": it.encode()}, nil
}

func (e *Engine) getRecords(body []byte) (any, error) {
	var req struct {
		ShardIterator string
		Limit         int
	}
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	it, err := decodeIterator(req.ShardIterator)
	if err != nil {
		return nil, err
	}
	now := e.opts.Now()
	if now.Sub(time.Unix(it.Issued, 0)) > iteratorTimeout {
		return nil, &apiError{typ: "ExpiredIteratorException", msg: "Iterator expired. The iterator was created at time " + time.Unix(it.Issued, 0).UTC().Format(time.RFC1123) + " while right now it is " + now.UTC().Format(time.RFC1123) + " which is further in the future than the tolerated delay of 900000 milliseconds."}
	}
	limit := req.Limit
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	e.mu.Lock() // trimming mutates the stream
	defer e.mu.Unlock()
	s, err := e.findStream(it.Arn)
	if err != nil {
		return nil, err
	}
	s.trim(now, e.opts.StreamRetention)
	if it.After < s.trimmed {
		return nil, &apiError{typ: "TrimmedDataAccessException", msg: "The operation attempted to read past the oldest stream record in a shard."}
	}
	recs := s.after(it.After, limit)
	b := []byte(`{"Records":[`)
	for i := range recs {
		if i > 0 {
			b = append(b, ',')
		}
		b = s.appendRecord(b, &recs[i], "")
	}
	b = append(b, ']')
	next := it.After
	if len(recs) > 0 {
		next = recs[len(recs)-1].seq
	}
	if !s.disabled || next < s.end {
		b = append(b, `,"NextShardIterator":"`...)
		b = append(b, shardIterator{Arn: s.arn, After: next, Issued: now.Unix()}.encode()...)
		b = append(b, '"')
	}
	b = append(b, '}')
	return json.RawMessage(b), nil
}

// ---- Go API for consumers in the same process ----

// StreamRecords returns up to limit records of table's stream that follow
// the record with sequence number after ("" for the oldest retained record),
// in the shape a Lambda function receives from a DynamoDB stream event
// source. The last record's SequenceNumber is the next call's after.
func (e *Engine) StreamRecords(tableName, after string, limit int) (events.DynamoDBEvent, error) {
	var ev events.DynamoDBEvent
	n, err := parseSeq(after)
	if err != nil {
		return ev, err
	}
	if limit <= 0 {
		limit = 100
	}
	e.mu.Lock()
	t := e.tables[tableName]
	if t == nil || t.stream == nil {
		e.mu.Unlock()
		return ev, fmt.Errorf("table %s has no enabled stream", tableName)
	}
	s := t.stream
	s.trim(e.opts.Now(), e.opts.StreamRetention)
	if n < s.trimmed {
		e.mu.Unlock()
		return ev, fmt.Errorf("stream position %s: records up to %s were trimmed", after, seqString(s.trimmed))
	}
	recs := s.after(n, limit)
	b := []byte(`{"Records":[`)
	for i := range recs {
		if i > 0 {
			b = append(b, ',')
		}
		b = s.appendRecord(b, &recs[i], s.arn)
	}
	b = append(b, "]}"...)
	e.mu.Unlock()
	if err := json.Unmarshal(b, &ev); err != nil {
		return ev, fmt.Errorf("decode stream records: %w", err)
	}
	return ev, nil
}

// WaitStream blocks until table's stream has a record after the sequence
// number after, or ctx ends.
func (e *Engine) WaitStream(ctx context.Context, tableName, after string) error {
	n, err := parseSeq(after)
	if err != nil {
		return err
	}
	for {
		e.mu.RLock()
		ch := e.notify
		t := e.tables[tableName]
		var last uint64
		if t != nil && t.stream != nil && len(t.stream.records) > 0 {
			last = t.stream.records[len(t.stream.records)-1].seq
		}
		e.mu.RUnlock()
		if t == nil || t.stream == nil {
			return fmt.Errorf("table %s has no enabled stream", tableName)
		}
		if last > n {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ch:
		}
	}
}

// StreamARN returns the ARN of table's enabled stream ("" when none).
func (e *Engine) StreamARN(tableName string) string {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if t := e.tables[tableName]; t != nil && t.stream != nil {
		return t.stream.arn
	}
	return ""
}

// parseSeq parses a sequence number ("" is 0: before every record).
func parseSeq(s string) (uint64, error) {
	if s == "" {
		return 0, nil
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("stream position %q: not a sequence number", s)
	}
	return v, nil
}
