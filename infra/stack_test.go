package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"

	"github.com/scimless/scimless/pkg/config"
	"github.com/scimless/scimless/pkg/table"
)

// allFunctionIDs are the logical ids of every function, in both stages.
var allFunctionIDs = []string{"ScimFunction", "XaasFunction", "EventsFunction", "WebhooksFunction"}

// functionOfID returns the known function whose logical id is id.
func functionOfID(id string) Function {
	for _, fn := range KnownFunctions() {
		if FunctionLogicalID(fn) == id {
			return fn
		}
	}
	return Function{}
}

// onlyResource returns the logical id of the one resource of a type.
func onlyResource(t *testing.T, s *synthesized, typ string) string {
	t.Helper()
	rs := s.resources(typ)
	if len(rs) != 1 {
		t.Fatalf("%d resources of type %s, want 1", len(rs), typ)
	}
	for id := range rs {
		return id
	}
	return ""
}

func TestStackNames(t *testing.T) {
	for _, tc := range []struct {
		v    variant
		name string
	}{
		{devVariant, "Scimless-dev"},
		{prodVariant, "Scimless-prod"},
	} {
		t.Run(tc.v.name, func(t *testing.T) {
			s := synth(t, tc.v)
			if got := *s.stack.StackName(); got != tc.name {
				t.Errorf("stack name = %q, want %q", got, tc.name)
			}
		})
	}
}

func TestTable(t *testing.T) {
	for _, tc := range []struct {
		v          variant
		protection bool
		policy     string
	}{
		{devVariant, false, "Delete"},
		{prodVariant, true, "Retain"},
	} {
		t.Run(tc.v.name, func(t *testing.T) {
			s := synth(t, tc.v)
			s.template.ResourceCountIs(jsii.String("AWS::DynamoDB::Table"), jsii.Number(1))
			r := s.resource(t, TableLogicalID)
			if r["Type"] != "AWS::DynamoDB::Table" {
				t.Fatalf("%s is a %v", TableLogicalID, r["Type"])
			}
			if r["DeletionPolicy"] != tc.policy || r["UpdateReplacePolicy"] != tc.policy {
				t.Errorf("DeletionPolicy/UpdateReplacePolicy = %v/%v, want %s", r["DeletionPolicy"], r["UpdateReplacePolicy"], tc.policy)
			}
			p := props(r)

			wantKeys := []any{
				map[string]any{"AttributeName": table.PartitionKey, "KeyType": "HASH"},
				map[string]any{"AttributeName": table.SortKey, "KeyType": "RANGE"},
			}
			wantAttrs := map[string]bool{table.PartitionKey: true, table.SortKey: true}
			var wantGSIs []any
			for _, ix := range table.Indexes() {
				ks := []any{map[string]any{"AttributeName": ix.PartitionKey, "KeyType": "HASH"}}
				wantAttrs[ix.PartitionKey] = true
				if ix.SortKey != "" {
					ks = append(ks, map[string]any{"AttributeName": ix.SortKey, "KeyType": "RANGE"})
					wantAttrs[ix.SortKey] = true
				}
				wantGSIs = append(wantGSIs, map[string]any{
					"IndexName":  ix.Name,
					"KeySchema":  ks,
					"Projection": map[string]any{"ProjectionType": "ALL"},
				})
			}
			gotAttrs := map[string]bool{}
			for _, a := range p["AttributeDefinitions"].([]any) {
				a := a.(map[string]any)
				if a["AttributeType"] != "S" {
					t.Errorf("attribute %v has type %v, want S", a["AttributeName"], a["AttributeType"])
				}
				gotAttrs[a["AttributeName"].(string)] = true
			}

			for _, c := range []struct {
				prop string
				got  any
				want any
			}{
				{"KeySchema", p["KeySchema"], wantKeys},
				{"AttributeDefinitions", gotAttrs, wantAttrs},
				{"GlobalSecondaryIndexes", p["GlobalSecondaryIndexes"], wantGSIs},
				{"BillingMode", p["BillingMode"], "PAY_PER_REQUEST"},
				{"PointInTimeRecoverySpecification", p["PointInTimeRecoverySpecification"], map[string]any{"PointInTimeRecoveryEnabled": true}},
				{"DeletionProtectionEnabled", p["DeletionProtectionEnabled"], tc.protection},
				// SSEEnabled without a key: KMS with the AWS managed key aws/dynamodb.
				{"SSESpecification", p["SSESpecification"], map[string]any{"SSEEnabled": true}},
				{"TimeToLiveSpecification", p["TimeToLiveSpecification"], map[string]any{"AttributeName": table.TTLAttribute, "Enabled": true}},
				// The stream the events function reads: the same view
				// type as the store's CreateTable.
				{"StreamSpecification", p["StreamSpecification"], map[string]any{"StreamViewType": table.StreamViewType}},
				{"ProvisionedThroughput", p["ProvisionedThroughput"], nil},
				{"TableName", p["TableName"], nil},
			} {
				if !equalJSON(c.got, c.want) {
					t.Errorf("%s = %s, want %s", c.prop, canon(c.got), canon(c.want))
				}
			}
		})
	}
}

