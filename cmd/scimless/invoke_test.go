package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"flag"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/scimless/scimless/pkg/webhook/delivery"
)

const (
	eventsDir  = "../../events"
	seedPath   = "../../events/seed/users.json"
	scimRoute  = "ANY /scim/v2/{proxy+}"
	errorURN   = "urn:ietf:params:scim:api:messages:2.0:Error"
	listURN    = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
	seededUser = "2819c223-7f76-453a-919d-413861904646" // bjensen in events/seed/users.json
	// seedPassword is the password of the user scim-post-user.json creates;
	// it must never come back in a response or a log line.
	seedPassword = "t1meMa$heen"
)

// replayCase is what replaying one file of events/ must give.
type replayCase struct {
	status int // exact status expected; 0 with anyBelow500 set
	// anyBelow500 accepts any status below 500 (the /Groups events: groups
	// are being built, their exact answers are not pinned here yet).
	anyBelow500 bool
	// err, if set, means invoke must refuse the event with this message.
	err string
	// check inspects the decoded JSON body further.
	check func(t *testing.T, body map[string]any)
}

// replayCases has one entry per file in events/: a new event without an
// expectation, or an expectation without its file, fails the test. The
// events run against a throw-away table seeded with events/seed/users.json.
var replayCases = map[string]replayCase{
	"healthz.json":                      {status: 200},
	"scim-service-provider-config.json": {status: 200, check: hasKeys("patch", "filter", "bulk", "authenticationSchemes")},
	"scim-resource-types.json":          {status: 200, check: listOf(2)},
	"scim-schemas.json":                 {status: 200, check: listOf(3)},
	"scim-get-users.json": {status: 200, check: func(t *testing.T, b map[string]any) {
		listOf(2)(t, b)
		if got := b["totalResults"]; got != 2.0 {
			t.Errorf("totalResults = %v, want 2 (the seeded users)", got)
		}
	}},
	"scim-filter-username.json": {status: 200, check: func(t *testing.T, b map[string]any) {
		listOf(1)(t, b)
		if got := b["Resources"].([]any)[0].(map[string]any)["id"]; got != seededUser {
			t.Errorf("Resources[0].id = %v, want %s", got, seededUser)
		}
	}},
	"scim-search-users.json": {status: 200, check: func(t *testing.T, b map[string]any) {
		listOf(1)(t, b)
		r := b["Resources"].([]any)[0].(map[string]any)
		if r["userName"] != "bjensen@example.com" || r["emails"] != nil {
			t.Errorf("Resources[0] = %v, want only the requested attributes of bjensen", r)
		}
	}},
	"scim-post-user.json": {status: 201, check: func(t *testing.T, b map[string]any) {
		// The body is base64-encoded in the event: 201 with these values
		// shows the adapter decoded it.
		if b["userName"] != "mrossi@example.com" || b["id"] == "" || b["password"] != nil {
			t.Errorf("created user = %v, want userName mrossi@example.com, an id and no password", b)
		}
	}},
	"scim-get-user.json": {status: 200, check: userWith("active", true)},
	"scim-put-user.json": {status: 200, check: func(t *testing.T, b map[string]any) {
		userWith("displayName", "Barbara Jensen-Smith")(t, b)
		if got := b["name"].(map[string]any)["familyName"]; got != "Jensen-Smith" {
			t.Errorf("name.familyName = %v, want Jensen-Smith", got)
		}
	}},
	"scim-patch-user-deactivate.json": {status: 200, check: userWith("active", false)},
	"scim-delete-user.json":           {status: 204},
	"scim-get-user-not-found.json":    {status: 404},
	"scim-unauthorized.json":          {status: 401},
	"scim-post-group.json":            {anyBelow500: true},
	"scim-get-groups.json":            {anyBelow500: true},
	"scim-patch-group-members.json":   {anyBelow500: true},
}

// isXaaSEventFile reports whether events/name is for the xaas function; those
// are replayed (and matched to their expectations) by TestXaaSEventsReplay.
func isXaaSEventFile(name string) bool { return strings.HasPrefix(name, "xaas-") }

// isStreamEventFile reports whether events/name is a table stream batch for
// the events function; those are replayed by TestInvokeStreamEvents and
// through the function's main by its own tests.
func isStreamEventFile(name string) bool { return strings.HasPrefix(name, "stream-") }

