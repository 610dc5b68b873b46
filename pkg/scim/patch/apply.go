package patch

import (
	"context"
	"maps"
	"slices"
	"strings"

	"github.com/scimless/scimless/pkg/scim/filter"
	"github.com/scimless/scimless/pkg/scim/schema"
	"github.com/scimless/scimless/pkg/scim/scimerr"
)

// Apply applies ops in order to a deep copy of res, the current state of a
// resource of type rt, and returns the patched copy; res itself is never
// modified. The operations are all-or-nothing: on error Apply returns nil and
// a 400 *scimerr.Error whose scimType says what was wrong: invalidSyntax (an
// unknown op), invalidPath (a malformed path or an unknown attribute),
// noTarget (remove without a path, or a filter that matches nothing and does
// not say how to create a value), invalidValue (a value of the wrong type)
// or mutability (changing a readOnly or immutable attribute, removing a
// required one).
//
// Semantics follow RFC 7644 §3.5.2 with these additions for Okta and
// Entra ID:
//   - Pathless add and replace values may have attribute paths as keys
//     ("name.givenName", "urn:…:enterprise:2.0:User:employeeNumber") and
//     extension URN keys with an object of extension attributes. Their
//     "schemas" and "meta" keys are ignored, and so is "id" when it equals
//     the resource's id.
//   - Setting a readOnly attribute to the value it already has is a no-op.
//   - Unqualified extension attribute names ("manager") resolve when no core
//     attribute has the name and exactly one extension has.
//   - An add or replace whose value path matches no element creates one from
//     the filter's eq constraints (emails[type eq "work"].value creates
//     {"type": "work", "value": …}); a filter with no usable eq constraints
//     yields noTarget.
//   - Filters may select single-valued complex attributes
//     (manager[value eq "id"]).
//   - A null or "" value, and in replace an empty array or object, clears
//     the target; removing something absent is a no-op.
//   - Boolean attributes accept the strings "true" and "false" in any case;
//     single-valued attributes accept a one-element array; a single-valued
//     complex attribute with a "value" sub-attribute accepts a string as its
//     value.
//   - A remove with a value on a multi-valued attribute removes only the
//     listed elements (matched by value and type), and on a single-valued
//     complex attribute only if its value matches.
//   - Replacing a complex attribute merges sub-attributes (RFC 7644
//     §3.5.2.3) unless its "value" sub-attribute changes, in which case the
//     whole object is replaced (a new manager keeps no stale $ref).
//   - Adding an element equal to an existing one (same value and type)
//     merges into it instead of duplicating it; a new primary element clears
//     primary on the others.
//   - readOnly sub-attributes inside values (members.display,
//     manager.displayName) are dropped rather than rejected.
//
// When res has a "schemas" array, extension URNs are added to or removed
// from it as extension objects appear or disappear.
//
// The work is bounded: no operation may leave a multi-valued attribute with
// more than [schema.MaxValues] values ([schema.MaxMembersPerRequest] for a
// group's members) and more than it had before (400 invalidValue), adding or
// removing n values costs O(n) whatever the attribute holds, and Apply
// returns ctx.Err() as soon as ctx ends.
func Apply(ctx context.Context, rt *schema.ResourceType, res map[string]any, ops []Operation) (map[string]any, error) {
	a := &applier{ctx: ctx, rt: rt, res: copyMap(res)}
	for i, op := range ops {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if err := a.apply(op); err != nil {
			if cerr := ctx.Err(); cerr != nil {
				return nil, cerr
			}
			return nil, withIndex(i, err)
		}
	}
	a.syncSchemas()
	return a.res, nil
}

// withIndex prefixes an error's detail with the operation index.
func withIndex(i int, err error) error {
	e, ok := scimerr.As(err)
	if !ok {
		return scimerr.InvalidValue("Operations[%d]: invalid operation", i)
	}
	out := *e
	out.Detail = "Operations[" + itoa(i) + "]: " + e.Detail
	return &out
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b [20]byte
	n := len(b)
	for ; i > 0; i /= 10 {
		n--
		b[n] = byte('0' + i%10)
	}
	return string(b[n:])
}

