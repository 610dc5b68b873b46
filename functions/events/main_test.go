package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	lambdaevents "github.com/aws/aws-lambda-go/events"

	"github.com/scimless/scimless/pkg/events"
	"github.com/scimless/scimless/pkg/lambdatest"
	"github.com/scimless/scimless/pkg/store"
	"github.com/scimless/scimless/pkg/store/storetest"
)

// runMainEnv makes the test binary run the function's main instead of the
// tests, so the tests drive the real main as a process, as Lambda runs it.
const runMainEnv = "SCIMLESS_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(runMainEnv) == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

const testTable = "scimless-events-fn-test"

// streamEvents are the expectations of the SAM stream events in events/:
// the event types each batch stores, and a check of the stored events.
var streamEvents = map[string]struct {
	types []string
	check func(t *testing.T, e events.Event)
}{
	"stream-scim-writes.json": {
		types: []string{events.UserCreated, events.GroupCreated, events.GroupMemberAdded},
		check: func(t *testing.T, e events.Event) {
			if e.Type == events.UserCreated && (e.Actor.TokenID != "0f1e2d3c4b5a69788796a5b4c3d2e1f0" || e.Actor.Via != "scim") {
				t.Errorf("actor %+v", e.Actor)
			}
			if e.Type == events.GroupMemberAdded {
				var m events.MemberData
				_ = json.Unmarshal(e.Data, &m)
				if m.Group.DisplayName != "Engineering" || m.User.UserName != "ada@example.com" {
					t.Errorf("member data %s", e.Data)
				}
			}
		},
	},
	"stream-deletions-and-xaas.json": {
		types: []string{events.GroupMemberRemove, events.UserDeleted, events.UserCreated},
		check: func(t *testing.T, e events.Event) {
			switch e.Type {
			case events.GroupMemberRemove, events.UserDeleted: // attributed through their deletion markers
				if e.Actor.RequestID != "req-9" || e.Actor.Via != "scim" {
					t.Errorf("%s actor %+v", e.Type, e.Actor)
				}
			case events.UserCreated: // an XaaS record
				if e.Actor.Via != "xaas" || e.ResourceID() != "emp-1001" {
					t.Errorf("xaas user.created: actor %+v, resource %q", e.Actor, e.ResourceID())
				}
			}
		},
	},
}

// TestFunctionReplaysStreamEvents runs the real function on every stream
// event in events/, each twice as after a redelivery: its events are stored
// once, attributed and shaped as expected.
func TestFunctionReplaysStreamEvents(t *testing.T) {
	files, err := filepath.Glob("../../events/stream-*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no stream events in events/: %v", err)
	}
	for _, path := range files {
		name := filepath.Base(path)
		want, ok := streamEvents[name]
		if !ok {
			t.Errorf("events/%s has no expectation", name)
			continue
		}
		t.Run(name, func(t *testing.T) {
			env := storetest.NewTable(t, testTable)
			payload, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			// The event's writes happened today, so its events are within
			// retention.
			payload = bytes.ReplaceAll(payload, []byte("2026-01-01T"), []byte(time.Now().UTC().Format("2006-01-02T")))
			rt := lambdatest.StartRuntime(t)
			fn := lambdatest.StartFunction(t, runMainEnv,
				"SCIMLESS_TABLE="+testTable,
				"SCIMLESS_DYNAMODB_ENDPOINT="+env.Engine.Endpoint(),
				"SCIMLESS_BASE_URL=https://id.example.com/scim/v2",
				"AWS_LAMBDA_RUNTIME_API="+rt.Addr,
				"AWS_LAMBDA_FUNCTION_NAME=scimless-events",
			)
			for i, id := range []string{"first", "redelivered"} {
				res := rt.Invoke(t, fn, id, payload)
				if res.Failed {
					t.Fatalf("invocation %d: %s\nstderr: %s", i, res.Body, fn.Stderr())
				}
				var resp lambdaevents.DynamoDBEventResponse
				if err := json.Unmarshal(res.Body, &resp); err != nil || len(resp.BatchItemFailures) != 0 {
					t.Fatalf("answer %s: %v", res.Body, err)
				}
			}
			page, err := env.Store.ListEvents(context.Background(), "default", store.EventQuery{})
			if err != nil {
				t.Fatal(err)
			}
			var types []string
			for _, se := range page.Events {
				var e events.Event
				if err := json.Unmarshal(se.JSON, &e); err != nil {
					t.Fatal(err)
				}
				types = append(types, e.Type)
				want.check(t, e)
			}
			if !slices.Equal(types, want.types) {
				t.Fatalf("stored %v, want %v", types, want.types)
			}
			fn.Stop()
		})
	}
}
