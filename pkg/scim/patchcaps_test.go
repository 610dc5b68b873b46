package scim

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/scimless/scimless/pkg/scim/schema"
)

// addValuesBody is a PatchOp adding n values to attr: emails or members.
func addValuesBody(attr string, n int) []byte {
	var b bytes.Buffer
	b.WriteString(`{"schemas":["` + patchOpMsgURN + `"],"Operations":[{"op":"add","path":"` + attr + `","value":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"value":"v%d@example.com","type":"work"}`, i)
	}
	b.WriteString(`]}]}`)
	return b.Bytes()
}

func createGroup(h *harness, name string) string {
	h.t.Helper()
	g := mustStatus(h.t, h.do(req{method: "POST", path: "/Groups", body: map[string]any{"displayName": name}}), http.StatusCreated)
	return g["id"].(string)
}

// TestPatchCapsThroughHandler checks that a PATCH adding 20,000 values is
// refused with a 400 invalidValue that names the attribute and the cap, and
// that the resource is left as it was.
func TestPatchCapsThroughHandler(t *testing.T) {
	h := newHarness(t)
	uid := h.createUser(benchUser())
	gid := createGroup(h, "Caps")
	for _, tt := range []struct {
		path, attr, detail string
	}{
		{"/Users/" + uid, "emails", fmt.Sprintf(`attribute "emails" would hold 20001 values; at most %d are allowed`, schema.MaxValues)},
		{"/Groups/" + gid, "members", fmt.Sprintf("at most %d members", schema.MaxMembersPerRequest)},
	} {
		w := h.do(req{method: "PATCH", path: tt.path, body: addValuesBody(tt.attr, 20000)})
		res := mustStatus(t, w, http.StatusBadRequest)
		if res["scimType"] != "invalidValue" || !strings.Contains(fmt.Sprint(res["detail"]), tt.detail) {
			t.Errorf("PATCH %s adding 20000 %s: %v; want invalidValue containing %q", tt.path, tt.attr, res, tt.detail)
		}
		got := mustStatus(t, h.do(req{method: "GET", path: tt.path}), http.StatusOK)
		if n := len(asSlice(got[tt.attr])); n > 1 {
			t.Errorf("after the refused PATCH %s holds %d %s", tt.path, n, tt.attr)
		}
	}
}

func asSlice(v any) []any {
	s, _ := v.([]any)
	return s
}

// BenchmarkPatchAdd20000 is a PATCH adding 20,000 values through the
// handler: 20,000 emails to a user and 20,000 members to a group, both
// refused for their caps (schema.MaxValues, schema.MaxMembersPerRequest).
// Each op includes reading the body, decoding it, the store read and the
// error response.
func BenchmarkPatchAdd20000(b *testing.B) {
	h := newHarness(b)
	uid := h.createUser(benchUser())
	gid := createGroup(h, "Bench")
	h.warm()
	for _, bc := range []struct{ name, path, attr string }{
		{"emails", "/Users/" + uid, "emails"},
		{"members", "/Groups/" + gid, "members"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			body := addValuesBody(bc.attr, 20000)
			r := h.newRequest(req{method: "PATCH", path: bc.path, body: body})
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				r.Body = io.NopCloser(bytes.NewReader(body))
				r.ContentLength = int64(len(body))
				w := httptest.NewRecorder()
				h.srv.ServeHTTP(w, r)
				if w.Code != http.StatusBadRequest {
					b.Fatalf("status %d: %.200s", w.Code, w.Body)
				}
			}
		})
	}
}