type applier struct {
	ctx context.Context
	rt  *schema.ResourceType
	res map[string]any
	// touched holds the extension URNs whose objects operations changed.
	touched []string
}

func (a *applier) apply(op Operation) error {
	kind, ok := normaliseOp(op.Op)
	if !ok {
		return scimerr.InvalidSyntax("unknown op %q; want add, remove or replace", truncate(op.Op))
	}
	if strings.TrimSpace(op.Path) == "" {
		if kind == OpRemove {
			return scimerr.NoTarget("remove requires a path")
		}
		obj, ok := op.Value.(map[string]any)
		if !ok {
			return scimerr.InvalidValue("%s without a path requires an object value, not %s", kind, jsonKind(op.Value))
		}
		return a.pathless(kind, obj)
	}
	p, err := parsePath(a.rt, op.Path)
	if err != nil {
		return err
	}
	return a.target(kind, p, op.Value)
}

// pathless applies an add or replace without a path: each key of obj is a
// path and its value the operation's value for that path.
func (a *applier) pathless(kind string, obj map[string]any) error {
	for n, k := range slices.Sorted(maps.Keys(obj)) {
		if err := a.canceled(n); err != nil {
			return err
		}
		v := obj[k]
		switch {
		case isIgnoredKey(k):
			continue
		case strings.EqualFold(k, "id"):
			if cur, ok := a.res["id"]; ok && !isNull(v) && !equal(cur, v) {
				return scimerr.Mutability("attribute \"id\" is readOnly and cannot be changed")
			}
			continue
		}
		if sch, ext := a.rt.SchemaByURN(strings.TrimSpace(k)); sch != nil && !ext {
			// {"urn:…:core:2.0:User": {…}}: core attributes under their URN.
			m, ok := v.(map[string]any)
			if !ok {
				return scimerr.InvalidValue("value of %q must be an object", sch.ID)
			}
			if err := a.pathless(kind, m); err != nil {
				return err
			}
			continue
		}
		p, err := parsePath(a.rt, k)
		if err != nil {
			return err
		}
		if err := a.target(kind, p, v); err != nil {
			return err
		}
	}
	return nil
}

// target applies one operation to a resolved path.
func (a *applier) target(kind string, p path, v any) error {
	if p.ext {
		a.touch(p.urn)
		defer a.dropEmptyExtension(p.urn)
	}
	if p.attr == nil {
		return a.extension(kind, p, v)
	}
	if p.attr.Mutability == schema.ReadOnly || (p.sub != nil && p.sub.Mutability == schema.ReadOnly) {
		if kind != OpRemove && p.expr == nil && a.unchanged(p, v) {
			return nil
		}
		return scimerr.Mutability("attribute %q is readOnly", p.String())
	}
	before := a.count(p)
	var err error
	switch {
	case p.expr != nil:
		err = a.filtered(kind, p, v)
	case p.sub != nil:
		err = a.subAttr(kind, p, v)
	default:
		err = a.attr(kind, p, v)
	}
	if err != nil {
		return err
	}
	// A list stored before the cap existed may stay as long as it is, but
	// not grow.
	if n, limit := a.count(p), a.maxValues(p.attr); n > limit && n > before {
		name := path{urn: p.urn, ext: p.ext, attr: p.attr}.String()
		return scimerr.InvalidValue("attribute %q would hold %d values; at most %d are allowed", name, n, limit)
	}
	return nil
}

// count returns the number of values of p's attribute, if it is
// multi-valued.
func (a *applier) count(p path) int {
	if !p.attr.MultiValued {
		return 0
	}
	v, _ := get(a.container(p, false), p.attr.Name)
	if list, ok := v.([]any); ok {
		return len(list)
	}
	if v != nil {
		return 1
	}
	return 0
}

// maxValues returns the most values multi-valued attribute at may hold.
// A group's members are stored as items of their own and capped per request
// instead (schema.MaxMembersPerRequest).
func (a *applier) maxValues(at *schema.Attribute) int {
	if at == a.rt.Schema.Attr("members") {
		return schema.MaxMembersPerRequest
	}
	return schema.MaxValues
}

