package events

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	lambdaevents "github.com/aws/aws-lambda-go/events"

	"github.com/scimless/scimless/pkg/table"
)

// Attributes of the table's items that derivation reads. The item layout is
// pkg/store's; the actor attributes are stamped by the store on every write
// of a user, group or membership (see package table).
const (
	attrPK       = "pk"
	attrSK       = "sk"
	attrType     = "type"
	attrID       = "id"
	attrDoc      = "doc"
	attrActive   = "active"
	attrVersion  = "ver"
	attrCreated  = "created"
	attrModified = "modified"
	attrGroups   = "groups"
	attrUID      = "uid"
	attrGID      = "gid"
	attrUserName = "userName"
	attrDisplay  = "displayName"
	// attrGroupName is an optional name on a membership item: the group's
	// displayName when the member was added (userName likewise).
	attrGroupName = "groupName"
)

// Core schema URNs and endpoints, as pkg/scim renders resources.
const (
	UserSchema  = "urn:ietf:params:scim:schemas:core:2.0:User"
	GroupSchema = "urn:ietf:params:scim:schemas:core:2.0:Group"
)

// Image is one item image of a stream record.
type Image = map[string]lambdaevents.DynamoDBAttributeValue

// Options tune how resources are rendered into event data.
type Options struct {
	// BaseURL is the SCIM base URL (e.g. "https://id.example.com/scim/v2");
	// when set, data carries meta.location and $ref as the API returns them.
	BaseURL string
}

// Result is what one stream record yields.
type Result struct {
	// Events are the record's events (often none: guards, counters, tokens,
	// and writes that change nothing visible yield none).
	Events []Event
	// Err is set when the record could not be turned into events (a corrupt
	// item); its events are then empty.
	Err error
}

// Deletion is who deleted an item and when, as its deletion marker (see
// table.DeletionPrefix) records.
type Deletion struct {
	Actor Actor
	At    time.Time
}

// ItemKey is the primary key of a table item.
type ItemKey struct{ PK, SK string }

// String returns the key as "{pk}|{sk}", the form Derive's known is keyed by.
func (k ItemKey) String() string { return k.PK + "|" + k.SK }

// Derive turns a batch of stream records (in stream order) into events, one
// Result per record. A deletion is attributed to the actor of its deletion
// marker: found among the records when the marker's record is in the batch,
// else in known (keyed by ItemKey.String of the deleted item; see
// Unattributed). A deletion found in neither has an empty actor.
func Derive(records []lambdaevents.DynamoDBEventRecord, o Options, known map[string]Deletion) []Result {
	deleters := markers(records)
	for k, d := range known {
		if _, ok := deleters[k]; !ok {
			deleters[k] = d
		}
	}
	out := make([]Result, len(records))
	for i, r := range records {
		evs, err := deriveRecord(r, o, deleters)
		if err != nil {
			out[i].Err = fmt.Errorf("record %s (seq %s): %w", r.EventID, r.Change.SequenceNumber, err)
			continue
		}
		out[i].Events = evs
	}
	return out
}

// markers returns the deletions whose markers' records are in records.
func markers(records []lambdaevents.DynamoDBEventRecord) map[string]Deletion {
	out := map[string]Deletion{}
	for _, r := range records {
		if r.EventName == "REMOVE" {
			continue
		}
		im := image(r.Change.NewImage)
		if im.str(attrType) != table.DeletionType {
			continue
		}
		if k := im.str(table.ActorDeleted); k != "" {
			out[k] = Deletion{Actor: im.actor(), At: im.time(table.ActorAt)}
		}
	}
	return out
}

// Unattributed returns the keys of the users, groups and memberships
// deleted in records whose deletion markers' records are not among them:
// the markers to read for Derive's known.
func Unattributed(records []lambdaevents.DynamoDBEventRecord) []ItemKey {
	have := markers(records)
	var out []ItemKey
	for _, r := range records {
		if r.EventName != "REMOVE" || r.UserIdentity != nil && r.UserIdentity.Type == "Service" {
			continue
		}
		im := image(r.Change.OldImage)
		switch im.str(attrType) {
		case "user", "group", "member":
		default:
			continue
		}
		k := ItemKey{PK: im.str(attrPK), SK: im.str(attrSK)}
		if _, ok := have[k.String()]; !ok && k.PK != "" {
			out = append(out, k)
		}
	}
	return out
}

