package scim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/scimless/scimless/pkg/jsonstr"
	"github.com/scimless/scimless/pkg/scim/schema"
)

// TestPagesFitLambdaResponses checks that no list page exceeds what a
// response can hold: a page of large users holds fewer of them, says so in
// itemsPerPage, and index paging from startIndex+itemsPerPage (and cursor
// paging) continues exactly where it stopped, for unfiltered and filtered
// listings. The response limit is lowered to 1/30 of Lambda's, with users
// 1/30 of the size that broke it (22 users of 290 KB), to keep the test
// fast; TestFitPageAtLambdaSize covers the real limit.
func TestPagesFitLambdaResponses(t *testing.T) {
	h := newHarness(t)
	h.srv.maxResponse = MaxResponseBytes / 30
	const n = 22
	title := strings.Repeat("x", 290<<10/30)
	want := map[string]bool{}
	for i := range n {
		want[h.createUser(map[string]any{"userName": fmt.Sprintf("big%02d@example.com", i), "title": title})] = true
	}
	collect := func(t *testing.T, first string, next func(m map[string]any, start int) string) {
		seen := map[string]bool{}
		pages := 0
		for path, start := first, 1; path != ""; pages++ {
			if pages > n {
				t.Fatalf("paging does not end")
			}
			w := h.do(req{method: "GET", path: path})
			m := mustStatus(t, w, http.StatusOK)
			if size := jsonstr.QuotedLen(w.Body.Bytes()); size > h.srv.maxResponse {
				t.Fatalf("%s: page of %d bytes in a Lambda response, over %d", path, size, h.srv.maxResponse)
			}
			res, _ := m["Resources"].([]any)
			if ipp := int(m["itemsPerPage"].(float64)); ipp != len(res) {
				t.Fatalf("itemsPerPage %d for %d resources", ipp, len(res))
			}
			if m["totalResults"].(float64) != n {
				t.Fatalf("totalResults %v, want %d", m["totalResults"], n)
			}
			for _, r := range res {
				id := r.(map[string]any)["id"].(string)
				if seen[id] {
					t.Fatalf("user %s on two pages", id)
				}
				seen[id] = true
			}
			path = next(m, start)
			start += len(res)
		}
		if len(seen) != n {
			t.Fatalf("paging returned %d users, want %d", len(seen), n)
		}
		if pages < 2 {
			t.Fatalf("%d large users fit in one page", n)
		}
	}
	indexPaging := func(base string) func(map[string]any, int) string {
		return func(m map[string]any, start int) string {
			got := len(m["Resources"].([]any))
			if start+got > n {
				return ""
			}
			return base + fmt.Sprintf("&startIndex=%d", start+got)
		}
	}
	t.Run("index", func(t *testing.T) {
		collect(t, "/Users?count=100&startIndex=1", indexPaging("/Users?count=100"))
	})
	t.Run("filtered", func(t *testing.T) {
		base := "/Users?count=100&filter=" + url.QueryEscape(`userName sw "big"`)
		collect(t, base+"&startIndex=1", indexPaging(base))
	})
	t.Run("cursor", func(t *testing.T) {
		collect(t, "/Users?count=100&cursor=", func(m map[string]any, _ int) string {
			c, _ := m["nextCursor"].(string)
			if c == "" {
				return ""
			}
			return "/Users?count=100&cursor=" + c
		})
	})
}

// TestResourceTooLargeForAnyPage checks that a resource larger than any
// response (a group with very many members, here with a lowered limit) is
// refused with 400 tooMany naming excludedAttributes, not sent.
func TestResourceTooLargeForAnyPage(t *testing.T) {
	h := newHarness(t)
	var members []any
	for i := range 20 {
		members = append(members, map[string]any{"value": h.createUser(map[string]any{"userName": fmt.Sprintf("m%02d@example.com", i)})})
	}
	gid := mustStatus(t, h.do(req{method: "POST", path: "/Groups", body: map[string]any{"displayName": "many", "members": members}}), http.StatusCreated)["id"].(string)
	h.srv.maxResponse = 3000
	for _, path := range []string{"/Groups/" + gid, "/Groups?filter=" + url.QueryEscape(`displayName eq "many"`)} {
		if m := mustStatus(t, h.do(req{method: "GET", path: path}), http.StatusBadRequest); m["scimType"] != "tooMany" {
			t.Errorf("GET %s: %v, want tooMany", path, m)
		}
	}
	mustStatus(t, h.do(req{method: "GET", path: "/Groups/" + gid + "?excludedAttributes=members"}), http.StatusOK)
	// The members can be read from the users instead.
	h.srv.maxResponse = MaxResponseBytes
	m := mustStatus(t, h.do(req{method: "GET", path: "/Users?filter=" + url.QueryEscape(`groups.value eq "`+gid+`"`)}), http.StatusOK)
	if m["totalResults"].(float64) != 20 {
		t.Errorf("users in the group: %v, want 20", m["totalResults"])
	}
	h.srv.maxResponse = 3000
	m = mustStatus(t, h.do(req{method: "GET", path: "/Groups"}), http.StatusBadRequest)
	if m["scimType"] != "tooMany" || !strings.Contains(m["detail"].(string), "excludedAttributes=members") {
		t.Errorf("error %v, want tooMany pointing to excludedAttributes=members", m)
	}
	m = mustStatus(t, h.do(req{method: "GET", path: "/Groups?excludedAttributes=members"}), http.StatusOK)
	if m["itemsPerPage"].(float64) != 1 {
		t.Errorf("without members the group fits: %v", m)
	}
}

// TestFitPageAtLambdaSize checks the page fitting at the real limit with the
// resources that broke it: 22 users of 290 KB (6.5 MB) make a page of fewer
// users that fits a Lambda response, also when the values need escaping.
func TestFitPageAtLambdaSize(t *testing.T) {
	s := New(Config{})
	rt := schema.UserResourceType()
	for _, fill := range []string{"x", `"`, "<"} {
		var rs []Resource
		for i := range 22 {
			rs = append(rs, Resource{"id": fmt.Sprint(i), "userName": fmt.Sprintf("u%d@x", i), "title": strings.Repeat(fill, 290<<10)})
		}
		page, err := s.fitPage(rt, projection{}, rs, nil)
		if err != nil {
			t.Fatal(err)
		}
		var buf []byte
		for _, b := range page {
			buf = append(buf, b...)
		}
		if len(page) == 0 || len(page) >= len(rs) {
			t.Fatalf("fill %q: %d of %d users on the page", fill, len(page), len(rs))
		}
		if size := jsonstr.QuotedLen(buf) + pageEnvelope; size > MaxResponseBytes {
			t.Fatalf("fill %q: page of %d bytes as a Lambda response, over %d", fill, size, MaxResponseBytes)
		}
		// One more user would not have fitted.
		next, _ := json.Marshal(rs[len(page)])
		if jsonstr.QuotedLen(buf)+jsonstr.QuotedLen(next)+len(page)+1 <= MaxResponseBytes-pageEnvelope {
			t.Errorf("fill %q: the page stopped at %d users although the next fitted", fill, len(page))
		}
	}
}
