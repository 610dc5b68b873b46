package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
)

// Output names printed by `cdk deploy`.
const (
	OutScimBaseURL        = "ScimBaseUrl"
	OutAPIEndpoint        = "ApiEndpoint"
	OutTableName          = "TableName"
	OutNextStep           = "NextStep"
	OutAlarmTopic         = "AlarmTopicArn"
	OutDashboard          = "DashboardName"
	OutCustomDomainTarget = "CustomDomainTarget"
	OutXaasBaseURL        = "XaasBaseUrl"
	OutEventsAPIURL       = "EventsApiUrl"
	OutEventBusName       = "EventBusName"
	OutWebhookQueueURL    = "WebhookQueueUrl"
)

// FunctionNameOutput is the output holding a function's name:
// "ScimFunctionName", "XaasFunctionName".
func FunctionNameOutput(fn Function) string { return FunctionLogicalID(fn) + "Name" }

// NextStepCommand is the command, printed after deploy, that issues the
// first tenant token: "go run ./cmd/scimless token issue TENANT -table
// <table> -region <region>" with the stack's values filled in.
func NextStepCommand(tableName, region string) string {
	return "go run ./cmd/scimless token issue TENANT -table " + tableName + " -region " + region
}

// ScimBaseURL is the SCIM base URL on a custom domain.
func ScimBaseURL(domain string) string { return "https://" + domain + "/scim/v2" }

func output(stack awscdk.Stack, id, desc string, value *string) {
	o := awscdk.NewCfnOutput(stack, jsii.String(id), &awscdk.CfnOutputProps{
		Value:       value,
		Description: jsii.String(desc),
	})
	o.OverrideLogicalId(jsii.String(id))
}

func addOutputs(stack awscdk.Stack, s *Stack) {
	cfg := s.Config
	base := s.APIBaseURL()
	if cfg.DomainName != "" {
		output(stack, OutCustomDomainTarget,
			"Point a CNAME (or Route 53 alias) for "+cfg.DomainName+" at this name.",
			s.Domain.RegionalDomainName())
	}
	output(stack, OutScimBaseURL, "SCIM 2.0 base URL: paste it into Okta or Entra ID.", jsii.String(base+"/scim/v2"))
	output(stack, OutAPIEndpoint, "The API's execute-api endpoint.", s.API.ApiEndpoint())
	output(stack, OutTableName, "DynamoDB table name (SCIMLESS_TABLE).", s.Table.TableName())
	for _, fn := range KnownFunctions() {
		if f, ok := s.Functions[fn.Name]; ok {
			output(stack, FunctionNameOutput(fn), "Lambda function of ./"+fn.Dir+".", f.FunctionName())
		}
	}
	if _, ok := s.Functions[XaasFunction.Name]; ok {
		output(stack, OutXaasBaseURL, "XaaS API base URL.", jsii.String(base+"/xaas/v1"))
	}
	output(stack, OutEventsAPIURL, "Events API: GET it with a token of scope events.", jsii.String(base+EventsPath))
	output(stack, OutEventBusName, "EventBridge bus of the directory events (source scimless).", s.Events.Bus.EventBusName())
	output(stack, OutWebhookQueueURL, "Webhook delivery queue (scimless webhook replay -queue-url).", s.Events.WebhookQueue.QueueUrl())
	output(stack, OutAlarmTopic, "SNS topic that receives every alarm; subscribe to it.", s.Alarms.TopicArn())
	output(stack, OutDashboard, "CloudWatch dashboard.", jsii.String(cfg.StackName()))
	output(stack, OutNextStep, "Issue the first tenant's bearer token (run from the repository root).",
		jsii.String(NextStepCommand(*s.Table.TableName(), *awscdk.Aws_REGION())))
}