type image Image

func (im image) str(name string) string {
	if im == nil {
		return ""
	}
	av, ok := im[name]
	if !ok || av.DataType() != lambdaevents.DataTypeString {
		return ""
	}
	return av.String()
}

func (im image) boolean(name string) bool {
	av, ok := im[name]
	return ok && av.DataType() == lambdaevents.DataTypeBoolean && av.Boolean()
}

func (im image) num(name string) int64 {
	av, ok := im[name]
	if !ok || av.DataType() != lambdaevents.DataTypeNumber {
		return 0
	}
	n, _ := strconv.ParseInt(av.Number(), 10, 64)
	return n
}

func (im image) bytes(name string) []byte {
	av, ok := im[name]
	if !ok {
		return nil
	}
	switch av.DataType() {
	case lambdaevents.DataTypeBinary:
		return av.Binary()
	case lambdaevents.DataTypeString:
		return []byte(av.String())
	}
	return nil
}

func (im image) strs(name string) []string {
	av, ok := im[name]
	if !ok {
		return nil
	}
	switch av.DataType() {
	case lambdaevents.DataTypeStringSet:
		s := slices.Clone(av.StringSet())
		slices.Sort(s)
		return s
	case lambdaevents.DataTypeList:
		var s []string
		for _, v := range av.List() {
			if v.DataType() == lambdaevents.DataTypeString {
				s = append(s, v.String())
			}
		}
		slices.Sort(s)
		return s
	}
	return nil
}

func (im image) time(name string) time.Time {
	s := im.str(name)
	if s == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}
	}
	return t.UTC()
}

func (im image) actor() Actor {
	return Actor{TokenID: im.str(table.ActorToken), RequestID: im.str(table.ActorRequest), Via: im.str(table.ActorVia)}
}

// tenantOf returns the tenant of a key "T#{tenant}" or "T#{tenant}#…".
func tenantOf(pk string) string {
	rest, ok := strings.CutPrefix(pk, "T#")
	if !ok {
		return ""
	}
	t, _, _ := strings.Cut(rest, "#")
	return t
}

func deriveRecord(r lambdaevents.DynamoDBEventRecord, o Options, deleters map[string]Deletion) ([]Event, error) {
	oldIm, newIm := image(r.Change.OldImage), image(r.Change.NewImage)
	cur := newIm
	if r.EventName == "REMOVE" {
		cur = oldIm
	}
	if cur == nil {
		// KEYS_ONLY or NEW_IMAGE streams cannot be turned into events.
		if r.EventName == "REMOVE" || r.EventName == "MODIFY" && len(r.Change.Keys) > 0 && oldIm == nil {
			if looksLikeResource(r.Change.Keys) {
				return nil, fmt.Errorf("%s record without item images: the stream must use NEW_AND_OLD_IMAGES", r.EventName)
			}
		}
		return nil, nil
	}
	if r.UserIdentity != nil && r.UserIdentity.Type == "Service" {
		return nil, nil // TTL expiry: housekeeping, not a directory change
	}
	tenant := tenantOf(cur.str(attrPK))
	if tenant == "" {
		return nil, nil
	}
	var (
		typ     string
		data    json.RawMessage
		changed []string
		err     error
	)
	switch cur.str(attrType) {
	case "user":
		typ, data, changed, err = deriveUser(r.EventName, oldIm, newIm, o)
	case "group":
		typ, data, changed, err = deriveGroup(r.EventName, oldIm, newIm, o)
	case "member":
		typ, data, changed, err = deriveMember(r.EventName, cur)
	case sourceUserType, sourceGroupType:
		typ, data, changed, err = deriveSource(r.EventName, oldIm, newIm)
	default:
		return nil, nil
	}
	if err != nil || typ == "" {
		return nil, err
	}
	var (
		actor Actor
		at    time.Time
	)
	if r.EventName == "REMOVE" {
		if d, ok := deleters[cur.str(attrPK)+"|"+cur.str(attrSK)]; ok {
			actor, at = d.Actor, d.At
		}
	} else {
		actor, at = newIm.actor(), newIm.time(table.ActorAt)
	}
	if at.IsZero() {
		// Not stamped: the stream's own time (whole seconds), never a time
		// from the document, so that ids of unstamped writes keep stream
		// order.
		at = r.Change.ApproximateCreationDateTime.UTC()
	}
	// The id is in stream order: the stream's own time (whole seconds), then
	// the sequence number, which orders a shard's records as they were
	// committed. (The write's time, taken before its commit, would not:
	// concurrent writes can commit in the other order.)
	idTime := r.Change.ApproximateCreationDateTime.Time
	if idTime.IsZero() {
		idTime = at
	}
	id, err := NewID(idTime, r.Change.SequenceNumber, 0)
	if err != nil {
		return nil, err
	}
	return []Event{{ID: id, Type: typ, Tenant: tenant, Time: at, Data: data, Changed: changed, Actor: actor}}, nil
}

