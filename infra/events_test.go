package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"

	"github.com/scimless/scimless/pkg/config"
	"github.com/scimless/scimless/pkg/table"
)

// TestStreamMapping checks the events function's DynamoDB stream event
// source mapping, property by property.
func TestStreamMapping(t *testing.T) {
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			s := synth(t, v)
			m := withoutTags(props(s.resource(t, "EventsStreamMapping")))
			want := map[string]any{
				"FunctionName":                   ref("EventsFunction"),
				"EventSourceArn":                 getAtt(TableLogicalID, "StreamArn"),
				"StartingPosition":               "TRIM_HORIZON",
				"BatchSize":                      100.0,
				"MaximumBatchingWindowInSeconds": 1.0,
				"FunctionResponseTypes":          []any{"ReportBatchItemFailures"},
				"BisectBatchOnFunctionError":     true,
				"MaximumRetryAttempts":           10.0,
				"MaximumRecordAgeInSeconds":      86400.0,
				"DestinationConfig":              map[string]any{"OnFailure": map[string]any{"Destination": getAtt("EventsDeadLetterQueue", "Arn")}},
				"FilterCriteria":                 map[string]any{"Filters": []any{map[string]any{"Pattern": StreamFilterPattern()}}},
			}
			if !equalJSON(m, want) {
				t.Errorf("stream mapping:\n got %s\nwant %s", canon(m), canon(want))
			}
			// Lambda validates the role when it creates the mapping.
			deps := jsonStrings(s.resource(t, "EventsStreamMapping")["DependsOn"])
			if !containsPrefix(deps, "EventsFunctionRoleDefaultPolicy") {
				t.Errorf("stream mapping depends on %v, want the events role's policy", deps)
			}
			if got := len(s.resources("AWS::Lambda::EventSourceMapping")); got != 2 {
				t.Errorf("%d event source mappings, want 2", got)
			}
		})
	}
}

// TestStreamFilter checks the filter pattern as Lambda reads it: the sort
// key of each record's Keys, as a DynamoDB string, by prefix.
func TestStreamFilter(t *testing.T) {
	var p struct {
		Dynamodb struct {
			Keys map[string]struct {
				S []struct {
					Prefix string `json:"prefix"`
				}
			}
		} `json:"dynamodb"`
	}
	if err := json.Unmarshal([]byte(StreamFilterPattern()), &p); err != nil {
		t.Fatal(err)
	}
	sk, ok := p.Dynamodb.Keys[table.SortKey]
	if !ok || len(p.Dynamodb.Keys) != 1 {
		t.Fatalf("pattern %s does not filter on %s alone", StreamFilterPattern(), table.SortKey)
	}
	matches := func(key string) bool {
		for _, x := range sk.S {
			if strings.HasPrefix(key, x.Prefix) {
				return true
			}
		}
		return false
	}
	for _, tc := range []struct {
		sk   string
		want bool
	}{
		{"U#2819c223-7f76-453a-919d-413861904646", true}, // user
		{"G#e9e30dba", true},                             // group
		{"M#2819c223", true},                             // membership
		{"DEL#U#2819c223", true},                         // deletion marker: a deletion's actor
		{"DEL#M#2819c223", true},
		{"SRC#U#emp-1001", true}, // XaaS source user
		{"SRC#G#eng", true},
		{"XRUN#0001", false},
		{"COUNT#U", false},            // counter
		{"UN#ada@example.com", false}, // userName guard
		{"1767225600000000000000000000000000000010000000003697300100", false}, // event item: never re-read
		{"TENANT", false},
		{"WH#wh_3f9a", false},
	} {
		if got := matches(tc.sk); got != tc.want {
			t.Errorf("sk %q passes the filter = %v, want %v", tc.sk, got, tc.want)
		}
	}
}

