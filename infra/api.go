package main

import (
	"encoding/json"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2integrations"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscertificatemanager"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/jsii-runtime-go"
)

// Route is one HTTP API route: a method ("ANY", "GET", …) and a path.
type Route struct {
	Method string
	Path   string
}

// Key is the route key as API Gateway writes it, "ANY /scim/v2".
func (r Route) Key() string { return r.Method + " " + r.Path }

// ScimRoutes go to the SCIM function. Okta and Entra ID address every SCIM
// endpoint below the base URL <api>/scim/v2; applications read directory
// events from /events/v1, whose long polls (at most EventsMaxWaitSeconds)
// end before the function's timeout.
var ScimRoutes = []Route{
	{"ANY", "/scim/v2/{proxy+}"},
	{"ANY", "/scim/v2"},
	{"GET", "/healthz"},
	{"GET", EventsPath},
}

// EventsPath is the Events API's path.
const EventsPath = "/events/v1"

// XaasRoutes go to the XaaS function: its API, and the source-record
// endpoints an Okta Workflows "Anything as a Source" flow calls.
var XaasRoutes = []Route{
	{"ANY", "/xaas/v1/{proxy+}"},
	{"ANY", "/items"},
	{"ANY", "/items/{id}"},
}

// AccessLogFormat is the JSON access-log line of the API stage. It holds
// no header values, so no bearer token can reach the logs.
var AccessLogFormat = mustJSON(map[string]string{
	"requestId":          "$context.requestId",
	"requestTime":        "$context.requestTime",
	"ip":                 "$context.identity.sourceIp",
	"userAgent":          "$context.identity.userAgent",
	"method":             "$context.httpMethod",
	"path":               "$context.path",
	"routeKey":           "$context.routeKey",
	"protocol":           "$context.protocol",
	"status":             "$context.status",
	"responseLength":     "$context.responseLength",
	"responseLatency":    "$context.responseLatency",
	"integrationStatus":  "$context.integrationStatus",
	"integrationLatency": "$context.integrationLatency",
	"integrationError":   "$context.integrationErrorMessage",
	"error":              "$context.error.message",
	"domainName":         "$context.domainName",
})

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// newHTTPAPI defines the HTTP API and its $default stage: route throttling
// from context, JSON access logs and, if configured, the custom domain.
func newHTTPAPI(stack awscdk.Stack, cfg Config) (awsapigatewayv2.HttpApi, awsapigatewayv2.HttpStage, awsapigatewayv2.DomainName) {
	api := awsapigatewayv2.NewHttpApi(stack, jsii.String("HttpApi"), &awsapigatewayv2.HttpApiProps{
		ApiName:            jsii.String("scimless-" + string(cfg.Stage)),
		Description:        jsii.String("scimless SCIM 2.0 and XaaS API (" + string(cfg.Stage) + ")"),
		CreateDefaultStage: jsii.Bool(false),
	})
	stageProps := &awsapigatewayv2.HttpStageProps{
		HttpApi:    api,
		StageName:  jsii.String("$default"),
		AutoDeploy: jsii.Bool(true),
		Throttle: &awsapigatewayv2.ThrottleSettings{
			RateLimit:  jsii.Number(cfg.ThrottleRate),
			BurstLimit: jsii.Number(cfg.ThrottleBurst),
		},
	}
	var dn awsapigatewayv2.DomainName
	if cfg.DomainName != "" {
		cert := awscertificatemanager.Certificate_FromCertificateArn(stack, jsii.String("Certificate"), jsii.String(cfg.CertificateArn))
		dn = awsapigatewayv2.NewDomainName(stack, jsii.String("DomainName"), &awsapigatewayv2.DomainNameProps{
			DomainName:     jsii.String(cfg.DomainName),
			Certificate:    cert,
			SecurityPolicy: awsapigatewayv2.SecurityPolicy_TLS_1_2,
		})
		stageProps.DomainMapping = &awsapigatewayv2.DomainMappingOptions{DomainName: dn}
	}
	stage := awsapigatewayv2.NewHttpStage(stack, jsii.String("DefaultStage"), stageProps)

	// The L2 stage takes access-log settings only as a jsii interface, so
	// they are set on the CloudFormation resource.
	accessLogs := newLogGroup(stack, "ApiAccessLogs", cfg)
	stage.Node().DefaultChild().(awsapigatewayv2.CfnStage).SetAccessLogSettings(&awsapigatewayv2.CfnStage_AccessLogSettingsProperty{
		DestinationArn: accessLogs.LogGroupArn(),
		Format:         jsii.String(AccessLogFormat),
	})
	return api, stage, dn
}