// isQueueEventFile reports whether events/name is an SQS batch for the
// webhooks function; those are replayed by TestInvokeQueueEvents and
// through the function's main by its own tests.
func isQueueEventFile(name string) bool { return strings.HasPrefix(name, "sqs-") }

// eventFiles returns events/*.json; an empty folder is a failure.
func eventFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(eventsDir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no events in %s", eventsDir)
	}
	return files
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// newTableFlags returns the table flags `invoke` gets with no table flags:
// the embedded engine and the default table name.
func newTableFlags(t *testing.T, args ...string) *tableFlags {
	t.Helper()
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	var tf tableFlags
	tf.register(fs, true)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	tf.parsed(fs)
	return &tf
}

func TestEventCasesMatchFiles(t *testing.T) {
	var names []string
	for _, f := range eventFiles(t) {
		names = append(names, filepath.Base(f))
	}
	for _, n := range names {
		if isXaaSEventFile(n) || isStreamEventFile(n) || isQueueEventFile(n) {
			continue
		}
		if _, ok := replayCases[n]; !ok {
			t.Errorf("events/%s has no entry in replayCases", n)
		}
	}
	for n := range replayCases {
		if !slices.Contains(names, n) {
			t.Errorf("replayCases has %s but events/ does not", n)
		}
	}
}

func TestReplayEvents(t *testing.T) {
	seed := readFile(t, seedPath)
	for _, file := range eventFiles(t) {
		name := filepath.Base(file)
		tc, ok := replayCases[name]
		if !ok {
			continue // reported by TestEventCasesMatchFiles, or an XaaS event
		}
		t.Run(strings.TrimSuffix(name, ".json"), func(t *testing.T) {
			t.Parallel()
			raw := readFile(t, file)
			var logs bytes.Buffer
			resp, err := invokeEvent(t.Context(), newTableFlags(t), invokeOptions{token: invokeToken, seed: seed}, raw, &logs)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("invoke error = %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("invoke: %v", err)
			}
			switch {
			case tc.anyBelow500:
				if resp.StatusCode < 200 || resp.StatusCode >= 500 {
					t.Fatalf("status %d, want 2xx-4xx; body %s", resp.StatusCode, resp.Body)
				}
			case resp.StatusCode != tc.status:
				t.Fatalf("status %d, want %d; body %s", resp.StatusCode, tc.status, resp.Body)
			}
			checkResponse(t, raw, resp, tc)

			for _, secret := range []string{invokeToken, seedPassword} {
				if strings.Contains(logs.String(), secret) || strings.Contains(resp.Body, secret) {
					t.Errorf("%q leaked into the logs or the response", secret)
				}
			}
			var ev events.APIGatewayV2HTTPRequest
			_ = json.Unmarshal(raw, &ev)
			if !strings.Contains(logs.String(), `"request_id":"`+ev.RequestContext.RequestID+`"`) {
				t.Errorf("no request log line with request_id %s in:\n%s", ev.RequestContext.RequestID, logs.String())
			}
		})
	}
}

// checkResponse checks the headers and body every response must have.
func checkResponse(t *testing.T, raw []byte, resp events.APIGatewayV2HTTPResponse, tc replayCase) {
	t.Helper()
	var ev events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatal(err)
	}
	if got := header(resp, "X-Request-Id"); got != ev.RequestContext.RequestID {
		t.Errorf("X-Request-Id = %q, want the event's requestId %q", got, ev.RequestContext.RequestID)
	}
	if resp.IsBase64Encoded {
		t.Errorf("response is base64-encoded; SCIM responses are text")
	}
	if resp.StatusCode == http.StatusNoContent {
		if resp.Body != "" {
			t.Errorf("204 with body %q", resp.Body)
		}
		return
	}
	ct, _, err := mime.ParseMediaType(header(resp, "Content-Type"))
	if err != nil {
		t.Fatalf("Content-Type %q: %v", header(resp, "Content-Type"), err)
	}
	if ev.RouteKey == "GET /healthz" {
		if ct != "application/json" || resp.Body != `{"status":"ok"}` {
			t.Errorf("healthz: %s %q, want application/json {\"status\":\"ok\"}", ct, resp.Body)
		}
		return
	}
	if ct != "application/scim+json" {
		t.Errorf("Content-Type %q, want application/scim+json", ct)
	}
	var body map[string]any
	if err := json.Unmarshal([]byte(resp.Body), &body); err != nil {
		t.Fatalf("body is not a JSON object: %v: %s", err, resp.Body)
	}
	schemas, _ := body["schemas"].([]any)
	if len(schemas) == 0 {
		t.Fatalf("body has no schemas: %s", resp.Body)
	}
	if resp.StatusCode >= 400 {
		if schemas[0] != errorURN || body["status"] != strconv.Itoa(resp.StatusCode) || body["detail"] == nil {
			t.Errorf("error body %s, want schemas [%s], status %q and a detail", resp.Body, errorURN, strconv.Itoa(resp.StatusCode))
		}
		if resp.StatusCode == http.StatusUnauthorized && header(resp, "WWW-Authenticate") == "" {
			t.Errorf("401 without WWW-Authenticate")
		}
		return
	}
	if tc.check != nil {
		tc.check(t, body)
	}
}

