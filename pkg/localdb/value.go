package localdb

import (
	"encoding/base64"
	"math/big"
	"sort"
	"strconv"
	"strings"

	"github.com/scimless/scimless/pkg/jsonstr"
)

// kind is a DynamoDB attribute type.
type kind uint8

const (
	kS kind = iota + 1
	kN
	kB
	kBOOL
	kNULL
	kSS
	kNS
	kBS
	kL
	kM
)

var kindNames = [...]string{kS: "S", kN: "N", kB: "B", kBOOL: "BOOL", kNULL: "NULL", kSS: "SS", kNS: "NS", kBS: "BS", kL: "L", kM: "M"}

func (k kind) String() string {
	if int(k) < len(kindNames) && kindNames[k] != "" {
		return kindNames[k]
	}
	return "?"
}

// value is one DynamoDB attribute value. Values stored in a table are never
// modified in place: an update builds new values, so a stored item can be
// handed to readers (and to stream records) without copying.
type value struct {
	k kind
	b bool   // BOOL
	s string // S text, N canonical decimal, B raw bytes
	// c holds a set ([]string: SS, NS canonical, BS raw bytes; no
	// duplicates), a list ([]value) or a map (map[string]value). One
	// interface field instead of three keeps scalar values, most of a
	// table, at 40 bytes.
	c any
}

func (v value) setv() []string {
	s, _ := v.c.([]string)
	return s
}

func (v value) listv() []value {
	l, _ := v.c.([]value)
	return l
}

func (v value) mapv() map[string]value {
	m, _ := v.c.(map[string]value)
	return m
}

// item is a stored or requested item: attribute name to value.
type item map[string]value

func sv(s string) value { return value{k: kS, s: s} }

// UnmarshalJSON decodes a value in DynamoDB JSON (`{"S":"x"}`).
func (v *value) UnmarshalJSON(data []byte) error {
	d := &avDecoder{b: data}
	x, err := d.value()
	if err != nil {
		return err
	}
	*v = x
	return nil
}

// newSet checks a set has no duplicates, as DynamoDB requires.
func newSet(in []string, typ string) ([]string, error) {
	seen := make(map[string]struct{}, len(in))
	for _, s := range in {
		if _, dup := seen[s]; dup {
			return nil, validationf("One or more parameter values were invalid: Input collection [%s] of type %s contains duplicates.", strings.Join(in, ", "), typ)
		}
		seen[s] = struct{}{}
	}
	return in, nil
}

// MarshalJSON encodes the value in DynamoDB JSON.
func (v value) MarshalJSON() ([]byte, error) { return v.appendJSON(nil), nil }

// MarshalJSON encodes the item in DynamoDB JSON.
func (it item) MarshalJSON() ([]byte, error) { return appendItem(nil, it), nil }

func appendItem(b []byte, it item) []byte {
	if it == nil {
		return append(b, "null"...)
	}
	keys := make([]string, 0, len(it))
	for k := range it {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = jsonstr.Append(b, k)
		b = append(b, ':')
		b = it[k].appendJSON(b)
	}
	return append(b, '}')
}

func (v value) appendJSON(b []byte) []byte {
	b = append(b, `{"`...)
	b = append(b, v.k.String()...)
	b = append(b, `":`...)
	switch v.k {
	case kS:
		b = jsonstr.Append(b, v.s)
	case kN:
		b = jsonstr.Append(b, v.s)
	case kB:
		b = appendBase64(b, v.s)
	case kBOOL, kNULL:
		b = strconv.AppendBool(b, v.b)
	case kSS, kNS:
		b = append(b, '[')
		for i, s := range v.setv() {
			if i > 0 {
				b = append(b, ',')
			}
			b = jsonstr.Append(b, s)
		}
		b = append(b, ']')
	case kBS:
		b = append(b, '[')
		for i, s := range v.setv() {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendBase64(b, s)
		}
		b = append(b, ']')
	case kL:
		b = append(b, '[')
		for i, e := range v.listv() {
			if i > 0 {
				b = append(b, ',')
			}
			b = e.appendJSON(b)
		}
		b = append(b, ']')
	case kM:
		b = appendItem(b, item(v.mapv()))
	}
	return append(b, '}')
}

