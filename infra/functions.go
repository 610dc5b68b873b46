package main

import (
	"fmt"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/jsii-runtime-go"

	"github.com/scimless/scimless/pkg/config"
	"github.com/scimless/scimless/pkg/table"
)

// Function sizing.
//
// API Gateway HTTP APIs wait at most 30 s for an integration (a hard
// quota). The integration timeout is set to IntegrationTimeoutSeconds and
// the function's to FunctionTimeoutSeconds, one second less, so a slow
// request is always ended by Lambda first: the client then gets the
// function's own error, never a gateway 503 while the function goes on
// writing. The slowest designed request, a 1,000-member group PATCH, must
// fit in that budget (design: ≤ 29 s).
//
// The XaaS function has the same sizing: its API requests have the same
// 29 s budget, and a scheduled sync tick works until a few seconds before
// the invocation's deadline (the engine stops uploading when the next
// upload might not fit), checkpoints, and the next tick resumes the run.
// Okta's 5-minute gap between an import and the next session, not the
// timeout, is what paces a large sync: a longer timeout would only be paid
// for while waiting.
//
// 512 MB gives a Go handler about 0.29 vCPU (Lambda allocates CPU in
// proportion to memory, 1 vCPU at 1,769 MB), ample for I/O-bound
// DynamoDB work and 100-resource JSON pages, and it shortens the cold
// start. A Go binary uses ~30 MB of it. At $0.0000133334 per GB-s on
// arm64, a 50 ms request costs $0.00000033.
//
// The events function works on stream batches, not API requests: 60 s
// leaves room for a batch of 100 records whose events are stored with
// throttling retries, and a batch that fails is retried (bisected) by the
// event source anyway. The webhooks function attempts up to 10 deliveries
// in parallel, each cut off after 10 s, so 30 s bounds one batch.
const (
	FunctionMemoryMB          = 512
	FunctionTimeoutSeconds    = 28
	IntegrationTimeoutSeconds = 29

	EventsFunctionTimeoutSeconds   = 60
	WebhooksFunctionTimeoutSeconds = 30
)

// FunctionTimeout is fn's timeout in seconds.
func FunctionTimeout(fn Function) int {
	switch fn.Name {
	case EventsFunction.Name:
		return EventsFunctionTimeoutSeconds
	case WebhooksFunction.Name:
		return WebhooksFunctionTimeoutSeconds
	}
	return FunctionTimeoutSeconds
}

// Environment variable names read by the service, from the service's own
// package config (which, like package table, imports nothing heavy).
const (
	EnvTable         = config.EnvTable
	EnvLogLevel      = config.EnvLogLevel
	EnvTokenCacheTTL = config.EnvTokenCacheTTL
	EnvBaseURL       = config.EnvBaseURL
)

// TableItemActions are the only DynamoDB actions a function may perform on
// the table. Transactions need no action of their own: TransactWriteItems
// is authorised per contained action (PutItem, UpdateItem, DeleteItem,
// ConditionCheckItem) and TransactGetItems by GetItem. No Scan, no PartiQL,
// no table administration.
var TableItemActions = []string{
	"dynamodb:BatchGetItem",
	"dynamodb:BatchWriteItem",
	"dynamodb:ConditionCheckItem",
	"dynamodb:DeleteItem",
	"dynamodb:GetItem",
	"dynamodb:PutItem",
	"dynamodb:Query",
	"dynamodb:UpdateItem",
}

// EventsTableActions are what the events function does with the table: a
// conditional PutItem per event, GetItem of the tenant (its settings), a
// Query of its webhooks, BatchGetItem of the groups and users that name
// membership events. It never queries an index.
var EventsTableActions = []string{
	"dynamodb:BatchGetItem",
	"dynamodb:GetItem",
	"dynamodb:PutItem",
	"dynamodb:Query",
}

// WebhooksTableActions are what the webhooks function does with the table:
// GetItem of the tenant (suspended or not) and of the webhook, UpdateItem
// to mark the webhook failing or healthy.
var WebhooksTableActions = []string{
	"dynamodb:GetItem",
	"dynamodb:UpdateItem",
}

