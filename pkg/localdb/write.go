package localdb

import (
	"strings"
)

// maxItemSize is DynamoDB's limit on one item (400 KB).
const maxItemSize = 400 * 1024

// writeOp is one planned item write: a PutItem, UpdateItem, DeleteItem or
// ConditionCheck, standalone or inside a batch or transaction.
type writeOp struct {
	kind      string // Put, Update, Delete, ConditionCheck
	t         *table
	h, r      value
	put       item
	acts      []updateAction
	cond      cond
	retOnFail bool
	keyStr    string
}

// exprInput is the expression part shared by every write request.
type exprInput struct {
	ConditionExpression                 *string
	ExpressionAttributeNames            map[string]string
	ExpressionAttributeValues           map[string]value
	ReturnValuesOnConditionCheckFailure string
}

// lookup returns the named table (caller holds e.mu).
func (e *Engine) lookup(name string) (*table, error) {
	if name == "" {
		return nil, validationf("1 validation error detected: Value null at 'tableName' failed to satisfy constraint: Member must not be null")
	}
	t := e.tables[name]
	if t == nil {
		return nil, &apiError{typ: "ResourceNotFoundException", msg: "Requested resource not found"}
	}
	return t, nil
}

// parseKey checks a Key parameter against the table's key schema.
func (t *table) parseKey(key item) (h, r value, err error) {
	want := 1
	if t.key.rng != "" {
		want = 2
	}
	h, ok := key[t.key.hash]
	if !ok || len(key) != want || h.k != t.key.hashType {
		return h, r, validationf("The provided key element does not match the schema")
	}
	if t.key.rng != "" {
		r, ok = key[t.key.rng]
		if !ok || r.k != t.key.rngType {
			return h, r, validationf("The provided key element does not match the schema")
		}
	}
	for _, a := range []string{t.key.hash, t.key.rng} {
		if v, ok := key[a]; ok && a != "" && (v.k == kS || v.k == kB) && v.s == "" {
			return h, r, validationf("One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty %s value. Key: %s", emptyKind(v.k), a)
		}
	}
	return h, r, nil
}

func emptyKind(k kind) string {
	if k == kB {
		return "binary"
	}
	return "string"
}

// validateItem checks a whole item as DynamoDB does before storing it.
func (t *table) validateItem(it item, update bool) (h, r value, err error) {
	for _, a := range []struct {
		name string
		typ  kind
	}{{t.key.hash, t.key.hashType}, {t.key.rng, t.key.rngType}} {
		if a.name == "" {
			continue
		}
		v, ok := it[a.name]
		if !ok {
			return h, r, validationf("One or more parameter values were invalid: Missing the key %s in the item", a.name)
		}
		if v.k != a.typ {
			return h, r, validationf("One or more parameter values were invalid: Type mismatch for key %s expected: %s actual: %s", a.name, a.typ, v.k)
		}
		if (v.k == kS || v.k == kB) && v.s == "" {
			return h, r, validationf("One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty %s value. Key: %s", emptyKind(v.k), a.name)
		}
	}
	h = it[t.key.hash]
	if t.key.rng != "" {
		r = it[t.key.rng]
	}
	for _, ix := range t.indexes {
		for _, a := range []struct {
			name string
			typ  kind
		}{{ix.key.hash, ix.key.hashType}, {ix.key.rng, ix.key.rngType}} {
			if a.name == "" {
				continue
			}
			v, ok := it[a.name]
			if !ok {
				continue
			}
			if v.k != a.typ {
				return h, r, validationf("One or more parameter values were invalid: Type mismatch for Index Key %s Expected: %s Actual: %s IndexName: %s", a.name, a.typ, v.k, ix.name)
			}
			if (v.k == kS || v.k == kB) && v.s == "" {
				return h, r, validationf("One or more parameter values are not valid. A value specified for a secondary index key is not supported. The AttributeValue for a key attribute cannot contain an empty %s value. IndexName: %s, IndexKey: %s", emptyKind(v.k), ix.name, a.name)
			}
		}
	}
	if it.size() > maxItemSize {
		if update {
			return h, r, validationf("Item size to update has exceeded the maximum allowed size")
		}
		return h, r, validationf("Item size has exceeded the maximum allowed size")
	}
	return h, r, nil
}

// parseExprs parses the condition (and update) expression of a write and
// reports unused placeholders.
func parseWriteExprs(in exprInput, update *string) (cond, []updateAction, error) {
	pr := newParams(in.ExpressionAttributeNames, in.ExpressionAttributeValues)
	var c cond
	var acts []updateAction
	var err error
	if update != nil {
		if acts, err = parseUpdate(*update, pr); err != nil {
			return nil, nil, exprError("UpdateExpression", err)
		}
	}
	if in.ConditionExpression != nil {
		if c, err = parseCondition(*in.ConditionExpression, pr); err != nil {
			return nil, nil, exprError("ConditionExpression", err)
		}
	}
	if update == nil && in.ConditionExpression == nil {
		if in.ExpressionAttributeNames != nil {
			return nil, nil, validationf("ExpressionAttributeNames can only be specified when using expressions")
		}
		if in.ExpressionAttributeValues != nil {
			return nil, nil, validationf("ExpressionAttributeValues can only be specified when using expressions")
		}
	}
	if err := pr.unused(); err != nil {
		return nil, nil, err
	}
	return c, acts, nil
}

