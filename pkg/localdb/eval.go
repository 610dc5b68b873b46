package localdb

import (
	"strings"
	"unicode/utf8"
)

// get resolves a document path in an item.
func get(it item, p docPath) (value, bool) {
	v, ok := it[p[0].name]
	if !ok {
		return value{}, false
	}
	for _, e := range p[1:] {
		if e.index >= 0 {
			if v.k != kL || e.index >= len(v.listv()) {
				return value{}, false
			}
			v = v.listv()[e.index]
			continue
		}
		if v.k != kM {
			return value{}, false
		}
		if v, ok = v.mapv()[e.name]; !ok {
			return value{}, false
		}
	}
	return v, true
}

// evalOperand returns an operand's value in it; ok is false when a path does
// not resolve (such comparisons are false, as in DynamoDB).
func evalOperand(it item, o operand) (value, bool, error) {
	switch o := o.(type) {
	case *opValue:
		return o.v, true, nil
	case *opPath:
		v, ok := get(it, o.p)
		return v, ok, nil
	case *opSize:
		v, ok, err := evalOperand(it, o.x)
		if err != nil || !ok {
			return value{}, false, err
		}
		var n int
		switch v.k {
		case kS:
			n = utf8.RuneCountInString(v.s)
		case kB:
			n = len(v.s)
		case kSS, kNS, kBS:
			n = len(v.setv())
		case kL:
			n = len(v.listv())
		case kM:
			n = len(v.mapv())
		default:
			return value{}, false, validationf("Invalid ConditionExpression: Incorrect operand type for operator or function; operator or function: size, operand type: %s", v.k)
		}
		return value{k: kN, s: itoa(n)}, true, nil
	case *opIfNotExists:
		if v, ok := get(it, o.p); ok {
			return v, true, nil
		}
		return evalOperand(it, o.v)
	case *opListAppend:
		a, okA, err := evalOperand(it, o.a)
		if err != nil {
			return value{}, false, err
		}
		b, okB, err := evalOperand(it, o.b)
		if err != nil {
			return value{}, false, err
		}
		if !okA || !okB {
			return value{}, false, validationf("The provided expression refers to an attribute that does not exist in the item")
		}
		if a.k != kL || b.k != kL {
			return value{}, false, validationf("An operand in the update expression has an incorrect data type")
		}
		l := make([]value, 0, len(a.listv())+len(b.listv()))
		l = append(append(l, a.listv()...), b.listv()...)
		return value{k: kL, c: l}, true, nil
	case *opArith:
		a, okA, err := evalOperand(it, o.l)
		if err != nil {
			return value{}, false, err
		}
		b, okB, err := evalOperand(it, o.r)
		if err != nil {
			return value{}, false, err
		}
		if !okA || !okB {
			return value{}, false, validationf("The provided expression refers to an attribute that does not exist in the item")
		}
		if a.k != kN || b.k != kN {
			return value{}, false, validationf("An operand in the update expression has an incorrect data type")
		}
		s, err := addNumbers(a.s, b.s, o.sub)
		if err != nil {
			return value{}, false, err
		}
		return value{k: kN, s: s}, true, nil
	}
	return value{}, false, nil
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}

func isScalarKey(k kind) bool { return k == kS || k == kN || k == kB }

// evalCond evaluates a condition against an item (nil item: no item).
//
// It is long because it is one switch over the condition node types, each
// case a few lines.
func evalCond(it item, c cond) (bool, error) {
	switch c := c.(type) {
	case *condAnd:
		l, err := evalCond(it, c.l)
		if err != nil || !l {
			return false, err
		}
		return evalCond(it, c.r)
	case *condOr:
		l, err := evalCond(it, c.l)
		if err != nil || l {
			return l, err
		}
		return evalCond(it, c.r)
	case *condNot:
		r, err := evalCond(it, c.c)
		return !r, err
	case *condCmp:
		a, okA, err := evalOperand(it, c.l)
		if err != nil {
			return false, err
		}
		b, okB, err := evalOperand(it, c.r)
		if err != nil {
			return false, err
		}
		if !okA || !okB {
			return c.op == "<>" && okA != okB, nil
		}
		switch c.op {
		case "=":
			return equal(a, b), nil
		case "<>":
			return !equal(a, b), nil
		}
		if a.k != b.k || !isScalarKey(a.k) {
			return false, nil
		}
		r := compareScalar(a, b)
		switch c.op {
		case "<":
			return r < 0, nil
		case "<=":
			return r <= 0, nil
		case ">":
			return r > 0, nil
		default:
			return r >= 0, nil
		}
	case *condBetween:
		x, ok1, err := evalOperand(it, c.x)
		if err != nil {
			return false, err
		}
		lo, ok2, err := evalOperand(it, c.lo)
		if err != nil {
			return false, err
		}
		hi, ok3, err := evalOperand(it, c.hi)
		if err != nil {
			return false, err
		}
		if ok2 && ok3 && lo.k == hi.k && isScalarKey(lo.k) && compareScalar(lo, hi) > 0 {
			return false, validationf("Invalid ConditionExpression: The BETWEEN operator requires upper bound to be greater than or equal to lower bound; lowerBound: %s, upperBound: %s", lo.describe(), hi.describe())
		}
		if !ok1 || !ok2 || !ok3 || x.k != lo.k || x.k != hi.k || !isScalarKey(x.k) {
			return false, nil
		}
		return compareScalar(lo, x) <= 0 && compareScalar(x, hi) <= 0, nil
	case *condIn:
		x, ok, err := evalOperand(it, c.x)
		if err != nil || !ok {
			return false, err
		}
		for _, o := range c.items {
			v, ok, err := evalOperand(it, o)
			if err != nil {
				return false, err
			}
			if ok && equal(x, v) {
				return true, nil
			}
		}
		return false, nil
	case *condFunc:
		return evalFunc(it, c)
	}
	return false, nil
}

