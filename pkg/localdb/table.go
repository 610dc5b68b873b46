package localdb

import (
	"strings"
	"time"

	"github.com/tidwall/btree"
)

// keySchema names a table's or index's key attributes and their types.
type keySchema struct {
	hash, rng         string
	hashType, rngType kind // rngType is 0 when there is no sort key
}

// item returns the key attributes of the item with key (h, r).
func (ks keySchema) item(h, r value) item {
	k := item{ks.hash: h}
	if ks.rng != "" {
		k[ks.rng] = r
	}
	return k
}

// key extracts the key of it under ks; ok is false when an attribute is
// missing or has the wrong type (for an index: the item is not indexed).
func (ks keySchema) key(it item) (h, r value, ok bool) {
	h, ok = it[ks.hash]
	if !ok || h.k != ks.hashType {
		return h, r, false
	}
	if ks.rng != "" {
		r, ok = it[ks.rng]
		if !ok || r.k != ks.rngType {
			return h, r, false
		}
	}
	return h, r, true
}

// bound is a position in a key order: a value, or below/above every value.
type bound int8

const (
	atValue  bound = 0
	belowAll bound = -1
	aboveAll bound = 1
)

// entry is a stored item under its table key, or (in an index) under the
// index key followed by the table key. Pivots for range walks set the bound
// fields; stored entries never do.
type entry struct {
	h, r   value // table or index key
	th, tr value // table key (index entries only)
	rb     bound // position of r when it is a pivot
	tb     bound // position of (th, tr) when it is a pivot
	it     item
}

func lessTable(a, b *entry) bool {
	if c := compareScalar(a.h, b.h); c != 0 {
		return c < 0
	}
	return compareBounded(a.r, a.rb, b.r, b.rb) < 0
}

func compareBounded(a value, ab bound, b value, bb bound) int {
	if ab != atValue || bb != atValue {
		switch {
		case ab == bb:
			return 0
		case ab < bb:
			return -1
		}
		return 1
	}
	if a.k == 0 && b.k == 0 {
		return 0
	}
	return compareScalar(a, b)
}

func lessIndex(a, b *entry) bool {
	if c := compareScalar(a.h, b.h); c != 0 {
		return c < 0
	}
	if c := compareBounded(a.r, a.rb, b.r, b.rb); c != 0 {
		return c < 0
	}
	if a.tb != atValue || b.tb != atValue {
		return a.tb < b.tb
	}
	if c := compareScalar(a.th, b.th); c != 0 {
		return c < 0
	}
	if a.tr.k == 0 && b.tr.k == 0 {
		return false
	}
	return compareScalar(a.tr, b.tr) < 0
}

// index is a global secondary index: its own ordered tree over the items
// that carry its key attributes (a sparse index holds only those).
type index struct {
	name       string
	key        keySchema
	projection string   // ALL, KEYS_ONLY or INCLUDE
	include    []string // INCLUDE's non-key attributes
	tree       *btree.BTreeG[*entry]
}

// project returns what the index stores of it.
func (ix *index) project(t *table, it item) item {
	if ix.projection == "ALL" {
		return it
	}
	out := item{}
	for _, a := range []string{t.key.hash, t.key.rng, ix.key.hash, ix.key.rng} {
		if v, ok := it[a]; ok && a != "" {
			out[a] = v
		}
	}
	for _, a := range ix.include {
		if v, ok := it[a]; ok {
			out[a] = v
		}
	}
	return out
}

// table is one table's data and definition.
type table struct {
	name       string
	key        keySchema
	attrDefs   []attrDef
	createBody []byte // the CreateTable request, for snapshots
	indexes    []*index
	created    time.Time
	ttlAttr    string
	ttlIndex   *index    // items by TTL attribute, when TTL is enabled
	stream     *stream   // the enabled stream, if any
	streams    []*stream // every stream of the table, newest last
	tree       *btree.BTreeG[*entry]
	bytes      int64
}

type attrDef struct {
	AttributeName string `json:"AttributeName"`
	AttributeType string `json:"AttributeType"`
}

func newTree(less func(a, b *entry) bool) *btree.BTreeG[*entry] {
	return btree.NewBTreeGOptions(less, btree.Options{NoLocks: true, Degree: 32})
}

func (t *table) index(name string) *index {
	for _, ix := range t.indexes {
		if ix.name == name {
			return ix
		}
	}
	return nil
}

// get returns the item with key (h, r), or nil.
func (t *table) get(h, r value) item {
	e, ok := t.tree.Get(&entry{h: h, r: r})
	if !ok {
		return nil
	}
	return e.it
}

