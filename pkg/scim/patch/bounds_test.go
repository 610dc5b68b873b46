package patch

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scimless/scimless/pkg/scim/schema"
	"github.com/scimless/scimless/pkg/scim/scimerr"
)

// emailValues returns n distinct email objects.
func emailValues(n int) []any {
	out := make([]any, n)
	for i := range out {
		out[i] = map[string]any{"value": fmt.Sprintf("user%d@example.com", i), "type": "work"}
	}
	return out
}

func stringValues(n int) []any {
	out := make([]any, n)
	for i := range out {
		out[i] = fmt.Sprintf("tag%d", i)
	}
	return out
}

func TestApplyCapsMultiValued(t *testing.T) {
	userRT, extRT := schema.UserResourceType(), testRT()
	legacy := jsonMap(t, oktaUser)
	legacy["emails"] = emailValues(schema.MaxValues + 50) // stored before the cap existed
	tests := []struct {
		name    string
		rt      *schema.ResourceType
		res     map[string]any
		ops     []Operation
		wantErr string // substring of the invalidValue detail; "" for success
		count   int    // values of attr after success
		attr    string
	}{
		{"add 20000 emails", userRT, jsonMap(t, oktaUser),
			[]Operation{{Op: OpAdd, Path: "emails", Value: emailValues(20000)}},
			`Operations[0]: attribute "emails" would hold 20001 values; at most 100 are allowed`, 0, ""},
		{"replace with one too many", userRT, jsonMap(t, oktaUser),
			[]Operation{{Op: OpReplace, Path: "emails", Value: emailValues(schema.MaxValues + 1)}},
			`attribute "emails" would hold 101 values`, 0, ""},
		{"replace with the cap", userRT, jsonMap(t, oktaUser),
			[]Operation{{Op: OpReplace, Path: "emails", Value: emailValues(schema.MaxValues)}},
			"", schema.MaxValues, "emails"},
		{"pathless add over the cap", userRT, jsonMap(t, oktaUser),
			[]Operation{{Op: OpAdd, Value: map[string]any{"emails": emailValues(schema.MaxValues)}}},
			`attribute "emails" would hold 101 values`, 0, ""},
		{"20000 duplicates of 3 values", userRT, jsonMap(t, oktaUser),
			[]Operation{{Op: OpAdd, Path: "emails", Value: func() []any {
				out := make([]any, 20000)
				for i := range out {
					out[i] = map[string]any{"value": fmt.Sprintf("DUP%d@example.com", i%3), "type": "work"}
				}
				return out
			}()}},
			"", 4, "emails"},
		{"value paths one at a time", userRT, jsonMap(t, oktaUser),
			func() []Operation {
				ops := make([]Operation, schema.MaxValues+5)
				for i := range ops {
					ops[i] = Operation{Op: OpAdd, Path: fmt.Sprintf(`emails[value eq "v%d@x"].type`, i), Value: "home"}
				}
				return ops
			}(),
			`Operations[99]: attribute "emails" would hold 101 values`, 0, ""},
		{"extension list over the cap", extRT, jsonMap(t, `{"id":"u1","userName":"x"}`),
			[]Operation{{Op: OpAdd, Path: testURN + ":tags", Value: stringValues(schema.MaxValues + 1)}},
			`attribute "` + testURN + `:tags" would hold 101 values`, 0, ""},
		{"legacy list may change without growing", userRT, legacy,
			[]Operation{{Op: OpReplace, Path: `emails[value eq "user3@example.com"].type`, Value: "home"}},
			"", schema.MaxValues + 50, "emails"},
		{"legacy list may shrink", userRT, legacy,
			[]Operation{{Op: OpRemove, Path: "emails", Value: emailValues(10)}},
			"", schema.MaxValues + 40, "emails"},
		{"legacy list may not grow", userRT, legacy,
			[]Operation{{Op: OpAdd, Path: "emails", Value: map[string]any{"value": "new@example.com"}}},
			`attribute "emails" would hold 151 values`, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Apply(t.Context(), tt.rt, tt.res, tt.ops)
			if tt.wantErr != "" {
				e, ok := scimerr.As(err)
				if !ok || e.ScimType != scimerr.InvalidValueType || !strings.Contains(e.Detail, tt.wantErr) {
					t.Fatalf("Apply: %v; want invalidValue containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Apply: %v", err)
			}
			if n := len(asList(got[tt.attr])); n != tt.count {
				t.Errorf("%s has %d values, want %d", tt.attr, n, tt.count)
			}
		})
	}
}

