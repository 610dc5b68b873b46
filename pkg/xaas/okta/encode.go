package okta

import (
	"slices"

	"github.com/scimless/scimless/pkg/jsonstr"
)

// encodeUpsertUsers returns the bulk-upsert body
// {"entityType":"USERS","profiles":[{"externalId":…,"profile":{…}},…]}
// with the standard attributes first, then the custom ones by name; empty
// values are left out. It sizes the buffer up front: a 200-user body is the
// hot path of a sync. (The buffer is not pooled: the HTTP transport may still
// read a request body after Do returns.)
func encodeUpsertUsers(users []User) []byte {
	size, custom := 40, 0
	for i := range users {
		p := &users[i].Profile
		size += 32 + len(users[i].ExternalID)
		for _, a := range p.standard() {
			if a.value != "" {
				size += len(a.name) + len(a.value) + 6
			}
		}
		for k, v := range p.Custom {
			size += len(k) + len(v) + 6
		}
		custom = max(custom, len(p.Custom))
	}
	return appendUpsertUsers(make([]byte, 0, size+size/16), make([]string, 0, custom), users)
}

// appendUpsertUsers appends the body to dst, sorting custom attribute names
// in keys.
func appendUpsertUsers(dst []byte, keys []string, users []User) []byte {
	dst = append(dst, `{"entityType":"USERS","profiles":[`...)
	for i := range users {
		u := &users[i]
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"externalId":`...)
		dst = jsonstr.Append(dst, u.ExternalID)
		dst = append(dst, `,"profile":{`...)
		first := true
		for _, a := range u.Profile.standard() {
			if a.value == "" {
				continue
			}
			dst = appendField(dst, first, a.name, a.value)
			first = false
		}
		if len(u.Profile.Custom) > 0 {
			keys = keys[:0]
			for k, v := range u.Profile.Custom {
				if v != "" {
					keys = append(keys, k)
				}
			}
			slices.Sort(keys)
			for _, k := range keys {
				dst = appendField(dst, first, k, u.Profile.Custom[k])
				first = false
			}
		}
		dst = append(dst, "}}"...)
	}
	return append(dst, "]}"...)
}

func appendField(dst []byte, first bool, name, value string) []byte {
	if !first {
		dst = append(dst, ',')
	}
	dst = jsonstr.Append(dst, name)
	dst = append(dst, ':')
	return jsonstr.Append(dst, value)
}