func TestFunctions(t *testing.T) {
	for _, tc := range []struct {
		v         variant
		fns       []string
		retention float64
		logLevel  string
		cacheTTL  string
		reserved  any
		baseURL   string // SCIMLESS_BASE_URL of the SCIM function
	}{
		{devVariant, allFunctionIDs, 14, "info", "60s", nil, ""},
		{prodVariant, allFunctionIDs, 365, "warn", "30s", 50.0, "https://scim.example.com/scim/v2"},
	} {
		t.Run(tc.v.name, func(t *testing.T) {
			s := synth(t, tc.v)
			got := s.resources("AWS::Lambda::Function")
			if len(got) != len(tc.fns) {
				t.Errorf("%d functions, want %v", len(got), tc.fns)
			}
			for _, id := range tc.fns {
				r := s.resource(t, id)
				p := props(r)
				env := map[string]any{
					EnvTable:         ref(TableLogicalID),
					EnvLogLevel:      tc.logLevel,
					EnvTokenCacheTTL: tc.cacheTTL,
				}
				if id == "ScimFunction" && tc.baseURL != "" {
					env[EnvBaseURL] = tc.baseURL
				}
				// The directory events functions' own settings.
				switch id {
				case "EventsFunction":
					env[config.EnvEventBus] = ref(onlyResource(t, s, "AWS::Events::EventBus"))
					env[config.EnvWebhookQueueURL] = ref("WebhookQueue")
					env[EnvBaseURL] = tc.baseURL
					if tc.baseURL == "" {
						env[EnvBaseURL] = map[string]any{"Fn::Join": []any{"", []any{getAtt(logicalIDOfAPI(t, tc.v), "ApiEndpoint"), "/scim/v2"}}}
					}
				case "WebhooksFunction":
					env[config.EnvWebhookQueueURL] = ref("WebhookQueue")
				}
				wantLoop := "Terminate"
				for _, c := range []struct {
					prop string
					got  any
					want any
				}{
					{"Architectures", p["Architectures"], []any{"arm64"}},
					{"Runtime", p["Runtime"], "provided.al2023"},
					{"Handler", p["Handler"], "bootstrap"},
					{"MemorySize", p["MemorySize"], float64(FunctionMemoryMB)},
					{"Timeout", p["Timeout"], float64(FunctionTimeout(functionOfID(id)))},
					{"RecursiveLoop", p["RecursiveLoop"], wantLoop},
					{"TracingConfig", p["TracingConfig"], map[string]any{"Mode": "Active"}},
					{"Environment", p["Environment"], map[string]any{"Variables": env}},
				} {
					if !equalJSON(c.got, c.want) {
						t.Errorf("%s.%s = %s, want %s", id, c.prop, canon(c.got), canon(c.want))
					}
				}
				wantReserved := any(nil)
				if id == "ScimFunction" {
					wantReserved = tc.reserved
				}
				if p["ReservedConcurrentExecutions"] != wantReserved {
					t.Errorf("%s.ReservedConcurrentExecutions = %v, want %v", id, p["ReservedConcurrentExecutions"], wantReserved)
				}

				lc := p["LoggingConfig"].(map[string]any)
				if lc["LogFormat"] != "JSON" || lc["ApplicationLogLevel"] != strings.ToUpper(tc.logLevel) || lc["SystemLogLevel"] != "INFO" {
					t.Errorf("%s.LoggingConfig = %s", id, canon(lc))
				}
				lg := s.resource(t, logicalIDOf(lc["LogGroup"]))
				if lg["Type"] != "AWS::Logs::LogGroup" || props(lg)["RetentionInDays"] != tc.retention {
					t.Errorf("%s log group = %s, want retention %v", id, canon(lg), tc.retention)
				}

				// SAM reads these to find the code: `sam local invoke -t
				// cdk.out/<stack>.template.json ScimFunction`.
				md := r["Metadata"].(map[string]any)
				path, _ := md["aws:asset:path"].(string)
				if md["aws:asset:property"] != "Code" || !strings.HasPrefix(path, "asset.") {
					t.Fatalf("%s asset metadata = %s", id, canon(md))
				}
				if _, err := os.Stat(filepath.Join(s.outdir, path, "bootstrap")); err != nil {
					t.Errorf("%s: %v", id, err)
				}
			}
		})
	}
}