func TestApplyGroupMembersCap(t *testing.T) {
	members := make([]any, schema.MaxValues+1)
	for i := range members {
		members[i] = map[string]any{"value": fmt.Sprintf("u%d", i)}
	}
	// Members applied to the resource (not split off) follow the per-request
	// cap, not MaxValues.
	got, err := Apply(t.Context(), schema.GroupResourceType(), jsonMap(t, oktaGroup),
		[]Operation{{Op: OpAdd, Path: "members", Value: members}})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(asList(got["members"])); n != len(members) {
		t.Errorf("%d members, want %d", n, len(members))
	}
}

func memberList(prefix string, n int) []any {
	out := make([]any, n)
	for i := range out {
		out[i] = map[string]any{"value": fmt.Sprintf("%s%d", prefix, i)}
	}
	return out
}

func TestSplitMembersCap(t *testing.T) {
	rt := schema.GroupResourceType()
	max := schema.MaxMembersPerRequest
	tests := []struct {
		name string
		ops  []Operation
		ok   bool
	}{
		{"add the cap", []Operation{{Op: OpAdd, Path: "members", Value: memberList("a", max)}}, true},
		{"add one more", []Operation{{Op: OpAdd, Path: "members", Value: memberList("a", max+1)}}, false},
		{"replace over the cap", []Operation{{Op: OpReplace, Path: "members", Value: memberList("a", max+1)}}, false},
		{"pathless over the cap", []Operation{{Op: OpAdd, Value: map[string]any{"members": memberList("a", max+1)}}}, false},
		{"remove list over the cap", []Operation{{Op: OpRemove, Path: "members", Value: memberList("a", max+1)}}, false},
		{"summed over operations", []Operation{
			{Op: OpAdd, Path: "members", Value: memberList("a", max/2)},
			{Op: OpRemove, Path: "members", Value: memberList("r", max/2)},
			{Op: OpRemove, Path: `members[value eq "x"]`},
		}, false},
		{"remove all names no one", []Operation{
			{Op: OpAdd, Path: "members", Value: memberList("a", max)},
			{Op: OpRemove, Path: "members"},
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := SplitMembers(rt, tt.ops)
			if tt.ok {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			e, ok := scimerr.As(err)
			if !ok || e.ScimType != scimerr.InvalidValueType || !strings.Contains(e.Detail, fmt.Sprint(max)) {
				t.Fatalf("SplitMembers: %v; want invalidValue naming the cap", err)
			}
		})
	}
}

// countingCtx is a context whose Err reports cancellation from the given
// call on, so that a test sees whether long loops check their context
// without depending on time.
type countingCtx struct {
	context.Context
	calls, cancelAt atomic.Int64
}

func (c *countingCtx) Err() error {
	if c.calls.Add(1) >= c.cancelAt.Load() {
		return context.Canceled
	}
	return nil
}

func (c *countingCtx) Deadline() (time.Time, bool) { return time.Time{}, false }

func TestApplyStopsWhenCanceled(t *testing.T) {
	rt := schema.UserResourceType()
	legacy := jsonMap(t, oktaUser)
	legacy["emails"] = emailValues(50000)
	for _, tt := range []struct {
		name string
		res  map[string]any
		ops  []Operation
	}{
		{"add", jsonMap(t, oktaUser), []Operation{{Op: OpAdd, Path: "emails", Value: emailValues(50000)}}},
		{"remove values", legacy, []Operation{{Op: OpRemove, Path: "emails", Value: emailValues(10)}}},
		{"many operations", jsonMap(t, oktaUser), func() []Operation {
			ops := make([]Operation, 5000)
			for i := range ops {
				ops[i] = Operation{Op: OpReplace, Path: "title", Value: "t"}
			}
			return ops
		}()},
		{"pathless keys", jsonMap(t, oktaUser), []Operation{{Op: OpAdd, Value: func() map[string]any {
			m := map[string]any{}
			for i := range 5000 {
				m[fmt.Sprintf("name.givenName%d", i)] = "x" // invalid, but only after the context ends
			}
			return m
		}()}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for _, at := range []int64{1, 3} {
				ctx := &countingCtx{Context: t.Context()}
				ctx.cancelAt.Store(at)
				got, err := Apply(ctx, rt, tt.res, tt.ops)
				if !errors.Is(err, context.Canceled) || got != nil {
					t.Fatalf("Apply with a context ending at check %d = %v, %v; want context.Canceled", at, got != nil, err)
				}
			}
		})
	}
}

// firstSame is the reference for elemIndex.find: the first element that
// sameElem says g describes.
func firstSame(at *schema.Attribute, list []any, g any) int {
	for i, x := range list {
		if sameElem(at, x, g) {
			return i
		}
	}
	return -1
}

// mergeReference adds vals to list one by one the way sameElem defines,
// scanning the list for each value.
func mergeReference(at *schema.Attribute, list, vals []any) []any {
	for _, e := range vals {
		i := firstSame(at, list, e)
		if i < 0 {
			list = append(list, e)
			continue
		}
		xm, ok1 := list[i].(map[string]any)
		em, ok2 := e.(map[string]any)
		if ok1 && ok2 {
			for k, v := range em {
				xm[k] = v
			}
		} else {
			list[i] = e
		}
	}
	return list
}

// randomElem returns an element drawn from a small space, so that matches
// are frequent: values and types in several letter cases (ſ and K fold to s
// and k), with or without type, numbers, non-objects and objects without
// value.
func randomElem(r *rand.Rand) any {
	values := []any{"a", "A", "s", "S", "ſ", "k", "K", "K", "é", "É", 1.0, 2.0, true}
	types := []any{"work", "WORK", "home", 3.0}
	switch r.IntN(8) {
	case 0:
		return values[r.IntN(len(values))]
	case 1:
		return map[string]any{"display": values[r.IntN(len(values))]}
	}
	m := map[string]any{"value": values[r.IntN(len(values))]}
	if r.IntN(2) == 0 {
		m["type"] = types[r.IntN(len(types))]
	}
	if r.IntN(3) == 0 {
		m["primary"] = r.IntN(2) == 0
	}
	return m
}

// TestElemIndexMatchesSameElem checks the index against sameElem on random
// lists: the same element is found, the same elements are removed and
// adding values one by one gives the same list.
func TestElemIndexMatchesSameElem(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	emails := schema.UserResourceType().Schema.Attr("emails")
	exact := &schema.Attribute{Name: "x", Type: schema.Complex, MultiValued: true, SubAttributes: []*schema.Attribute{
		{Name: "value", Type: schema.String, CaseExact: true},
		{Name: "type", Type: schema.String, CaseExact: true},
	}}
	for _, at := range []*schema.Attribute{emails, exact} {
		for range 2000 {
			list := make([]any, r.IntN(12))
			for i := range list {
				list[i] = randomElem(r)
			}
			vals := make([]any, r.IntN(8))
			for i := range vals {
				vals[i] = randomElem(r)
			}
			ix := newElemIndex(at, list)
			for _, g := range vals {
				if got, want := ix.find(g), firstSame(at, list, g); got != want {
					t.Fatalf("%s: find(%v) in %v = %d, want %d", at.Name, g, list, got, want)
				}
			}
			gone := newElemIndex(at, vals)
			for _, x := range list {
				want := false
				for _, g := range vals {
					want = want || sameElem(at, x, g)
				}
				if got := gone.matchesAny(x); got != want {
					t.Fatalf("%s: matchesAny(%v) for %v = %v, want %v", at.Name, x, vals, got, want)
				}
			}

			want := mergeReference(at, copyValue(list).([]any), copyValue(vals).([]any))
			got := copyValue(list).([]any)
			ix = newElemIndex(at, got)
			for _, e := range copyValue(vals).([]any) {
				if i := ix.find(e); i < 0 {
					got = append(got, e)
					ix.add(e, len(got)-1)
				} else {
					ix.merge(got, i, e)
				}
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("%s: adding %v to %v gives %v, want %v", at.Name, vals, list, got, want)
			}
		}
	}
}
