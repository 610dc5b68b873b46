package filter

import (
	"testing"

	"github.com/scimless/scimless/pkg/scim/schema"
)

var benchFilters = []struct{ name, filter string }{
	{"userName", `userName eq "bjensen@example.com"`},
	{"valuePath", `emails[type eq "work" and value co "@EXAMPLE.com"] and (title pr or not (active eq false)) and meta.lastModified gt "2011-01-01T00:00:00Z"`},
}

func BenchmarkParse(b *testing.B) {
	rt := schema.UserResourceType()
	for _, bf := range benchFilters {
		b.Run(bf.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Parse(rt, bf.filter); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkMatch(b *testing.B) {
	rt := schema.UserResourceType()
	user := decode(b, usersJSON)[0]
	for _, bf := range benchFilters {
		b.Run(bf.name, func(b *testing.B) {
			f, err := Parse(rt, bf.filter)
			if err != nil {
				b.Fatal(err)
			}
			if !f.Match(user) {
				b.Fatal("no match")
			}
			b.ReportAllocs()
			for b.Loop() {
				f.Match(user)
			}
		})
	}
}
