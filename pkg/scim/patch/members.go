package patch

import (
	"slices"
	"strings"

	"github.com/scimless/scimless/pkg/scim/filter"
	"github.com/scimless/scimless/pkg/scim/schema"
	"github.com/scimless/scimless/pkg/scim/scimerr"
)

// MemberChange is the net effect of the member operations of a Group PATCH,
// as member ids. When ReplaceAll is false, the ids in Remove leave the group
// (if members) and the ids in Add join it (if not yet members); no id is in
// both. When ReplaceAll is true, Add is the complete new member set (possibly
// empty) and Remove is empty.
type MemberChange struct {
	Add        []string
	Remove     []string
	ReplaceAll bool
}

// Empty reports whether the change leaves the members as they are.
func (mc MemberChange) Empty() bool {
	return !mc.ReplaceAll && len(mc.Add) == 0 && len(mc.Remove) == 0
}

// SplitMembers takes the operations on the members attribute of rt (a Group
// resource type) out of ops: operations whose path is "members" or a value
// path like members[value eq "id"], and the "members" key of pathless add
// and replace values (the other keys stay in a pathless operation in rest).
// It returns the remaining operations, in order, and the net effect of the
// member operations applied in order:
//   - add members [...]: the listed ids join;
//   - replace members [...]: the listed ids become the whole set
//     (ReplaceAll); replace with null or [] empties the group;
//   - remove members (no value): all members leave (ReplaceAll, empty Add);
//   - remove members with a value list (Entra ID): only the listed ids leave;
//   - remove members[value eq "a" or value eq "b"]: a and b leave;
//   - replace members[value eq "a"] with a value: a leaves, the listed ids join.
//
// Member values must be objects with a non-empty string "value"; "$ref"
// (also null), "display" and "type" are accepted and ignored. The operations
// may name at most [schema.MaxMembersPerRequest] members in all, counting
// every id each operation lists. Errors are 400 *scimerr.Error values:
// invalidValue for malformed members or too many of them,
// invalidFilter for member filters other than value eq comparisons joined
// with or, mutability for paths to member sub-attributes, and invalidPath
// for malformed paths. If rt has no multi-valued members attribute, ops are
// returned unchanged.
func SplitMembers(rt *schema.ResourceType, ops []Operation) (rest []Operation, mc MemberChange, err error) {
	members := rt.Schema.Attr("members")
	if members == nil || !members.MultiValued {
		return append([]Operation(nil), ops...), mc, nil
	}
	var st memberState
	for i, op := range ops {
		rest, err = st.op(rt, members, op, rest)
		if err != nil {
			return nil, MemberChange{}, withIndex(i, err)
		}
	}
	return rest, st.change(), nil
}

// memberState accumulates member operations: each id's net effect, in
// first-seen order.
type memberState struct {
	replaceAll bool
	order      []string
	effect     map[string]int8 // joins, leaves or none
	named      int             // ids the operations listed so far
}

// name counts ids named by an operation against schema.MaxMembersPerRequest.
func (st *memberState) name(ids []string) error {
	st.named += len(ids)
	if st.named > schema.MaxMembersPerRequest {
		return scimerr.InvalidValue("a request may name at most %d members; send the rest in further requests", schema.MaxMembersPerRequest)
	}
	return nil
}

const (
	none   int8 = 0
	joins  int8 = 1
	leaves int8 = -1
)

func (st *memberState) set(id string, e int8) {
	if st.effect == nil {
		st.effect = map[string]int8{}
	}
	if _, seen := st.effect[id]; !seen {
		st.order = append(st.order, id)
	}
	st.effect[id] = e
}

func (st *memberState) join(id string) { st.set(id, joins) }

func (st *memberState) leave(id string) {
	if st.replaceAll {
		// The new set is explicit: leaving only undoes a join.
		if _, seen := st.effect[id]; seen {
			st.effect[id] = none
		}
		return
	}
	st.set(id, leaves)
}

func (st *memberState) setAll(ids []string) {
	st.replaceAll, st.order = true, nil
	clear(st.effect)
	for _, id := range ids {
		st.join(id)
	}
}

func (st *memberState) change() MemberChange {
	mc := MemberChange{ReplaceAll: st.replaceAll}
	if st.replaceAll {
		mc.Add = []string{}
	}
	for _, id := range st.order {
		switch st.effect[id] {
		case joins:
			mc.Add = append(mc.Add, id)
		case leaves:
			mc.Remove = append(mc.Remove, id)
		}
	}
	return mc
}

