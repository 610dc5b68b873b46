package localdb

import (
	"encoding/json"
	"regexp"
	"sort"
	"time"
)

type keySchemaElement struct {
	AttributeName string
	KeyType       string
}

type streamSpec struct {
	StreamEnabled  bool
	StreamViewType string `json:",omitempty"`
}

type createTableReq struct {
	TableName              string
	AttributeDefinitions   []attrDef
	KeySchema              []keySchemaElement
	GlobalSecondaryIndexes []struct {
		IndexName  string
		KeySchema  []keySchemaElement
		Projection struct {
			ProjectionType   string
			NonKeyAttributes []string
		}
	}
	LocalSecondaryIndexes json.RawMessage
	StreamSpecification   *streamSpec
	BillingMode           string
}

var tableNameRE = regexp.MustCompile(`^[a-zA-Z0-9_.-]+$`)

// ddlRecord is a table-level change kept in the durable log.
type ddlRecord struct {
	Op     string          `json:"op"`
	Body   json.RawMessage `json:"body"`
	At     int64           `json:"at"`
	RecSeq uint64          `json:"recSeq,omitempty"`
}

func (e *Engine) runDDL(op string, body []byte, fn func(now time.Time) (any, error)) (any, error) {
	e.mu.Lock()
	now := e.opts.Now()
	resp, err := fn(now)
	if err != nil {
		e.mu.Unlock()
		return nil, err
	}
	var pos int64
	if e.log != nil {
		rec, _ := json.Marshal(ddlRecord{Op: op, Body: body, At: now.UnixNano(), RecSeq: e.recSeq})
		if pos, err = e.log.appendDDL(rec); err != nil {
			e.mu.Unlock()
			return nil, &apiError{typ: "InternalServerError", status: 500, msg: "write log: " + err.Error()}
		}
	}
	e.mu.Unlock()
	if err := e.durable(pos); err != nil {
		return nil, err
	}
	return resp, nil
}

// replayDDL re-applies a logged table-level change.
func (e *Engine) replayDDL(rec ddlRecord) error {
	now := time.Unix(0, rec.At)
	if rec.RecSeq > e.recSeq {
		e.recSeq = rec.RecSeq
	}
	var err error
	switch rec.Op {
	case "CreateTable":
		_, err = e.createTableLocked(rec.Body, now)
	case "DeleteTable":
		_, err = e.deleteTableLocked(rec.Body)
	case "UpdateTable":
		_, err = e.updateTableLocked(rec.Body, now)
	case "UpdateTimeToLive":
		_, err = e.updateTTLLocked(rec.Body)
	}
	return err
}

func (e *Engine) createTable(body []byte) (any, error) {
	return e.runDDL("CreateTable", body, func(now time.Time) (any, error) { return e.createTableLocked(body, now) })
}

func (e *Engine) createTableLocked(body []byte, now time.Time) (any, error) {
	var req createTableReq
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	if n := len(req.TableName); n < 3 || n > 255 || !tableNameRE.MatchString(req.TableName) {
		return nil, validationf("1 validation error detected: Value '%s' at 'tableName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+ and have length between 3 and 255", req.TableName)
	}
	if req.LocalSecondaryIndexes != nil {
		return nil, validationf("LocalSecondaryIndexes are not supported by the embedded engine")
	}
	if _, ok := e.tables[req.TableName]; ok {
		return nil, &apiError{typ: "ResourceInUseException", msg: "Table already exists: " + req.TableName}
	}
	types := map[string]kind{}
	for _, d := range req.AttributeDefinitions {
		k, ok := keyTypeOf(d.AttributeType)
		if !ok {
			return nil, validationf("1 validation error detected: Value '%s' at 'attributeDefinitions.member.attributeType' failed to satisfy constraint: Member must satisfy enum value set: [B, N, S]", d.AttributeType)
		}
		types[d.AttributeName] = k
	}
	used := map[string]bool{}
	schema := func(ks []keySchemaElement, what string) (keySchema, error) {
		var out keySchema
		if len(ks) < 1 || len(ks) > 2 || ks[0].KeyType != "HASH" || (len(ks) == 2 && ks[1].KeyType != "RANGE") {
			return out, validationf("Invalid KeySchema: %s: the first element must be HASH and an optional second RANGE", what)
		}
		for i, el := range ks {
			k, ok := types[el.AttributeName]
			if !ok {
				return out, validationf("One or more parameter values were invalid: Some index key attributes are not defined in AttributeDefinitions. Keys: [%s], AttributeDefinitions: %v", el.AttributeName, sortedKeys(types))
			}
			used[el.AttributeName] = true
			if i == 0 {
				out.hash, out.hashType = el.AttributeName, k
			} else {
				out.rng, out.rngType = el.AttributeName, k
			}
		}
		return out, nil
	}
	ks, err := schema(req.KeySchema, "table")
	if err != nil {
		return nil, err
	}
	t := &table{name: req.TableName, key: ks, attrDefs: req.AttributeDefinitions, created: now, tree: newTree(lessTable), createBody: append([]byte(nil), body...)}
	for _, g := range req.GlobalSecondaryIndexes {
		if n := len(g.IndexName); n < 3 || n > 255 || !tableNameRE.MatchString(g.IndexName) {
			return nil, validationf("Invalid index name: %s", g.IndexName)
		}
		if t.index(g.IndexName) != nil {
			return nil, validationf("One or more parameter values were invalid: Duplicate index name: %s", g.IndexName)
		}
		iks, err := schema(g.KeySchema, "index "+g.IndexName)
		if err != nil {
			return nil, err
		}
		p := g.Projection.ProjectionType
		switch p {
		case "ALL", "KEYS_ONLY":
			if len(g.Projection.NonKeyAttributes) > 0 {
				return nil, validationf("One or more parameter values were invalid: ProjectionType is %s, but NonKeyAttributes is specified", p)
			}
		case "INCLUDE":
		default:
			return nil, validationf("One or more parameter values were invalid: Unknown ProjectionType: %s", p)
		}
		t.indexes = append(t.indexes, &index{name: g.IndexName, key: iks, projection: p, include: g.Projection.NonKeyAttributes, tree: newTree(lessIndex)})
	}
	if len(used) != len(types) {
		return nil, validationf("One or more parameter values were invalid: Number of attributes in KeySchema does not exactly match number of attributes defined in AttributeDefinitions")
	}
	if s := req.StreamSpecification; s != nil && s.StreamEnabled {
		if err := e.enableStream(t, s.StreamViewType, now); err != nil {
			return nil, err
		}
	}
	e.tables[t.name] = t
	return map[string]any{"TableDescription": e.describe(t, "ACTIVE")}, nil
}

