package scim

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/scimless/scimless/pkg/jsonstr"
	"github.com/scimless/scimless/pkg/reqlog"
	"github.com/scimless/scimless/pkg/scim/filter"
	"github.com/scimless/scimless/pkg/scim/schema"
	"github.com/scimless/scimless/pkg/scim/scimerr"
	"github.com/scimless/scimless/pkg/store"
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
	for k, vs := range v {
		for _, x := range vs {
			if !utf8.ValidString(k) || !utf8.ValidString(x) {
				return query{}, scimerr.InvalidSyntax("the query parameter %q is not valid UTF-8", strings.ToValidUTF8(k, "\ufffd"))
			}
		}
	}
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
		if v == nil {
			continue // an explicit null is the parameter's default
		}
		str := func() (string, error) {
			s, ok := v.(string)
			if !ok {
				return "", scimerr.InvalidSyntax("%s must be a string", k)
			}
			return s, nil
		}
		switch strings.ToLower(k) {
		case "schemas":
			list, err := stringList(v)
			if _, isArray := v.([]any); err != nil || !isArray {
				return query{}, scimerr.InvalidSyntax("schemas must be an array of schema URNs")
			}
			if !slices.ContainsFunc(list, func(u string) bool { return strings.EqualFold(u, schema.SearchRequestURN) }) {
				return query{}, scimerr.InvalidValue("schemas must be [%q]", schema.SearchRequestURN)
			}
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
			if f != math.Trunc(f) || math.Abs(f) > 1<<31 {
				return query{}, scimerr.InvalidValue("%s must be an integer", k)
			}
			n := strconv.FormatFloat(f, 'f', -1, 64)
			if strings.EqualFold(k, "count") {
				sr.Count = n
			} else {
				sr.StartIndex = n
			}
		case "sortby":
			if sr.SortBy, err = str(); err != nil {
				return query{}, err
			}
		case "sortorder":
			if sr.SortOrder, err = str(); err != nil {
				return query{}, err
			}
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
			if sr.Cursor, err = str(); err != nil {
				return query{}, err
			}
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

// An RFC 9865 cursor is the position (the last id of the page) tagged with a
// hash of the tenant, base64url-encoded: a cursor handed to another tenant is
// refused with invalidCursor instead of silently skipping its resources.
func encodeCursor(tenant, id string) string {
	return base64.RawURLEncoding.EncodeToString(append(cursorTag(tenant), id...))
}

func cursorTag(tenant string) []byte {
	h := sha256.Sum256([]byte("scimless-cursor:" + tenant))
	return h[:6]
}

// checkCursor verifies the tenant tag of a decoded cursor and returns the
// position it holds.
func checkCursor(tenant, raw string) (string, error) {
	tag := cursorTag(tenant)
	if len(raw) <= len(tag) || raw[:len(tag)] != string(tag) {
		return "", scimerr.BadRequest(scimerr.InvalidCursorType, "the cursor is not one this server issued for this tenant")
	}
	return raw[len(tag):], nil
}

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

// fitPage projects and encodes the resources of a page, in order, as many as
// fit in one response (s.maxResponse, as the body grows when the Lambda
// runtime embeds it in its own JSON). A page that cannot hold all of them
// holds fewer, and itemsPerPage says so: the client asks for the next page
// from there. A resource too large for any response is refused with 400
// tooMany.
//
// encode, when not nil, may encode a resource itself (returning nil when it
// does not): the users of a filtered list are written as stored that way
// (see appendUserJSON) rather than through json.Marshal.
func (s *Server) fitPage(rt *schema.ResourceType, proj projection, items []Resource, encode func(Resource) []byte) ([][]byte, error) {
	budget := s.maxResponse - pageEnvelope
	out := make([][]byte, 0, len(items))
	for i, res := range items {
		res = proj.apply(rt, res)
		var b []byte
		if encode != nil {
			b = encode(res)
		}
		if b == nil {
			var err error
			if b, err = json.Marshal(res); err != nil {
				return nil, fmt.Errorf("encode resource: %w", err)
			}
		}
		budget -= jsonstr.QuotedLen(b) + 1
		if budget < 0 {
			if i == 0 {
				return nil, tooLargeToReturn(res)
			}
			break
		}
		out = append(out, b)
	}
	return out, nil
}

// pageEnvelope bounds the size of a ListResponse around its resources.
const pageEnvelope = 1024

// tooLargeToReturn is the error for a resource larger than any response may
// be (a group with very many members).
func tooLargeToReturn(res Resource) error {
	id, _ := res["id"].(string)
	return scimerr.BadRequest(scimerr.TooManyType, "resource %q is larger than a response may be (%d bytes); leave out its largest attributes with excludedAttributes (for a group: excludedAttributes=members)", truncateID(id), MaxResponseBytes)
}

// writePage writes one ListResponse page of encoded resources.
func writePage(w http.ResponseWriter, items [][]byte, total, startIndex int, next string) {
	size := 256 + len(next)
	for _, b := range items {
		size += len(b) + 1
	}
	buf := make([]byte, 0, size)
	buf = append(buf, `{"schemas":["`+schema.ListResponseURN+`"],"totalResults":`...)
	buf = strconv.AppendInt(buf, int64(total), 10)
	buf = append(buf, `,"startIndex":`...)
	buf = strconv.AppendInt(buf, int64(startIndex), 10)
	buf = append(buf, `,"itemsPerPage":`...)
	buf = strconv.AppendInt(buf, int64(len(items)), 10)
	buf = append(buf, `,"Resources":[`...)
	for i, b := range items {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, b...)
	}
	buf = append(buf, ']')
	if next != "" {
		buf = append(buf, `,"nextCursor":`...)
		buf = jsonstr.Append(buf, next)
	}
	buf = append(buf, '}')
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(buf)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(buf)
}