// op handles one operation, appending it to rest unless it is a member
// operation.
//
// It is long because it is one switch over the member operations of Okta's and
// Entra's dialects, each case a few lines.
func (st *memberState) op(rt *schema.ResourceType, members *schema.Attribute, op Operation, rest []Operation) ([]Operation, error) {
	kind, ok := normaliseOp(op.Op)
	if !ok {
		return append(rest, op), nil // Apply reports it.
	}
	if strings.TrimSpace(op.Path) == "" {
		obj, ok := op.Value.(map[string]any)
		if kind == OpRemove || !ok {
			return append(rest, op), nil
		}
		var others map[string]any
		found := false
		for k, v := range obj {
			if !isMembersKey(rt, k) {
				continue
			}
			found = true
			ids, err := memberIDs(v)
			if err == nil {
				err = st.name(ids)
			}
			if err != nil {
				return nil, err
			}
			if kind == OpReplace {
				st.setAll(ids)
			} else {
				for _, id := range ids {
					st.join(id)
				}
			}
		}
		if !found {
			return append(rest, op), nil
		}
		for k, v := range obj {
			if !isMembersKey(rt, k) {
				if others == nil {
					others = make(map[string]any, len(obj))
				}
				others[k] = v
			}
		}
		if others != nil {
			rest = append(rest, Operation{Op: op.Op, Value: others})
		}
		return rest, nil
	}

	p, err := resolve(rt, op.Path)
	if err != nil || p.ext || p.attr != members {
		return append(rest, op), nil // not members; Apply reports bad paths
	}
	if p.sub != nil {
		return nil, scimerr.Mutability("sub-attributes of %q cannot be changed", members.Name)
	}
	var filtered []string
	if p.expr != nil {
		if filtered, err = filterIDs(p.expr); err != nil {
			return nil, err
		}
		if err := st.name(filtered); err != nil {
			return nil, err
		}
	}
	var ids []string // the listed members; a remove with a filter ignores its value
	if kind != OpRemove || (p.expr == nil && op.Value != nil) {
		if ids, err = memberIDs(op.Value); err != nil {
			return nil, err
		}
		if err := st.name(ids); err != nil {
			return nil, err
		}
	}
	switch kind {
	case OpAdd:
		for _, id := range ids {
			st.join(id)
		}
	case OpReplace:
		if p.expr == nil {
			st.setAll(ids)
			break
		}
		for _, id := range filtered {
			st.leave(id)
		}
		for _, id := range ids {
			st.join(id)
		}
	case OpRemove:
		switch {
		case p.expr != nil:
			for _, id := range filtered {
				st.leave(id)
			}
		case op.Value == nil:
			st.setAll(nil)
		default:
			// Entra ID: remove only the listed members.
			for _, id := range ids {
				st.leave(id)
			}
		}
	}
	return rest, nil
}

// isMembersKey reports whether a pathless value key names members.
func isMembersKey(rt *schema.ResourceType, k string) bool {
	k = strings.TrimSpace(k)
	if strings.EqualFold(k, "members") {
		return true
	}
	return len(k) == len(rt.Schema.ID)+len(":members") &&
		strings.EqualFold(k, rt.Schema.ID+":members")
}

// memberIDs returns the ids of a members value: an array of (or a single)
// {"value": "id"} objects. null and "" mean no members.
func memberIDs(v any) ([]string, error) {
	var list []any
	switch x := v.(type) {
	case nil:
		return nil, nil
	case string:
		if x == "" {
			return nil, nil
		}
		return nil, scimerr.InvalidValue("members must be objects with a \"value\", not a string")
	case []any:
		list = x
	default:
		list = []any{x}
	}
	ids := make([]string, 0, len(list))
	for i, e := range list {
		m, ok := e.(map[string]any)
		if !ok {
			return nil, scimerr.InvalidValue("members[%d] must be an object with a \"value\", not %s", i, jsonKind(e))
		}
		var id any
		for k, x := range m {
			if strings.EqualFold(k, "value") {
				id = x
			}
		}
		s, ok := id.(string)
		if !ok || strings.TrimSpace(s) == "" {
			return nil, scimerr.InvalidValue("members[%d].value must be a non-empty string", i)
		}
		ids = append(ids, s)
	}
	return ids, nil
}

// filterIDs returns the member ids a members value filter selects: value eq
// comparisons joined with or (and: the ids all operands allow; operands
// that are not such comparisons allow any).
func filterIDs(e filter.Expr) ([]string, error) {
	switch x := e.(type) {
	case *filter.Comparison:
		s, ok := x.Value.(string)
		if ok && x.Op == filter.EQ && x.Path.URN == "" && x.Path.Sub == "" && strings.EqualFold(x.Path.Name, "value") {
			return []string{s}, nil
		}
	case *filter.Logical:
		if x.Op == filter.OR {
			var ids []string
			for _, y := range x.Operands {
				more, err := filterIDs(y)
				if err != nil {
					return nil, err
				}
				ids = append(ids, more...)
			}
			return ids, nil
		}
		var ids []string
		constrained := false
		for _, y := range x.Operands {
			more, err := filterIDs(y)
			if err != nil {
				continue
			}
			if !constrained {
				ids, constrained = more, true
				continue
			}
			allowed := make(map[string]bool, len(more))
			for _, id := range more {
				allowed[id] = true
			}
			ids = slices.DeleteFunc(ids, func(id string) bool { return !allowed[id] })
		}
		if constrained {
			return ids, nil
		}
	}
	return nil, scimerr.InvalidFilter("member filters must compare value with eq, as in members[value eq \"id\"]")
}
