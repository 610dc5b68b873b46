package main

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// Builder turns a function's main package into a directory holding its
// "bootstrap" executable, which becomes the Lambda asset.
type Builder interface {
	Build(fn Function) (dir string, err error)
}

// StackProps configures NewStack.
type StackProps struct {
	awscdk.StackProps
	Config Config
	// Functions are the functions to deploy (see DiscoverFunctions); it
	// must contain ScimFunction.
	Functions []Function
	// Builder produces each function's code.
	Builder Builder
}

// Stack is the scimless stack with handles on its main resources.
type Stack struct {
	awscdk.Stack
	Config Config
	Table  awsdynamodb.Table
	// Functions maps a function name ("scim", "xaas") to its function.
	Functions map[string]awslambda.Function
	API       awsapigatewayv2.HttpApi
	Stage     awsapigatewayv2.HttpStage
	// Domain is the custom domain, nil unless configured.
	Domain awsapigatewayv2.DomainName
	// Events holds the directory events' bus and queues.
	Events *Events
	Alarms awssns.Topic
}

// TableLogicalID is the table's fixed logical id: refactoring the
// construct tree can never make CloudFormation replace (and so empty) the
// table.
const TableLogicalID = "Table"

// FunctionLogicalID is the logical id (and construct id) of a function:
// "ScimFunction", "XaasFunction". Being fixed, it is the name to give
// `sam local invoke -t cdk.out/<stack>.template.json ScimFunction`.
func FunctionLogicalID(fn Function) string { return title(fn.Name) + "Function" }

// ScimBaseURL is the SCIM base URL: on the custom domain if there is one,
// else on the API's execute-api endpoint.
func (s *Stack) ScimBaseURL() *string {
	if s.Config.DomainName != "" {
		return jsii.String(ScimBaseURL(s.Config.DomainName))
	}
	return jsii.String(*s.API.ApiEndpoint() + "/scim/v2")
}

// APIBaseURL is the API's base URL, the custom domain's if there is one.
func (s *Stack) APIBaseURL() string {
	if s.Config.DomainName != "" {
		return "https://" + s.Config.DomainName
	}
	return *s.API.ApiEndpoint()
}

func title(s string) string {
	if s == "" {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}

// NewStack defines the whole scimless deployment in scope: the table, the
// functions, the HTTP API, directory events (bus, queues, event source
// mappings), alarms, dashboard and outputs.
func NewStack(scope constructs.Construct, props *StackProps) (*Stack, error) {
	cfg := props.Config
	sp := props.StackProps
	if sp.StackName == nil {
		sp.StackName = jsii.String(cfg.StackName())
	}
	if sp.Description == nil {
		sp.Description = jsii.String(fmt.Sprintf("scimless (%s): SCIM 2.0, Okta XaaS and directory events on Lambda, API Gateway HTTP API, DynamoDB, SQS and EventBridge", cfg.Stage))
	}
	stack := awscdk.NewStack(scope, jsii.String(cfg.StackName()), &sp)
	awscdk.Tags_Of(stack).Add(jsii.String("app"), jsii.String("scimless"), nil)
	awscdk.Tags_Of(stack).Add(jsii.String("stage"), jsii.String(string(cfg.Stage)), nil)

	s := &Stack{Stack: stack, Config: cfg, Functions: map[string]awslambda.Function{}}
	s.Table = newTable(stack, cfg)

	var hasScim bool
	for _, fn := range props.Functions {
		dir, err := props.Builder.Build(fn)
		if err != nil {
			return nil, err
		}
		s.Functions[fn.Name] = newFunction(stack, fn, awslambda.Code_FromAsset(jsii.String(dir), nil), cfg, s.Table)
		hasScim = hasScim || fn.Name == ScimFunction.Name
	}
	if !hasScim {
		return nil, fmt.Errorf("the %s function is required", ScimFunction.Name)
	}

	s.API, s.Stage, s.Domain = newHTTPAPI(stack, cfg)
	addScimRoutes(stack, s.API, s.Functions[ScimFunction.Name], cfg)
	if xaas, ok := s.Functions[XaasFunction.Name]; ok {
		addXaas(stack, s.API, xaas, cfg)
	}
	events, err := newEvents(stack, s, s.ScimBaseURL())
	if err != nil {
		return nil, err
	}
	s.Events = events
	s.Alarms = newMonitoring(stack, s)
	addOutputs(stack, s)
	addNagSuppressions(s)
	return s, nil
}
