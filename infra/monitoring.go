package main

import (
	"fmt"
	"sort"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssnssubscriptions"
	"github.com/aws/jsii-runtime-go"

	"github.com/scimless/scimless/pkg/config"
)

// Alarm thresholds.
const (
	// AlarmPeriodMinutes is the period of every alarm's metric.
	AlarmPeriodMinutes = 5
	// DurationAlarmPercent of the function timeout: a request this slow is
	// close to being cut off.
	DurationAlarmPercent = 80
	// API5xxAlarmPercent of requests answered 5xx in a period …
	API5xxAlarmPercent = 5
	// … once at least API5xxMinRequests requests were made, so one failed
	// request at night does not page anyone.
	API5xxMinRequests = 10
)

// ThrottleOperations are the DynamoDB operations whose ThrottledRequests
// the table alarm sums: the ones the service performs (pkg/store uses no
// TransactGetItems and no Scan). Each is one alarm metric ($0.10/month).
var ThrottleOperations = []awsdynamodb.Operation{
	awsdynamodb.Operation_GET_ITEM,
	awsdynamodb.Operation_BATCH_GET_ITEM,
	awsdynamodb.Operation_QUERY,
	awsdynamodb.Operation_PUT_ITEM,
	awsdynamodb.Operation_UPDATE_ITEM,
	awsdynamodb.Operation_DELETE_ITEM,
	awsdynamodb.Operation_BATCH_WRITE_ITEM,
	awsdynamodb.Operation_TRANSACT_WRITE_ITEMS,
}

// DurationAlarmMilliseconds is the Maximum duration at which fn's duration
// alarm fires: DurationAlarmPercent of its timeout, except for the SCIM
// function, which also serves Events API long polls that rightly last up
// to EventsMaxWaitSeconds: its alarm fires one second past the longest
// poll, still before its timeout.
func DurationAlarmMilliseconds(fn Function) int {
	ms := FunctionTimeout(fn) * 1000 * DurationAlarmPercent / 100
	if fn.Name == ScimFunction.Name {
		ms = max(ms, (EventsMaxWaitSeconds+1)*1000)
	}
	return ms
}

// WebhookDeliveriesFailedMetric counts webhook deliveries given up after
// their retries, as package webhook/delivery logs it in the embedded metric
// format: namespace config.MetricNamespace, no dimensions.
const WebhookDeliveriesFailedMetric = "WebhookDeliveriesFailed"

// AlarmName is the name of one of the stack's alarms, e.g.
// "Scimless-prod-scim-errors".
func AlarmName(cfg Config, suffix string) string { return cfg.StackName() + "-" + suffix }

// XaasMetric is one of the metrics the XaaS sync engine logs in the embedded
// metric format (see package config), for fn: summed over the alarm period.
func XaasMetric(fn awslambda.Function, name string) awscloudwatch.Metric {
	return awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
		Namespace:     jsii.String(config.MetricNamespace),
		MetricName:    jsii.String(name),
		DimensionsMap: &map[string]*string{config.MetricDimensionFunction: fn.FunctionName()},
		Statistic:     jsii.String("Sum"),
		Period:        period(),
	})
}

func period() awscdk.Duration { return awscdk.Duration_Minutes(jsii.Number(AlarmPeriodMinutes)) }