// ctxEvery is how many values a loop over request-sized input handles
// between two checks of the request's context.
const ctxEvery = 1024

// canceled returns the context's error every ctxEvery-th call with n.
func (a *applier) canceled(n int) error {
	if n%ctxEvery != 0 {
		return nil
	}
	return a.ctx.Err()
}

// clears reports whether an operation clears its target: remove, null or ""
// values, and empty arrays or objects in replace.
func clears(kind string, v any) bool {
	return kind == OpRemove || isNull(v) || (kind == OpReplace && isEmpty(v))
}

func (a *applier) touch(urn string) {
	for _, u := range a.touched {
		if u == urn {
			return
		}
	}
	a.touched = append(a.touched, urn)
}

// container returns the object holding p's attribute: the resource, or the
// extension object, which is created if create is set and nil if absent
// otherwise.
func (a *applier) container(p path, create bool) map[string]any {
	if !p.ext {
		return a.res
	}
	v, _ := get(a.res, p.urn)
	m, ok := v.(map[string]any)
	if !ok {
		if !create {
			return nil
		}
		m = map[string]any{}
		a.res[p.urn] = m
	}
	return m
}

func (a *applier) dropEmptyExtension(urn string) {
	if m, ok := a.res[urn].(map[string]any); ok && len(m) == 0 {
		delete(a.res, urn)
	}
}

// unchanged reports whether setting p (a path without filter) to v would
// leave the resource as it is.
func (a *applier) unchanged(p path, v any) bool {
	cur, _ := get(a.container(p, false), p.attr.Name)
	at := p.attr
	if p.sub != nil {
		m, _ := cur.(map[string]any)
		cur, at = m[p.sub.Name], p.sub
		if m == nil {
			cur = nil
		}
	}
	if isEmpty(v) {
		return isEmpty(cur)
	}
	if at.MultiValued {
		vals, err := coerceMulti(at, v, p.String(), true)
		return err == nil && equalOrAbsent(cur, vals)
	}
	x, err := unwrapSingle(v, p.String())
	if err != nil {
		return false
	}
	nv, err := coerce(at, shorthand(at, x), p.String(), true)
	return err == nil && equalOrAbsent(cur, nv)
}

// extension applies an operation whose path is a whole extension object.
func (a *applier) extension(kind string, p path, v any) error {
	if clears(kind, v) {
		for _, e := range a.rt.Extensions {
			if e.Schema.ID == p.urn && e.Required {
				return scimerr.Mutability("extension %q is required and cannot be removed", p.urn)
			}
		}
		del(a.res, p.urn)
		return nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return scimerr.InvalidValue("value of %q must be an object, not %s", p.urn, jsonKind(v))
	}
	for n, k := range slices.Sorted(maps.Keys(m)) {
		if err := a.canceled(n); err != nil {
			return err
		}
		sp, err := parsePath(a.rt, p.urn+":"+k)
		if err != nil {
			return err
		}
		if !sp.ext || sp.urn != p.urn || sp.attr == nil {
			return scimerr.InvalidPath("%q is not an attribute of %q", truncate(k), p.urn)
		}
		if err := a.target(kind, sp, m[k]); err != nil {
			return err
		}
	}
	return nil
}

