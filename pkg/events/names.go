package events

import (
	"encoding/json"

	lambdaevents "github.com/aws/aws-lambda-go/events"
)

// Names maps ids to names within one tenant: group ids to displayName, user
// ids to userName.
type Names struct {
	Groups map[string]string
	Users  map[string]string
}

func (n *Names) addGroup(id, name string) {
	if n.Groups == nil {
		n.Groups = map[string]string{}
	}
	n.Groups[id] = name
}

func (n *Names) addUser(id, name string) {
	if n.Users == nil {
		n.Users = map[string]string{}
	}
	n.Users[id] = name
}

// NeededNames returns, per tenant, the ids whose names the events lack: the
// group and user of membership events, and the groups listed in user data.
func NeededNames(evs []Event) map[string]Names {
	out := map[string]Names{}
	for _, e := range evs {
		n := out[e.Tenant]
		switch e.ResourceType() {
		case "Membership":
			var m MemberData
			if json.Unmarshal(e.Data, &m) != nil {
				continue
			}
			if m.Group.DisplayName == "" {
				n.addGroup(m.Group.ID, "")
			}
			if m.User.UserName == "" {
				n.addUser(m.User.ID, "")
			}
		case "User":
			var u struct {
				Groups []struct {
					Value   string `json:"value"`
					Display string `json:"display"`
				} `json:"groups"`
			}
			if json.Unmarshal(e.Data, &u) != nil {
				continue
			}
			for _, g := range u.Groups {
				if g.Display == "" {
					n.addGroup(g.Value, "")
				}
			}
		}
		if n.Groups != nil || n.Users != nil {
			out[e.Tenant] = n
		}
	}
	return out
}

// NamesFromRecords returns, per tenant, the names that the records' item
// images carry (users, groups, and memberships that record their names).
func NamesFromRecords(recs []lambdaevents.DynamoDBEventRecord) map[string]Names {
	out := map[string]Names{}
	for _, r := range recs {
		for _, im := range []image{image(r.Change.OldImage), image(r.Change.NewImage)} {
			if im == nil {
				continue
			}
			tenant := tenantOf(im.str(attrPK))
			if tenant == "" {
				continue
			}
			n := out[tenant]
			switch im.str(attrType) {
			case "user":
				if id, name := im.str(attrID), im.str(attrUserName); id != "" && name != "" {
					n.addUser(id, name)
				}
			case "group":
				if id, name := im.str(attrID), im.str(attrDisplay); id != "" && name != "" {
					n.addGroup(id, name)
				}
			case "member":
				if id, name := im.str(attrGID), im.str(attrGroupName); id != "" && name != "" {
					n.addGroup(id, name)
				}
				if id, name := im.str(attrUID), im.str(attrUserName); id != "" && name != "" {
					n.addUser(id, name)
				}
			default:
				continue
			}
			out[tenant] = n
		}
	}
	return out
}

// FillNames sets the names that events lack from known (per tenant); names
// not known stay empty.
func FillNames(evs []Event, known map[string]Names) {
	for i := range evs {
		e := &evs[i]
		k, ok := known[e.Tenant]
		if !ok {
			continue
		}
		switch e.ResourceType() {
		case "Membership":
			var m MemberData
			if json.Unmarshal(e.Data, &m) != nil {
				continue
			}
			if m.Group.DisplayName == "" {
				m.Group.DisplayName = k.Groups[m.Group.ID]
			}
			if m.User.UserName == "" {
				m.User.UserName = k.Users[m.User.ID]
			}
			if b, err := json.Marshal(m); err == nil {
				e.Data = b
			}
		case "User":
			var u map[string]any
			if json.Unmarshal(e.Data, &u) != nil {
				continue
			}
			groups, _ := u["groups"].([]any)
			changed := false
			for _, g := range groups {
				gm, _ := g.(map[string]any)
				id, _ := gm["value"].(string)
				if _, has := gm["display"]; gm == nil || has || k.Groups[id] == "" {
					continue
				}
				gm["display"] = k.Groups[id]
				changed = true
			}
			if changed {
				if b, err := json.Marshal(u); err == nil {
					e.Data = b
				}
			}
		}
	}
}

// MaxBytes is the largest encoded event delivered whole: an EventBridge
// entry holds 256 KB and an SQS message 256 KB, envelopes included.
const MaxBytes = 200 << 10

// Fit returns e, or when its encoding exceeds limit bytes, e with data cut
// to the resource's id, schemas and meta (membership data is always small).
// The receiver reads the full resource from the SCIM API.
func Fit(e Event, limit int) Event {
	b, err := json.Marshal(e)
	if err == nil && len(b) <= limit {
		return e
	}
	var full map[string]any
	if json.Unmarshal(e.Data, &full) != nil {
		return e
	}
	small := map[string]any{}
	for _, k := range []string{"id", "schemas", "meta"} {
		if v, ok := full[k]; ok {
			small[k] = v
		}
	}
	if d, err := json.Marshal(small); err == nil {
		e.Data = d
	}
	return e
}