// header returns a response header, whatever the case of its name.
func header(resp events.APIGatewayV2HTTPResponse, name string) string {
	for k, v := range resp.Headers {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	for k, v := range resp.MultiValueHeaders {
		if strings.EqualFold(k, name) && len(v) > 0 {
			return strings.Join(v, ",")
		}
	}
	return ""
}

func hasKeys(keys ...string) func(*testing.T, map[string]any) {
	return func(t *testing.T, b map[string]any) {
		t.Helper()
		for _, k := range keys {
			if _, ok := b[k]; !ok {
				t.Errorf("body has no %q", k)
			}
		}
	}
}

// listOf checks a ListResponse with at least min resources.
func listOf(min int) func(*testing.T, map[string]any) {
	return func(t *testing.T, b map[string]any) {
		t.Helper()
		if s := b["schemas"].([]any); s[0] != listURN {
			t.Errorf("schemas = %v, want [%s]", s, listURN)
		}
		res, _ := b["Resources"].([]any)
		if len(res) < min {
			t.Fatalf("%d Resources, want at least %d", len(res), min)
		}
	}
}

// userWith checks the seeded user with attribute k equal to v.
func userWith(k string, v any) func(*testing.T, map[string]any) {
	return func(t *testing.T, b map[string]any) {
		t.Helper()
		if b["id"] != seededUser || b[k] != v {
			t.Errorf("user id %v %s %v, want id %s %s %v", b["id"], k, b[k], seededUser, k, v)
		}
	}
}

// httpAPIEvent is the documented shape of an API Gateway HTTP API payload
// 2.0 event as `sam local generate-event` writes it; decoding with
// DisallowUnknownFields catches misspelt or stray keys.
type httpAPIEvent struct {
	Version               string            `json:"version"`
	RouteKey              string            `json:"routeKey"`
	RawPath               string            `json:"rawPath"`
	RawQueryString        string            `json:"rawQueryString"`
	Cookies               []string          `json:"cookies"`
	Headers               map[string]string `json:"headers"`
	QueryStringParameters map[string]string `json:"queryStringParameters"`
	PathParameters        map[string]string `json:"pathParameters"`
	Body                  string            `json:"body"`
	IsBase64Encoded       bool              `json:"isBase64Encoded"`
	RequestContext        struct {
		AccountID    string `json:"accountId"`
		APIID        string `json:"apiId"`
		DomainName   string `json:"domainName"`
		DomainPrefix string `json:"domainPrefix"`
		HTTP         struct {
			Method    string `json:"method"`
			Path      string `json:"path"`
			Protocol  string `json:"protocol"`
			SourceIP  string `json:"sourceIp"`
			UserAgent string `json:"userAgent"`
		} `json:"http"`
		RequestID string `json:"requestId"`
		RouteKey  string `json:"routeKey"`
		Stage     string `json:"stage"`
		Time      string `json:"time"`
		TimeEpoch int64  `json:"timeEpoch"`
	} `json:"requestContext"`
}

var httpAPIKeys = []string{"version", "routeKey", "rawPath", "rawQueryString", "cookies", "headers",
	"queryStringParameters", "pathParameters", "body", "isBase64Encoded", "requestContext"}

// eventBridgeEvent is the documented shape of an EventBridge scheduled event.
type eventBridgeEvent struct {
	Version    string          `json:"version"`
	ID         string          `json:"id"`
	DetailType string          `json:"detail-type"`
	Source     string          `json:"source"`
	Account    string          `json:"account"`
	Time       time.Time       `json:"time"`
	Region     string          `json:"region"`
	Resources  []string        `json:"resources"`
	Detail     json.RawMessage `json:"detail"`
}

var eventBridgeKeys = []string{"version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail"}

// apiGatewayTime is the layout of requestContext.time.
const apiGatewayTime = "02/Jan/2006:15:04:05 -0700"

func TestEventFilesShape(t *testing.T) {
	base64Seen := false
	for _, file := range eventFiles(t) {
		raw := readFile(t, file)
		var keys map[string]json.RawMessage
		if err := json.Unmarshal(raw, &keys); err != nil {
			t.Errorf("%s: %v", file, err)
			continue
		}
		if _, ok := keys["detail-type"]; ok {
			t.Run(filepath.Base(file), func(t *testing.T) { checkEventBridge(t, raw, keys) })
			continue
		}
		if isStreamEventFile(filepath.Base(file)) {
			t.Run(filepath.Base(file), func(t *testing.T) { checkStreamEvent(t, raw, keys) })
			continue
		}
		if isQueueEventFile(filepath.Base(file)) {
			t.Run(filepath.Base(file), func(t *testing.T) { checkQueueEvent(t, raw, keys) })
			continue
		}
		t.Run(filepath.Base(file), func(t *testing.T) {
			if ev := checkHTTPAPIEvent(t, raw, keys); ev.IsBase64Encoded {
				base64Seen = true
			}
		})
	}
	if !base64Seen {
		t.Errorf("no event has isBase64Encoded true")
	}
}

func sameKeys(t *testing.T, keys map[string]json.RawMessage, want []string) {
	t.Helper()
	var got []string
	for k := range keys {
		got = append(got, k)
	}
	slices.Sort(got)
	want = slices.Sorted(slices.Values(want))
	if !slices.Equal(got, want) {
		t.Errorf("top-level keys %v, want %v", got, want)
	}
}

// checkStreamEvent checks a DynamoDB stream batch as Lambda delivers it
// from a NEW_AND_OLD_IMAGES stream.
func checkStreamEvent(t *testing.T, raw []byte, keys map[string]json.RawMessage) {
	sameKeys(t, keys, []string{"Records"})
	var ev events.DynamoDBEvent
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatal(err)
	}
	if len(ev.Records) == 0 {
		t.Fatal("no records")
	}
	for i, r := range ev.Records {
		c := r.Change
		if r.EventSource != "aws:dynamodb" || r.EventID == "" || c.SequenceNumber == "" || c.StreamViewType != "NEW_AND_OLD_IMAGES" ||
			len(c.Keys) != 2 || c.ApproximateCreationDateTime.IsZero() {
			t.Errorf("record %d is incomplete: %+v", i, r)
		}
		switch r.EventName {
		case "INSERT":
			if c.NewImage == nil || c.OldImage != nil {
				t.Errorf("record %d: INSERT with images new=%v old=%v", i, c.NewImage != nil, c.OldImage != nil)
			}
		case "MODIFY":
			if c.NewImage == nil || c.OldImage == nil {
				t.Errorf("record %d: MODIFY without both images", i)
			}
		case "REMOVE":
			if c.NewImage != nil || c.OldImage == nil {
				t.Errorf("record %d: REMOVE with images new=%v old=%v", i, c.NewImage != nil, c.OldImage != nil)
			}
		default:
			t.Errorf("record %d: eventName %q", i, r.EventName)
		}
	}
}

