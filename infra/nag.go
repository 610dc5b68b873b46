package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// AddNagChecks applies cdk-nag's AwsSolutions rules to everything in scope.
// A finding that is not suppressed (with its reason, in NagSuppressions)
// is an error annotation, which fails `cdk synth` and the tests.
func AddNagChecks(scope constructs.IConstruct) {
	awscdk.Aspects_Of(scope).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Verbose: jsii.Bool(true)}), nil)
}

// Reasons for the AwsSolutions findings that do not apply. Each is shown
// in the nag report next to the resource it covers.
const (
	// ReasonXRayWildcard covers the only "Resource: *" in a function role.
	ReasonXRayWildcard = "Active tracing needs xray:PutTraceSegments and xray:PutTelemetryRecords, " +
		"which support no resource-level permissions (Resource must be *); it is the only wildcard " +
		"statement in the role, and the tests assert that. DynamoDB access names the table, its stream " +
		"or each index ARN; SQS and EventBridge access name each queue and the bus; logs are limited to " +
		"the function's own log group."
	// ReasonSecretPrefix covers the XaaS function's read access to the
	// tenants' Okta credentials.
	ReasonSecretPrefix = "The XaaS function reads each tenant's Okta credentials from Secrets Manager; " +
		"operators create one secret per tenant after deployment, so the names are not known at synth " +
		"time. Access is GetSecretValue only, limited to this account and region and to names under the " +
		"stage's prefix (context xaasSecretPrefix, default scimless/<stage>/)."
	// ReasonOnFailureQueue covers the stream's on-failure queue.
	ReasonOnFailureQueue = "This queue is itself a dead-letter queue: the on-failure destination of the events " +
		"function's DynamoDB stream event source mapping, which Lambda fills with the coordinates of records it " +
		"gave up on. A dead-letter queue of its own would have nothing to catch; the events-dead-letters alarm " +
		"watches its depth."
	// ReasonBearerAuth covers the API routes without an API Gateway authorizer.
	ReasonBearerAuth = "SCIM clients (Okta, Entra ID), the XaaS source and applications reading the Events API " +
		"authenticate with a long-lived bearer token. The function checks it before anything else (token hashed with SHA-256, looked up " +
		"in the table, tenant taken from it) and answers a SCIM-shaped 401, which Okta's SCIM test " +
		"requires and an API Gateway authorizer cannot produce. /healthz is public by design and reads no data."
)

// addNagSuppressions records, next to each resource, why an AwsSolutions
// rule does not apply to it. Suppressions are as narrow as cdk-nag allows:
// IAM5 only for the literal "Resource::*", APIG4 only below the HTTP API.
func addNagSuppressions(s *Stack) {
	for _, name := range sortedKeys(s.Functions) {
		sup := []*cdknag.NagPackSuppression{{
			Id:        jsii.String("AwsSolutions-IAM5"),
			Reason:    jsii.String(ReasonXRayWildcard),
			AppliesTo: &[]any{jsii.String("Resource::*")},
		}}
		if name == XaasFunction.Name {
			sup = append(sup, &cdknag.NagPackSuppression{
				Id:     jsii.String("AwsSolutions-IAM5"),
				Reason: jsii.String(ReasonSecretPrefix),
				AppliesTo: &[]any{jsii.String("Resource::arn:<AWS::Partition>:secretsmanager:<AWS::Region>:<AWS::AccountId>:secret:" +
					s.Config.XaasSecretPrefix + "*")},
			})
		}
		cdknag.NagSuppressions_AddResourceSuppressions(s.Functions[name].Role(), &sup, jsii.Bool(true))
	}
	cdknag.NagSuppressions_AddResourceSuppressions(s.Events.StreamFailures, &[]*cdknag.NagPackSuppression{{
		Id:     jsii.String("AwsSolutions-SQS3"),
		Reason: jsii.String(ReasonOnFailureQueue),
	}}, jsii.Bool(true))
	cdknag.NagSuppressions_AddResourceSuppressions(s.API, &[]*cdknag.NagPackSuppression{{
		Id:     jsii.String("AwsSolutions-APIG4"),
		Reason: jsii.String(ReasonBearerAuth),
	}}, jsii.Bool(true))
}