func appendBase64(b []byte, s string) []byte {
	b = append(b, '"')
	b = base64.StdEncoding.AppendEncode(b, []byte(s))
	return append(b, '"')
}

// equal reports whether two values are the same DynamoDB value (sets compare
// as sets).
func equal(a, b value) bool {
	if a.k != b.k {
		return false
	}
	switch a.k {
	case kS, kB:
		return a.s == b.s
	case kN:
		return compareNumbers(a.s, b.s) == 0
	case kBOOL, kNULL:
		return a.b == b.b
	case kSS, kNS, kBS:
		if len(a.setv()) != len(b.setv()) {
			return false
		}
		for _, x := range a.setv() {
			if !setHas(b, x) {
				return false
			}
		}
		return true
	case kL:
		if len(a.listv()) != len(b.listv()) {
			return false
		}
		for i := range a.listv() {
			if !equal(a.listv()[i], b.listv()[i]) {
				return false
			}
		}
		return true
	case kM:
		if len(a.mapv()) != len(b.mapv()) {
			return false
		}
		for k, x := range a.mapv() {
			y, ok := b.mapv()[k]
			if !ok || !equal(x, y) {
				return false
			}
		}
		return true
	}
	return false
}

// setHas reports whether set value s holds element x.
func setHas(s value, x string) bool {
	for _, e := range s.setv() {
		if e == x || (s.k == kNS && compareNumbers(e, x) == 0) {
			return true
		}
	}
	return false
}

// compareScalar orders two values of the same scalar type (S, N or B) the way
// DynamoDB orders keys: S by UTF-8 bytes, N numerically, B by bytes.
func compareScalar(a, b value) int {
	if a.k == kN {
		return compareNumbers(a.s, b.s)
	}
	return strings.Compare(a.s, b.s)
}

// size returns the value's size as DynamoDB counts it toward the 400 KB
// item limit.
func (v value) size() int {
	switch v.k {
	case kS, kB:
		return len(v.s)
	case kN:
		return numberSize(v.s)
	case kBOOL, kNULL:
		return 1
	case kSS, kBS:
		n := 0
		for _, s := range v.setv() {
			n += len(s)
		}
		return n
	case kNS:
		n := 0
		for _, s := range v.setv() {
			n += numberSize(s)
		}
		return n
	case kL:
		n := 3
		for _, e := range v.listv() {
			n += e.size() + 1
		}
		return n
	case kM:
		n := 3
		for k, e := range v.mapv() {
			n += len(k) + e.size() + 1
		}
		return n
	}
	return 0
}

func numberSize(s string) int {
	digits := 0
	for i := 0; i < len(s); i++ {
		if s[i] >= '0' && s[i] <= '9' {
			digits++
		}
	}
	return (digits+1)/2 + 1
}

// size returns the item's size: attribute names plus values.
func (it item) size() int {
	n := 0
	for k, v := range it {
		n += len(k) + v.size()
	}
	return n
}

// clone returns a shallow copy of the item (values are immutable).
func (it item) clone() item {
	c := make(item, len(it)+2)
	for k, v := range it {
		c[k] = v
	}
	return c
}

// ---- numbers ----

// decimal is a parsed DynamoDB number: value = ±0.digits × 10^exp, digits
// without leading or trailing zeros ("" is zero).
type decimal struct {
	neg    bool
	digits string
	exp    int
}

// parseDecimal parses a number string (sign, digits, optional fraction and
// exponent).
func parseDecimal(s string) (decimal, bool) {
	var d decimal
	i := 0
	if i < len(s) && (s[i] == '-' || s[i] == '+') {
		d.neg = s[i] == '-'
		i++
	}
	var mant strings.Builder
	point := -1
	seen := false
	for ; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			mant.WriteByte(c)
			seen = true
		case c == '.' && point < 0:
			point = mant.Len()
		default:
			goto exp
		}
	}