// set stores it (nil deletes the item with key h, r) and maintains every
// index. It returns the previous item. O(log n) per tree.
func (t *table) set(h, r value, it item) item {
	var old item
	if it == nil {
		if prev, ok := t.tree.Delete(&entry{h: h, r: r}); ok {
			old = prev.it
		}
	} else {
		if prev, ok := t.tree.Set(&entry{h: h, r: r, it: it}); ok {
			old = prev.it
		}
	}
	if old != nil {
		t.bytes -= int64(old.size())
	}
	if it != nil {
		t.bytes += int64(it.size())
	}
	if t.ttlIndex != nil {
		t.ttlIndex.update(t, h, r, old, it)
	}
	for _, ix := range t.indexes {
		ix.update(t, h, r, old, it)
	}
	return old
}

// update moves the index entry of the item with table key (h, r) from old
// to it (either may be nil).
func (ix *index) update(t *table, h, r value, old, it item) {
	{
		if old != nil {
			if ih, ir, ok := ix.key.key(old); ok {
				ix.tree.Delete(&entry{h: ih, r: ir, th: h, tr: r})
			}
		}
		if it != nil {
			if ih, ir, ok := ix.key.key(it); ok {
				ix.tree.Set(&entry{h: ih, r: ir, th: h, tr: r, it: ix.project(t, it)})
			}
		}
	}
}

// enableTTL starts keeping items ordered by attr (O(n) once).
func (t *table) enableTTL(attr string) {
	t.ttlAttr = attr
	if attr == "" {
		t.ttlIndex = nil
		return
	}
	t.ttlIndex = &index{name: "ttl", key: keySchema{hash: attr, hashType: kN}, projection: "KEYS_ONLY", tree: newTree(lessIndex)}
	t.tree.Scan(func(e *entry) bool {
		t.ttlIndex.update(t, e.h, e.r, nil, e.it)
		return true
	})
}

// keyRange is the part of one partition a query reads.
type keyRange struct {
	lo, hi     value
	loB, hiB   bound // belowAll/aboveAll when unbounded
	loIn, hiIn bool  // inclusive
	prefix     string
	hasPrefix  bool
}

// inLo reports whether r is at or above the lower bound.
func (kr *keyRange) inLo(r value) bool {
	if kr.loB == belowAll {
		return true
	}
	c := compareScalar(r, kr.lo)
	return c > 0 || c == 0 && kr.loIn
}

func (kr *keyRange) inHi(r value) bool {
	if kr.hasPrefix {
		return strings.HasPrefix(r.s, kr.prefix)
	}
	if kr.hiB == aboveAll {
		return true
	}
	c := compareScalar(r, kr.hi)
	return c < 0 || c == 0 && kr.hiIn
}

// walk visits, in key order (or reverse), the entries of partition h within
// kr, starting after start when start is not nil; fn returns false to stop.
// Cost: O(log n) to find the start, then O(1) amortised per entry visited.
func walk(tree *btree.BTreeG[*entry], isIndex bool, h value, kr keyRange, start *entry, forward bool, fn func(e *entry) bool) {
	samePart := func(e *entry) bool { return compareScalar(e.h, h) == 0 }
	if forward {
		pivot := &entry{h: h, r: kr.lo, rb: kr.loB}
		if kr.loB == atValue && !kr.loIn {
			pivot.tb = aboveAll // (h, lo) itself is skipped by inLo
		} else if isIndex {
			pivot.tb = belowAll
		}
		if start != nil {
			pivot = start
		}
		tree.Ascend(pivot, func(e *entry) bool {
			if start != nil && !lessEntry(isIndex, start, e) {
				return true // the start key itself
			}
			if !samePart(e) {
				return false
			}
			if !kr.inLo(e.r) {
				return true
			}
			if !kr.inHi(e.r) {
				return false
			}
			return fn(e)
		})
		return
	}
	var pivot *entry
	switch {
	case start != nil:
		pivot = start
	case kr.hasPrefix:
		if succ, ok := prefixSuccessor(kr.prefix); ok {
			pivot = &entry{h: h, r: value{k: kr.lo.k, s: succ}, tb: belowAll}
		} else {
			pivot = &entry{h: h, rb: aboveAll}
		}
	case kr.hiB == aboveAll:
		pivot = &entry{h: h, rb: aboveAll}
	default:
		pivot = &entry{h: h, r: kr.hi, tb: aboveAll}
	}
	tree.Descend(pivot, func(e *entry) bool {
		if start != nil && !lessEntry(isIndex, e, start) {
			return true
		}
		if !samePart(e) {
			return false
		}
		if !kr.inHi(e.r) {
			if kr.hasPrefix && compareScalar(e.r, value{k: e.r.k, s: kr.prefix}) < 0 {
				return false
			}
			return true
		}
		if !kr.inLo(e.r) {
			return false
		}
		return fn(e)
	})
}

func lessEntry(isIndex bool, a, b *entry) bool {
	if isIndex {
		return lessIndex(a, b)
	}
	return lessTable(a, b)
}

// prefixSuccessor returns the smallest string greater than every string
// with prefix p (false when there is none).
func prefixSuccessor(p string) (string, bool) {
	b := []byte(p)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < 0xff {
			b[i]++
			return string(b[:i+1]), true
		}
	}
	return "", false
}
