package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
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

func TestFunctionConsumesStreamBatches(t *testing.T) {
	env := storetest.NewTable(t, testTable)
	payload, err := os.ReadFile("testdata/dynamodb-stream.json")
	if err != nil {
		t.Fatal(err)
	}
	// The fixture's writes happened today, so its events are within
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
	// The same batch twice, as after a redelivery: stored once.
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
	}
	if want := []string{events.UserCreated, events.GroupCreated, events.GroupMemberAdded}; !slices.Equal(types, want) {
		t.Fatalf("stored %v, want %v", types, want)
	}
	fn.Stop()
}