exp:
	if !seen {
		return d, false
	}
	e := 0
	if i < len(s) {
		if s[i] != 'e' && s[i] != 'E' {
			return d, false
		}
		n, err := strconv.Atoi(s[i+1:])
		if err != nil || strings.HasPrefix(s[i+1:], "+") && len(s[i+1:]) == 1 {
			return d, false
		}
		e = n
	}
	m := mant.String()
	if point < 0 {
		point = len(m)
	}
	// strip leading zeros
	lead := 0
	for lead < len(m) && m[lead] == '0' {
		lead++
	}
	m = m[lead:]
	point -= lead
	m = strings.TrimRight(m, "0")
	if m == "" {
		return decimal{}, true
	}
	d.digits = m
	d.exp = point + e
	return d, true
}

func (d decimal) String() string {
	if d.digits == "" {
		return "0"
	}
	var b strings.Builder
	if d.neg {
		b.WriteByte('-')
	}
	switch {
	case d.exp <= 0:
		b.WriteString("0.")
		b.WriteString(strings.Repeat("0", -d.exp))
		b.WriteString(d.digits)
	case d.exp >= len(d.digits):
		b.WriteString(d.digits)
		b.WriteString(strings.Repeat("0", d.exp-len(d.digits)))
	default:
		b.WriteString(d.digits[:d.exp])
		b.WriteByte('.')
		b.WriteString(d.digits[d.exp:])
	}
	return b.String()
}

// canonicalNumber validates a DynamoDB number (at most 38 significant digits,
// magnitude between 1E-130 and 1E+126) and returns its canonical text.
func canonicalNumber(s string) (string, error) {
	d, ok := parseDecimal(strings.TrimSpace(s))
	if !ok {
		return "", validationf("A value provided cannot be converted into a number")
	}
	if len(d.digits) > 38 {
		return "", validationf("Attempting to store more than 38 significant digits in a Number")
	}
	if d.digits != "" && d.exp > 126 {
		return "", validationf("Number overflow. Attempting to store a number with magnitude larger than supported range")
	}
	if d.digits != "" && d.exp < -129 {
		return "", validationf("Number underflow. Attempting to store a number with magnitude smaller than supported range")
	}
	return d.String(), nil
}

// compareNumbers compares two canonical numbers.
func compareNumbers(a, b string) int {
	if a == b {
		return 0
	}
	x, _ := parseDecimal(a)
	y, _ := parseDecimal(b)
	sign := func(d decimal) int {
		switch {
		case d.digits == "":
			return 0
		case d.neg:
			return -1
		}
		return 1
	}
	sx, sy := sign(x), sign(y)
	if sx != sy {
		if sx < sy {
			return -1
		}
		return 1
	}
	if sx == 0 {
		return 0
	}
	c := 0
	switch {
	case x.exp != y.exp:
		if x.exp < y.exp {
			c = -1
		} else {
			c = 1
		}
	default:
		c = strings.Compare(x.digits, y.digits)
	}
	if sx < 0 {
		c = -c
	}
	return c
}

// addNumbers returns a+b (or a-b when sub) exactly.
func addNumbers(a, b string, sub bool) (string, error) {
	x, ok1 := new(big.Rat).SetString(a)
	y, ok2 := new(big.Rat).SetString(b)
	if !ok1 || !ok2 {
		return "", validationf("An operand in the update expression has an incorrect data type")
	}
	if sub {
		x.Sub(x, y)
	} else {
		x.Add(x, y)
	}
	scale := max(fractionDigits(a), fractionDigits(b))
	return canonicalNumber(x.FloatString(scale))
}

func fractionDigits(s string) int {
	if i := strings.IndexByte(s, '.'); i >= 0 {
		return len(s) - i - 1
	}
	return 0
}

// ---- key attribute helpers ----

// keyTypeOf maps an AttributeType ("S", "N", "B") to a kind.
func keyTypeOf(t string) (kind, bool) {
	switch t {
	case "S":
		return kS, true
	case "N":
		return kN, true
	case "B":
		return kB, true
	}
	return 0, false
}

// appendKeyString appends an unambiguous text form of a scalar key value
// (used to detect two transaction actions on one item).
func appendKeyString(b []byte, v value) []byte {
	b = append(b, byte(v.k))
	b = strconv.AppendInt(b, int64(len(v.s)), 10)
	b = append(b, ':')
	return append(b, v.s...)
}

// describe renders a value for an error message.
func (v value) describe() string {
	return string(v.appendJSON(nil))
}