func (t *table) keyString(h, r value) string {
	b := appendKeyString([]byte(t.name+"\x00"), h)
	return string(appendKeyString(b, r))
}

func (e *Engine) preparePut(tableName string, it item, in exprInput) (*writeOp, error) {
	t, err := e.lookup(tableName)
	if err != nil {
		return nil, err
	}
	h, r, err := t.validateItem(it, false)
	if err != nil {
		return nil, err
	}
	c, _, err := parseWriteExprs(in, nil)
	if err != nil {
		return nil, err
	}
	return &writeOp{kind: "Put", t: t, h: h, r: r, put: it, cond: c, retOnFail: in.ReturnValuesOnConditionCheckFailure == "ALL_OLD", keyStr: t.keyString(h, r)}, nil
}

func (e *Engine) prepareKeyed(kind, tableName string, key item, update *string, in exprInput) (*writeOp, error) {
	t, err := e.lookup(tableName)
	if err != nil {
		return nil, err
	}
	h, r, err := t.parseKey(key)
	if err != nil {
		return nil, err
	}
	if kind == "ConditionCheck" && in.ConditionExpression == nil {
		return nil, validationf("1 validation error detected: Value null at 'transactItems.1.member.conditionCheck.conditionExpression' failed to satisfy constraint: Member must not be null")
	}
	c, acts, err := parseWriteExprs(in, update)
	if err != nil {
		return nil, err
	}
	for _, a := range acts {
		if n := a.p[0].name; n == t.key.hash || n == t.key.rng {
			return nil, validationf("One or more parameter values were invalid: Cannot update attribute %s. This attribute is part of the key", n)
		}
	}
	return &writeOp{kind: kind, t: t, h: h, r: r, acts: acts, cond: c, retOnFail: in.ReturnValuesOnConditionCheckFailure == "ALL_OLD", keyStr: t.keyString(h, r)}, nil
}

// eval computes the op's effect on old (nil: no item). ok is false when the
// condition fails; nu is the new item (nil: deleted or unchanged for a
// ConditionCheck).
func (op *writeOp) eval(old item) (nu item, ok bool, err error) {
	if op.cond != nil {
		match, err := evalCond(old, op.cond)
		if err != nil {
			return nil, false, relabel(err, "ConditionExpression")
		}
		if !match {
			return nil, false, nil
		}
	}
	switch op.kind {
	case "Put":
		return op.put, true, nil
	case "Delete":
		return nil, true, nil
	case "ConditionCheck":
		return old, true, nil
	}
	base := old
	if base == nil {
		base = op.t.keyItem(op.h, op.r)
	}
	nu, err = applyUpdate(base, op.acts)
	if err != nil {
		return nil, false, relabel(err, "UpdateExpression")
	}
	if _, _, err := op.t.validateItem(nu, true); err != nil {
		return nil, false, err
	}
	return nu, true, nil
}

// relabel names the expression in evaluation errors that carry the generic
// ConditionExpression label.
func relabel(err error, param string) error {
	if ae, ok := err.(*apiError); ok && param != "ConditionExpression" && strings.HasPrefix(ae.msg, "Invalid ConditionExpression:") {
		return validationf("Invalid %s:%s", param, strings.TrimPrefix(ae.msg, "Invalid ConditionExpression:"))
	}
	return err
}

// changeOf returns the commit change for op given old and nu.
func (op *writeOp) changeOf(old, nu item) (change, bool) {
	if op.kind == "ConditionCheck" || (old == nil && nu == nil) {
		return change{}, false
	}
	return change{t: op.t, h: op.h, r: op.r, old: old, new: nu}, true
}

// writeOne runs a single-item write; the caller has parsed the request.
func (e *Engine) writeOne(prepare func() (*writeOp, error)) (old, nu item, err error) {
	e.mu.Lock()
	op, err := prepare()
	if err != nil {
		e.mu.Unlock()
		return nil, nil, err
	}
	old = op.t.get(op.h, op.r)
	nu, ok, err := op.eval(old)
	if err != nil {
		e.mu.Unlock()
		return nil, nil, err
	}
	if !ok {
		e.mu.Unlock()
		ce := conditionFailed(nil)
		if op.retOnFail {
			ce.item = old
		}
		return nil, nil, ce
	}
	var pos int64
	if c, ok := op.changeOf(old, nu); ok {
		pos, err = e.apply([]change{c})
	}
	e.mu.Unlock()
	if err != nil {
		return nil, nil, err
	}
	if err := e.durable(pos); err != nil {
		return nil, nil, err
	}
	return old, nu, nil
}