// TestLeastPrivilege checks every permission each function role has,
// statement by statement.
func TestLeastPrivilege(t *testing.T) {
	for _, tc := range []struct {
		v            variant
		secretPrefix string
	}{
		{devVariant, "scimless/dev/"},
		{prodVariant, "scimless/prod/okta/"},
	} {
		t.Run(tc.v.name, func(t *testing.T) {
			s := synth(t, tc.v)
			var indexArns []any
			for _, ix := range table.Indexes() {
				indexArns = append(indexArns, map[string]any{"Fn::Join": []any{"", []any{getAtt(TableLogicalID, "Arn"), "/index/" + ix.Name}}})
			}
			for fnID, r := range s.resources("AWS::Lambda::Function") {
				p := props(r)
				roleID := logicalIDOf(p["Role"])
				role := props(s.resource(t, roleID))
				if role["ManagedPolicyArns"] != nil || role["Policies"] != nil {
					t.Errorf("%s role has managed or inline policies: %s", fnID, canon(role))
				}
				wantTrust := map[string]any{"Statement": []any{map[string]any{
					"Action": "sts:AssumeRole", "Effect": "Allow",
					"Principal": map[string]any{"Service": "lambda.amazonaws.com"},
				}}, "Version": "2012-10-17"}
				if !equalJSON(role["AssumeRolePolicyDocument"], wantTrust) {
					t.Errorf("%s trust policy = %s", fnID, canon(role["AssumeRolePolicyDocument"]))
				}

				var got []any
				for _, pol := range s.resources("AWS::IAM::Policy") {
					for _, rr := range props(pol)["Roles"].([]any) {
						if logicalIDOf(rr) == roleID {
							got = append(got, props(pol)["PolicyDocument"].(map[string]any)["Statement"].([]any)...)
						}
					}
				}
				logGroup := logicalIDOf(p["LoggingConfig"].(map[string]any)["LogGroup"])
				want := []any{
					map[string]any{"Effect": "Allow", "Action": []any{"logs:CreateLogStream", "logs:PutLogEvents"}, "Resource": getAtt(logGroup, "Arn")},
					map[string]any{"Effect": "Allow", "Action": []any{"xray:PutTelemetryRecords", "xray:PutTraceSegments"}, "Resource": "*"},
				}
				bus := onlyResource(t, s, "AWS::Events::EventBus")
				switch fnID {
				case "EventsFunction":
					// Exactly the calls the consumer makes, the stream it
					// reads, the queues it fills and the bus.
					want = append(want,
						map[string]any{"Effect": "Allow", "Sid": "TableItems", "Action": []any{"dynamodb:BatchGetItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"}, "Resource": getAtt(TableLogicalID, "Arn")},
						map[string]any{"Effect": "Allow", "Sid": "TableStream", "Action": []any{"dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams"}, "Resource": getAtt(TableLogicalID, "StreamArn")},
						map[string]any{"Effect": "Allow", "Sid": "StreamFailures", "Action": []any{"sqs:SendMessage"}, "Resource": getAtt("EventsDeadLetterQueue", "Arn")},
						map[string]any{"Effect": "Allow", "Sid": "WebhookQueueSend", "Action": []any{"sqs:SendMessage"}, "Resource": getAtt("WebhookQueue", "Arn")},
						map[string]any{"Effect": "Allow", "Sid": "EventBusPut", "Action": []any{"events:PutEvents"}, "Resource": getAtt(bus, "Arn")},
					)
				case "WebhooksFunction":
					want = append(want,
						map[string]any{"Effect": "Allow", "Sid": "TableItems", "Action": []any{"dynamodb:GetItem", "dynamodb:UpdateItem"}, "Resource": getAtt(TableLogicalID, "Arn")},
						map[string]any{"Effect": "Allow", "Sid": "WebhookQueueConsume", "Action": []any{"sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage"}, "Resource": getAtt("WebhookQueue", "Arn")},
						map[string]any{"Effect": "Allow", "Sid": "WebhookQueueRetry", "Action": []any{"sqs:ChangeMessageVisibility"}, "Resource": getAtt("WebhookQueue", "Arn")},
					)
				default:
					want = append(want,
						map[string]any{"Effect": "Allow", "Sid": "TableItems", "Action": toAny(TableItemActions), "Resource": getAtt(TableLogicalID, "Arn")},
						map[string]any{"Effect": "Allow", "Sid": "TableIndexQueries", "Action": []any{"dynamodb:Query"}, "Resource": indexArns},
					)
				}
				if fnID == "XaasFunction" {
					prefix := tc.secretPrefix
					want = append(want, map[string]any{"Effect": "Allow", "Sid": "TenantSecrets", "Action": []any{"secretsmanager:GetSecretValue"},
						"Resource": map[string]any{"Fn::Join": []any{"", []any{
							"arn:", ref("AWS::Partition"), ":secretsmanager:", ref("AWS::Region"), ":", ref("AWS::AccountId"), ":secret:" + prefix + "*",
						}}}})
				}
				if !sameStatements(got, want) {
					t.Errorf("%s policy statements:\n got %s\nwant %s", fnID, canon(got), canon(want))
				}
			}
		})
	}
}

