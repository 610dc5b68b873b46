package filter

import (
	"math"
	"strconv"
	"strings"
)

// format writes the canonical form of n to b.
func format(b *strings.Builder, n node) {
	switch x := n.(type) {
	case andNode:
		for i, y := range x {
			if i > 0 {
				b.WriteString(" and ")
			}
			if _, ok := y.(orNode); ok {
				b.WriteByte('(')
				format(b, y)
				b.WriteByte(')')
			} else {
				format(b, y)
			}
		}
	case orNode:
		for i, y := range x {
			if i > 0 {
				b.WriteString(" or ")
			}
			format(b, y)
		}
	case *notNode:
		b.WriteString("not (")
		format(b, x.n)
		b.WriteByte(')')
	case *valuePathNode:
		b.WriteString(x.ref.String())
		b.WriteByte('[')
		format(b, x.inner)
		b.WriteByte(']')
	case *cmpNode:
		if x.rel {
			b.WriteString(x.ref.Sub.Name)
		} else {
			b.WriteString(x.ref.String())
		}
		b.WriteByte(' ')
		b.WriteString(string(x.op))
		switch {
		case x.kind == kPresent && !x.null:
		case x.null:
			b.WriteString(" null")
		case x.kind == kNumber:
			b.WriteByte(' ')
			b.WriteString(formatNumber(x.f))
		case x.kind == kBool:
			b.WriteByte(' ')
			b.WriteString(strconv.FormatBool(x.b))
		default:
			b.WriteByte(' ')
			writeJSONString(b, x.s)
		}
	}
}

// formatNumber formats f as a JSON number, integers without exponent up to 2^53.
func formatNumber(f float64) string {
	if f == math.Trunc(f) && math.Abs(f) <= 1<<53 {
		return strconv.FormatInt(int64(f), 10)
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// writeJSONString writes s as a JSON string, escaping only what JSON
// requires; each byte that is not valid UTF-8 becomes U+FFFD.
func writeJSONString(b *strings.Builder, s string) {
	const hex = "0123456789abcdef"
	s = validUTF8(s)
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c == '\n':
			b.WriteString(`\n`)
		case c == '\r':
			b.WriteString(`\r`)
		case c == '\t':
			b.WriteString(`\t`)
		case c < 0x20:
			b.WriteString(`\u00`)
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&0xf])
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
}
