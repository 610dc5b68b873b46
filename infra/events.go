package main

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/jsii-runtime-go"

	"github.com/scimless/scimless/pkg/config"
	"github.com/scimless/scimless/pkg/table"
)

// Directory events on AWS:
//
//	table stream ──▶ events function ──▶ event items (Events API, audit trail)
//	                                 ├─▶ EventBridge bus scimless-<stage>
//	                                 └─▶ webhook queue ──▶ webhooks function ──▶ receivers
//	                                     (SQS FIFO)
//
// The stream's event source mapping batches records, lets the function
// report the records it could not handle (ReportBatchItemFailures), bisects
// a failing batch, retries a bounded number of times and then sends the
// records' coordinates to an SQS on-failure queue, so a poison record never
// blocks its shard for longer than StreamMaxRecordAgeSeconds.
const (
	StreamBatchSize              = 100
	StreamBatchingWindowSeconds  = 1
	StreamRetryAttempts          = 10
	StreamMaxRecordAgeSeconds    = 24 * 60 * 60
	StreamStartingPosition       = "TRIM_HORIZON"
	BatchItemFailures            = "ReportBatchItemFailures"
	WebhookBatchSize             = 10 // the most a FIFO event source takes
	WebhookMaxConcurrency        = 10 // concurrent webhooks functions: at most 100 deliveries in flight
	WebhookVisibilityFactor      = 6  // × the webhooks function's timeout, as AWS advises for SQS event sources
	WebhookQueueRetentionDays    = 14 // the most SQS keeps a message: a paused delivery waits in the queue
	DeadLetterRetentionDays      = 14
	EventsMaxWaitSeconds         = 25 // the longest Events API long poll (pkg/events/api.MaxWait)
	IteratorAgeAlarmMilliseconds = 60 * 1000
)

// WebhookMaxReceiveCount is how many times a delivery message is received
// before it goes to the dead-letter queue: the most SQS allows. A FIFO
// message is retried in place (its visibility set to the backoff), so every
// attempt, every pause of a suspended tenant and every time it waits behind
// a failing message of its group is a receive: about 45 receives for the
// 25 hours of retries, and a suspended tenant's pause costs about 55 in its
// first 6 hours and 48 a day after (pkg/webhook/delivery), so a delivery
// outlives a suspension as long as the queue keeps messages.
const WebhookMaxReceiveCount = 1000

// StreamKeyPrefixes are the sort-key prefixes of the items whose stream
// records the events function reads: users, groups and memberships, the
// users and groups an XaaS source pushes (the events), and deletion markers
// (a deletion's actor).
var StreamKeyPrefixes = []string{"U#", "G#", "M#", "SRC#", table.DeletionPrefix}

// StreamFilterPattern is the event source mapping's filter: records of any
// other item — above all the event items the function itself writes, but
// also tokens, tenants, webhooks and XaaS state — never invoke it (and are
// not billed as invocations).
func StreamFilterPattern() string {
	prefixes := make([]map[string]string, len(StreamKeyPrefixes))
	for i, p := range StreamKeyPrefixes {
		prefixes[i] = map[string]string{"prefix": p}
	}
	return mustJSON(map[string]any{"dynamodb": map[string]any{"Keys": map[string]any{
		table.SortKey: map[string]any{"S": prefixes},
	}}})
}

// EventBusName is the custom EventBridge bus of a stage: "scimless-prod".
func EventBusName(cfg Config) string { return "scimless-" + string(cfg.Stage) }

// Actions granted for directory events, besides the table's items.
var (
	// StreamReadActions read the table's stream (the stream ARN only).
	StreamReadActions = []string{
		"dynamodb:DescribeStream",
		"dynamodb:GetRecords",
		"dynamodb:GetShardIterator",
		"dynamodb:ListStreams",
	}
	// QueueSendActions send to a queue; SendMessageBatch is authorised by
	// sqs:SendMessage.
	QueueSendActions = []string{"sqs:SendMessage"}
	// QueueConsumeActions are what Lambda's SQS poller needs.
	QueueConsumeActions = []string{"sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage"}
	// QueueRetryActions delay a received message's next receive: a failed
	// delivery's backoff (ChangeMessageVisibilityBatch is authorised by
	// sqs:ChangeMessageVisibility).
	QueueRetryActions = []string{"sqs:ChangeMessageVisibility"}
	// BusPutActions publish to the bus.
	BusPutActions = []string{"events:PutEvents"}
)