// checkQueueEvent checks an SQS FIFO batch of delivery jobs as Lambda
// delivers it to the webhooks function.
func checkQueueEvent(t *testing.T, raw []byte, keys map[string]json.RawMessage) {
	sameKeys(t, keys, []string{"Records"})
	var ev events.SQSEvent
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatal(err)
	}
	if len(ev.Records) == 0 {
		t.Fatal("no records")
	}
	for i, m := range ev.Records {
		a := m.Attributes
		if m.EventSource != "aws:sqs" || m.MessageId == "" || m.ReceiptHandle == "" || !strings.HasSuffix(m.EventSourceARN, ".fifo") ||
			a["MessageGroupId"] == "" || a["MessageDeduplicationId"] == "" || a["ApproximateReceiveCount"] == "" || a["SentTimestamp"] == "" {
			t.Errorf("message %d is incomplete: %+v", i, m)
		}
		var j delivery.Job
		if err := json.Unmarshal([]byte(m.Body), &j); err != nil || j.Tenant == "" || j.WebhookID == "" || j.EventID == "" || len(j.Event) == 0 {
			t.Errorf("message %d: body is not a delivery job (%v): %s", i, err, m.Body)
		}
		if want := delivery.OrderKey(j.Tenant, j.WebhookID, j.Event); a["MessageGroupId"] != want || j.Key != want {
			t.Errorf("message %d: group %q, job key %q, want %q", i, a["MessageGroupId"], j.Key, want)
		}
	}
}

