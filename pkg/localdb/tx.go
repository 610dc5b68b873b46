package localdb

import (
	"encoding/json"
	"hash/crc32"
	"strings"
	"time"
)

const (
	maxTransactItems = 100
	maxTransactBytes = 4 << 20
	idempotencyTTL   = 10 * time.Minute
)

// transactWrite serves TransactWriteItems: it decodes the actions, checks
// DynamoDB's limits (100 actions, 4 MB, one action per item, idempotency
// tokens), evaluates every condition and commits all changes in one commit
// under the write lock, or none with a TransactionCanceledException whose
// reasons are in the order of the actions. It is long because these steps
// share the decoded request and read best in order.
func (e *Engine) transactWrite(body []byte) (any, error) {
	type keyed struct {
		TableName        string
		Key              item
		UpdateExpression *string
		exprInput
	}
	var req struct {
		TransactItems []struct {
			ConditionCheck *keyed
			Put            *struct {
				TableName string
				Item      item
				exprInput
			}
			Delete *keyed
			Update *keyed
		}
		ClientRequestToken string
	}
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	n := len(req.TransactItems)
	if n == 0 || n > maxTransactItems {
		return nil, validationf("1 validation error detected: Value at 'transactItems' failed to satisfy constraint: Member must have length less than or equal to %d and greater than or equal to 1 (got %d)", maxTransactItems, n)
	}
	e.mu.Lock()
	unlocked := false
	unlock := func() {
		if !unlocked {
			unlocked = true
			e.mu.Unlock()
		}
	}
	defer unlock()

	var idemHash uint32
	now := e.opts.Now()
	if req.ClientRequestToken != "" {
		canon, _ := json.Marshal(req.TransactItems) // map order is not stable on the wire
		h := crc32.ChecksumIEEE(canon)
		idemHash = h
		e.expireTokens(now)
		if prev, ok := e.idem[req.ClientRequestToken]; ok {
			if prev.hash != h {
				return nil, &apiError{typ: "IdempotentParameterMismatchException", msg: "The request uses the same client token as a previous, but non-identical request."}
			}
			return struct{}{}, nil // already applied
		}
	}

	ops := make([]*writeOp, n)
	seen := map[string]bool{}
	for i, ti := range req.TransactItems {
		var op *writeOp
		var err error
		count := 0
		if ti.ConditionCheck != nil {
			count++
			c := ti.ConditionCheck
			op, err = e.prepareKeyed("ConditionCheck", c.TableName, c.Key, nil, c.exprInput)
		}
		if ti.Put != nil {
			count++
			op, err = e.preparePut(ti.Put.TableName, ti.Put.Item, ti.Put.exprInput)
		}
		if ti.Delete != nil {
			count++
			d := ti.Delete
			op, err = e.prepareKeyed("Delete", d.TableName, d.Key, nil, d.exprInput)
		}
		if ti.Update != nil {
			count++
			u := ti.Update
			if u.UpdateExpression == nil {
				err = validationf("1 validation error detected: Value null at 'transactItems.%d.member.update.updateExpression' failed to satisfy constraint: Member must not be null", i+1)
			} else {
				op, err = e.prepareKeyed("Update", u.TableName, u.Key, u.UpdateExpression, u.exprInput)
			}
		}
		if count != 1 {
			return nil, validationf("TransactItems can only contain one of Check, Put, Update or Delete")
		}
		if err != nil {
			return nil, err
		}
		if seen[op.keyStr] {
			return nil, validationf("Transaction request cannot include multiple operations on one item")
		}
		seen[op.keyStr] = true
		ops[i] = op
	}

	size := 0
	for _, op := range ops {
		size += op.put.size() + op.t.keyItem(op.h, op.r).size()
	}
	for _, ti := range req.TransactItems {
		for _, x := range []*keyed{ti.ConditionCheck, ti.Delete, ti.Update} {
			if x != nil {
				for _, v := range x.ExpressionAttributeValues {
					size += v.size()
				}
			}
		}
	}
	if size > maxTransactBytes {
		return nil, validationf("Transaction request cannot be larger than 4 MB")
	}

	reasons := make([]cancelReason, n)
	changes := make([]change, 0, n)
	failed := false
	for i, op := range ops {
		old := op.t.get(op.h, op.r)
		nu, ok, err := op.eval(old)
		switch {
		case err != nil:
			ae := asAPIError(err)
			reasons[i] = cancelReason{Code: "ValidationError", Message: ae.msg}
			failed = true
		case !ok:
			reasons[i] = cancelReason{Code: "ConditionalCheckFailed", Message: "The conditional request failed"}
			if op.retOnFail {
				reasons[i].Item = old
			}
			failed = true
		default:
			reasons[i] = cancelReason{Code: "None"}
			if c, ok := op.changeOf(old, nu); ok {
				changes = append(changes, c)
			}
		}
	}
	if failed {
		codes := make([]string, n)
		for i, r := range reasons {
			codes[i] = r.Code
		}
		return nil, &apiError{
			typ:     "TransactionCanceledException",
			msg:     "Transaction cancelled, please refer cancellation reasons for specific reasons [" + strings.Join(codes, ", ") + "]",
			reasons: reasons,
		}
	}
	pos, err := e.apply(changes)
	if err == nil && req.ClientRequestToken != "" {
		e.idem[req.ClientRequestToken] = idemEntry{hash: idemHash, at: now}
		e.idemQ = append(e.idemQ, idemToken{req.ClientRequestToken, now})
	}
	unlock()
	if err != nil {
		return nil, err
	}
	if err := e.durable(pos); err != nil {
		return nil, err
	}
	return struct{}{}, nil
}

func (e *Engine) transactGet(body []byte) (any, error) {
	var req struct {
		TransactItems []struct {
			Get *struct {
				TableName string
				Key       item
				projectionInput
			}
		}
	}
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	n := len(req.TransactItems)
	if n == 0 || n > maxTransactItems {
		return nil, validationf("1 validation error detected: Value at 'transactItems' failed to satisfy constraint: Member must have length less than or equal to %d and greater than or equal to 1 (got %d)", maxTransactItems, n)
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	type response struct {
		Item item `json:"Item,omitempty"`
	}
	out := make([]response, n)
	seen := map[string]bool{}
	for i, ti := range req.TransactItems {
		g := ti.Get
		if g == nil {
			return nil, validationf("1 validation error detected: Value null at 'transactItems.%d.member.get' failed to satisfy constraint: Member must not be null", i+1)
		}
		t, err := e.lookup(g.TableName)
		if err != nil {
			return nil, err
		}
		h, r, err := t.parseKey(g.Key)
		if err != nil {
			return nil, err
		}
		if ks := t.keyString(h, r); seen[ks] {
			return nil, validationf("Transaction request cannot include multiple operations on one item")
		} else {
			seen[ks] = true
		}
		pr := newParams(g.ExpressionAttributeNames, nil)
		ps, err := parseProjectionInput(g.ProjectionExpression, g.AttributesToGet, pr)
		if err != nil {
			return nil, err
		}
		if err := pr.unused(); err != nil {
			return nil, err
		}
		out[i].Item = projectIf(t.get(h, r), ps)
	}
	return map[string]any{"Responses": out}, nil
}