// TestWebhookQueue checks the delivery queue, its DLQ, the events DLQ and
// the webhooks function's SQS trigger.
func TestWebhookQueue(t *testing.T) {
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			s := synth(t, v)
			if got := len(s.resources("AWS::SQS::Queue")); got != 3 {
				t.Errorf("%d queues, want 3", got)
			}
			q := props(s.resource(t, "WebhookQueue"))
			if vis := q["VisibilityTimeout"].(float64); vis < 6*WebhooksFunctionTimeoutSeconds {
				t.Errorf("visibility timeout %v s < 6 × the webhooks function's %d s", vis, WebhooksFunctionTimeoutSeconds)
			}
			// FIFO, high throughput, deduplication ids from the senders.
			for k, want := range map[string]any{"FifoQueue": true, "FifoThroughputLimit": "perMessageGroupId",
				"DeduplicationScope": "messageGroup", "ContentBasedDeduplication": false,
				"MessageRetentionPeriod": float64(WebhookQueueRetentionDays * 24 * 3600)} {
				if q[k] != want {
					t.Errorf("webhook queue %s = %v, want %v", k, q[k], want)
				}
			}
			if dlq := props(s.resource(t, "WebhookDeadLetterQueue")); dlq["FifoQueue"] != true {
				t.Errorf("the webhook queue's dead-letter queue is not FIFO: %s", canon(dlq))
			}
			// The receive count covers at least 24 h of backoff (one
			// receive per attempt, and as many waiting behind a failing
			// message of the group) and two weeks of pauses.
			if WebhookMaxReceiveCount < 2*60+55+48*WebhookQueueRetentionDays || WebhookMaxReceiveCount > 1000 {
				t.Errorf("max receive count %d", WebhookMaxReceiveCount)
			}
			wantRedrive := map[string]any{"deadLetterTargetArn": getAtt("WebhookDeadLetterQueue", "Arn"), "maxReceiveCount": float64(WebhookMaxReceiveCount)}
			if !equalJSON(q["RedrivePolicy"], wantRedrive) {
				t.Errorf("redrive policy %s, want %s", canon(q["RedrivePolicy"]), canon(wantRedrive))
			}
			for _, id := range []string{"WebhookQueue", "WebhookDeadLetterQueue", "EventsDeadLetterQueue"} {
				p := props(s.resource(t, id))
				if p["SqsManagedSseEnabled"] != true {
					t.Errorf("%s is not encrypted: %s", id, canon(p))
				}
				if id != "WebhookQueue" && p["MessageRetentionPeriod"] != float64(DeadLetterRetentionDays*24*3600) {
					t.Errorf("%s retention %v", id, p["MessageRetentionPeriod"])
				}
				// Requests without TLS are denied.
				s.template.HasResourceProperties(jsii.String("AWS::SQS::QueuePolicy"), map[string]any{
					"Queues": []any{ref(id)},
					"PolicyDocument": assertions.Match_ObjectLike(&map[string]any{
						"Statement": assertions.Match_ArrayWith(&[]any{assertions.Match_ObjectLike(&map[string]any{
							"Effect":    "Deny",
							"Condition": map[string]any{"Bool": map[string]any{"aws:SecureTransport": "false"}},
						})}),
					}),
				})
			}
			m := withoutTags(props(s.resource(t, "WebhookQueueMapping")))
			want := map[string]any{
				"FunctionName":          ref("WebhooksFunction"),
				"EventSourceArn":        getAtt("WebhookQueue", "Arn"),
				"BatchSize":             10.0,
				"FunctionResponseTypes": []any{"ReportBatchItemFailures"},
				"ScalingConfig":         map[string]any{"MaximumConcurrency": float64(WebhookMaxConcurrency)},
			}
			if !equalJSON(m, want) {
				t.Errorf("webhook mapping:\n got %s\nwant %s", canon(m), canon(want))
			}
			if WebhooksFunctionTimeoutSeconds != 30 {
				t.Errorf("webhooks function timeout %d s, want 30", WebhooksFunctionTimeoutSeconds)
			}
			// Internet egress: no function runs in a VPC.
			for id, r := range s.resources("AWS::Lambda::Function") {
				if props(r)["VpcConfig"] != nil {
					t.Errorf("%s runs in a VPC", id)
				}
			}
		})
	}
}

