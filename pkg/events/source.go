package events

import (
	"encoding/json"
	"time"

	lambdaevents "github.com/aws/aws-lambda-go/events"
)

// Item types and attributes of the records an XaaS source pushes (see
// pkg/store). A source user or group is a directory resource of its tenant
// like a SCIM one: its writes are user.* and group.* events whose actor is
// via "xaas", and whose data is the record as the XaaS API returns it,
// without its sync state. A source group carries its members in the record,
// so a member change is a group.updated whose changed lists "members".
const (
	sourceUserType  = "srcUser"
	sourceGroupType = "srcGroup"

	attrExternalID  = "externalId"
	attrAttrs       = "attrs"
	attrDeleted     = "deleted"
	attrHash        = "hash"
	attrChanged     = "changed"
	attrMembers     = "members"
	attrDescription = "description"
)

// deriveSource returns the event of a write of a source user or group.
// Writes that only record sync state (Okta confirmed an import, a push
// failed) change nothing the source pushed and yield none; so does the
// expiry of a pushed tombstone.
func deriveSource(name string, oldIm, newIm image) (string, json.RawMessage, []string, error) {
	cur := newIm
	if name == "REMOVE" {
		cur = oldIm
	}
	render, created, updated, deleted := renderSourceUser, UserCreated, UserUpdated, UserDeleted
	isGroup := cur.str(attrType) == sourceGroupType
	if isGroup {
		render, created, updated, deleted = renderSourceGroup, GroupCreated, GroupUpdated, GroupDeleted
	}
	var typ string
	var before, after map[string]any
	switch name {
	case "INSERT":
		if newIm.boolean(attrDeleted) {
			return "", nil, nil, nil
		}
		typ, after = created, render(newIm)
	case "REMOVE":
		if oldIm.boolean(attrDeleted) {
			return "", nil, nil, nil
		}
		typ, after = deleted, render(oldIm)
	case "MODIFY":
		wasDeleted, isDeleted := oldIm.boolean(attrDeleted), newIm.boolean(attrDeleted)
		switch {
		case wasDeleted && isDeleted:
			return "", nil, nil, nil
		case isDeleted:
			typ, after = deleted, render(oldIm) // the last state before the tombstone
		case wasDeleted:
			typ, after = created, render(newIm)
		case oldIm.str(attrHash) != "" && oldIm.str(attrHash) == newIm.str(attrHash):
			return "", nil, nil, nil // the same content: sync state only
		default:
			typ, before, after = updated, render(oldIm), render(newIm)
			if !isGroup {
				switch wasActive, isActive := oldIm.boolean(attrActive), newIm.boolean(attrActive); {
				case wasActive && !isActive:
					typ = UserDeactivated
				case !wasActive && isActive:
					typ = UserReactivated
				}
			}
		}
	default:
		return "", nil, nil, nil
	}
	var changed []string
	switch typ {
	case created:
		changed = paths(nil, after)
	case deleted:
	default:
		if changed = paths(before, after); len(changed) == 0 && typ == updated {
			return "", nil, nil, nil
		}
	}
	data, err := json.Marshal(after)
	return typ, data, changed, err
}

// renderSourceUser returns a source user as the XaaS API returns it: its
// attributes, externalId, active and meta, without sync state.
func renderSourceUser(im image) map[string]any {
	res := map[string]any{}
	if av, ok := im[attrAttrs]; ok && av.DataType() == lambdaevents.DataTypeMap {
		for k, v := range av.Map() {
			if v.DataType() == lambdaevents.DataTypeString {
				res[k] = v.String()
			}
		}
	}
	res[attrExternalID] = im.str(attrExternalID)
	res[attrActive] = im.boolean(attrActive)
	res["meta"] = sourceMeta(im, "SourceUser")
	return res
}

// renderSourceGroup returns a source group as the XaaS API returns it:
// externalId, displayName, description, members and meta.
func renderSourceGroup(im image) map[string]any {
	members := im.strs(attrMembers)
	if members == nil {
		members = []string{}
	}
	res := map[string]any{
		attrExternalID: im.str(attrExternalID),
		attrDisplay:    im.str(attrDisplay),
		attrMembers:    members,
		"meta":         sourceMeta(im, "SourceGroup"),
	}
	if d := im.str(attrDescription); d != "" {
		res[attrDescription] = d
	}
	return res
}

func sourceMeta(im image, resourceType string) map[string]any {
	m := map[string]any{"resourceType": resourceType, "version": im.num(attrVersion)}
	for k, attr := range map[string]string{"created": attrCreated, "lastModified": attrChanged} {
		if t := im.time(attr); !t.IsZero() {
			m[k] = t.Format(time.RFC3339Nano)
		}
	}
	return m
}