// writeSliceFor pages an in-memory result list of resource type rt.
// enrich, if not nil, completes the resources of the page (e.g. a user's
// groups) before projection.
func (s *Server) writeSliceFor(w http.ResponseWriter, r *http.Request, rt *schema.ResourceType, q query, matched []Resource, enrich func([]Resource) ([]Resource, error), encode func(Resource) []byte) error {
	start := q.startIndex - 1
	if q.cursor {
		// Cursor paging over an in-memory result: the cursor is the last id.
		start = 0
		if q.after != "" {
			for i, res := range matched {
				if res["id"] == q.after {
					start = i + 1
					break
				}
			}
		}
	}
	start = min(start, len(matched))
	end := min(start+q.count, len(matched))
	window := matched[start:end]
	if enrich != nil {
		var err error
		if window, err = enrich(window); err != nil {
			return err
		}
	}
	items, err := s.fitPage(rt, q.proj, window, encode)
	if err != nil {
		return err
	}
	end = start + len(items)
	next := ""
	if q.cursor && end < len(matched) && end > start {
		next = encodeCursor(tenantOf(r), matched[end-1]["id"].(string))
	}
	si := q.startIndex
	if q.cursor {
		si = 1
	}
	writePage(w, items, len(matched), si, next)
	return nil
}

// indexEquality returns the filter's index-servable equality, if any.
func indexEquality(q query) (filter.Equality, bool) {
	if q.filter == nil {
		return filter.Equality{}, false
	}
	return q.filter.IndexEquality()
}

// pageAll serves an unfiltered, unsorted page of a resource type. The total
// comes from the tenant's counter item; the page starts from the cursor the
// previous page saved (or from an RFC 9865 cursor), so an import of N
// resources reads O(N) items in total. render returns the page's resources
// and, optionally, their encoder (see fitPage).
func pageAll[T any](s *Server, w http.ResponseWriter, r *http.Request, q query, key string,
	start func(ctx context.Context, tenant, query string, offset int) (store.PageStart, error),
	list func(ctx context.Context, tenant, after string, n int) ([]T, string, error),
	render func([]T) ([]Resource, func(Resource) []byte, error),
	rt *schema.ResourceType,
) error {
	ctx, tenant := r.Context(), tenantOf(r)
	offset := q.startIndex - 1
	si := q.startIndex
	if q.cursor {
		si = 1
	}
	// The count and the saved cursor are read together (index paging past
	// the first page); cursor paging reads only the count.
	cursorAt := offset
	if q.cursor {
		cursorAt = 0
	}
	ps, err := start(ctx, tenant, key, cursorAt)
	if err != nil {
		return err
	}
	total := ps.Total
	if q.count == 0 || (!q.cursor && offset >= total) {
		writePage(w, nil, total, si, "")
		return nil
	}
	after := ""
	switch {
	case q.cursor:
		after = q.after
	case offset > 0:
		after = ps.After
		if !ps.HasCursor {
			// No saved cursor (a client jumping ahead, or it expired): walk
			// from the start, reading offset items once.
			for remaining := offset; remaining > 0; {
				batch, last, err := list(ctx, tenant, after, min(remaining, MaxResults))
				if err != nil {
					return err
				}
				remaining -= len(batch)
				if last == "" { // fewer than offset items
					writePage(w, nil, total, si, "")
					return nil
				}
				after = last
			}
		}
	}
	items, last, err := list(ctx, tenant, after, q.count)
	if err != nil {
		return err
	}
	rs, encode, err := render(items)
	if err != nil {
		return err
	}
	out, err := s.fitPage(rt, q.proj, rs, encode)
	if err != nil {
		return err
	}
	if len(out) < len(rs) {
		// The page was cut to fit a response: the next one starts after
		// the last resource sent.
		last = rs[len(out)-1]["id"].(string)
	}
	next := ""
	if last != "" && (q.cursor || offset+len(out) < total) {
		if q.cursor {
			next = encodeCursor(tenant, last)
		} else if err := s.store.SaveCursor(ctx, tenant, key, offset+len(out), last); err != nil {
			// The page is still right; only the next one will cost more.
			s.log.WarnContext(ctx, "save cursor failed", "err", err.Error(), "request_id", reqlog.IDFrom(ctx))
		}
	}
	writePage(w, out, total, si, next)
	return nil
}

func usersOf(v *view) *schema.ResourceType  { return v.users }
func groupsOf(v *view) *schema.ResourceType { return v.groups }

// listing serves a list request of a resource type: GET with query
// parameters, or (search) POST /.search with a SearchRequest body.
func (s *Server) listing(rt func(*view) *schema.ResourceType, serve func(http.ResponseWriter, *http.Request, query) error, search bool) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		var q query
		var err error
		if search {
			var body []byte
			if body, err = readBody(r); err == nil {
				q, err = parseSearchBody(rt(s.viewOf(r)), body)
			}
		} else {
			q, err = parseQuery(rt(s.viewOf(r)), r.URL.Query())
		}
		if err == nil && q.cursor && q.after != "" {
			q.after, err = checkCursor(tenantOf(r), q.after)
		}
		if err != nil {
			return err
		}
		return serve(w, r, q)
	}
}

// retryDelete runs del, a read-and-delete, again when another write won the
// race (see retryWrite), and answers 204.
func (s *Server) retryDelete(w http.ResponseWriter, r *http.Request, del func() error) error {
	if err := s.retryWrite(r, del); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