// attr applies an operation to a whole attribute (no filter, no
// sub-attribute).
//
// It is long because each operation kind on a single-valued, multi-valued or
// complex attribute has its own RFC 7644 rule, kept side by side.
func (a *applier) attr(kind string, p path, v any) error {
	at, name := p.attr, p.String()
	c := a.container(p, !clears(kind, v))
	if c == nil {
		return nil
	}
	cur, present := get(c, at.Name)
	if kind == OpRemove && v != nil && present {
		return a.removeValues(p, c, cur, v)
	}
	if clears(kind, v) {
		return a.clear(p, c, cur, present)
	}
	if at.MultiValued {
		vals, err := coerceMulti(at, v, name, false)
		if err != nil {
			return err
		}
		var list []any
		if kind == OpAdd {
			list = asList(cur)
		} else if len(vals) == 0 {
			return a.clear(p, c, cur, present)
		}
		touched := make([]int, 0, len(vals))
		ix := newElemIndex(at, list)
		for n, e := range vals {
			if err := a.canceled(n); err != nil {
				return err
			}
			i := ix.find(e)
			if i < 0 {
				i = len(list)
				list = append(list, e)
				ix.add(e, i)
			} else {
				ix.merge(list, i, e)
			}
			touched = append(touched, i)
		}
		fixPrimary(at, list, touched)
		if at.Mutability == schema.Immutable && present && !equal(cur, list) {
			return scimerr.Mutability("attribute %q is immutable", name)
		}
		store(c, at, list)
		return nil
	}
	x, err := unwrapSingle(v, name)
	if err != nil {
		return err
	}
	if isNull(x) || isBlank(x) {
		// Entra ID removes a manager with a replace to "", null or {"value": ""}.
		if kind == OpReplace {
			return a.clear(p, c, cur, present)
		}
		return nil
	}
	x = shorthand(at, x)
	nv, err := coerce(at, x, name, false)
	if err != nil {
		return err
	}
	if m, ok := nv.(map[string]any); ok {
		if old, ok := cur.(map[string]any); ok && !identityChanged(old, m) {
			merged := copyMap(old)
			for k, sv := range m {
				merged[k] = sv
			}
			// {"name": {"middleName": null}} clears name.middleName.
			for k, sv := range x.(map[string]any) {
				if sub := at.Sub(k); isNull(sv) && sub != nil && sub.Mutability != schema.ReadOnly {
					delete(merged, sub.Name)
				}
			}
			m = merged
			nv = m
		}
		if len(m) == 0 {
			return a.clear(p, c, cur, present)
		}
	}
	if at.Mutability == schema.Immutable && present && !equal(cur, nv) {
		return scimerr.Mutability("attribute %q is immutable", name)
	}
	c[at.Name] = nv
	return nil
}

// clear removes attribute p from c.
func (a *applier) clear(p path, c map[string]any, cur any, present bool) error {
	if p.attr.Required {
		return scimerr.Mutability("attribute %q is required and cannot be removed", p.String())
	}
	if !present {
		return nil
	}
	if p.attr.Mutability == schema.Immutable && !isEmpty(cur) {
		return scimerr.Mutability("attribute %q is immutable", p.String())
	}
	delete(c, p.attr.Name)
	return nil
}

// removeValues handles a remove with a value (Entra ID sends
// {"op":"Remove","path":"members","value":[{"value":"id"}]}): on a
// multi-valued attribute it removes only the listed elements; on a
// single-valued complex attribute it removes the attribute if its value
// matches; otherwise the value is ignored.
func (a *applier) removeValues(p path, c map[string]any, cur, v any) error {
	at, name := p.attr, p.String()
	if at.Required {
		return scimerr.Mutability("attribute %q is required and cannot be removed", name)
	}
	if at.Mutability == schema.Immutable {
		return scimerr.Mutability("attribute %q is immutable", name)
	}
	if !at.MultiValued {
		if at.Type == schema.Complex {
			x, err := unwrapSingle(v, name)
			if err != nil {
				return err
			}
			gv, err := coerce(at, shorthand(at, x), name, true)
			if err != nil {
				return err
			}
			if !isEmpty(gv) && !sameElem(at, cur, gv) {
				return nil
			}
		}
		delete(c, at.Name)
		return nil
	}
	vals, err := coerceMulti(at, v, name, true)
	if err != nil {
		return err
	}
	gone := newElemIndex(at, vals)
	list := asList(cur)
	out := list[:0:0]
	for n, e := range list {
		if err := a.canceled(n); err != nil {
			return err
		}
		if !gone.matchesAny(e) {
			out = append(out, e)
		}
	}
	store(c, at, out)
	return nil
}