// TestNoBroadDynamoDBActions guards the whole template, whatever role or
// policy a later change adds.
func TestNoBroadDynamoDBActions(t *testing.T) {
	forbidden := []string{"dynamodb:*", "dynamodb:Scan", "dynamodb:PartiQL", "dynamodb:DeleteTable", "dynamodb:UpdateTable", "dynamodb:CreateTable", "*"}
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			s := synth(t, v)
			for id, pol := range s.resources("AWS::IAM::Policy") {
				for _, st := range props(pol)["PolicyDocument"].(map[string]any)["Statement"].([]any) {
					st := normalize(st).(map[string]any)
					for _, a := range jsonStrings(st["Action"]) {
						if hasPrefixAny(a, forbidden...) {
							t.Errorf("%s allows %s", id, a)
						}
					}
					if equalJSON(st["Resource"], []any{"*"}) {
						for _, a := range jsonStrings(st["Action"]) {
							if !strings.HasPrefix(a, "xray:") {
								t.Errorf("%s allows %s on *", id, a)
							}
						}
					}
				}
			}
		})
	}
}

func TestRoutes(t *testing.T) {
	for _, tc := range []struct {
		v      variant
		routes map[string]string // route key → function reached
	}{
		{devVariant, map[string]string{
			"ANY /scim/v2/{proxy+}": "ScimFunction", "ANY /scim/v2": "ScimFunction", "GET /healthz": "ScimFunction", "GET /events/v1": "ScimFunction",
			"ANY /xaas/v1/{proxy+}": "XaasFunction", "ANY /items": "XaasFunction", "ANY /items/{id}": "XaasFunction",
		}},
		{prodVariant, map[string]string{
			"ANY /scim/v2/{proxy+}": "ScimFunction", "ANY /scim/v2": "ScimFunction", "GET /healthz": "ScimFunction", "GET /events/v1": "ScimFunction",
			"ANY /xaas/v1/{proxy+}": "XaasFunction", "ANY /items": "XaasFunction", "ANY /items/{id}": "XaasFunction",
		}},
	} {
		t.Run(tc.v.name, func(t *testing.T) {
			s := synth(t, tc.v)
			got := map[string]string{}
			for id, r := range s.resources("AWS::ApiGatewayV2::Route") {
				p := props(r)
				if p["AuthorizationType"] != nil && p["AuthorizationType"] != "NONE" {
					t.Errorf("%s: unexpected authorizer %v", id, p["AuthorizationType"])
				}
				target := p["Target"].(map[string]any)["Fn::Join"].([]any)[1].([]any)
				integ := props(s.resource(t, logicalIDOf(target[1])))
				for _, c := range []struct {
					prop string
					want any
				}{
					{"IntegrationType", "AWS_PROXY"},
					{"PayloadFormatVersion", "2.0"},
					{"TimeoutInMillis", float64(IntegrationTimeoutSeconds * 1000)},
				} {
					if integ[c.prop] != c.want {
						t.Errorf("%s integration %s = %v, want %v", p["RouteKey"], c.prop, integ[c.prop], c.want)
					}
				}
				fn := logicalIDOf(integ["IntegrationUri"])
				if a, ok := s.resources("AWS::Lambda::Alias")[fn]; ok {
					fn = logicalIDOf(props(a)["FunctionName"])
				}
				got[p["RouteKey"].(string)] = fn
			}
			if !equalJSON(got, tc.routes) {
				t.Errorf("routes = %s, want %s", canon(got), canon(tc.routes))
			}
			if FunctionTimeoutSeconds >= IntegrationTimeoutSeconds || IntegrationTimeoutSeconds > 30 {
				t.Errorf("function timeout %d s must be below the integration timeout %d s ≤ 30 s", FunctionTimeoutSeconds, IntegrationTimeoutSeconds)
			}
			// An Events API long poll ends, and answers, before the
			// function's timeout and so before the gateway's.
			if EventsMaxWaitSeconds+2 > FunctionTimeoutSeconds {
				t.Errorf("long polls of %d s leave under 2 s of the %d s function timeout", EventsMaxWaitSeconds, FunctionTimeoutSeconds)
			}
		})
	}
}