func evalFunc(it item, c *condFunc) (bool, error) {
	a, okA, err := evalOperand(it, c.args[0])
	if err != nil {
		return false, err
	}
	switch c.name {
	case "attribute_exists":
		return okA, nil
	case "attribute_not_exists":
		return !okA, nil
	}
	b, okB, err := evalOperand(it, c.args[1])
	if err != nil {
		return false, err
	}
	switch c.name {
	case "attribute_type":
		if !okB || b.k != kS {
			return false, validationf("Invalid ConditionExpression: Incorrect operand type for operator or function; operator or function: attribute_type, operand type: %s", b.k)
		}
		if _, known := typeByName(b.s); !known {
			return false, validationf("Invalid ConditionExpression: Invalid attribute type name found; type: %s, valid types: { B,NULL,SS,BOOL,L,BS,N,NS,S,M }", b.s)
		}
		return okA && a.k.String() == b.s, nil
	case "begins_with":
		if okB && b.k != kS && b.k != kB {
			return false, validationf("Invalid ConditionExpression: Incorrect operand type for operator or function; operator or function: begins_with, operand type: %s", b.k)
		}
		if !okA || !okB || a.k != b.k {
			return false, nil
		}
		return strings.HasPrefix(a.s, b.s), nil
	case "contains":
		if !okA || !okB {
			return false, nil
		}
		switch a.k {
		case kS, kB:
			return b.k == a.k && strings.Contains(a.s, b.s), nil
		case kSS:
			return b.k == kS && setHas(a, b.s), nil
		case kNS:
			return b.k == kN && setHas(a, b.s), nil
		case kBS:
			return b.k == kB && setHas(a, b.s), nil
		case kL:
			for _, e := range a.listv() {
				if equal(e, b) {
					return true, nil
				}
			}
		}
		return false, nil
	}
	return false, nil
}

func typeByName(s string) (kind, bool) {
	for k, n := range kindNames {
		if n == s && n != "" {
			return kind(k), true
		}
	}
	return 0, false
}

// ---- updates ----

// applyUpdate returns a new item: old (nil when absent) with the actions
// applied. old is not modified. Every operand is evaluated against old.
//
// It is long because it is one switch over SET, REMOVE, ADD and DELETE, each
// with DynamoDB's own rules for types and missing attributes.
func applyUpdate(old item, acts []updateAction) (item, error) {
	nu := old.clone()
	for _, a := range acts {
		switch a.kind {
		case "SET":
			v, ok, err := evalOperand(old, a.v)
			if err != nil {
				return nil, err
			}
			if !ok {
				return nil, validationf("The provided expression refers to an attribute that does not exist in the item")
			}
			if err := setPath(nu, a.p, v); err != nil {
				return nil, err
			}
		case "REMOVE":
			removePath(nu, a.p)
		case "ADD":
			arg := a.v.(*opValue).v
			cur, ok := get(nu, a.p)
			var res value
			switch {
			case arg.k == kN:
				if ok && cur.k != kN {
					return nil, validationf("An operand in the update expression has an incorrect data type")
				}
				base := "0"
				if ok {
					base = cur.s
				}
				s, err := addNumbers(base, arg.s, false)
				if err != nil {
					return nil, err
				}
				res = value{k: kN, s: s}
			case arg.k == kSS || arg.k == kNS || arg.k == kBS:
				if !ok {
					res = arg
					break
				}
				if cur.k != arg.k {
					return nil, validationf("An operand in the update expression has an incorrect data type")
				}
				set := append([]string(nil), cur.setv()...)
				for _, x := range arg.setv() {
					if !setHas(cur, x) {
						set = append(set, x)
					}
				}
				res = value{k: cur.k, c: set}
			default:
				return nil, validationf("Invalid UpdateExpression: Incorrect operand type for operator or function; operator: ADD, operand type: %s", arg.k)
			}
			if err := setPath(nu, a.p, res); err != nil {
				return nil, err
			}
		case "DELETE":
			arg := a.v.(*opValue).v
			if arg.k != kSS && arg.k != kNS && arg.k != kBS {
				return nil, validationf("Invalid UpdateExpression: Incorrect operand type for operator or function; operator: DELETE, operand type: %s", arg.k)
			}
			cur, ok := get(nu, a.p)
			if !ok {
				continue
			}
			if cur.k != arg.k {
				return nil, validationf("An operand in the update expression has an incorrect data type")
			}
			var set []string
			for _, x := range cur.setv() {
				if !setHas(arg, x) {
					set = append(set, x)
				}
			}
			if len(set) == 0 {
				removePath(nu, a.p) // an emptied set disappears
				continue
			}
			if err := setPath(nu, a.p, value{k: cur.k, c: set}); err != nil {
				return nil, err
			}
		}
	}
	return nu, nil
}