// subAttr applies an operation to a sub-attribute path without filter
// ("name.givenName", "emails.type"). On a multi-valued attribute it affects
// every element; add and replace create an element when there is none.
func (a *applier) subAttr(kind string, p path, v any) error {
	at, st, name := p.attr, p.sub, p.String()
	clearing := clears(kind, v)
	if clearing && st.Required {
		return scimerr.Mutability("attribute %q is required and cannot be removed", name)
	}
	c := a.container(p, !clearing)
	if c == nil {
		return nil
	}
	cur, _ := get(c, at.Name)
	var nv any
	if !clearing {
		var err error
		if nv, err = subValue(st, v, name); err != nil {
			return err
		}
		if isEmpty(nv) {
			if kind == OpAdd {
				return nil
			}
			clearing = true
		}
	}
	if !at.MultiValued {
		obj, _ := cur.(map[string]any)
		if clearing {
			if obj == nil {
				return nil
			}
			if old, ok := get(obj, st.Name); ok && st.Mutability == schema.Immutable && !isEmpty(old) {
				return scimerr.Mutability("attribute %q is immutable", name)
			}
			del(obj, st.Name)
			if len(obj) == 0 {
				delete(c, at.Name)
			}
			return nil
		}
		if obj == nil {
			obj = map[string]any{}
			c[at.Name] = obj
		}
		if old, ok := get(obj, st.Name); ok && st.Mutability == schema.Immutable && !equal(old, nv) {
			return scimerr.Mutability("attribute %q is immutable", name)
		}
		obj[st.Name] = nv
		return nil
	}
	list := asList(cur)
	if clearing {
		for _, e := range list {
			if m, ok := e.(map[string]any); ok {
				if old, ok := get(m, st.Name); ok && st.Mutability == schema.Immutable && !isEmpty(old) {
					return scimerr.Mutability("attribute %q is immutable", name)
				}
				del(m, st.Name)
			}
		}
		store(c, at, dropHollow(list))
		return nil
	}
	if len(list) == 0 {
		list = []any{map[string]any{st.Name: nv}}
	}
	for _, e := range list {
		m, ok := e.(map[string]any)
		if !ok {
			continue
		}
		if old, ok := get(m, st.Name); ok && st.Mutability == schema.Immutable && !equal(old, nv) {
			return scimerr.Mutability("attribute %q is immutable", name)
		}
		m[st.Name] = copyValue(nv)
	}
	store(c, at, list)
	return nil
}

// filtered applies an operation to a value path ("emails[type eq "work"]",
// optionally followed by a sub-attribute).
//
// It is long because RFC 7644 §3.5.2 and Entra's dialect give each operation
// kind (add, replace, remove; with or without a sub-attribute; matching or
// not) its own rule, and the rules read best side by side.
func (a *applier) filtered(kind string, p path, v any) error {
	at, st, name := p.attr, p.sub, p.String()
	clearing := clears(kind, v)
	c := a.container(p, !clearing)
	if c == nil {
		return nil
	}
	cur, present := get(c, at.Name)
	var list []any
	if at.MultiValued {
		list = asList(cur)
	} else if m, ok := cur.(map[string]any); ok {
		list = []any{m}
	}
	var matched []int
	for i, e := range list {
		if m, ok := e.(map[string]any); ok && p.match(m) {
			matched = append(matched, i)
		}
	}

	// The new sub-attribute value or element.
	var nv any
	var elem map[string]any
	if !clearing {
		var err error
		if st != nil {
			nv, err = subValue(st, v, name)
		} else {
			elem, err = elemValue(at, v, name)
		}
		if err != nil {
			return err
		}
		if (st != nil && isEmpty(nv)) || (st == nil && len(elem) == 0) {
			if kind == OpAdd {
				return nil
			}
			clearing = true
		}
	}

	if clearing {
		if len(matched) == 0 {
			return nil
		}
		if st != nil {
			if st.Required {
				return scimerr.Mutability("attribute %q is required and cannot be removed", name)
			}
			for _, i := range matched {
				m := list[i].(map[string]any)
				if old, ok := get(m, st.Name); ok && st.Mutability == schema.Immutable && !isEmpty(old) {
					return scimerr.Mutability("attribute %q is immutable", name)
				}
				del(m, st.Name)
			}
			list = dropHollow(list)
		} else {
			if at.Mutability == schema.Immutable {
				return scimerr.Mutability("attribute %q is immutable", name)
			}
			list = removeIndexes(list, matched)
		}
		if at.Required && len(list) == 0 {
			return scimerr.Mutability("attribute %q is required and cannot be removed", name)
		}
		store(c, at, list)
		return nil
	}

	cons, consOK := eqConstraints(at, p.expr)
	if len(matched) == 0 {
		// Entra ID: a value path that matches nothing creates the element.
		if !consOK {
			return scimerr.NoTarget("no value of %q matches the filter", name)
		}
		if st != nil {
			cons[st.Name] = nv
		} else {
			for k, x := range elem {
				cons[k] = x
			}
		}
		if at.MultiValued {
			list = append(list, cons)
		} else {
			if at.Mutability == schema.Immutable && present && !isEmpty(cur) {
				return scimerr.Mutability("attribute %q is immutable", name)
			}
			list = []any{cons}
		}
		fixPrimary(at, list, []int{len(list) - 1})
		store(c, at, list)
		return nil
	}

	for _, i := range matched {
		m := list[i].(map[string]any)
		switch {
		case st != nil:
			if old, ok := get(m, st.Name); ok && st.Mutability == schema.Immutable && !equal(old, nv) {
				return scimerr.Mutability("attribute %q is immutable", name)
			}
			m[st.Name] = copyValue(nv)
		case kind == OpAdd:
			for k, x := range elem {
				m[k] = copyValue(x)
			}
		default:
			ne := copyMap(elem)
			for k, x := range cons {
				if _, ok := ne[k]; !ok {
					ne[k] = x
				}
			}
			if at.Mutability == schema.Immutable && !equal(m, ne) {
				return scimerr.Mutability("attribute %q is immutable", name)
			}
			list[i] = ne
		}
	}
	fixPrimary(at, list, matched)
	store(c, at, list)
	return nil
}