func looksLikeResource(keys Image) bool {
	sk := image(keys).str(attrSK)
	return strings.HasPrefix(sk, "U#") || strings.HasPrefix(sk, "G#") || strings.HasPrefix(sk, "M#") || strings.HasPrefix(sk, "SRC#")
}

func deriveUser(name string, oldIm, newIm image, o Options) (string, json.RawMessage, []string, error) {
	switch name {
	case "INSERT":
		res, err := renderUser(newIm, o)
		if err != nil {
			return "", nil, nil, err
		}
		data, err := json.Marshal(res)
		return UserCreated, data, paths(nil, res), err
	case "REMOVE":
		res, err := renderUser(oldIm, o)
		if err != nil {
			return "", nil, nil, err
		}
		data, err := json.Marshal(res)
		return UserDeleted, data, nil, err
	case "MODIFY":
		before, err := renderUser(oldIm, o)
		if err != nil {
			return "", nil, nil, err
		}
		after, err := renderUser(newIm, o)
		if err != nil {
			return "", nil, nil, err
		}
		changed := paths(before, after)
		// Memberships are events of their own: a user write that only
		// changed the user's group set (a membership change) is not a user
		// update.
		changed = slices.DeleteFunc(changed, func(p string) bool { return p == "groups" })
		wasActive, isActive := oldIm.boolean(attrActive), newIm.boolean(attrActive)
		typ := UserUpdated
		switch {
		case wasActive && !isActive:
			typ = UserDeactivated
		case !wasActive && isActive:
			typ = UserReactivated
		case len(changed) == 0:
			return "", nil, nil, nil // nothing visible changed
		}
		data, err := json.Marshal(after)
		return typ, data, changed, err
	}
	return "", nil, nil, nil
}

func deriveGroup(name string, oldIm, newIm image, o Options) (string, json.RawMessage, []string, error) {
	switch name {
	case "INSERT":
		res, err := renderGroup(newIm, o)
		if err != nil {
			return "", nil, nil, err
		}
		data, err := json.Marshal(res)
		return GroupCreated, data, paths(nil, res), err
	case "REMOVE":
		res, err := renderGroup(oldIm, o)
		if err != nil {
			return "", nil, nil, err
		}
		data, err := json.Marshal(res)
		return GroupDeleted, data, nil, err
	case "MODIFY":
		before, err := renderGroup(oldIm, o)
		if err != nil {
			return "", nil, nil, err
		}
		after, err := renderGroup(newIm, o)
		if err != nil {
			return "", nil, nil, err
		}
		changed := paths(before, after)
		if len(changed) == 0 {
			return "", nil, nil, nil
		}
		data, err := json.Marshal(after)
		return GroupUpdated, data, changed, err
	}
	return "", nil, nil, nil
}

func deriveMember(name string, im image) (string, json.RawMessage, []string, error) {
	var typ string
	switch name {
	case "INSERT":
		typ = GroupMemberAdded
	case "REMOVE":
		typ = GroupMemberRemove
	default:
		return "", nil, nil, nil // re-adding a member rewrites the same item
	}
	gid, uid := im.str(attrGID), im.str(attrUID)
	if gid == "" || uid == "" {
		return "", nil, nil, fmt.Errorf("membership item %s|%s lacks uid or gid", im.str(attrPK), im.str(attrSK))
	}
	m := MemberData{Group: GroupRef{ID: gid, DisplayName: im.str(attrGroupName)}, User: UserRef{ID: uid, UserName: im.str(attrUserName)}}
	data, err := json.Marshal(m)
	return typ, data, nil, err
}

// meta keys every rendered resource carries and that are not attributes a
// client changes.
var notAttributes = map[string]bool{"meta": true, "schemas": true, "id": true}