// Events holds the directory events resources.
type Events struct {
	Bus awsevents.EventBus
	// StreamFailures receives the coordinates of stream records the
	// events function gave up on (the stream's on-failure destination).
	StreamFailures awssqs.Queue
	// WebhookQueue holds the delivery jobs, a FIFO queue whose message
	// groups are the deliveries' ordering keys (one webhook and one user or
	// group): SQS hands out a group's messages one at a time and in order.
	// WebhookDeadLetters (FIFO too) holds the jobs received
	// WebhookMaxReceiveCount times.
	WebhookQueue       awssqs.Queue
	WebhookDeadLetters awssqs.Queue
	// StreamMapping and WebhookMapping are the two event source mappings.
	StreamMapping  awslambda.CfnEventSourceMapping
	WebhookMapping awslambda.CfnEventSourceMapping
}

// newQueue defines an SQS queue encrypted with SQS-managed keys (no KMS
// key to pay for or to grant) that refuses requests without TLS.
func newQueue(stack awscdk.Stack, id string, props *awssqs.QueueProps) awssqs.Queue {
	props.Encryption = awssqs.QueueEncryption_SQS_MANAGED
	props.EnforceSSL = jsii.Bool(true)
	q := awssqs.NewQueue(stack, jsii.String(id), props)
	q.Node().DefaultChild().(awscdk.CfnResource).OverrideLogicalId(jsii.String(id))
	return q
}

func allow(sid string, actions []string, resources ...*string) awsiam.PolicyStatement {
	return awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String(sid),
		Actions:   jsii.Strings(actions...),
		Resources: &resources,
	})
}

