package events_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	lambdaevents "github.com/aws/aws-lambda-go/events"

	"github.com/scimless/scimless/pkg/events"
)

// FuzzDerive feeds arbitrary stored documents and type lists through
// derivation: it never panics, and what it yields is valid JSON without the
// password hash.
func FuzzDerive(f *testing.F) {
	f.Add([]byte(`{"userName":"a","name":{"givenName":"A"},"urn:x:ext":{"k":{"v":1}}}`), []byte(`{"userName":"b","active":false}`), "user")
	f.Add([]byte(`null`), []byte(`[]`), "group")
	f.Add([]byte(`{"password":"x"}`), []byte(`{`), "member")
	f.Fuzz(func(t *testing.T, oldDoc, newDoc []byte, typ string) {
		s := lambdaevents.NewStringAttribute
		im := func(doc []byte, active bool) events.Image {
			return events.Image{"pk": s("T#acme"), "sk": s("U#u1"), "type": s(typ), "id": s("u1"), "uid": s("u1"), "gid": s("g1"),
				"doc": lambdaevents.NewBinaryAttribute(doc), "active": lambdaevents.NewBooleanAttribute(active), "pwd": s("$argon2id$secret"),
				"groups": lambdaevents.NewStringSetAttribute([]string{"g1"})}
		}
		for _, name := range []string{"INSERT", "MODIFY", "REMOVE"} {
			r := lambdaevents.DynamoDBEventRecord{EventName: name, Change: lambdaevents.DynamoDBStreamRecord{SequenceNumber: "1",
				ApproximateCreationDateTime: lambdaevents.SecondsEpochTime{Time: time.Unix(1_800_000_000, 0)}}}
			switch name {
			case "INSERT":
				r.Change.NewImage = im(newDoc, true)
			case "MODIFY":
				r.Change.OldImage, r.Change.NewImage = im(oldDoc, true), im(newDoc, false)
			case "REMOVE":
				r.Change.OldImage = im(oldDoc, false)
			}
			for _, res := range events.Derive([]lambdaevents.DynamoDBEventRecord{r}, events.Options{}, nil) {
				for _, e := range res.Events {
					b, err := json.Marshal(e)
					if err != nil || !json.Valid(b) {
						t.Fatalf("event does not encode: %v", err)
					}
					if strings.Contains(string(b), "argon2") {
						t.Fatalf("password hash in %s", b)
					}
				}
			}
		}
	})
}

// FuzzParseTypes: the types list parser accepts only known types.
func FuzzParseTypes(f *testing.F) {
	f.Add("user.created,group.member_added")
	f.Add(" , ,user.deleted")
	f.Add("user.created,user.created,x")
	f.Fuzz(func(t *testing.T, s string) {
		types, err := events.ParseTypes(s)
		if err != nil {
			return
		}
		for _, typ := range types {
			if !events.ValidType(typ) {
				t.Fatalf("ParseTypes(%q) returned %q", s, typ)
			}
		}
	})
}