// renderUser returns the user of an item image as the SCIM API returns it:
// the stored document plus schemas, id, meta and groups. The password hash
// and any other item attribute are never included.
func renderUser(im image, o Options) (map[string]any, error) {
	res, err := renderResource(im, "User", "/Users", UserSchema, o)
	if err != nil {
		return nil, err
	}
	delete(res, "password")
	if gids := im.strs(attrGroups); len(gids) > 0 {
		list := make([]any, len(gids))
		for i, gid := range gids {
			g := map[string]any{"value": gid, "type": "direct"}
			if o.BaseURL != "" {
				g["$ref"] = o.BaseURL + "/Groups/" + gid
			}
			list[i] = g
		}
		res["groups"] = list
	}
	return res, nil
}

// renderGroup returns the group of an item image as the SCIM API returns it
// with excludedAttributes=members: members are events of their own.
func renderGroup(im image, o Options) (map[string]any, error) {
	return renderResource(im, "Group", "/Groups", GroupSchema, o)
}

func renderResource(im image, resourceType, endpoint, core string, o Options) (map[string]any, error) {
	id := im.str(attrID)
	if id == "" {
		return nil, fmt.Errorf("%s item %s|%s has no id", resourceType, im.str(attrPK), im.str(attrSK))
	}
	res := map[string]any{}
	if raw := im.bytes(attrDoc); len(raw) > 0 {
		if err := json.Unmarshal(raw, &res); err != nil {
			return nil, fmt.Errorf("%s %s: decode document: %w", resourceType, id, err)
		}
		if res == nil {
			res = map[string]any{}
		}
	}
	schemas := []any{core}
	var ext []string
	for k, v := range res {
		if _, isObj := v.(map[string]any); isObj && strings.HasPrefix(k, "urn:") {
			ext = append(ext, k)
		}
	}
	slices.Sort(ext)
	for _, e := range ext {
		schemas = append(schemas, e)
	}
	res["schemas"] = schemas
	res["id"] = id
	m := map[string]any{
		"resourceType": resourceType,
		"version":      fmt.Sprintf(`W/"%d"`, im.num(attrVersion)),
	}
	if t := im.time(attrCreated); !t.IsZero() {
		m["created"] = t.Format(time.RFC3339Nano)
	}
	if t := im.time(attrModified); !t.IsZero() {
		m["lastModified"] = t.Format(time.RFC3339Nano)
	}
	if o.BaseURL != "" {
		m["location"] = o.BaseURL + endpoint + "/" + id
	}
	res["meta"] = m
	return res, nil
}

// paths returns the sorted attribute paths whose values differ between two
// rendered resources: "name.givenName" for a sub-attribute, the full
// "urn:…:User:department" for an extension attribute, the attribute itself
// for a multi-valued one. before nil lists every path of after.
func paths(before, after map[string]any) []string {
	var out []string
	for _, k := range unionKeys(before, after) {
		if notAttributes[k] {
			continue
		}
		a, b := before[k], after[k]
		if reflect.DeepEqual(a, b) && (before != nil || b == nil) {
			continue
		}
		am, aObj := a.(map[string]any)
		bm, bObj := b.(map[string]any)
		if !aObj && !bObj {
			out = append(out, k)
			continue
		}
		if a != nil && !aObj || b != nil && !bObj {
			out = append(out, k) // the type changed: the whole attribute
			continue
		}
		sep := "."
		if strings.HasPrefix(k, "urn:") {
			sep = ":" // an extension: its attributes by full path
		}
		for _, sub := range unionKeys(am, bm) {
			sa, sb := am[sub], bm[sub]
			if reflect.DeepEqual(sa, sb) && (am != nil || sb == nil) {
				continue
			}
			sam, saObj := sa.(map[string]any)
			sbm, sbObj := sb.(map[string]any)
			if sep == ":" && (saObj || sbObj) && (sa == nil || saObj) && (sb == nil || sbObj) {
				// A complex attribute of an extension (e.g. manager).
				for _, leaf := range unionKeys(sam, sbm) {
					if !reflect.DeepEqual(sam[leaf], sbm[leaf]) {
						out = append(out, k+sep+sub+"."+leaf)
					}
				}
				continue
			}
			out = append(out, k+sep+sub)
		}
	}
	slices.Sort(out)
	return out
}

func unionKeys(a, b map[string]any) []string {
	keys := make([]string, 0, len(a)+len(b))
	for k := range a {
		keys = append(keys, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}