// lambdaIntegration is a payload-2.0 proxy integration with the timeout
// explained at IntegrationTimeoutSeconds.
func lambdaIntegration(id string, target awslambda.IFunction) awsapigatewayv2.HttpRouteIntegration {
	return awsapigatewayv2integrations.NewHttpLambdaIntegration(jsii.String(id), target, &awsapigatewayv2integrations.HttpLambdaIntegrationProps{
		PayloadFormatVersion: awsapigatewayv2.PayloadFormatVersion_VERSION_2_0(),
		Timeout:              awscdk.Duration_Seconds(jsii.Number(IntegrationTimeoutSeconds)),
	})
}

func addRoutes(api awsapigatewayv2.HttpApi, routes []Route, integ awsapigatewayv2.HttpRouteIntegration) {
	for _, r := range routes {
		api.AddRoutes(&awsapigatewayv2.AddRoutesOptions{
			Path:        jsii.String(r.Path),
			Methods:     &[]awsapigatewayv2.HttpMethod{awsapigatewayv2.HttpMethod(r.Method)},
			Integration: integ,
		})
	}
}

// addScimRoutes sends ScimRoutes to the SCIM function, through a "live"
// alias with provisioned concurrency when that is configured.
func addScimRoutes(stack awscdk.Stack, api awsapigatewayv2.HttpApi, fn awslambda.Function, cfg Config) {
	var target awslambda.IFunction = fn
	if cfg.ProvisionedConcurrency > 0 {
		target = awslambda.NewAlias(stack, jsii.String("ScimLiveAlias"), &awslambda.AliasProps{
			AliasName:                       jsii.String("live"),
			Version:                         fn.CurrentVersion(),
			ProvisionedConcurrentExecutions: jsii.Number(cfg.ProvisionedConcurrency),
		})
	}
	addRoutes(api, ScimRoutes, lambdaIntegration("ScimIntegration", target))
}

// addXaas routes XaasRoutes to the XaaS function and ticks its sync engine
// on the configured schedule. A tick is never retried, by EventBridge or
// by Lambda's asynchronous invocation: the engine checkpoints its runs in
// the table and the next tick resumes them, so a retry would only overlap
// it.
func addXaas(stack awscdk.Stack, api awsapigatewayv2.HttpApi, fn awslambda.Function, cfg Config) {
	addRoutes(api, XaasRoutes, lambdaIntegration("XaasIntegration", fn))
	fn.ConfigureAsyncInvoke(&awslambda.EventInvokeConfigOptions{
		RetryAttempts: jsii.Number(0),
		MaxEventAge:   awscdk.Duration_Minutes(jsii.Number(2)),
	})
	awsevents.NewRule(stack, jsii.String("XaasSchedule"), &awsevents.RuleProps{
		Description: jsii.String("Ticks the scimless XaaS sync engine (" + string(cfg.Stage) + ")"),
		Schedule:    awsevents.Schedule_Expression(jsii.String(cfg.XaasSchedule)),
		Targets: &[]awsevents.IRuleTarget{
			awseventstargets.NewLambdaFunction(fn, &awseventstargets.LambdaFunctionProps{
				RetryAttempts: jsii.Number(0),
				MaxEventAge:   awscdk.Duration_Minutes(jsii.Number(2)),
			}),
		},
	})
}
