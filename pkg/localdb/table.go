package localdb

import (
	"bytes"
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
	stored       // the item (in an index: its projection)
}

// stored is an item as the trees and the stream keep it: encoded in
// DynamoDB JSON (appendItem's encoding, which decodes to the same item),
// with its size as DynamoDB counts it. Encoded bytes hold no pointers, so
// the garbage collector does not walk every attribute of every item of a
// large table on each cycle, and a read without a projection or a filter
// answers with the bytes as they are. raw is nil when there is no item.
type stored struct {
	raw  []byte
	size int
}

// encodeItem returns it as stored.
func encodeItem(it item) stored {
	if it == nil {
		return stored{}
	}
	raw := appendItem(make([]byte, 0, it.size()+16*len(it)+16), it)
	if cap(raw) > len(raw)+len(raw)/4 {
		raw = bytes.Clone(raw) // the estimate was short; keep no spare capacity
	}
	return stored{raw: raw, size: it.size()}
}

// item decodes the stored item (nil when there is none).
func (s stored) item() item {
	if s.raw == nil {
		return nil
	}
	var it item
	if err := it.UnmarshalJSON(s.raw); err != nil {
		panic("localdb: a stored item does not decode: " + err.Error())
	}
	return it
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

// project returns what the index stores of it (s is it, stored).
func (ix *index) store(t *table, it item, s stored) stored {
	if ix.projection == "ALL" {
		return s
	}
	return encodeItem(ix.project(t, it))
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
	s, _ := t.getStored(h, r)
	return s.item()
}

// getStored returns the item with key (h, r) as stored.
func (t *table) getStored(h, r value) (stored, bool) {
	e, ok := t.tree.Get(&entry{h: h, r: r})
	if !ok {
		return stored{}, false
	}
	return e.stored, true
}

// set stores it (nil deletes the item with key h, r) and maintains every
// index. It returns what was stored before and what is stored now. O(log n)
// per tree.
func (t *table) set(h, r value, it item) (before, after stored) {
	return t.replace(h, r, nil, false, it)
}

// replace is set for a caller that has read the item stored under (h, r)
// under the same write lock: old (nil when there is none) spares decoding
// it again to find its index entries.
func (t *table) replace(h, r value, old item, haveOld bool, it item) (before, after stored) {
	after = encodeItem(it)
	var prev *entry
	var ok bool
	if it == nil {
		prev, ok = t.tree.Delete(&entry{h: h, r: r})
	} else {
		prev, ok = t.tree.Set(&entry{h: h, r: r, stored: after})
	}
	if ok {
		before = prev.stored
	}
	t.bytes += int64(after.size - before.size)
	if len(t.indexes) == 0 && t.ttlIndex == nil {
		return before, after
	}
	if !haveOld || (old == nil) != (before.raw == nil) {
		old = before.item()
	}
	if t.ttlIndex != nil {
		t.ttlIndex.update(t, h, r, old, it, after)
	}
	for _, ix := range t.indexes {
		ix.update(t, h, r, old, it, after)
	}
	return before, after
}

// update moves the index entry of the item with table key (h, r) from old
// to it (either may be nil); s is it, stored.
func (ix *index) update(t *table, h, r value, old, it item, s stored) {
	if old != nil {
		if ih, ir, ok := ix.key.key(old); ok {
			ix.tree.Delete(&entry{h: ih, r: ir, th: h, tr: r})
		}
	}
	if it != nil {
		if ih, ir, ok := ix.key.key(it); ok {
			ix.tree.Set(&entry{h: ih, r: ir, th: h, tr: r, stored: ix.store(t, it, s)})
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
		t.ttlIndex.update(t, e.h, e.r, nil, e.item(), e.stored)
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