func TestStage(t *testing.T) {
	for _, tc := range []struct {
		v            variant
		rate, burst  float64
		retention    float64
		customDomain bool
	}{
		{devVariant, DefaultThrottleRate, DefaultThrottleBurst, 14, false},
		{prodVariant, 20, 40, 365, true},
	} {
		t.Run(tc.v.name, func(t *testing.T) {
			s := synth(t, tc.v)
			s.template.HasResourceProperties(jsii.String("AWS::ApiGatewayV2::Api"), map[string]any{"ProtocolType": "HTTP"})
			stages := s.resources("AWS::ApiGatewayV2::Stage")
			if len(stages) != 1 {
				t.Fatalf("%d stages, want 1", len(stages))
			}
			for id, r := range stages {
				p := props(r)
				if p["StageName"] != "$default" || p["AutoDeploy"] != true {
					t.Errorf("%s: StageName %v AutoDeploy %v", id, p["StageName"], p["AutoDeploy"])
				}
				want := map[string]any{"ThrottlingRateLimit": tc.rate, "ThrottlingBurstLimit": tc.burst}
				if !equalJSON(p["DefaultRouteSettings"], want) {
					t.Errorf("DefaultRouteSettings = %s, want %s", canon(p["DefaultRouteSettings"]), canon(want))
				}
				als := p["AccessLogSettings"].(map[string]any)
				var format map[string]string
				if err := json.Unmarshal([]byte(als["Format"].(string)), &format); err != nil {
					t.Fatalf("access log format is not JSON: %v", err)
				}
				for _, k := range []string{"requestId", "status", "routeKey", "integrationError", "responseLatency"} {
					if !strings.HasPrefix(format[k], "$context.") {
						t.Errorf("access log format lacks %s: %v", k, format)
					}
				}
				if strings.Contains(strings.ToLower(als["Format"].(string)), "authorization") {
					t.Errorf("access log format logs the Authorization header")
				}
				lg := s.resource(t, logicalIDOf(als["DestinationArn"]))
				if lg["Type"] != "AWS::Logs::LogGroup" || props(lg)["RetentionInDays"] != tc.retention {
					t.Errorf("access log group = %s", canon(lg))
				}
			}
			domains := s.resources("AWS::ApiGatewayV2::DomainName")
			if got := len(domains) == 1; got != tc.customDomain {
				t.Fatalf("custom domain present = %v, want %v", got, tc.customDomain)
			}
			if tc.customDomain {
				s.template.HasResourceProperties(jsii.String("AWS::ApiGatewayV2::DomainName"), map[string]any{
					"DomainName": tc.v.ctx["domainName"],
					"DomainNameConfigurations": []any{map[string]any{
						"CertificateArn": tc.v.ctx["certificateArn"],
						"EndpointType":   "REGIONAL",
						"SecurityPolicy": "TLS_1_2",
					}},
				})
				s.template.ResourceCountIs(jsii.String("AWS::ApiGatewayV2::ApiMapping"), jsii.Number(1))
			}
		})
	}
}

func TestProvisionedConcurrency(t *testing.T) {
	for _, tc := range []struct {
		v       variant
		aliases int
	}{
		{devVariant, 0},
		{prodVariant, 1},
	} {
		t.Run(tc.v.name, func(t *testing.T) {
			s := synth(t, tc.v)
			s.template.ResourceCountIs(jsii.String("AWS::Lambda::Alias"), jsii.Number(tc.aliases))
			if tc.aliases > 0 {
				s.template.HasResourceProperties(jsii.String("AWS::Lambda::Alias"), map[string]any{
					"Name":                         "live",
					"FunctionName":                 ref("ScimFunction"),
					"ProvisionedConcurrencyConfig": map[string]any{"ProvisionedConcurrentExecutions": 2},
				})
			}
		})
	}
}