// newEvents defines the bus, the queues, the two event source mappings and
// the events and webhooks functions' permissions and settings. scimBase is
// the SCIM base URL, which the events function writes into resources'
// meta.location.
func newEvents(stack awscdk.Stack, s *Stack, scimBase *string) (*Events, error) {
	cfg := s.Config
	evFn, ok := s.Functions[EventsFunction.Name]
	if !ok {
		return nil, fmt.Errorf("the %s function is required", EventsFunction.Name)
	}
	whFn, ok := s.Functions[WebhooksFunction.Name]
	if !ok {
		return nil, fmt.Errorf("the %s function is required", WebhooksFunction.Name)
	}
	e := &Events{}
	e.Bus = awsevents.NewEventBus(stack, jsii.String("EventBus"), &awsevents.EventBusProps{
		EventBusName: jsii.String(EventBusName(cfg)),
		Description:  jsii.String("scimless directory events (" + string(cfg.Stage) + "): source scimless, detail-type the event type"),
	})
	e.StreamFailures = newQueue(stack, "EventsDeadLetterQueue", &awssqs.QueueProps{
		RetentionPeriod: awscdk.Duration_Days(jsii.Number(DeadLetterRetentionDays)),
	})
	e.WebhookDeadLetters = newQueue(stack, "WebhookDeadLetterQueue", &awssqs.QueueProps{
		Fifo:            jsii.Bool(true),
		RetentionPeriod: awscdk.Duration_Days(jsii.Number(DeadLetterRetentionDays)),
	})
	// High-throughput FIFO: throughput and deduplication per message
	// group; the senders set the deduplication ids.
	e.WebhookQueue = newQueue(stack, "WebhookQueue", &awssqs.QueueProps{
		Fifo:                      jsii.Bool(true),
		FifoThroughputLimit:       awssqs.FifoThroughputLimit_PER_MESSAGE_GROUP_ID,
		DeduplicationScope:        awssqs.DeduplicationScope_MESSAGE_GROUP,
		ContentBasedDeduplication: jsii.Bool(false),
		VisibilityTimeout:         awscdk.Duration_Seconds(jsii.Number(WebhookVisibilityFactor * WebhooksFunctionTimeoutSeconds)),
		RetentionPeriod:           awscdk.Duration_Days(jsii.Number(WebhookQueueRetentionDays)),
		DeadLetterQueue: &awssqs.DeadLetterQueue{
			Queue:           e.WebhookDeadLetters,
			MaxReceiveCount: jsii.Number(WebhookMaxReceiveCount),
		},
	})

	// The events function: reads the stream, stores events, queues
	// deliveries, publishes to the bus; Lambda sends the records it gives
	// up on to the on-failure queue with the function's role.
	evRole := evFn.Role()
	evRole.AddToPrincipalPolicy(allow("TableStream", StreamReadActions, s.Table.TableStreamArn()))
	evRole.AddToPrincipalPolicy(allow("StreamFailures", QueueSendActions, e.StreamFailures.QueueArn()))
	evRole.AddToPrincipalPolicy(allow("WebhookQueueSend", QueueSendActions, e.WebhookQueue.QueueArn()))
	evRole.AddToPrincipalPolicy(allow("EventBusPut", BusPutActions, e.Bus.EventBusArn()))
	evFn.AddEnvironment(jsii.String(config.EnvEventBus), e.Bus.EventBusName(), nil)
	evFn.AddEnvironment(jsii.String(config.EnvWebhookQueueURL), e.WebhookQueue.QueueUrl(), nil)
	evFn.AddEnvironment(jsii.String(config.EnvBaseURL), scimBase, nil)
	e.StreamMapping = awslambda.NewCfnEventSourceMapping(stack, jsii.String("EventsStreamMapping"), &awslambda.CfnEventSourceMappingProps{
		FunctionName:                   evFn.FunctionName(),
		EventSourceArn:                 s.Table.TableStreamArn(),
		StartingPosition:               jsii.String(StreamStartingPosition),
		BatchSize:                      jsii.Number(StreamBatchSize),
		MaximumBatchingWindowInSeconds: jsii.Number(StreamBatchingWindowSeconds),
		FunctionResponseTypes:          jsii.Strings(BatchItemFailures),
		BisectBatchOnFunctionError:     jsii.Bool(true),
		MaximumRetryAttempts:           jsii.Number(StreamRetryAttempts),
		MaximumRecordAgeInSeconds:      jsii.Number(StreamMaxRecordAgeSeconds),
		DestinationConfig: &awslambda.CfnEventSourceMapping_DestinationConfigProperty{
			OnFailure: &awslambda.CfnEventSourceMapping_OnFailureProperty{Destination: e.StreamFailures.QueueArn()},
		},
		FilterCriteria: &awslambda.CfnEventSourceMapping_FilterCriteriaProperty{
			Filters: &[]any{&awslambda.CfnEventSourceMapping_FilterProperty{Pattern: jsii.String(StreamFilterPattern())}},
		},
	})
	// Lambda checks the role when it creates the mapping: the policy first.
	e.StreamMapping.Node().AddDependency(evRole)

	// The webhooks function: consumes its queue and delays a failed
	// delivery's next attempt through its message's visibility.
	whRole := whFn.Role()
	whRole.AddToPrincipalPolicy(allow("WebhookQueueConsume", QueueConsumeActions, e.WebhookQueue.QueueArn()))
	whRole.AddToPrincipalPolicy(allow("WebhookQueueRetry", QueueRetryActions, e.WebhookQueue.QueueArn()))
	whFn.AddEnvironment(jsii.String(config.EnvWebhookQueueURL), e.WebhookQueue.QueueUrl(), nil)
	e.WebhookMapping = awslambda.NewCfnEventSourceMapping(stack, jsii.String("WebhookQueueMapping"), &awslambda.CfnEventSourceMappingProps{
		FunctionName:   whFn.FunctionName(),
		EventSourceArn: e.WebhookQueue.QueueArn(),
		BatchSize:      jsii.Number(WebhookBatchSize),
		// The function stops a message group at its first unfinished
		// message and reports it and the group's later ones.
		FunctionResponseTypes: jsii.Strings(BatchItemFailures),
		// A burst of events (a 1,000-member group PATCH) waits in the
		// queue instead of taking the account's concurrency from the SCIM
		// function or flooding the receivers.
		ScalingConfig: &awslambda.CfnEventSourceMapping_ScalingConfigProperty{
			MaximumConcurrency: jsii.Number(WebhookMaxConcurrency),
		},
	})
	e.WebhookMapping.Node().AddDependency(whRole)
	return e, nil
}
