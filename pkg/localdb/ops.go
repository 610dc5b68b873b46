package localdb

import (
	"encoding/json"
	"hash/crc32"
	"sort"
)

// projectionInput is the projection part of read requests.
type projectionInput struct {
	ProjectionExpression     *string
	AttributesToGet          []string
	ExpressionAttributeNames map[string]string
}

func parseProjectionInput(pe *string, atg []string, pr *params) ([]docPath, error) {
	if pe != nil && atg != nil {
		return nil, validationf("Can not use both expression and non-expression parameters in the same request: Non-expression parameters: {AttributesToGet} Expression parameters: {ProjectionExpression}")
	}
	if pe != nil {
		ps, err := parseProjection(*pe, pr)
		if err != nil {
			return nil, exprError("ProjectionExpression", err)
		}
		return ps, nil
	}
	var ps []docPath
	for _, a := range atg {
		ps = append(ps, docPath{{name: a, index: -1}})
	}
	return ps, nil
}

func projectIf(it item, ps []docPath) item {
	if it == nil || ps == nil {
		return it
	}
	return project(it, ps)
}

// ---- GetItem ----

func (e *Engine) getItem(body []byte) (any, error) {
	var req getItemRequest
	if err := decodeGetItem(body, &req); err != nil {
		return nil, err
	}
	pr := newParams(req.ExpressionAttributeNames, nil)
	ps, err := parseProjectionInput(req.ProjectionExpression, req.AttributesToGet, pr)
	if err != nil {
		return nil, err
	}
	if err := pr.unused(); err != nil {
		return nil, err
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	t, err := e.lookup(req.TableName)
	if err != nil {
		return nil, err
	}
	h, r, err := t.parseKey(req.Key)
	if err != nil {
		return nil, err
	}
	s, ok := t.getStored(h, r)
	if !ok {
		return json.RawMessage("{}"), nil
	}
	if ps == nil {
		b := append(make([]byte, 0, len(s.raw)+10), `{"Item":`...)
		b = append(b, s.raw...)
		return json.RawMessage(append(b, '}')), nil
	}
	b := append(make([]byte, 0, 512), `{"Item":`...)
	b = appendItem(b, projectIf(s.item(), ps))
	return json.RawMessage(append(b, '}')), nil
}

// ---- PutItem, UpdateItem, DeleteItem ----

func returnValues(rv string, allowed ...string) error {
	if rv == "" || rv == "NONE" {
		return nil
	}
	for _, a := range allowed {
		if rv == a {
			return nil
		}
	}
	return validationf("ReturnValues can only be ALL_OLD or NONE")
}

// legacyExpected is the legacy Expected parameter of PutItem and
// DeleteItem, which the engine refuses.
type legacyExpected struct {
	Expected json.RawMessage
}

func (l legacyExpected) check() error {
	if l.Expected != nil {
		return validationf("The legacy Expected parameter is not supported by the embedded engine; use ConditionExpression")
	}
	return nil
}

// allOld is the answer of a write asked for ReturnValues rv that replaced
// or deleted old (nil: there was none).
func allOld(rv string, old item) any {
	if rv == "ALL_OLD" && old != nil {
		return map[string]item{"Attributes": old}
	}
	return struct{}{}
}

func (e *Engine) putItem(body []byte) (any, error) {
	var req struct {
		TableName string
		Item      item
		exprInput
		ReturnValues string
		legacyExpected
	}
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	if err := req.check(); err != nil {
		return nil, err
	}
	if err := returnValues(req.ReturnValues, "ALL_OLD"); err != nil {
		return nil, err
	}
	if req.Item == nil {
		return nil, validationf("1 validation error detected: Value null at 'item' failed to satisfy constraint: Member must not be null")
	}
	old, _, err := e.writeOne(func() (*writeOp, error) { return e.preparePut(req.TableName, req.Item, req.exprInput) })
	if err != nil {
		return nil, err
	}
	return allOld(req.ReturnValues, old), nil
}

func (e *Engine) deleteItem(body []byte) (any, error) {
	var req struct {
		TableName string
		Key       item
		exprInput
		ReturnValues string
		legacyExpected
	}
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	if err := req.check(); err != nil {
		return nil, err
	}
	if err := returnValues(req.ReturnValues, "ALL_OLD"); err != nil {
		return nil, err
	}
	old, _, err := e.writeOne(func() (*writeOp, error) {
		return e.prepareKeyed("Delete", req.TableName, req.Key, nil, req.exprInput)
	})
	if err != nil {
		return nil, err
	}
	return allOld(req.ReturnValues, old), nil
}

func (e *Engine) updateItem(body []byte) (any, error) {
	var req struct {
		TableName        string
		Key              item
		UpdateExpression *string
		exprInput
		ReturnValues     string
		AttributeUpdates json.RawMessage
		Expected         json.RawMessage
	}
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	if req.AttributeUpdates != nil || req.Expected != nil {
		return nil, validationf("The legacy AttributeUpdates and Expected parameters are not supported by the embedded engine; use UpdateExpression and ConditionExpression")
	}
	switch req.ReturnValues {
	case "", "NONE", "ALL_OLD", "ALL_NEW", "UPDATED_OLD", "UPDATED_NEW":
	default:
		return nil, validationf("1 validation error detected: Value '%s' at 'returnValues' failed to satisfy constraint: Member must satisfy enum value set: [ALL_NEW, UPDATED_OLD, ALL_OLD, NONE, UPDATED_NEW]", req.ReturnValues)
	}
	var acts []updateAction
	old, nu, err := e.writeOne(func() (*writeOp, error) {
		op, err := e.prepareKeyed("Update", req.TableName, req.Key, req.UpdateExpression, req.exprInput)
		if op != nil {
			acts = op.acts
		}
		return op, err
	})
	if err != nil {
		return nil, err
	}
	var paths []docPath
	for _, a := range acts {
		paths = append(paths, a.p[:1])
	}
	var attrs item
	switch req.ReturnValues {
	case "ALL_OLD":
		attrs = old
	case "ALL_NEW":
		attrs = nu
	case "UPDATED_OLD":
		attrs = projectIf(old, paths)
	case "UPDATED_NEW":
		attrs = projectIf(nu, paths)
	}
	if len(attrs) > 0 {
		return map[string]item{"Attributes": attrs}, nil
	}
	return struct{}{}, nil
}

// ---- Query and Scan ----

type legacyCond struct {
	ComparisonOperator string
	AttributeValueList []value
}

type readInput struct {
	TableName                 string
	IndexName                 string
	FilterExpression          *string
	ProjectionExpression      *string
	AttributesToGet           []string
	Select                    string
	Limit                     *int
	ExclusiveStartKey         item
	ConsistentRead            bool
	ExpressionAttributeNames  map[string]string
	ExpressionAttributeValues map[string]value
	QueryFilter               json.RawMessage
	ScanFilter                json.RawMessage
	ConditionalOperator       string
}

// pageLimit is the most item data one Query or Scan page reads (1 MB).
const pageLimit = 1 << 20

// readPlan is a parsed Query or Scan.
type readPlan struct {
	t      *table
	ix     *index
	filter cond
	proj   []docPath
	count  bool
	limit  int
	start  *entry
}

func (e *Engine) planRead(in *readInput, pr *params) (*readPlan, error) {
	if in.QueryFilter != nil || in.ScanFilter != nil {
		return nil, validationf("The legacy QueryFilter and ScanFilter parameters are not supported by the embedded engine; use FilterExpression")
	}
	t, err := e.lookup(in.TableName)
	if err != nil {
		return nil, err
	}
	p := &readPlan{t: t}
	if in.IndexName != "" {
		if p.ix = t.index(in.IndexName); p.ix == nil {
			return nil, validationf("The table does not have the specified index: %s", in.IndexName)
		}
		if in.ConsistentRead {
			return nil, validationf("Consistent reads are not supported on global secondary indexes")
		}
	}
	if in.FilterExpression != nil {
		if p.filter, err = parseCondition(*in.FilterExpression, pr); err != nil {
			return nil, exprError("FilterExpression", err)
		}
	}
	if p.proj, err = parseProjectionInput(in.ProjectionExpression, in.AttributesToGet, pr); err != nil {
		return nil, err
	}
	switch in.Select {
	case "", "ALL_ATTRIBUTES", "ALL_PROJECTED_ATTRIBUTES", "SPECIFIC_ATTRIBUTES":
		if in.Select == "ALL_ATTRIBUTES" && p.ix != nil && p.ix.projection != "ALL" {
			return nil, validationf("One or more parameter values were invalid: Select type ALL_ATTRIBUTES is not supported for global secondary index %s because its projection type is not ALL", p.ix.name)
		}
		if in.Select == "ALL_PROJECTED_ATTRIBUTES" && p.ix == nil {
			return nil, validationf("One or more parameter values were invalid: Select type ALL_PROJECTED_ATTRIBUTES is supported only for index queries")
		}
		if p.proj != nil && in.Select != "" && in.Select != "SPECIFIC_ATTRIBUTES" {
			return nil, validationf("Cannot specify the ProjectionExpression when choosing to get %s", in.Select)
		}
	case "COUNT":
		if p.proj != nil {
			return nil, validationf("Cannot specify the AttributesToGet when choosing to get only the Count")
		}
		p.count = true
	default:
		return nil, validationf("1 validation error detected: Value '%s' at 'select' failed to satisfy constraint: Member must satisfy enum value set: [SPECIFIC_ATTRIBUTES, COUNT, ALL_ATTRIBUTES, ALL_PROJECTED_ATTRIBUTES]", in.Select)
	}
	if in.Limit != nil {
		if *in.Limit < 1 {
			return nil, validationf("1 validation error detected: Value '%d' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1", *in.Limit)
		}
		p.limit = *in.Limit
	}
	if in.ExclusiveStartKey != nil {
		if p.start, err = p.startEntry(in.ExclusiveStartKey); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// startEntry turns an ExclusiveStartKey into a tree position.
func (p *readPlan) startEntry(k item) (*entry, error) {
	bad := validationf("The provided starting key is invalid: The provided key element does not match the schema")
	want := keySchema(p.t.key)
	th, tr, ok := want.key(k)
	if !ok {
		return nil, bad
	}
	if p.ix == nil {
		if len(k) != len(p.t.keyItem(th, tr)) {
			return nil, bad
		}
		return &entry{h: th, r: tr}, nil
	}
	ih, ir, ok := p.ix.key.key(k)
	if !ok {
		return nil, bad
	}
	return &entry{h: ih, r: ir, th: th, tr: tr}, nil
}

// lastKey is the LastEvaluatedKey of entry x.
func (p *readPlan) lastKey(x *entry) item {
	if p.ix == nil {
		return p.t.keyItem(x.h, x.r)
	}
	k := p.t.keyItem(x.th, x.tr)
	k[p.ix.key.hash] = x.h
	if p.ix.key.rng != "" {
		k[p.ix.key.rng] = x.r
	}
	return k
}

// readResult collects a page.
type readResult struct {
	items        [][]byte // encoded
	count        int
	scanned      int
	bytes        int
	last         *entry
	stoppedEarly bool
}

// visit evaluates one entry; false stops the walk.
func (p *readPlan) visit(res *readResult, x *entry) (bool, error) {
	res.scanned++
	res.bytes += x.size
	res.last = x
	match := true
	var it item
	if p.filter != nil || p.proj != nil {
		it = x.item()
	}
	if p.filter != nil {
		var err error
		if match, err = evalCond(it, p.filter); err != nil {
			return false, relabel(err, "FilterExpression")
		}
	}
	if match {
		res.count++
		switch {
		case p.count:
		case p.proj != nil:
			res.items = append(res.items, appendItem(nil, project(it, p.proj)))
		default:
			res.items = append(res.items, x.raw)
		}
	}
	if (p.limit > 0 && res.scanned >= p.limit) || res.bytes >= pageLimit {
		res.stoppedEarly = true
		return false, nil
	}
	return true, nil
}

func (p *readPlan) response(res *readResult) ([]byte, error) {
	b := []byte(`{"Count":`)
	b = append(b, itoa(res.count)...)
	b = append(b, `,"ScannedCount":`...)
	b = append(b, itoa(res.scanned)...)
	if !p.count {
		b = append(b, `,"Items":[`...)
		for i, raw := range res.items {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, raw...)
		}
		b = append(b, ']')
	}
	if res.stoppedEarly && res.last != nil {
		b = append(b, `,"LastEvaluatedKey":`...)
		b = appendItem(b, p.lastKey(res.last))
	}
	return append(b, '}'), nil
}

func (e *Engine) query(body []byte) (any, error) {
	var req struct {
		readInput
		KeyConditionExpression *string
		KeyConditions          map[string]legacyCond
		ScanIndexForward       *bool
	}
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	pr := newParams(req.ExpressionAttributeNames, req.ExpressionAttributeValues)
	e.mu.RLock()
	defer e.mu.RUnlock()
	p, err := e.planRead(&req.readInput, pr)
	if err != nil {
		return nil, err
	}
	ks := p.t.key
	if p.ix != nil {
		ks = p.ix.key
	}
	var h value
	var kr keyRange
	switch {
	case req.KeyConditionExpression != nil && req.KeyConditions != nil:
		return nil, validationf("Can not use both expression and non-expression parameters in the same request: Non-expression parameters: {KeyConditions} Expression parameters: {KeyConditionExpression}")
	case req.KeyConditionExpression != nil:
		c, err := parseCondition(*req.KeyConditionExpression, pr)
		if err != nil {
			return nil, exprError("KeyConditionExpression", err)
		}
		if h, kr, err = keyConditions(c, ks); err != nil {
			return nil, err
		}
	case req.KeyConditions != nil:
		c, err := legacyKeyConditions(req.KeyConditions)
		if err != nil {
			return nil, err
		}
		if h, kr, err = keyConditions(c, ks); err != nil {
			return nil, err
		}
	default:
		return nil, validationf("Either the KeyConditions or KeyConditionExpression parameter must be specified in the request.")
	}
	if err := pr.unused(); err != nil {
		return nil, err
	}
	if p.start != nil && compareScalar(p.start.h, h) != 0 {
		return nil, validationf("The provided starting key is invalid: The provided key element does not match the schema")
	}
	forward := req.ScanIndexForward == nil || *req.ScanIndexForward
	tree := p.t.tree
	if p.ix != nil {
		tree = p.ix.tree
	}
	res := &readResult{}
	var verr error
	walk(tree, p.ix != nil, h, kr, p.start, forward, func(x *entry) bool {
		ok, err := p.visit(res, x)
		verr = err
		return ok
	})
	if verr != nil {
		return nil, verr
	}
	b, err := p.response(res)
	return json.RawMessage(b), err
}

// keyConditions turns a key condition into the partition and the range of
// sort keys to read.
//
// It is long because DynamoDB allows exactly one partition equality and one
// sort-key condition of six forms, each mapped to a key range here.
func keyConditions(c cond, ks keySchema) (value, keyRange, error) {
	kr := keyRange{loB: belowAll, hiB: aboveAll}
	var parts []cond
	var flatten func(c cond) error
	flatten = func(c cond) error {
		switch c := c.(type) {
		case *condAnd:
			if err := flatten(c.l); err != nil {
				return err
			}
			return flatten(c.r)
		case *condOr:
			return validationf("Invalid operator used in KeyConditionExpression: OR")
		case *condNot:
			return validationf("Invalid operator used in KeyConditionExpression: NOT")
		case *condIn:
			return validationf("Invalid operator used in KeyConditionExpression: IN")
		}
		parts = append(parts, c)
		return nil
	}
	if err := flatten(c); err != nil {
		return value{}, kr, err
	}
	if len(parts) > 2 {
		return value{}, kr, validationf("Conditions can be of length 1 or 2 only")
	}
	var h value
	haveH, haveR := false, false
	attrOf := func(o operand) (string, bool) {
		if p, ok := o.(*opPath); ok && len(p.p) == 1 {
			return p.p[0].name, true
		}
		return "", false
	}
	valOf := func(o operand, typ kind) (value, error) {
		v, ok := o.(*opValue)
		if !ok {
			return value{}, validationf("Invalid KeyConditionExpression: Only key attributes and values may be used in a key condition")
		}
		if v.v.k != typ {
			return value{}, validationf("One or more parameter values were invalid: Condition parameter type does not match schema type")
		}
		return v.v, nil
	}
	for _, part := range parts {
		var name string
		var ok bool
		switch x := part.(type) {
		case *condCmp:
			name, ok = attrOf(x.l)
		case *condBetween:
			name, ok = attrOf(x.x)
		case *condFunc:
			if x.name != "begins_with" {
				return value{}, kr, validationf("Invalid operator used in KeyConditionExpression: %s", x.name)
			}
			name, ok = attrOf(x.args[0])
		}
		if !ok {
			return value{}, kr, validationf("Invalid KeyConditionExpression: Only key attributes and values may be used in a key condition")
		}
		switch name {
		case ks.hash:
			cmp, isCmp := part.(*condCmp)
			if !isCmp || cmp.op != "=" || haveH {
				return value{}, kr, validationf("Query key condition not supported")
			}
			v, err := valOf(cmp.r, ks.hashType)
			if err != nil {
				return value{}, kr, err
			}
			h, haveH = v, true
		case ks.rng:
			if haveR || ks.rng == "" {
				return value{}, kr, validationf("KeyConditionExpressions must only contain one condition per key")
			}
			haveR = true
			switch x := part.(type) {
			case *condCmp:
				v, err := valOf(x.r, ks.rngType)
				if err != nil {
					return value{}, kr, err
				}
				switch x.op {
				case "=":
					kr.lo, kr.loB, kr.loIn, kr.hi, kr.hiB, kr.hiIn = v, atValue, true, v, atValue, true
				case "<":
					kr.hi, kr.hiB, kr.hiIn = v, atValue, false
				case "<=":
					kr.hi, kr.hiB, kr.hiIn = v, atValue, true
				case ">":
					kr.lo, kr.loB, kr.loIn = v, atValue, false
				case ">=":
					kr.lo, kr.loB, kr.loIn = v, atValue, true
				default:
					return value{}, kr, validationf("Unsupported operator on KeyCondition: %s", x.op)
				}
			case *condBetween:
				lo, err := valOf(x.lo, ks.rngType)
				if err != nil {
					return value{}, kr, err
				}
				hi, err := valOf(x.hi, ks.rngType)
				if err != nil {
					return value{}, kr, err
				}
				if compareScalar(lo, hi) > 0 {
					return value{}, kr, validationf("Invalid KeyConditionExpression: The BETWEEN operator requires upper bound to be greater than or equal to lower bound; lowerBound: %s, upperBound: %s", lo.describe(), hi.describe())
				}
				kr.lo, kr.loB, kr.loIn, kr.hi, kr.hiB, kr.hiIn = lo, atValue, true, hi, atValue, true
			case *condFunc:
				if ks.rngType == kN {
					return value{}, kr, validationf("Invalid KeyConditionExpression: Incorrect operand type for operator or function; operator or function: begins_with, operand type: N")
				}
				v, err := valOf(x.args[1], ks.rngType)
				if err != nil {
					return value{}, kr, err
				}
				kr.lo, kr.loB, kr.loIn = v, atValue, true
				kr.prefix, kr.hasPrefix = v.s, true
			}
		default:
			return value{}, kr, validationf("Query condition missed key schema element: %s", ks.hash)
		}
	}
	if !haveH {
		return value{}, kr, validationf("Query condition missed key schema element: %s", ks.hash)
	}
	return h, kr, nil
}

// legacyKeyConditions turns the KeyConditions parameter (what guregu/dynamo
// sends) into the equivalent key condition.
func legacyKeyConditions(kc map[string]legacyCond) (cond, error) {
	var out cond
	for attr, c := range kc {
		p := &opPath{docPath{{name: attr, index: -1}}}
		need := 1
		if c.ComparisonOperator == "BETWEEN" {
			need = 2
		}
		if len(c.AttributeValueList) != need {
			return nil, validationf("One or more parameter values were invalid: Invalid number of argument(s) for the %s ComparisonOperator", c.ComparisonOperator)
		}
		v := func(i int) operand { return &opValue{c.AttributeValueList[i]} }
		var x cond
		switch c.ComparisonOperator {
		case "EQ":
			x = &condCmp{"=", p, v(0)}
		case "LT":
			x = &condCmp{"<", p, v(0)}
		case "LE":
			x = &condCmp{"<=", p, v(0)}
		case "GT":
			x = &condCmp{">", p, v(0)}
		case "GE":
			x = &condCmp{">=", p, v(0)}
		case "BEGINS_WITH":
			x = &condFunc{name: "begins_with", args: []operand{p, v(0)}}
		case "BETWEEN":
			x = &condBetween{p, v(0), v(1)}
		default:
			return nil, validationf("Unsupported operator on KeyCondition: %s", c.ComparisonOperator)
		}
		if out == nil {
			out = x
		} else {
			out = &condAnd{out, x}
		}
	}
	if out == nil {
		return nil, validationf("Either the KeyConditions or KeyConditionExpression parameter must be specified in the request.")
	}
	return out, nil
}

func (e *Engine) scan(body []byte) (any, error) {
	var req struct {
		readInput
		Segment       *int
		TotalSegments *int
	}
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	if (req.Segment == nil) != (req.TotalSegments == nil) {
		return nil, validationf("The TotalSegments parameter is required but was not present in the request when Segment parameter is present")
	}
	if req.TotalSegments != nil && (*req.TotalSegments < 1 || *req.TotalSegments > 1000000 || *req.Segment < 0 || *req.Segment >= *req.TotalSegments) {
		return nil, validationf("The Segment parameter is zero-based and must be less than parameter TotalSegments")
	}
	pr := newParams(req.ExpressionAttributeNames, req.ExpressionAttributeValues)
	e.mu.RLock()
	defer e.mu.RUnlock()
	p, err := e.planRead(&req.readInput, pr)
	if err != nil {
		return nil, err
	}
	if err := pr.unused(); err != nil {
		return nil, err
	}
	tree := p.t.tree
	if p.ix != nil {
		tree = p.ix.tree
	}
	res := &readResult{}
	var verr error
	fn := func(x *entry) bool {
		if req.TotalSegments != nil {
			hk := x.h
			if p.ix != nil {
				hk = x.th
			}
			if int(crc32.ChecksumIEEE([]byte(hk.s))%uint32(*req.TotalSegments)) != *req.Segment {
				return true
			}
		}
		ok, err := p.visit(res, x)
		verr = err
		return ok
	}
	if p.start != nil {
		tree.Ascend(p.start, func(x *entry) bool {
			if !lessEntry(p.ix != nil, p.start, x) {
				return true
			}
			return fn(x)
		})
	} else {
		tree.Scan(fn)
	}
	if verr != nil {
		return nil, verr
	}
	b, err := p.response(res)
	return json.RawMessage(b), err
}

// ---- BatchGetItem and BatchWriteItem ----

// maxBatchGetResponse is DynamoDB's limit on one BatchGetItem response.
const maxBatchGetResponse = 16 << 20

func (e *Engine) batchGet(body []byte) (any, error) {
	type keysAndAttrs struct {
		Keys []item
		projectionInput
		ConsistentRead bool
	}
	var req struct {
		RequestItems map[string]*keysAndAttrs
	}
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	total := 0
	for _, ka := range req.RequestItems {
		total += len(ka.Keys)
	}
	if total > 100 {
		return nil, validationf("Too many items requested for the BatchGetItem call")
	}
	if len(req.RequestItems) == 0 {
		return nil, validationf("1 validation error detected: Value null at 'requestItems' failed to satisfy constraint: Member must have length greater than or equal to 1")
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	responses := map[string][]item{}
	unprocessed := map[string]*keysAndAttrs{}
	size := 0
	names := sortedKeys(req.RequestItems)
	for _, name := range names {
		ka := req.RequestItems[name]
		if len(ka.Keys) == 0 {
			return nil, validationf("1 validation error detected: Value at 'requestItems.%s.member.keys' failed to satisfy constraint: Member must have length greater than or equal to 1", name)
		}
		t, err := e.lookup(name)
		if err != nil {
			return nil, err
		}
		pr := newParams(ka.ExpressionAttributeNames, nil)
		ps, err := parseProjectionInput(ka.ProjectionExpression, ka.AttributesToGet, pr)
		if err != nil {
			return nil, err
		}
		if err := pr.unused(); err != nil {
			return nil, err
		}
		seen := map[string]bool{}
		for _, k := range ka.Keys {
			h, r, err := t.parseKey(k)
			if err != nil {
				return nil, err
			}
			ks := t.keyString(h, r)
			if seen[ks] {
				return nil, validationf("Provided list of item keys contains duplicates")
			}
			seen[ks] = true
		}
		responses[name] = []item{}
		for _, k := range ka.Keys {
			h, r, _ := t.parseKey(k)
			it := t.get(h, r)
			if it == nil {
				continue
			}
			if size+it.size() > maxBatchGetResponse {
				u := unprocessed[name]
				if u == nil {
					u = &keysAndAttrs{projectionInput: ka.projectionInput, ConsistentRead: ka.ConsistentRead}
					unprocessed[name] = u
				}
				u.Keys = append(u.Keys, k)
				continue
			}
			size += it.size()
			responses[name] = append(responses[name], projectIf(it, ps))
		}
	}
	return map[string]any{"Responses": responses, "UnprocessedKeys": unprocessed}, nil
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func (e *Engine) batchWrite(body []byte) (any, error) {
	type writeRequest struct {
		PutRequest    *struct{ Item item }
		DeleteRequest *struct{ Key item }
	}
	var req struct {
		RequestItems map[string][]writeRequest
	}
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	total := 0
	for _, l := range req.RequestItems {
		total += len(l)
	}
	if total > 25 || total == 0 {
		return nil, validationf("1 validation error detected: Value at 'requestItems' failed to satisfy constraint: Map value must satisfy constraint: [Member must have length less than or equal to 25, Member must have length greater than or equal to 1]")
	}
	e.mu.Lock()
	var changes []change
	seen := map[string]bool{}
	for _, name := range sortedKeys(req.RequestItems) {
		for _, wr := range req.RequestItems[name] {
			var op *writeOp
			var err error
			switch {
			case wr.PutRequest != nil && wr.DeleteRequest == nil:
				op, err = e.preparePut(name, wr.PutRequest.Item, exprInput{})
			case wr.DeleteRequest != nil && wr.PutRequest == nil:
				op, err = e.prepareKeyed("Delete", name, wr.DeleteRequest.Key, nil, exprInput{})
			default:
				err = validationf("Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes")
			}
			if err != nil {
				e.mu.Unlock()
				return nil, err
			}
			if seen[op.keyStr] {
				e.mu.Unlock()
				return nil, validationf("Provided list of item keys contains duplicates")
			}
			seen[op.keyStr] = true
			old := op.t.get(op.h, op.r)
			nu, _, _ := op.eval(old)
			if c, ok := op.changeOf(old, nu); ok {
				changes = append(changes, c)
			}
		}
	}
	pos, err := e.apply(changes)
	e.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if err := e.durable(pos); err != nil {
		return nil, err
	}
	// Every request is applied: none is left unprocessed.
	return map[string]any{"UnprocessedItems": map[string]any{}}, nil
}