func checkEventBridge(t *testing.T, raw []byte, keys map[string]json.RawMessage) {
	sameKeys(t, keys, eventBridgeKeys)
	var ev eventBridgeEvent
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&ev); err != nil {
		t.Fatal(err)
	}
	if ev.Version != "0" || ev.DetailType != "Scheduled Event" || ev.Source != "aws.events" {
		t.Errorf("version %q detail-type %q source %q, want 0, Scheduled Event, aws.events", ev.Version, ev.DetailType, ev.Source)
	}
	if ev.ID == "" || len(ev.Account) != 12 || ev.Region == "" || ev.Time.IsZero() || string(ev.Detail) != "{}" {
		t.Errorf("incomplete event: %+v", ev)
	}
	if len(ev.Resources) != 1 || !strings.HasPrefix(ev.Resources[0], "arn:aws:events:"+ev.Region+":"+ev.Account+":rule/") {
		t.Errorf("resources %v, want the rule's ARN", ev.Resources)
	}
	var typed events.EventBridgeEvent
	if err := json.Unmarshal(raw, &typed); err != nil || typed.DetailType != ev.DetailType {
		t.Errorf("events.EventBridgeEvent: %v", err)
	}
}

func checkHTTPAPIEvent(t *testing.T, raw []byte, keys map[string]json.RawMessage) httpAPIEvent {
	sameKeys(t, keys, httpAPIKeys)
	var ev httpAPIEvent
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&ev); err != nil {
		t.Fatal(err)
	}
	rc := ev.RequestContext
	if ev.Version != "2.0" {
		t.Errorf("version %q, want 2.0", ev.Version)
	}
	if ev.RouteKey != rc.RouteKey {
		t.Errorf("routeKey %q, requestContext.routeKey %q", ev.RouteKey, rc.RouteKey)
	}
	if ev.RawPath != rc.HTTP.Path {
		t.Errorf("rawPath %q, requestContext.http.path %q", ev.RawPath, rc.HTTP.Path)
	}
	if ev.Cookies == nil || len(ev.Cookies) != 0 {
		t.Errorf("cookies %v, want []", ev.Cookies)
	}
	switch ev.RouteKey {
	case scimRoute:
		tail, ok := strings.CutPrefix(ev.RawPath, "/scim/v2/")
		if !ok || tail == "" {
			t.Errorf("rawPath %q is not under /scim/v2/", ev.RawPath)
		}
		if len(ev.PathParameters) != 1 || ev.PathParameters["proxy"] != tail {
			t.Errorf("pathParameters %v, want {proxy: %q}", ev.PathParameters, tail)
		}
		if !strings.HasPrefix(ev.Headers["authorization"], "Bearer ") {
			t.Errorf("authorization header %q, want a bearer token", ev.Headers["authorization"])
		}
		if ev.Headers["content-type"] == "" {
			t.Errorf("no content-type header")
		}
	case "GET /healthz":
		if rc.HTTP.Method != "GET" || ev.RawPath != "/healthz" || len(ev.PathParameters) != 0 {
			t.Errorf("healthz event: %s %s %v", rc.HTTP.Method, ev.RawPath, ev.PathParameters)
		}
	case "ANY /xaas/v1/{proxy+}":
		tail, ok := strings.CutPrefix(ev.RawPath, "/xaas/v1/")
		if !ok || tail == "" || len(ev.PathParameters) != 1 || ev.PathParameters["proxy"] != tail {
			t.Errorf("rawPath %q pathParameters %v, want {proxy: the path under /xaas/v1/}", ev.RawPath, ev.PathParameters)
		}
	case "ANY /items":
		if ev.RawPath != "/items" || len(ev.PathParameters) != 0 {
			t.Errorf("rawPath %q pathParameters %v, want /items and none", ev.RawPath, ev.PathParameters)
		}
	case "ANY /items/{id}":
		id, ok := strings.CutPrefix(ev.RawPath, "/items/")
		if !ok || len(ev.PathParameters) != 1 || ev.PathParameters["id"] != id {
			t.Errorf("rawPath %q pathParameters %v, want {id: %q}", ev.RawPath, ev.PathParameters, id)
		}
	default:
		t.Errorf("routeKey %q, want %q, GET /healthz or an XaaS route", ev.RouteKey, scimRoute)
	}
	if !slices.Contains([]string{"GET", "POST", "PUT", "PATCH", "DELETE"}, rc.HTTP.Method) {
		t.Errorf("requestContext.http.method %q", rc.HTTP.Method)
	}

	for k := range ev.Headers {
		if k != strings.ToLower(k) {
			t.Errorf("header name %q is not lower-case", k)
		}
	}
	if ev.Headers["host"] != rc.DomainName || ev.Headers["user-agent"] != rc.HTTP.UserAgent {
		t.Errorf("host/user-agent headers %q %q disagree with requestContext %q %q", ev.Headers["host"], ev.Headers["user-agent"], rc.DomainName, rc.HTTP.UserAgent)
	}

	// rawQueryString is verbatim (percent-encoded); queryStringParameters is
	// its decoded form with repeated values comma-joined.
	if strings.ContainsAny(ev.RawQueryString, " \"") {
		t.Errorf("rawQueryString %q is not percent-encoded", ev.RawQueryString)
	}
	q, err := url.ParseQuery(ev.RawQueryString)
	if err != nil {
		t.Errorf("rawQueryString: %v", err)
	}
	want := map[string]string{}
	for k, v := range q {
		want[k] = strings.Join(v, ",")
	}
	if !mapsEqual(ev.QueryStringParameters, want) {
		t.Errorf("queryStringParameters %v, want %v (from rawQueryString)", ev.QueryStringParameters, want)
	}

	body := []byte(ev.Body)
	if ev.IsBase64Encoded {
		if body, err = base64.StdEncoding.DecodeString(ev.Body); err != nil {
			t.Errorf("isBase64Encoded body: %v", err)
		}
	}
	if len(body) > 0 {
		if ct, _, _ := mime.ParseMediaType(ev.Headers["content-type"]); ct != "text/csv" && ct != "application/x-ndjson" && !json.Valid(body) {
			t.Errorf("body is not JSON: %s", body)
		}
		if cl := ev.Headers["content-length"]; cl != strconv.Itoa(len(body)) {
			t.Errorf("content-length %q, body has %d bytes", cl, len(body))
		}
	} else if ev.IsBase64Encoded {
		t.Errorf("isBase64Encoded with an empty body")
	}

	if len(rc.AccountID) != 12 || rc.APIID == "" || rc.RequestID == "" {
		t.Errorf("requestContext accountId %q apiId %q requestId %q", rc.AccountID, rc.APIID, rc.RequestID)
	}
	if rc.DomainPrefix != rc.APIID || !strings.HasPrefix(rc.DomainName, rc.DomainPrefix+".execute-api.") {
		t.Errorf("domainName %q domainPrefix %q apiId %q do not agree", rc.DomainName, rc.DomainPrefix, rc.APIID)
	}
	if rc.Stage != "$default" || rc.HTTP.Protocol != "HTTP/1.1" {
		t.Errorf("stage %q protocol %q, want $default HTTP/1.1", rc.Stage, rc.HTTP.Protocol)
	}
	if net.ParseIP(rc.HTTP.SourceIP) == nil {
		t.Errorf("sourceIp %q is not an IP", rc.HTTP.SourceIP)
	}
	when, err := time.Parse(apiGatewayTime, rc.Time)
	if err != nil {
		t.Errorf("requestContext.time: %v", err)
	} else if when.Unix() != rc.TimeEpoch/1000 {
		t.Errorf("time %s and timeEpoch %d disagree", rc.Time, rc.TimeEpoch)
	}

	// The type the adapter takes must decode it too.
	var typed events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(raw, &typed); err != nil || typed.RequestContext.HTTP.Method != rc.HTTP.Method {
		t.Errorf("events.APIGatewayV2HTTPRequest: %v", err)
	}
	return ev
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func TestInvokeSeed(t *testing.T) {
	getUser := readFile(t, filepath.Join(eventsDir, "scim-get-user.json"))
	seed := readFile(t, seedPath)
	tests := []struct {
		name   string
		seed   []byte
		status int
		err    string
	}{
		{"without seed the user is unknown", nil, 404, ""},
		{"seeded", seed, 200, ""},
		{"not JSON", []byte(`{"Users": [`), 0, "-seed: decode"},
		{"unknown key", []byte(`{"Groups": []}`), 0, "-seed: decode"},
		{"empty", []byte(`{"Users": []}`), 0, "-seed: no users"},
		{"no id", []byte(`{"Users": [{"userName": "a@example.com"}]}`), 0, `user 0 has no "id"`},
		{"id twice", []byte(`{"Users": [{"id": "a", "userName": "a@example.com"}, {"id": "a", "userName": "b@example.com"}]}`), 0, "appears twice"},
		{"invalid user", []byte(`{"Users": [{"id": "a"}]}`), 0, "POST /Users answered 400"},
		{"userName taken", []byte(`{"Users": [{"id": "a", "userName": "a@example.com"}, {"id": "b", "userName": "A@example.com"}]}`), 0, "answered 409"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			resp, err := invokeEvent(t.Context(), newTableFlags(t), invokeOptions{token: invokeToken, seed: tc.seed}, getUser, io.Discard)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, resp.Body)
			}
		})
	}
}