// IndexActions are the only actions allowed on the table's indexes, each
// named by its ARN from table.Indexes() rather than by "index/*": an index
// can only be queried, and one that the table does not define can never
// be reached.
var IndexActions = []string{"dynamodb:Query"}

// retentionDays maps a number of days to CloudWatch Logs' retention values.
var retentionDays = map[int]awslogs.RetentionDays{
	1: awslogs.RetentionDays_ONE_DAY, 3: awslogs.RetentionDays_THREE_DAYS,
	5: awslogs.RetentionDays_FIVE_DAYS, 7: awslogs.RetentionDays_ONE_WEEK,
	14: awslogs.RetentionDays_TWO_WEEKS, 30: awslogs.RetentionDays_ONE_MONTH,
	60: awslogs.RetentionDays_TWO_MONTHS, 90: awslogs.RetentionDays_THREE_MONTHS,
	120: awslogs.RetentionDays_FOUR_MONTHS, 150: awslogs.RetentionDays_FIVE_MONTHS,
	180: awslogs.RetentionDays_SIX_MONTHS, 365: awslogs.RetentionDays_ONE_YEAR,
	400: awslogs.RetentionDays_THIRTEEN_MONTHS, 545: awslogs.RetentionDays_EIGHTEEN_MONTHS,
	731: awslogs.RetentionDays_TWO_YEARS, 1096: awslogs.RetentionDays_THREE_YEARS,
	1827: awslogs.RetentionDays_FIVE_YEARS, 2192: awslogs.RetentionDays_SIX_YEARS,
	2557: awslogs.RetentionDays_SEVEN_YEARS, 2922: awslogs.RetentionDays_EIGHT_YEARS,
	3288: awslogs.RetentionDays_NINE_YEARS, 3653: awslogs.RetentionDays_TEN_YEARS,
}

// newLogGroup defines a log group with the configured retention; prod
// keeps it when the stack is deleted.
func newLogGroup(stack awscdk.Stack, id string, cfg Config) awslogs.LogGroup {
	removal := awscdk.RemovalPolicy_DESTROY
	if cfg.Prod() {
		removal = awscdk.RemovalPolicy_RETAIN
	}
	return awslogs.NewLogGroup(stack, jsii.String(id), &awslogs.LogGroupProps{
		Retention:     retentionDays[cfg.LogRetentionDays],
		RemovalPolicy: removal,
	})
}

// newFunction defines one Lambda function with its own role and log group.
// The role is written out rather than left to CDK, which would attach the
// AWSLambdaBasicExecutionRole managed policy (logs:CreateLogGroup and
// PutLogEvents on every log group); this one may write only its own log
// group, send X-Ray segments and use the table's items.
func newFunction(stack awscdk.Stack, fn Function, code awslambda.Code, cfg Config, t awsdynamodb.Table) awslambda.Function {
	id := FunctionLogicalID(fn)
	logs := newLogGroup(stack, id+"Logs", cfg)
	role := awsiam.NewRole(stack, jsii.String(id+"Role"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil),
		Description: jsii.String(fmt.Sprintf("scimless %s function (%s)", fn.Name, cfg.Stage)),
	})
	logs.GrantWrite(role)
	switch fn.Name {
	case EventsFunction.Name:
		grantTable(role, t, EventsTableActions)
	case WebhooksFunction.Name:
		grantTable(role, t, WebhooksTableActions)
	default:
		grantTableItems(role, t)
	}
	if fn.Name == XaasFunction.Name {
		grantSecrets(stack, role, cfg)
	}

	props := &awslambda.FunctionProps{
		Description:  jsii.String(fmt.Sprintf("scimless %s (%s), built from ./%s", fn.Name, cfg.Stage, fn.Dir)),
		Runtime:      awslambda.Runtime_PROVIDED_AL2023(),
		Architecture: awslambda.Architecture_ARM_64(),
		Handler:      jsii.String("bootstrap"),
		Code:         code,
		MemorySize:   jsii.Number(FunctionMemoryMB),
		Timeout:      awscdk.Duration_Seconds(jsii.Number(FunctionTimeout(fn))),
		Role:         role,
		LogGroup:     logs,
		// JSON log lines (the service logs with log/slog's JSON handler),
		// filtered by Lambda at the configured level. System logs stay at
		// INFO for the platform.report line: duration, memory, init time.
		LoggingFormat:         awslambda.LoggingFormat_JSON,
		ApplicationLogLevelV2: applicationLogLevel(cfg.LogLevel),
		SystemLogLevelV2:      awslambda.SystemLogLevel_INFO,
		Tracing:               awslambda.Tracing_ACTIVE,
		// A function that calls itself in a loop is stopped (the webhooks
		// function retries a delivery in place, through its message's
		// visibility, and never sends to the queue that invokes it).
		RecursiveLoop: awslambda.RecursiveLoop_TERMINATE,
		Environment: &map[string]*string{
			EnvTable:         t.TableName(),
			EnvLogLevel:      jsii.String(cfg.LogLevel),
			EnvTokenCacheTTL: jsii.String(cfg.TokenCacheTTL),
		},
	}
	if fn.Name == ScimFunction.Name && cfg.ReservedConcurrency > 0 {
		props.ReservedConcurrentExecutions = jsii.Number(cfg.ReservedConcurrency)
	}
	if fn.Name == ScimFunction.Name && cfg.DomainName != "" {
		// Behind a custom domain, meta.location and Location headers use
		// it; otherwise the service takes the host of each request.
		(*props.Environment)[EnvBaseURL] = jsii.String(ScimBaseURL(cfg.DomainName))
	}
	f := awslambda.NewFunction(stack, jsii.String(id), props)
	f.Node().DefaultChild().(awscdk.CfnResource).OverrideLogicalId(jsii.String(id))
	return f
}

