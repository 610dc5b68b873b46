package scim

import (
	"bytes"
	"net/http"
	"strconv"
	"time"

	"github.com/scimless/scimless/pkg/jsonstr"
	"github.com/scimless/scimless/pkg/scim/schema"
	"github.com/scimless/scimless/pkg/store"
)

// The default representation of a user (no attributes/excludedAttributes)
// is the stored document plus schemas, id, meta and groups. The document is
// JSON this server wrote after normalising it (no id, meta, schemas,
// groups or password in it), so instead of decoding it into a map and
// encoding it again, the response splices the server-side attributes in
// front of it. This is the hot path of GET /Users/{id}: a handful of
// allocations instead of a few hundred.

// plainReturn reports whether every attribute of rt is returned by default
// (none is "request" or "never" apart from the password, which is never
// stored), so the stored document can be sent as it is.
func plainReturn(rt *schema.ResourceType) bool {
	var ok func(attrs []*schema.Attribute) bool
	ok = func(attrs []*schema.Attribute) bool {
		for _, a := range attrs {
			if a.Name == "password" && a.Returned == schema.ReturnedNever {
				continue
			}
			if a.Returned == schema.ReturnedRequest || a.Returned == schema.ReturnedNever || !ok(a.SubAttributes) {
				return false
			}
		}
		return true
	}
	if !ok(rt.Schema.Attributes) {
		return false
	}
	for _, e := range rt.Extensions {
		if !ok(e.Schema.Attributes) {
			return false
		}
	}
	return true
}

// appendUserJSON appends the default representation of u.
func appendUserJSON(buf []byte, rt *schema.ResourceType, base string, u *store.User, groups map[string]*store.Group) []byte {
	doc := bytes.TrimSpace(u.Doc)
	buf = append(buf, `{"schemas":[`...)
	buf = jsonstr.Append(buf, rt.Schema.ID)
	for _, e := range rt.Extensions {
		if hasObjectKey(doc, e.Schema.ID) {
			buf = append(buf, ',')
			buf = jsonstr.Append(buf, e.Schema.ID)
		}
	}
	buf = append(buf, `],"id":`...)
	buf = jsonstr.Append(buf, u.ID)
	buf = append(buf, `,"meta":{"resourceType":`...)
	buf = jsonstr.Append(buf, rt.Name)
	buf = append(buf, `,"created":"`...)
	buf = u.Created.UTC().AppendFormat(buf, time.RFC3339Nano)
	buf = append(buf, `","lastModified":"`...)
	buf = u.Modified.UTC().AppendFormat(buf, time.RFC3339Nano)
	buf = append(buf, `","location":`...)
	buf = jsonstr.Append(buf, base+rt.Endpoint+"/"+u.ID)
	buf = append(buf, `,"version":"W/\"`...)
	buf = strconv.AppendInt(buf, u.Version, 10)
	buf = append(buf, `\""}`...)
	first := true
	for _, gid := range u.Groups {
		g := groups[gid]
		if g == nil {
			continue
		}
		if first {
			buf = append(buf, `,"groups":[`...)
			first = false
		} else {
			buf = append(buf, ',')
		}
		buf = append(buf, `{"value":`...)
		buf = jsonstr.Append(buf, gid)
		buf = append(buf, `,"$ref":`...)
		buf = jsonstr.Append(buf, base+"/Groups/"+gid)
		buf = append(buf, `,"display":`...)
		buf = jsonstr.Append(buf, g.DisplayName)
		buf = append(buf, `,"type":"direct"}`...)
	}
	if !first {
		buf = append(buf, ']')
	}
	if len(doc) > 2 && doc[0] == '{' {
		buf = append(buf, ',')
		buf = append(buf, doc[1:]...) // the document's members and its closing brace
	} else {
		buf = append(buf, '}')
	}
	return buf
}

// hasObjectKey reports whether the JSON object doc has the key name with an
// object value. Inside JSON strings quotes are escaped, so the byte
// sequence "name":{ can only be a key.
func hasObjectKey(doc []byte, name string) bool {
	for i := 0; ; {
		j := bytes.Index(doc[i:], []byte(name))
		if j < 0 {
			return false
		}
		k := i + j
		end := k + len(name)
		if k > 0 && doc[k-1] == '"' && end+2 < len(doc) && doc[end] == '"' && doc[end+1] == ':' && doc[end+2] == '{' {
			return true
		}
		i = k + 1
	}
}

// writeRaw writes an already encoded SCIM JSON body with its ETag.
func writeRaw(w http.ResponseWriter, status int, version int64, body []byte) {
	h := w.Header()
	h.Set("ETag", etag(version))
	h.Set("Content-Type", contentType)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