func TestXaasSchedule(t *testing.T) {
	for _, tc := range []struct {
		v        variant
		rules    int
		schedule string
	}{
		{devVariant, 1, DefaultXaasSchedule},
		{prodVariant, 1, "rate(5 minutes)"},
	} {
		t.Run(tc.v.name, func(t *testing.T) {
			s := synth(t, tc.v)
			s.template.ResourceCountIs(jsii.String("AWS::Events::Rule"), jsii.Number(tc.rules))
			if tc.rules > 0 {
				s.template.HasResourceProperties(jsii.String("AWS::Events::Rule"), map[string]any{
					"ScheduleExpression": tc.schedule,
					"State":              "ENABLED",
					"Targets": []any{assertions.Match_ObjectLike(&map[string]any{
						"Arn":         getAtt("XaasFunction", "Arn"),
						"RetryPolicy": map[string]any{"MaximumRetryAttempts": 0, "MaximumEventAgeInSeconds": 120},
					})},
				})
				// Lambda's own asynchronous retries are off too: the next
				// tick resumes the engine's checkpointed runs.
				s.template.HasResourceProperties(jsii.String("AWS::Lambda::EventInvokeConfig"), map[string]any{
					"FunctionName":         ref("XaasFunction"),
					"MaximumRetryAttempts": 0,
				})
			}
		})
	}
}