func (e *Engine) enableStream(t *table, viewType string, now time.Time) error {
	switch viewType {
	case "NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES", "KEYS_ONLY":
	default:
		return validationf("One or more parameter values were invalid: StreamViewType is required when enabling a stream (NEW_IMAGE, OLD_IMAGE, NEW_AND_OLD_IMAGES or KEYS_ONLY)")
	}
	if t.stream != nil {
		return validationf("Table already has an enabled stream: %s", t.stream.arn)
	}
	s := newStream(t.name, viewType, t.key, now, e.recSeq+1)
	for _, old := range t.streams {
		if old.arn == s.arn { // same millisecond: keep ARNs unique
			s.label = now.Add(time.Millisecond).UTC().Format("2006-01-02T15:04:05.000")
			s.arn = tableARN(t.name) + "/stream/" + s.label
		}
	}
	t.stream = s
	t.streams = append(t.streams, s)
	return nil
}

func (e *Engine) describe(t *table, status string) map[string]any {
	ks := func(k keySchema) []keySchemaElement {
		out := []keySchemaElement{{k.hash, "HASH"}}
		if k.rng != "" {
			out = append(out, keySchemaElement{k.rng, "RANGE"})
		}
		return out
	}
	d := map[string]any{
		"TableName":            t.name,
		"TableArn":             tableARN(t.name),
		"TableId":              tableARN(t.name),
		"TableStatus":          status,
		"KeySchema":            ks(t.key),
		"AttributeDefinitions": t.attrDefs,
		"CreationDateTime":     float64(t.created.UnixMilli()) / 1000,
		"ItemCount":            t.tree.Len(),
		"TableSizeBytes":       t.bytes,
		"BillingModeSummary":   map[string]any{"BillingMode": "PAY_PER_REQUEST"},
		"ProvisionedThroughput": map[string]any{
			"NumberOfDecreasesToday": 0, "ReadCapacityUnits": 0, "WriteCapacityUnits": 0,
		},
	}
	if len(t.indexes) > 0 {
		var gs []map[string]any
		for _, ix := range t.indexes {
			proj := map[string]any{"ProjectionType": ix.projection}
			if len(ix.include) > 0 {
				proj["NonKeyAttributes"] = ix.include
			}
			gs = append(gs, map[string]any{
				"IndexName":      ix.name,
				"IndexArn":       tableARN(t.name) + "/index/" + ix.name,
				"IndexStatus":    "ACTIVE",
				"KeySchema":      ks(ix.key),
				"Projection":     proj,
				"ItemCount":      ix.tree.Len(),
				"IndexSizeBytes": 0,
				"ProvisionedThroughput": map[string]any{
					"NumberOfDecreasesToday": 0, "ReadCapacityUnits": 0, "WriteCapacityUnits": 0,
				},
			})
		}
		d["GlobalSecondaryIndexes"] = gs
	}
	if t.stream != nil {
		d["StreamSpecification"] = streamSpec{StreamEnabled: true, StreamViewType: t.stream.viewType}
		d["LatestStreamArn"] = t.stream.arn
		d["LatestStreamLabel"] = t.stream.label
	} else if len(t.streams) > 0 {
		last := t.streams[len(t.streams)-1]
		d["LatestStreamArn"] = last.arn
		d["LatestStreamLabel"] = last.label
	}
	return d
}