// syncSchemas keeps the resource's "schemas" array in step with the
// extension objects that operations touched.
func (a *applier) syncSchemas() {
	if len(a.touched) == 0 {
		return
	}
	list, ok := a.res["schemas"].([]any)
	if !ok {
		return
	}
	for _, urn := range a.touched {
		m, _ := a.res[urn].(map[string]any)
		present := len(m) > 0
		idx := -1
		for i, s := range list {
			if s, ok := s.(string); ok && strings.EqualFold(s, urn) {
				idx = i
				break
			}
		}
		switch {
		case present && idx < 0:
			list = append(list, urn)
		case !present && idx >= 0:
			list = append(list[:idx:idx], list[idx+1:]...)
		}
	}
	a.res["schemas"] = list
}

// subValue coerces the value of sub-attribute st.
func subValue(st *schema.Attribute, v any, name string) (any, error) {
	if st.MultiValued {
		return coerceMulti(st, v, name, false)
	}
	x, err := unwrapSingle(v, name)
	if err != nil || isNull(x) {
		return nil, err
	}
	return coerce(st, x, name, false)
}

// elemValue coerces one element of complex attribute at.
func elemValue(at *schema.Attribute, v any, name string) (map[string]any, error) {
	x, err := unwrapSingle(v, name)
	if err != nil || isNull(x) {
		return nil, err
	}
	cv, err := coerce(at, x, name, false)
	if err != nil {
		return nil, err
	}
	return cv.(map[string]any), nil
}

// shorthand turns a string given for a single-valued complex attribute with
// a "value" sub-attribute into {"value": s}: Entra ID may send a manager as
// its id.
func shorthand(at *schema.Attribute, v any) any {
	if s, ok := v.(string); ok && at.Type == schema.Complex && !at.MultiValued && at.Sub("value") != nil {
		return map[string]any{at.Sub("value").Name: s}
	}
	return v
}

// isBlank reports whether v is an object whose members are all null or "".
func isBlank(v any) bool {
	m, ok := v.(map[string]any)
	if !ok {
		return false
	}
	for _, x := range m {
		if !isNull(x) {
			return false
		}
	}
	return true
}

// identityChanged reports whether a complex value replaces an object with a
// different "value" sub-attribute (a different manager, say).
func identityChanged(old, nv map[string]any) bool {
	ov, ok1 := old["value"]
	nvv, ok2 := nv["value"]
	return ok1 && ok2 && !equal(ov, nvv)
}