func TestInvokeRejects(t *testing.T) {
	tests := []struct {
		name, event, err string
	}{
		{"not JSON", `{"version":`, "event is not JSON"},
		{"payload 1.0", `{"version": "1.0", "resource": "/scim/v2/Users"}`, "not an API Gateway HTTP API payload 2.0 event"},
		{"no routeKey", `{"version": "2.0"}`, "not an API Gateway HTTP API payload 2.0 event"},
		{"EventBridge", `{"version": "0", "detail-type": "Scheduled Event"}`, "for the xaas function"},
		{"XaaS route", `{"version": "2.0", "routeKey": "ANY /xaas/v1/{proxy+}", "rawPath": "/xaas/v1/users"}`, "for the xaas function"},
		{"wrong field type", `{"version": "2.0", "routeKey": "$default", "headers": []}`, "decode event"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := invokeEvent(t.Context(), newTableFlags(t), invokeOptions{token: invokeToken}, []byte(tc.event), io.Discard)
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("error %v, want one containing %q", err, tc.err)
			}
		})
	}
}

// TestInvokeStreamEvents: `invoke` runs each table stream batch of events/
// through the events function's handler, which stores every event it
// derives and reports no failed record.
func TestInvokeStreamEvents(t *testing.T) {
	want := map[string]int{"stream-scim-writes.json": 3, "stream-deletions-and-xaas.json": 3}
	for _, file := range eventFiles(t) {
		name := filepath.Base(file)
		if !isStreamEventFile(name) {
			continue
		}
		t.Run(name, func(t *testing.T) {
			res, ok, err := streamInvoke(t.Context(), newTableFlags(t), readFile(t, file), io.Discard)
			if !ok || err != nil {
				t.Fatalf("streamInvoke: ok %v, err %v", ok, err)
			}
			if len(res.Response.BatchItemFailures) != 0 || res.Stats.Stored != want[name] || res.Stats.Events != want[name] {
				t.Errorf("response %+v, stats %+v; want no failures and %d events stored", res.Response, res.Stats, want[name])
			}
		})
	}
	if _, ok, _ := streamInvoke(t.Context(), newTableFlags(t), readFile(t, filepath.Join(eventsDir, "scim-get-user.json")), io.Discard); ok {
		t.Error("an API Gateway event is taken for a stream batch")
	}
}

// TestInvokeQueueEvents: `invoke` runs each SQS batch of events/ through
// the webhooks function's handler; on the throw-away table the jobs'
// webhooks do not exist, so every job is dropped, none handed back.
func TestInvokeQueueEvents(t *testing.T) {
	n := 0
	for _, file := range eventFiles(t) {
		if !isQueueEventFile(filepath.Base(file)) {
			continue
		}
		n++
		res, ok, err := queueInvoke(t.Context(), newTableFlags(t), readFile(t, file), io.Discard)
		if !ok || err != nil || len(res.Response.BatchItemFailures) != 0 || len(res.Visibility) != 0 {
			t.Errorf("%s: ok %v, err %v, result %+v", file, ok, err, res)
		}
	}
	if n == 0 {
		t.Fatal("no SQS events in events/")
	}
	if _, ok, _ := queueInvoke(t.Context(), newTableFlags(t), readFile(t, filepath.Join(eventsDir, "stream-scim-writes.json")), io.Discard); ok {
		t.Error("a stream batch is taken for an SQS batch")
	}
}