// TestEventBus checks the bus's name and that only the events function may
// put on it.
func TestEventBus(t *testing.T) {
	for _, tc := range []struct {
		v    variant
		name string
	}{{devVariant, "scimless-dev"}, {prodVariant, "scimless-prod"}} {
		t.Run(tc.v.name, func(t *testing.T) {
			s := synth(t, tc.v)
			bus := onlyResource(t, s, "AWS::Events::EventBus")
			if got := props(s.resource(t, bus))["Name"]; got != tc.name {
				t.Errorf("bus name %v, want %s", got, tc.name)
			}
			for id, pol := range s.resources("AWS::IAM::Policy") {
				for _, st := range props(pol)["PolicyDocument"].(map[string]any)["Statement"].([]any) {
					st := normalize(st).(map[string]any)
					for _, a := range jsonStrings(st["Action"]) {
						if strings.HasPrefix(a, "events:") {
							if a != "events:PutEvents" || !equalJSON(st["Resource"], getAtt(bus, "Arn")) || !strings.HasPrefix(id, "EventsFunctionRole") {
								t.Errorf("%s allows %s on %s", id, a, canon(st["Resource"]))
							}
						}
					}
				}
			}
		})
	}
}

// TestEventsNagSuppressions: the one suppression directory events add is
// SQS3 on the on-failure queue, with its reason.
func TestEventsNagSuppressions(t *testing.T) {
	s := synth(t, devVariant)
	md := s.resource(t, "EventsDeadLetterQueue")["Metadata"].(map[string]any)
	raw, _ := json.Marshal(md["cdk_nag"])
	if !strings.Contains(string(raw), "AwsSolutions-SQS3") || !strings.Contains(string(raw), "on-failure destination") {
		t.Errorf("EventsDeadLetterQueue nag metadata = %s", raw)
	}
	for _, id := range []string{"WebhookQueue", "WebhookDeadLetterQueue"} {
		if md, ok := s.resource(t, id)["Metadata"].(map[string]any); ok && md["cdk_nag"] != nil {
			t.Errorf("%s has nag suppressions: %v", id, md["cdk_nag"])
		}
	}
}

// withoutTags copies resource properties without the stack's tags.
func withoutTags(p map[string]any) map[string]any {
	out := make(map[string]any, len(p))
	for k, v := range p {
		if k != "Tags" {
			out[k] = v
		}
	}
	return out
}

// TestFunctionsReadTheirSettings guards against the stack and a function's
// main drifting apart: each setting the stack passes is read by the main,
// by name or through package config.
func TestFunctionsReadTheirSettings(t *testing.T) {
	for _, tc := range []struct {
		fn       Function
		settings map[string]string // value → constant name in package config
	}{
		{EventsFunction, map[string]string{config.EnvEventBus: "EnvEventBus", config.EnvWebhookQueueURL: "EnvWebhookQueueURL"}},
		{WebhooksFunction, map[string]string{config.EnvWebhookQueueURL: "EnvWebhookQueueURL"}},
	} {
		src, err := os.ReadFile(filepath.Join("..", filepath.FromSlash(tc.fn.Dir), "main.go"))
		if err != nil {
			t.Fatal(err)
		}
		for value, name := range tc.settings {
			if !strings.Contains(string(src), `"`+value+`"`) && !strings.Contains(string(src), "config."+name) {
				t.Errorf("./%s does not read %s", tc.fn.Dir, value)
			}
		}
	}
}

func containsPrefix(list []string, prefix string) bool {
	for _, s := range list {
		if strings.HasPrefix(s, prefix) {
			return true
		}
	}
	return false
}