func TestAlarms(t *testing.T) {
	type alarm struct {
		metric    string // metric name, or "" for a metric-math alarm
		stat      string
		threshold float64
	}
	fnAlarms := func(stack, fn string) map[string]alarm {
		return map[string]alarm{
			stack + "-" + fn + "-errors":    {"Errors", "Sum", 1},
			stack + "-" + fn + "-throttles": {"Throttles", "Sum", 1},
			stack + "-" + fn + "-duration":  {"Duration", "Maximum", float64(DurationAlarmMilliseconds(functionNamed(fn)))},
		}
	}
	for _, tc := range []struct {
		v     variant
		fns   []string
		email bool
	}{
		{devVariant, []string{"scim", "xaas", "events", "webhooks"}, false},
		{prodVariant, []string{"scim", "xaas", "events", "webhooks"}, true},
	} {
		t.Run(tc.v.name, func(t *testing.T) {
			s := synth(t, tc.v)
			stack := *s.stack.StackName()
			want := map[string]alarm{
				stack + "-api-5xx-rate":    {"", "", API5xxAlarmPercent},
				stack + "-table-throttles": {"", "", 1},
			}
			for _, fn := range tc.fns {
				for k, a := range fnAlarms(stack, fn) {
					want[k] = a
				}
			}
			if slices.Contains(tc.fns, "xaas") {
				want[stack+"-xaas-sync-failed"] = alarm{"XaaSSyncFailed", "Sum", 1}
			}
			// Directory events: lag, lost records, stuck and failed deliveries.
			want[stack+"-events-iterator-age"] = alarm{"IteratorAge", "Maximum", IteratorAgeAlarmMilliseconds}
			want[stack+"-events-dead-letters"] = alarm{"ApproximateNumberOfMessagesVisible", "Maximum", 1}
			want[stack+"-webhook-dead-letters"] = alarm{"ApproximateNumberOfMessagesVisible", "Maximum", 1}
			want[stack+"-webhook-deliveries-failed"] = alarm{"WebhookDeliveriesFailed", "Sum", 1}
			topics := s.resources("AWS::SNS::Topic")
			if len(topics) != 1 {
				t.Fatalf("%d topics, want 1", len(topics))
			}
			var topic string
			for id := range topics {
				topic = id
			}
			got := map[string]bool{}
			for id, r := range s.resources("AWS::CloudWatch::Alarm") {
				p := props(r)
				name, _ := p["AlarmName"].(string)
				got[name] = true
				w, ok := want[name]
				if !ok {
					t.Errorf("unexpected alarm %s (%s)", name, id)
					continue
				}
				if p["Threshold"] != w.threshold || p["ComparisonOperator"] != "GreaterThanOrEqualToThreshold" || p["TreatMissingData"] != "notBreaching" {
					t.Errorf("%s: threshold %v %v, missing data %v", name, p["ComparisonOperator"], p["Threshold"], p["TreatMissingData"])
				}
				if !equalJSON(p["AlarmActions"], []any{ref(topic)}) || !equalJSON(p["OKActions"], []any{ref(topic)}) {
					t.Errorf("%s: actions %s / %s, want the alarm topic", name, canon(p["AlarmActions"]), canon(p["OKActions"]))
				}
				ns := "AWS/Lambda"
				switch w.metric {
				case "ApproximateNumberOfMessagesVisible":
					ns = "AWS/SQS"
					q := "EventsDeadLetterQueue"
					if strings.Contains(name, "webhook") {
						q = "WebhookDeadLetterQueue"
					}
					if !equalJSON(p["Dimensions"], []any{map[string]any{"Name": "QueueName", "Value": getAtt(q, "QueueName")}}) {
						t.Errorf("%s: dimensions %s, want QueueName of %s", name, canon(p["Dimensions"]), q)
					}
				case "IteratorAge":
					if !equalJSON(p["Dimensions"], []any{map[string]any{"Name": "FunctionName", "Value": ref("EventsFunction")}}) {
						t.Errorf("%s: dimensions %s, want FunctionName of EventsFunction", name, canon(p["Dimensions"]))
					}
				case "WebhookDeliveriesFailed":
					// As pkg/webhook/delivery logs it: no dimensions.
					ns = "scimless"
					if p["Dimensions"] != nil {
						t.Errorf("%s: dimensions %s, want none", name, canon(p["Dimensions"]))
					}
				}
				if strings.HasPrefix(w.metric, "XaaS") {
					// Logged by the engine in the embedded metric format,
					// per function: another stage's syncs do not count.
					ns = "scimless"
					if !equalJSON(p["Dimensions"], []any{map[string]any{"Name": "FunctionName", "Value": ref("XaasFunction")}}) {
						t.Errorf("%s: dimensions %s, want FunctionName of XaasFunction", name, canon(p["Dimensions"]))
					}
				}
				if w.metric != "" && (p["MetricName"] != w.metric || p["Statistic"] != w.stat || p["Namespace"] != ns) {
					t.Errorf("%s: metric %v %v %v, want %s %s %s", name, p["Namespace"], p["MetricName"], p["Statistic"], ns, w.metric, w.stat)
				}
			}
			for name := range want {
				if !got[name] {
					t.Errorf("missing alarm %s", name)
				}
			}

			// The 5xx alarm divides API Gateway's 5xx by Count; the table
			// alarm sums ThrottledRequests over the service's operations.
			for _, c := range []struct {
				name    string
				metrics map[string]int
			}{
				{stack + "-api-5xx-rate", map[string]int{"AWS/ApiGateway 5xx": 1, "AWS/ApiGateway Count": 1}},
				{stack + "-table-throttles", map[string]int{"AWS/DynamoDB ThrottledRequests": len(ThrottleOperations)}},
			} {
				s.template.HasResourceProperties(jsii.String("AWS::CloudWatch::Alarm"), map[string]any{"AlarmName": c.name})
				for _, r := range s.resources("AWS::CloudWatch::Alarm") {
					p := props(r)
					if p["AlarmName"] != c.name {
						continue
					}
					seen := map[string]int{}
					for _, m := range p["Metrics"].([]any) {
						ms, ok := m.(map[string]any)["MetricStat"].(map[string]any)
						if !ok {
							continue
						}
						mm := ms["Metric"].(map[string]any)
						seen[mm["Namespace"].(string)+" "+mm["MetricName"].(string)]++
					}
					if !equalJSON(seen, c.metrics) {
						t.Errorf("%s metrics = %v, want %v", c.name, seen, c.metrics)
					}
				}
			}

			subs := s.resources("AWS::SNS::Subscription")
			if (len(subs) == 1) != tc.email {
				t.Errorf("%d subscriptions, want e-mail subscription = %v", len(subs), tc.email)
			}
			for _, sub := range subs {
				p := props(sub)
				if p["Protocol"] != "email" || p["Endpoint"] != tc.v.ctx["alarmEmail"] {
					t.Errorf("subscription = %s", canon(p))
				}
			}
			// Publishing without TLS is denied.
			s.template.HasResourceProperties(jsii.String("AWS::SNS::TopicPolicy"), map[string]any{
				"PolicyDocument": assertions.Match_ObjectLike(&map[string]any{
					"Statement": assertions.Match_ArrayWith(&[]any{assertions.Match_ObjectLike(&map[string]any{
						"Effect":    "Deny",
						"Condition": map[string]any{"Bool": map[string]any{"aws:SecureTransport": "false"}},
					})}),
				}),
			})
			s.template.HasResourceProperties(jsii.String("AWS::CloudWatch::Dashboard"), map[string]any{"DashboardName": stack})
		})
	}
}