func (e *Engine) describeTable(body []byte) (any, error) {
	var req struct{ TableName string }
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	t := e.tables[req.TableName]
	if t == nil {
		return nil, notFound(req.TableName)
	}
	return map[string]any{"Table": e.describe(t, "ACTIVE")}, nil
}

func (e *Engine) deleteTable(body []byte) (any, error) {
	return e.runDDL("DeleteTable", body, func(time.Time) (any, error) { return e.deleteTableLocked(body) })
}

func (e *Engine) deleteTableLocked(body []byte) (any, error) {
	var req struct{ TableName string }
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	t := e.tables[req.TableName]
	if t == nil {
		return nil, notFound(req.TableName)
	}
	delete(e.tables, req.TableName)
	return map[string]any{"TableDescription": e.describe(t, "DELETING")}, nil
}

func (e *Engine) updateTable(body []byte) (any, error) {
	return e.runDDL("UpdateTable", body, func(now time.Time) (any, error) { return e.updateTableLocked(body, now) })
}

func (e *Engine) updateTableLocked(body []byte, now time.Time) (any, error) {
	var req struct {
		TableName                   string
		StreamSpecification         *streamSpec
		BillingMode                 string
		AttributeDefinitions        json.RawMessage
		GlobalSecondaryIndexUpdates json.RawMessage
		ProvisionedThroughput       json.RawMessage
	}
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	t := e.tables[req.TableName]
	if t == nil {
		return nil, notFound(req.TableName)
	}
	if req.GlobalSecondaryIndexUpdates != nil || req.AttributeDefinitions != nil {
		return nil, validationf("The embedded engine does not change indexes of an existing table; recreate the table")
	}
	if s := req.StreamSpecification; s != nil {
		if s.StreamEnabled {
			if err := e.enableStream(t, s.StreamViewType, now); err != nil {
				return nil, err
			}
		} else {
			if t.stream == nil {
				return nil, validationf("Table already has no enabled stream")
			}
			t.stream.disabled = true
			t.stream.end = e.recSeq
			t.stream = nil
		}
	}
	return map[string]any{"TableDescription": e.describe(t, "ACTIVE")}, nil
}

func (e *Engine) listTables(body []byte) (any, error) {
	var req struct {
		ExclusiveStartTableName string
		Limit                   int
	}
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	limit := req.Limit
	if limit <= 0 || limit > 100 {
		limit = 100
	}
	e.mu.RLock()
	names := sortedKeys(e.tables)
	e.mu.RUnlock()
	i := sort.SearchStrings(names, req.ExclusiveStartTableName)
	if i < len(names) && names[i] == req.ExclusiveStartTableName {
		i++
	}
	out := names[i:]
	resp := map[string]any{}
	if len(out) > limit {
		out = out[:limit]
		resp["LastEvaluatedTableName"] = out[limit-1]
	}
	resp["TableNames"] = append([]string{}, out...)
	return resp, nil
}

func (e *Engine) updateTTL(body []byte) (any, error) {
	return e.runDDL("UpdateTimeToLive", body, func(time.Time) (any, error) { return e.updateTTLLocked(body) })
}

func (e *Engine) updateTTLLocked(body []byte) (any, error) {
	var req struct {
		TableName               string
		TimeToLiveSpecification struct {
			AttributeName string
			Enabled       bool
		}
	}
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	t := e.tables[req.TableName]
	if t == nil {
		return nil, notFound(req.TableName)
	}
	spec := req.TimeToLiveSpecification
	if spec.AttributeName == "" {
		return nil, validationf("1 validation error detected: Value null at 'timeToLiveSpecification.attributeName' failed to satisfy constraint: Member must not be null")
	}
	switch {
	case spec.Enabled && t.ttlAttr != "":
		return nil, validationf("TimeToLive is already enabled")
	case !spec.Enabled && t.ttlAttr == "":
		return nil, validationf("TimeToLive is already disabled")
	case spec.Enabled:
		t.enableTTL(spec.AttributeName)
	default:
		t.enableTTL("")
	}
	return map[string]any{"TimeToLiveSpecification": map[string]any{"AttributeName": spec.AttributeName, "Enabled": spec.Enabled}}, nil
}

func (e *Engine) describeTTL(body []byte) (any, error) {
	var req struct{ TableName string }
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	t := e.tables[req.TableName]
	if t == nil {
		return nil, notFound(req.TableName)
	}
	desc := map[string]any{"TimeToLiveStatus": "DISABLED"}
	if t.ttlAttr != "" {
		desc = map[string]any{"TimeToLiveStatus": "ENABLED", "AttributeName": t.ttlAttr}
	}
	return map[string]any{"TimeToLiveDescription": desc}, nil
}
