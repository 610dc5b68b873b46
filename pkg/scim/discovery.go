package scim

import (
	"net/http"
	"strings"

	"github.com/scimless/scimless/pkg/scim/schema"
	"github.com/scimless/scimless/pkg/scim/scimerr"
)

// Discovery endpoints (RFC 7644 §4). They describe exactly what this server
// does; query parameters are ignored, and a filter is refused with 403 as the
// RFC advises.

const docsURL = "https://github.com/scimless/scimless#readme"

// refuseFilter returns the 403 of a discovery request with a filter.
func refuseFilter(r *http.Request) error {
	if r.URL.Query().Has("filter") {
		return scimerr.New(http.StatusForbidden, "", "filtering is not supported on discovery endpoints")
	}
	return nil
}

func (s *Server) serviceProviderConfig(w http.ResponseWriter, r *http.Request) error {
	if err := refuseFilter(r); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"schemas":          []string{schema.ServiceConfigURN},
		"documentationUri": docsURL,
		"patch":            map[string]any{"supported": true},
		"bulk":             map[string]any{"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
		"filter":           map[string]any{"supported": true, "maxResults": MaxResults},
		"changePassword":   map[string]any{"supported": false},
		"sort":             map[string]any{"supported": true},
		"etag":             map[string]any{"supported": true},
		"pagination": map[string]any{
			"cursor": true, "index": true, "defaultPaginationMethod": "index",
			"defaultPageSize": DefaultCount, "maxPageSize": MaxResults, "cursorTimeout": 900,
		},
		"authenticationSchemes": []any{map[string]any{
			"type":             "oauthbearertoken",
			"name":             "OAuth Bearer Token",
			"description":      "Authentication with a bearer token issued by the scimless operator (scimless token issue).",
			"specUri":          "https://www.rfc-editor.org/info/rfc6750",
			"documentationUri": docsURL,
			"primary":          true,
		}},
		"meta": map[string]any{"resourceType": "ServiceProviderConfig", "location": s.base(r) + "/ServiceProviderConfig"},
	})
	return nil
}

func (s *Server) resourceTypeJSON(r *http.Request, rt *schema.ResourceType) map[string]any {
	exts := []any{}
	for _, e := range rt.Extensions {
		exts = append(exts, map[string]any{"schema": e.Schema.ID, "required": e.Required})
	}
	return map[string]any{
		"schemas":          []string{schema.ResourceTypeURN},
		"id":               rt.ID,
		"name":             rt.Name,
		"endpoint":         rt.Endpoint,
		"description":      rt.Description,
		"schema":           rt.Schema.ID,
		"schemaExtensions": exts,
		"meta":             map[string]any{"resourceType": "ResourceType", "location": s.base(r) + "/ResourceTypes/" + rt.ID},
	}
}

func (s *Server) resourceTypeList(r *http.Request) []*schema.ResourceType {
	return []*schema.ResourceType{s.viewOf(r).users, s.viewOf(r).groups}
}

func (s *Server) resourceTypes(w http.ResponseWriter, r *http.Request) error {
	if err := refuseFilter(r); err != nil {
		return err
	}
	var out []any
	for _, rt := range s.resourceTypeList(r) {
		out = append(out, s.resourceTypeJSON(r, rt))
	}
	writeList(w, out, len(out), 1)
	return nil
}

func (s *Server) resourceType(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	for _, rt := range s.resourceTypeList(r) {
		if strings.EqualFold(rt.ID, id) {
			writeJSON(w, http.StatusOK, s.resourceTypeJSON(r, rt))
			return nil
		}
	}
	return scimerr.NotFound("resource type %q not found", id)
}

// schemaList returns every schema the server uses, each once.
func (s *Server) schemaList(r *http.Request) []*schema.Schema {
	var out []*schema.Schema
	seen := map[string]bool{}
	for _, rt := range s.resourceTypeList(r) {
		for _, sc := range append([]*schema.Schema{rt.Schema}, extSchemas(rt)...) {
			if !seen[sc.ID] {
				seen[sc.ID] = true
				out = append(out, sc)
			}
		}
	}
	return out
}

func extSchemas(rt *schema.ResourceType) []*schema.Schema {
	var out []*schema.Schema
	for _, e := range rt.Extensions {
		out = append(out, e.Schema)
	}
	return out
}

func (s *Server) schemaJSON(r *http.Request, sc *schema.Schema) map[string]any {
	return map[string]any{
		"schemas":     []string{schema.SchemaURN},
		"id":          sc.ID,
		"name":        sc.Name,
		"description": sc.Description,
		"attributes":  sc.Attributes,
		"meta":        map[string]any{"resourceType": "Schema", "location": s.base(r) + "/Schemas/" + sc.ID},
	}
}

func (s *Server) schemas(w http.ResponseWriter, r *http.Request) error {
	if err := refuseFilter(r); err != nil {
		return err
	}
	var out []any
	for _, sc := range s.schemaList(r) {
		out = append(out, s.schemaJSON(r, sc))
	}
	writeList(w, out, len(out), 1)
	return nil
}

func (s *Server) schemaByID(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	for _, sc := range s.schemaList(r) {
		if strings.EqualFold(sc.ID, id) {
			writeJSON(w, http.StatusOK, s.schemaJSON(r, sc))
			return nil
		}
	}
	return scimerr.NotFound("schema %q not found", id)
}

// listResponse is an RFC 7644 §3.4.2 ListResponse.
type listResponse struct {
	Schemas      []string `json:"schemas"`
	TotalResults int      `json:"totalResults"`
	StartIndex   int      `json:"startIndex"`
	ItemsPerPage int      `json:"itemsPerPage"`
	Resources    []any    `json:"Resources"`
	NextCursor   string   `json:"nextCursor,omitempty"`
}

func writeList(w http.ResponseWriter, items []any, total, startIndex int) {
	if items == nil {
		items = []any{}
	}
	writeJSON(w, http.StatusOK, listResponse{
		Schemas: []string{schema.ListResponseURN}, TotalResults: total, StartIndex: startIndex,
		ItemsPerPage: len(items), Resources: items,
	})
}