// newMonitoring defines the alarm topic (with the optional e-mail
// subscription), the alarms and the dashboard, and returns the topic. It
// is long because it declares every alarm and dashboard widget of the
// stack in one place, in the order the dashboard shows them.
func newMonitoring(stack awscdk.Stack, s *Stack) awssns.Topic {
	cfg := s.Config
	topic := awssns.NewTopic(stack, jsii.String("AlarmTopic"), &awssns.TopicProps{
		DisplayName: jsii.String("scimless " + string(cfg.Stage) + " alarms"),
		EnforceSSL:  jsii.Bool(true),
	})
	if cfg.AlarmEmail != "" {
		topic.AddSubscription(awssnssubscriptions.NewEmailSubscription(jsii.String(cfg.AlarmEmail), nil))
	}
	action := awscloudwatchactions.NewSnsAction(topic)
	alarm := func(id, suffix, desc string, metric awscloudwatch.IMetric, threshold float64) {
		a := awscloudwatch.NewAlarm(stack, jsii.String(id), &awscloudwatch.AlarmProps{
			AlarmName:          jsii.String(AlarmName(cfg, suffix)),
			AlarmDescription:   jsii.String(desc),
			Metric:             metric,
			Threshold:          jsii.Number(threshold),
			ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
			EvaluationPeriods:  jsii.Number(1),
			DatapointsToAlarm:  jsii.Number(1),
			TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
		})
		a.AddAlarmAction(action)
		a.AddOkAction(action)
	}
	sum := &awscloudwatch.MetricOptions{Statistic: jsii.String("Sum"), Period: period()}

	var fnWidgets []awscloudwatch.IWidget
	for _, name := range sortedKeys(s.Functions) {
		fn := s.Functions[name]
		id := title(name)
		alarm(id+"ErrorsAlarm", name+"-errors",
			fmt.Sprintf("The %s function failed (crash, panic or timeout) in the last %d minutes.", name, AlarmPeriodMinutes),
			fn.MetricErrors(sum), 1)
		alarm(id+"ThrottlesAlarm", name+"-throttles",
			fmt.Sprintf("Lambda throttled the %s function: concurrency limit reached.", name),
			fn.MetricThrottles(sum), 1)
		f := functionNamed(name)
		alarm(id+"DurationAlarm", name+"-duration",
			fmt.Sprintf("A %s invocation ran for ≥ %d ms of its %d s timeout.", name, DurationAlarmMilliseconds(f), FunctionTimeout(f)),
			fn.MetricDuration(&awscloudwatch.MetricOptions{Statistic: jsii.String("Maximum"), Period: period()}),
			float64(DurationAlarmMilliseconds(f)))
		fnWidgets = append(fnWidgets,
			awscloudwatch.NewGraphWidget(&awscloudwatch.GraphWidgetProps{
				Title: jsii.String(name + " invocations, errors, throttles"), Width: jsii.Number(12),
				Left: &[]awscloudwatch.IMetric{fn.MetricInvocations(sum), fn.MetricErrors(sum), fn.MetricThrottles(sum)},
			}),
			awscloudwatch.NewGraphWidget(&awscloudwatch.GraphWidgetProps{
				Title: jsii.String(name + " duration (ms)"), Width: jsii.Number(12),
				Left: &[]awscloudwatch.IMetric{
					fn.MetricDuration(&awscloudwatch.MetricOptions{Statistic: jsii.String("p50"), Period: period()}),
					fn.MetricDuration(&awscloudwatch.MetricOptions{Statistic: jsii.String("p99"), Period: period()}),
					fn.MetricDuration(&awscloudwatch.MetricOptions{Statistic: jsii.String("Maximum"), Period: period()}),
				},
			}),
		)
	}

	requests, errors5xx := s.API.MetricCount(sum), s.API.MetricServerError(sum)
	alarm("Api5xxRateAlarm", "api-5xx-rate",
		fmt.Sprintf("≥ %d%% of API requests were answered 5xx (with ≥ %d requests in %d minutes).", API5xxAlarmPercent, API5xxMinRequests, AlarmPeriodMinutes),
		awscloudwatch.NewMathExpression(&awscloudwatch.MathExpressionProps{
			Expression: jsii.String(fmt.Sprintf("IF(requests >= %d, 100 * errors / requests, 0)", API5xxMinRequests)),
			UsingMetrics: &map[string]awscloudwatch.IMetric{
				"requests": requests,
				"errors":   errors5xx,
			},
			Label:  jsii.String("5xx %"),
			Period: period(),
		}),
		API5xxAlarmPercent)

	throttled := s.Table.MetricThrottledRequestsForOperations(&awsdynamodb.OperationsMetricOptions{
		Operations: &ThrottleOperations,
		Period:     period(),
	})
	alarm("TableThrottlesAlarm", "table-throttles",
		"DynamoDB throttled requests to the table (on-demand limits or a hot partition).",
		throttled, 1)

	if fn, ok := s.Functions[XaasFunction.Name]; ok {
		failed, records := XaasMetric(fn, config.MetricXaaSSyncFailed), XaasMetric(fn, config.MetricXaaSRecordsFailed)
		alarm("XaasSyncFailedAlarm", "xaas-sync-failed",
			"An XaaS sync to Okta failed: see `scimless xaas status TENANT` and the function's \"xaas sync finished\" log lines.",
			failed, 1)
		fnWidgets = append(fnWidgets, awscloudwatch.NewGraphWidget(&awscloudwatch.GraphWidgetProps{
			Title: jsii.String("XaaS syncs finished, failed, records failed"), Width: jsii.Number(12),
			Left: &[]awscloudwatch.IMetric{XaasMetric(fn, config.MetricXaaSSyncRuns), failed, records},
		}))
	}

	if ev := s.Events; ev != nil {
		evFn := s.Functions[EventsFunction.Name]
		iteratorAge := evFn.Metric(jsii.String("IteratorAge"), &awscloudwatch.MetricOptions{Statistic: jsii.String("Maximum"), Period: period()})
		alarm("EventsIteratorAgeAlarm", "events-iterator-age",
			fmt.Sprintf("Directory events lag: the events function reads stream records ≥ %d s old (failing or throttled batches).", IteratorAgeAlarmMilliseconds/1000),
			iteratorAge, IteratorAgeAlarmMilliseconds)
		maxVisible := &awscloudwatch.MetricOptions{Statistic: jsii.String("Maximum"), Period: period()}
		streamDLQ := ev.StreamFailures.MetricApproximateNumberOfMessagesVisible(maxVisible)
		alarm("EventsDeadLettersAlarm", "events-dead-letters",
			"Stream records the events function gave up on (after bisecting and retries) are in the events dead-letter queue: their events are missing.",
			streamDLQ, 1)
		webhookDLQ := ev.WebhookDeadLetters.MetricApproximateNumberOfMessagesVisible(maxVisible)
		alarm("WebhookDeadLettersAlarm", "webhook-dead-letters",
			fmt.Sprintf("Webhook delivery jobs received %d times without being finished are in the webhook dead-letter queue.", WebhookMaxReceiveCount),
			webhookDLQ, 1)
		deliveriesFailed := awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
			Namespace:  jsii.String(config.MetricNamespace),
			MetricName: jsii.String(WebhookDeliveriesFailedMetric),
			Statistic:  jsii.String("Sum"),
			Period:     period(),
		})
		alarm("WebhookDeliveriesFailedAlarm", "webhook-deliveries-failed",
			"A webhook delivery was given up after its retries: the webhook is marked failing (scimless webhook list TENANT; resend with scimless webhook replay).",
			deliveriesFailed, 1)
		fnWidgets = append(fnWidgets,
			awscloudwatch.NewGraphWidget(&awscloudwatch.GraphWidgetProps{
				Title: jsii.String("Directory events: stream iterator age (ms)"), Width: jsii.Number(12),
				Left: &[]awscloudwatch.IMetric{iteratorAge},
			}),
			awscloudwatch.NewGraphWidget(&awscloudwatch.GraphWidgetProps{
				Title: jsii.String("Webhooks: queued, dead letters, deliveries given up"), Width: jsii.Number(12),
				Left:  &[]awscloudwatch.IMetric{ev.WebhookQueue.MetricApproximateNumberOfMessagesVisible(maxVisible), webhookDLQ, streamDLQ},
				Right: &[]awscloudwatch.IMetric{deliveriesFailed},
			}),
		)
	}

	widgets := []awscloudwatch.IWidget{
		awscloudwatch.NewGraphWidget(&awscloudwatch.GraphWidgetProps{
			Title: jsii.String("API requests and errors"), Width: jsii.Number(12),
			Left: &[]awscloudwatch.IMetric{requests, s.API.MetricClientError(sum), errors5xx},
		}),
		awscloudwatch.NewGraphWidget(&awscloudwatch.GraphWidgetProps{
			Title: jsii.String("API latency (ms)"), Width: jsii.Number(12),
			Left: &[]awscloudwatch.IMetric{
				s.API.MetricLatency(&awscloudwatch.MetricOptions{Statistic: jsii.String("p50"), Period: period()}),
				s.API.MetricLatency(&awscloudwatch.MetricOptions{Statistic: jsii.String("p99"), Period: period()}),
			},
		}),
	}
	widgets = append(widgets, fnWidgets...)
	widgets = append(widgets,
		awscloudwatch.NewGraphWidget(&awscloudwatch.GraphWidgetProps{
			Title: jsii.String("DynamoDB consumed capacity"), Width: jsii.Number(12),
			Left: &[]awscloudwatch.IMetric{s.Table.MetricConsumedReadCapacityUnits(sum), s.Table.MetricConsumedWriteCapacityUnits(sum)},
		}),
		awscloudwatch.NewGraphWidget(&awscloudwatch.GraphWidgetProps{
			Title: jsii.String("DynamoDB throttled requests"), Width: jsii.Number(12),
			Left: &[]awscloudwatch.IMetric{throttled},
		}),
	)
	rows := make([]*[]awscloudwatch.IWidget, 0, (len(widgets)+1)/2)
	for i := 0; i < len(widgets); i += 2 {
		row := widgets[i:min(i+2, len(widgets))]
		rows = append(rows, &row)
	}
	awscloudwatch.NewDashboard(stack, jsii.String("Dashboard"), &awscloudwatch.DashboardProps{
		DashboardName: jsii.String(cfg.StackName()),
		Widgets:       &rows,
	})
	return topic
}

// functionNamed returns the known function with that name.
func functionNamed(name string) Function {
	for _, fn := range KnownFunctions() {
		if fn.Name == name {
			return fn
		}
	}
	return Function{Name: name}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