// store writes list as the value of at in c, deleting at when list is empty.
func store(c map[string]any, at *schema.Attribute, list []any) {
	switch {
	case len(list) == 0:
		delete(c, at.Name)
	case at.MultiValued:
		c[at.Name] = list
	default:
		c[at.Name] = list[0]
	}
}

// asList returns the elements of a multi-valued attribute's current value.
func asList(v any) []any {
	switch x := v.(type) {
	case nil:
		return nil
	case []any:
		return x
	}
	return []any{v}
}

// sameElem reports whether element x of multi-valued attribute at is the one
// that g describes: for objects with a "value", the same value (and type, if
// both have one); otherwise an equal value.
func sameElem(at *schema.Attribute, x, g any) bool {
	gm, ok := g.(map[string]any)
	if !ok {
		return equal(x, g)
	}
	xm, ok := x.(map[string]any)
	if !ok {
		return false
	}
	gv, ok := gm["value"]
	if !ok {
		return equal(xm, gm)
	}
	if !sameScalar(at.Sub("value"), xm["value"], gv) {
		return false
	}
	gt, ok1 := gm["type"]
	xt, ok2 := xm["type"]
	return !ok1 || !ok2 || sameScalar(at.Sub("type"), xt, gt)
}

func sameScalar(a *schema.Attribute, x, y any) bool {
	xs, ok1 := x.(string)
	ys, ok2 := y.(string)
	if ok1 && ok2 && a != nil && !a.CaseExact {
		return strings.EqualFold(xs, ys)
	}
	return equal(x, y)
}

// fixPrimary clears primary on the other elements when one of the elements
// at the touched indexes is primary (RFC 7643 §2.4). The last such element
// wins.
func fixPrimary(at *schema.Attribute, list []any, touched []int) {
	if at.Type != schema.Complex || at.Sub("primary") == nil {
		return
	}
	winner := -1
	for _, i := range touched {
		if m, ok := list[i].(map[string]any); ok && m["primary"] == true {
			winner = i
		}
	}
	if winner < 0 {
		return
	}
	for i, e := range list {
		if m, ok := e.(map[string]any); ok && i != winner && m["primary"] == true {
			m["primary"] = false
		}
	}
}

// dropHollow removes the elements left with nothing but "type" and
// "primary" after a sub-attribute was removed: an email without value is no
// email.
func dropHollow(list []any) []any {
	out := list[:0]
	for _, e := range list {
		if m, ok := e.(map[string]any); ok {
			hollow := true
			for k := range m {
				if k != "type" && k != "primary" {
					hollow = false
					break
				}
			}
			if hollow {
				continue
			}
		}
		out = append(out, e)
	}
	return out
}

func removeIndexes(list []any, idx []int) []any {
	out := list[:0]
	j := 0
	for i, e := range list {
		if j < len(idx) && idx[j] == i {
			j++
			continue
		}
		out = append(out, e)
	}
	return out
}

// eqConstraints returns the sub-attribute values a filter on complex
// attribute at requires by eq comparisons joined with and; ok is false when
// the filter has other parts.
func eqConstraints(at *schema.Attribute, e filter.Expr) (map[string]any, bool) {
	switch x := e.(type) {
	case *filter.Comparison:
		if x.Op != filter.EQ || x.Path.URN != "" || x.Path.Sub != "" || x.Value == nil {
			return nil, false
		}
		sub := at.Sub(x.Path.Name)
		if sub == nil || sub.MultiValued || sub.Type == schema.Complex {
			return nil, false
		}
		cv, err := coerce(sub, x.Value, sub.Name, true)
		if err != nil {
			return nil, false
		}
		return map[string]any{sub.Name: cv}, true
	case *filter.Logical:
		if x.Op != filter.AND {
			return nil, false
		}
		all := map[string]any{}
		for _, y := range x.Operands {
			c, ok := eqConstraints(at, y)
			if !ok {
				return nil, false
			}
			for k, v := range c {
				if old, ok := all[k]; ok && !equal(old, v) {
					return nil, false
				}
				all[k] = v
			}
		}
		return all, true
	}
	return nil, false
}
