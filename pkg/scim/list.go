package scim

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/scimless/scimless/pkg/scim/filter"
	"github.com/scimless/scimless/pkg/scim/schema"
	"github.com/scimless/scimless/pkg/scim/scimerr"
)

// query is a parsed list request (GET query string or POST /.search body).
type query struct {
	filter     *filter.Filter
	rawFilter  string
	startIndex int  // 1-based
	count      int  // page size, capped at MaxResults
	cursor     bool // RFC 9865 cursor paging requested
	after      string
	sortBy     string
	descending bool
	proj       projection
}

// parseQuery reads list parameters from the URL query.
func parseQuery(rt *schema.ResourceType, v url.Values) (query, error) {
	split := func(s string) []string {
		if s == "" {
			return nil
		}
		return strings.Split(s, ",")
	}
	_, hasCursor := v["cursor"]
	return buildQuery(rt, searchRequest{
		Filter: v.Get("filter"), HasFilter: v.Has("filter"),
		StartIndex: v.Get("startIndex"), Count: v.Get("count"),
		SortBy: v.Get("sortBy"), SortOrder: v.Get("sortOrder"),
		Attributes: split(v.Get("attributes")), ExcludedAttributes: split(v.Get("excludedAttributes")),
		Cursor: v.Get("cursor"), HasCursor: hasCursor,
	})
}

// searchRequest holds list parameters before validation.
type searchRequest struct {
	Filter             string
	HasFilter          bool
	StartIndex, Count  string
	SortBy, SortOrder  string
	Attributes         []string
	ExcludedAttributes []string
	Cursor             string
	HasCursor          bool
}

// parseSearchBody reads a SearchRequest body (RFC 7644 §3.4.3).
func parseSearchBody(rt *schema.ResourceType, body []byte) (query, error) {
	obj, err := decodeObject(body)
	if err != nil {
		return query{}, err
	}
	var sr searchRequest
	for k, v := range obj {
		switch strings.ToLower(k) {
		case "filter":
			s, ok := v.(string)
			if !ok {
				return query{}, scimerr.InvalidSyntax("filter must be a string")
			}
			sr.Filter, sr.HasFilter = s, true
		case "startindex", "count":
			f, ok := v.(float64)
			if !ok {
				return query{}, scimerr.InvalidSyntax("%s must be a number", k)
			}
			n := strconv.FormatFloat(f, 'f', -1, 64)
			if strings.EqualFold(k, "count") {
				sr.Count = n
			} else {
				sr.StartIndex = n
			}
		case "sortby":
			sr.SortBy, _ = v.(string)
		case "sortorder":
			sr.SortOrder, _ = v.(string)
		case "attributes", "excludedattributes":
			list, err := stringList(v)
			if err != nil {
				return query{}, scimerr.InvalidSyntax("%s must be an array of strings", k)
			}
			if strings.EqualFold(k, "attributes") {
				sr.Attributes = list
			} else {
				sr.ExcludedAttributes = list
			}
		case "cursor":
			sr.Cursor, _ = v.(string)
			sr.HasCursor = true
		}
	}
	return buildQuery(rt, sr)
}

func stringList(v any) ([]string, error) {
	switch t := v.(type) {
	case string:
		return strings.Split(t, ","), nil
	case []any:
		out := make([]string, 0, len(t))
		for _, e := range t {
			s, ok := e.(string)
			if !ok {
				return nil, scimerr.InvalidSyntax("not a string")
			}
			out = append(out, s)
		}
		return out, nil
	}
	return nil, scimerr.InvalidSyntax("not a list")
}

func buildQuery(rt *schema.ResourceType, sr searchRequest) (query, error) {
	q := query{startIndex: 1, count: DefaultCount}
	if sr.HasFilter {
		if strings.TrimSpace(sr.Filter) == "" {
			return q, scimerr.InvalidFilter("the filter is empty")
		}
		f, err := filter.Parse(rt, sr.Filter)
		if err != nil {
			return q, err
		}
		q.filter, q.rawFilter = f, f.String()
	}
	if sr.StartIndex != "" {
		n, err := strconv.Atoi(sr.StartIndex)
		if err != nil {
			return q, scimerr.InvalidValue("startIndex must be an integer")
		}
		q.startIndex = max(n, 1)
	}
	if sr.Count != "" {
		n, err := strconv.Atoi(sr.Count)
		if err != nil {
			return q, scimerr.InvalidValue("count must be an integer")
		}
		q.count = min(max(n, 0), MaxResults)
	}
	if sr.HasCursor {
		if sr.StartIndex != "" {
			return q, scimerr.BadRequest(scimerr.InvalidCursorType, "cursor and startIndex cannot be combined")
		}
		q.cursor = true
		if sr.Cursor != "" {
			b, err := base64.RawURLEncoding.DecodeString(sr.Cursor)
			if err != nil || len(b) == 0 || len(b) > 256 {
				return q, scimerr.BadRequest(scimerr.InvalidCursorType, "the cursor is not one this server issued")
			}
			q.after = string(b)
		}
	}
	if sr.SortBy != "" {
		if _, _, err := filter.SortKey(rt, sr.SortBy); err != nil {
			return q, scimerr.InvalidPath("sortBy: unknown attribute %q", sr.SortBy)
		}
		q.sortBy = sr.SortBy
		if q.cursor {
			return q, scimerr.BadRequest(scimerr.InvalidCursorType, "cursor paging does not support sortBy")
		}
	}
	switch strings.ToLower(sr.SortOrder) {
	case "", "ascending":
	case "descending":
		q.descending = true
	default:
		return q, scimerr.InvalidValue("sortOrder must be ascending or descending")
	}
	var err error
	q.proj, err = parseProjection(rt, sr.Attributes, sr.ExcludedAttributes)
	return q, err
}

func encodeCursor(id string) string { return base64.RawURLEncoding.EncodeToString([]byte(id)) }

// sortResources orders rs by q.sortBy (stable; missing values last).
func sortResources(rt *schema.ResourceType, q query, rs []Resource) {
	key, attr, err := filter.SortKey(rt, q.sortBy)
	if err != nil {
		return
	}
	type kv struct {
		k any
		r Resource
	}
	tmp := make([]kv, len(rs))
	for i, r := range rs {
		tmp[i] = kv{key(r), r}
	}
	slices.SortStableFunc(tmp, func(a, b kv) int {
		// Missing values sort last in either order.
		if a.k == nil || b.k == nil {
			switch {
			case a.k == nil && b.k == nil:
				return 0
			case a.k == nil:
				return 1
			default:
				return -1
			}
		}
		c := filter.Compare(attr, a.k, b.k)
		if q.descending {
			c = -c
		}
		return c
	})
	for i := range tmp {
		rs[i] = tmp[i].r
	}
}

// page writes one ListResponse page of already-projected resources.
func writePage(w http.ResponseWriter, items []any, total, startIndex int, next string) {
	if items == nil {
		items = []any{}
	}
	writeJSON(w, http.StatusOK, listResponse{
		Schemas: []string{schema.ListResponseURN}, TotalResults: total, StartIndex: startIndex,
		ItemsPerPage: len(items), Resources: items, NextCursor: next,
	})
}
