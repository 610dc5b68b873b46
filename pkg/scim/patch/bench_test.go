package patch

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/scimless/scimless/pkg/scim/schema"
)

// benchApply measures applying ops (a JSON array) to res.
func benchApply(b *testing.B, res map[string]any, ops string) {
	rt := schema.UserResourceType()
	req, err := Decode([]byte(patchBody(ops)))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Apply(context.Background(), rt, res, req.Operations); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkApplyDeactivate measures Okta's deactivation PATCH.
func BenchmarkApplyDeactivate(b *testing.B) {
	benchApply(b, jsonMap(b, oktaUser), `[{"op":"replace","value":{"active":false}}]`)
}

// BenchmarkDecodeApplyDeactivate adds decoding the body to
// BenchmarkApplyDeactivate.
func BenchmarkDecodeApplyDeactivate(b *testing.B) {
	rt := schema.UserResourceType()
	res := jsonMap(b, oktaUser)
	body := []byte(patchBody(`[{"op":"replace","value":{"active":false}}]`))
	b.ReportAllocs()
	for b.Loop() {
		req, err := Decode(body)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Apply(context.Background(), rt, res, req.Operations); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkApplyEntra measures a typical Entra ID update with value paths,
// string booleans and a manager change.
func BenchmarkApplyEntra(b *testing.B) {
	res := jsonMap(b, managedUser)
	res["emails"] = jsonValue(b, `[{"primary":true,"value":"a@contoso.com","type":"work"}]`)
	res["name"] = jsonValue(b, `{"givenName":"Barbara","familyName":"Jensen","formatted":"Barbara Jensen"}`)
	benchApply(b, res, `[
		{"op":"Replace","path":"emails[type eq \"work\"].value","value":"b@contoso.com"},
		{"op":"Replace","path":"name.familyName","value":"Smith"},
		{"op":"Replace","path":"name.formatted","value":"Barbara Smith"},
		{"op":"Replace","path":"active","value":"False"},
		{"op":"Add","path":"addresses[type eq \"work\"].streetAddress","value":"1 Main St"},
		{"op":"Add","path":"addresses[type eq \"work\"].locality","value":"Redmond"},
		{"op":"Add","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":{"value":"m2"}},
		{"op":"replace","value":{"displayName":"Barbara Smith","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department":"R&D"}}]`)
}

// BenchmarkSplitMembers measures an Okta group PATCH moving 1000 members.
func BenchmarkSplitMembers(b *testing.B) {
	rt := schema.GroupResourceType()
	var ops []string
	for i := range 500 {
		ops = append(ops, fmt.Sprintf(`{"op":"remove","path":"members[value eq \"r%d\"]"}`, i))
	}
	var add []string
	for i := range 500 {
		add = append(add, fmt.Sprintf(`{"value":"a%d","display":"user%d@example.com"}`, i, i))
	}
	ops = append(ops, `{"op":"add","path":"members","value":[`+strings.Join(add, ",")+`]}`)
	req, err := Decode([]byte(patchBody("[" + strings.Join(ops, ",") + "]")))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		_, mc, err := SplitMembers(rt, req.Operations)
		if err != nil || len(mc.Add) != 500 || len(mc.Remove) != 500 {
			b.Fatal(err, len(mc.Add), len(mc.Remove))
		}
	}
}

// BenchmarkApplyAdd20000 is a PATCH adding 20,000 emails to a user, which
// is refused for exceeding schema.MaxValues, and one adding 20,000 values
// that merge into 99 (accepted): both cost time linear in the values sent.
func BenchmarkApplyAdd20000(b *testing.B) {
	rt := schema.UserResourceType()
	res := jsonMap(b, oktaUser)
	distinct := emailValues(20000)
	merging := make([]any, 20000)
	for i := range merging {
		merging[i] = map[string]any{"value": fmt.Sprintf("USER%d@example.com", i%99), "type": "work"}
	}
	for _, bc := range []struct {
		name string
		vals []any
		ok   bool
	}{{"refused", distinct, false}, {"merged", merging, true}} {
		b.Run(bc.name, func(b *testing.B) {
			ops := []Operation{{Op: OpAdd, Path: "emails", Value: bc.vals}}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Apply(context.Background(), rt, res, ops); (err == nil) != bc.ok {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkApplyRemoveFromLegacy removes 20,000 values from a list of
// 20,000 stored before the cap existed.
func BenchmarkApplyRemoveFromLegacy(b *testing.B) {
	rt := schema.UserResourceType()
	res := jsonMap(b, oktaUser)
	res["emails"] = emailValues(20000)
	ops := []Operation{{Op: OpRemove, Path: "emails", Value: emailValues(20000)}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Apply(context.Background(), rt, res, ops); err != nil {
			b.Fatal(err)
		}
	}
}