// setPath sets p in it (top level modified in place; nested containers are
// copied, so values shared with the old item stay untouched).
func setPath(it item, p docPath, v value) error {
	if len(p) == 1 {
		it[p[0].name] = v
		return nil
	}
	cur, ok := it[p[0].name]
	if !ok {
		return validationf("The document path provided in the update expression is invalid for update")
	}
	nv, err := setIn(cur, p[1:], v)
	if err != nil {
		return err
	}
	it[p[0].name] = nv
	return nil
}

func setIn(cur value, p docPath, v value) (value, error) {
	e := p[0]
	if e.index >= 0 {
		if cur.k != kL {
			return value{}, validationf("The document path provided in the update expression is invalid for update")
		}
		l := append([]value(nil), cur.listv()...)
		if len(p) == 1 {
			if e.index >= len(l) {
				l = append(l, v)
			} else {
				l[e.index] = v
			}
			return value{k: kL, c: l}, nil
		}
		if e.index >= len(l) {
			return value{}, validationf("The document path provided in the update expression is invalid for update")
		}
		nv, err := setIn(l[e.index], p[1:], v)
		if err != nil {
			return value{}, err
		}
		l[e.index] = nv
		return value{k: kL, c: l}, nil
	}
	if cur.k != kM {
		return value{}, validationf("The document path provided in the update expression is invalid for update")
	}
	m := make(map[string]value, len(cur.mapv())+1)
	for k, x := range cur.mapv() {
		m[k] = x
	}
	if len(p) == 1 {
		m[e.name] = v
		return value{k: kM, c: m}, nil
	}
	child, ok := m[e.name]
	if !ok {
		return value{}, validationf("The document path provided in the update expression is invalid for update")
	}
	nv, err := setIn(child, p[1:], v)
	if err != nil {
		return value{}, err
	}
	m[e.name] = nv
	return value{k: kM, c: m}, nil
}

func removePath(it item, p docPath) {
	if len(p) == 1 {
		delete(it, p[0].name)
		return
	}
	cur, ok := it[p[0].name]
	if !ok {
		return
	}
	if nv, ok := removeIn(cur, p[1:]); ok {
		it[p[0].name] = nv
	}
}

func removeIn(cur value, p docPath) (value, bool) {
	e := p[0]
	if e.index >= 0 {
		if cur.k != kL || e.index >= len(cur.listv()) {
			return value{}, false
		}
		l := append([]value(nil), cur.listv()...)
		if len(p) == 1 {
			l = append(l[:e.index], l[e.index+1:]...)
			return value{k: kL, c: l}, true
		}
		nv, ok := removeIn(l[e.index], p[1:])
		if !ok {
			return value{}, false
		}
		l[e.index] = nv
		return value{k: kL, c: l}, true
	}
	if cur.k != kM {
		return value{}, false
	}
	child, ok := cur.mapv()[e.name]
	if !ok {
		return value{}, false
	}
	m := make(map[string]value, len(cur.mapv()))
	for k, x := range cur.mapv() {
		m[k] = x
	}
	if len(p) == 1 {
		delete(m, e.name)
		return value{k: kM, c: m}, true
	}
	nv, ok := removeIn(child, p[1:])
	if !ok {
		return value{}, false
	}
	m[e.name] = nv
	return value{k: kM, c: m}, true
}

// ---- projection ----

// project returns the attributes of it named by paths.
func project(it item, paths []docPath) item {
	out := item{}
	for _, p := range paths {
		v, ok := get(it, p)
		if !ok {
			continue
		}
		if len(p) == 1 {
			out[p[0].name] = v
			continue
		}
		// Nested: rebuild the containers along the path.
		top, exists := out[p[0].name]
		out[p[0].name] = projectInto(top, exists, p[1:], v)
	}
	return out
}

func projectInto(cur value, exists bool, p docPath, v value) value {
	e := p[0]
	if e.index >= 0 {
		if !exists {
			cur = value{k: kL}
		}
		var child value
		if len(p) == 1 {
			child = v
		} else {
			child = projectInto(value{}, false, p[1:], v)
		}
		// Projected list elements keep their order; indexes are compacted.
		cur.c = append(append([]value(nil), cur.listv()...), child)
		return cur
	}
	if !exists {
		cur = value{k: kM, c: map[string]value{}}
	}
	old, ok := cur.mapv()[e.name]
	if len(p) == 1 {
		cur.mapv()[e.name] = v
	} else {
		cur.mapv()[e.name] = projectInto(old, ok, p[1:], v)
	}
	return cur
}