// grantTableItems allows exactly TableItemActions on the table and
// IndexActions on each index of table.Indexes().
func grantTableItems(role awsiam.Role, t awsdynamodb.Table) {
	grantTable(role, t, TableItemActions)
	var arns []*string
	for _, ix := range table.Indexes() {
		arns = append(arns, IndexArn(t, ix.Name))
	}
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("TableIndexQueries"),
		Actions:   jsii.Strings(IndexActions...),
		Resources: &arns,
	}))
}

// SecretsActions are what the XaaS function may do with the tenants' Okta
// credentials: read them. Secrets encrypted with the default AWS managed
// key (aws/secretsmanager) need no KMS permission of their own.
var SecretsActions = []string{"secretsmanager:GetSecretValue"}

// SecretArnPattern is the ARN pattern of the secrets the XaaS function may
// read: every secret whose name starts with cfg.XaasSecretPrefix, in the
// stack's account and region.
func SecretArnPattern(stack awscdk.Stack, cfg Config) *string {
	return stack.FormatArn(&awscdk.ArnComponents{
		Service:      jsii.String("secretsmanager"),
		Resource:     jsii.String("secret"),
		ResourceName: jsii.String(cfg.XaasSecretPrefix + "*"),
		ArnFormat:    awscdk.ArnFormat_COLON_RESOURCE_NAME,
	})
}

// grantSecrets lets the XaaS function read the tenants' Okta credentials,
// which the table references by name and Secrets Manager holds.
func grantSecrets(stack awscdk.Stack, role awsiam.Role, cfg Config) {
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("TenantSecrets"),
		Actions:   jsii.Strings(SecretsActions...),
		Resources: &[]*string{SecretArnPattern(stack, cfg)},
	}))
}

// grantTable allows exactly actions on the table itself (not its indexes).
func grantTable(role awsiam.Role, t awsdynamodb.Table, actions []string) {
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("TableItems"),
		Actions:   jsii.Strings(actions...),
		Resources: jsii.Strings(*t.TableArn()),
	}))
}

func applicationLogLevel(level string) awslambda.ApplicationLogLevel {
	switch strings.ToLower(level) {
	case "debug":
		return awslambda.ApplicationLogLevel_DEBUG
	case "warn":
		return awslambda.ApplicationLogLevel_WARN
	case "error":
		return awslambda.ApplicationLogLevel_ERROR
	default:
		return awslambda.ApplicationLogLevel_INFO
	}
}