func TestOutputs(t *testing.T) {
	nextStep := map[string]any{"Fn::Join": []any{"", []any{
		"go run ./cmd/scimless token issue TENANT -table ", ref(TableLogicalID), " -region ", ref("AWS::Region"),
	}}}
	for _, tc := range []struct {
		v    variant
		want map[string]any
	}{
		{devVariant, map[string]any{
			OutScimBaseURL:     map[string]any{"Fn::Join": []any{"", []any{getAtt(logicalIDOfAPI(t, devVariant), "ApiEndpoint"), "/scim/v2"}}},
			OutEventsAPIURL:    map[string]any{"Fn::Join": []any{"", []any{getAtt(logicalIDOfAPI(t, devVariant), "ApiEndpoint"), "/events/v1"}}},
			OutEventBusName:    ref(onlyResource(t, synth(t, devVariant), "AWS::Events::EventBus")),
			OutWebhookQueueURL: ref("WebhookQueue"),
			OutXaasBaseURL:     map[string]any{"Fn::Join": []any{"", []any{getAtt(logicalIDOfAPI(t, devVariant), "ApiEndpoint"), "/xaas/v1"}}},
			OutTableName:       ref(TableLogicalID),
			"ScimFunctionName": ref("ScimFunction"),
			"XaasFunctionName": ref("XaasFunction"),
			OutNextStep:        nextStep,
			OutDashboard:       "Scimless-dev",
		}},
		{prodVariant, map[string]any{
			OutScimBaseURL:     "https://scim.example.com/scim/v2",
			OutEventsAPIURL:    "https://scim.example.com/events/v1",
			OutEventBusName:    ref(onlyResource(t, synth(t, prodVariant), "AWS::Events::EventBus")),
			OutWebhookQueueURL: ref("WebhookQueue"),
			OutXaasBaseURL:     "https://scim.example.com/xaas/v1",
			OutTableName:       ref(TableLogicalID),
			"ScimFunctionName": ref("ScimFunction"),
			"XaasFunctionName": ref("XaasFunction"),
			OutNextStep:        nextStep,
			OutDashboard:       "Scimless-prod",
		}},
	} {
		t.Run(tc.v.name, func(t *testing.T) {
			s := synth(t, tc.v)
			outs := s.json["Outputs"].(map[string]any)
			for k, want := range tc.want {
				o, ok := outs[k].(map[string]any)
				if !ok {
					t.Errorf("no output %s", k)
					continue
				}
				if !equalJSON(o["Value"], want) {
					t.Errorf("output %s = %s, want %s", k, canon(o["Value"]), canon(want))
				}
			}
			for _, k := range []string{OutAPIEndpoint, OutAlarmTopic} {
				if _, ok := outs[k]; !ok {
					t.Errorf("no output %s", k)
				}
			}
			_, hasTarget := outs[OutCustomDomainTarget]
			if hasTarget != (tc.v.ctx["domainName"] != nil) {
				t.Errorf("output %s present = %v", OutCustomDomainTarget, hasTarget)
			}
			for _, k := range []string{"XaasFunctionName", "EventsFunctionName", "WebhooksFunctionName"} {
				if _, ok := outs[k]; !ok {
					t.Errorf("no output %s", k)
				}
			}
		})
	}
}

func TestNextStepCommand(t *testing.T) {
	got := NextStepCommand("Scimless-prod-Table-ABC", "eu-west-1")
	want := "go run ./cmd/scimless token issue TENANT -table Scimless-prod-Table-ABC -region eu-west-1"
	if got != want {
		t.Errorf("NextStepCommand = %q, want %q", got, want)
	}
}

// logicalIDOfAPI returns the HTTP API's logical id in a variant.
func logicalIDOfAPI(t *testing.T, v variant) string {
	t.Helper()
	for id := range synth(t, v).resources("AWS::ApiGatewayV2::Api") {
		return id
	}
	t.Fatal("no HTTP API")
	return ""
}

func toAny(s []string) []any {
	out := make([]any, len(s))
	for i, x := range s {
		out[i] = x
	}
	return out
}

// sameStatements reports whether two statement lists hold the same
// statements, in any order.
func sameStatements(got, want []any) bool {
	if len(got) != len(want) {
		return false
	}
	left := map[string]int{}
	for _, s := range got {
		left[canon(s)]++
	}
	for _, s := range want {
		left[canon(s)]--
	}
	for _, n := range left {
		if n != 0 {
			return false
		}
	}
	return true
}
