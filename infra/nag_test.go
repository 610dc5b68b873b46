package main

import (
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/cxapi"
	"github.com/aws/jsii-runtime-go"
)

// TestNagClean fails on any AwsSolutions finding that is not suppressed
// with a reason in addNagSuppressions.
func TestNagClean(t *testing.T) {
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			s := synth(t, v)
			ann := assertions.Annotations_FromStack(s.stack.Stack)
			match := assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-"))
			for kind, found := range map[string]*[]*cxapi.SynthesisMessage{
				"error":   ann.FindError(jsii.String("*"), match),
				"warning": ann.FindWarning(jsii.String("*"), match),
			} {
				for _, m := range *found {
					t.Errorf("unsuppressed cdk-nag %s at %s: %v", kind, *m.Id, m.Entry.Data)
				}
			}
			// Each suppression is recorded, with its reason, next to the
			// resource in the template.
			s.template.HasResource(jsii.String("AWS::IAM::Policy"), map[string]any{
				"Metadata": assertions.Match_ObjectLike(&map[string]any{
					"cdk_nag": map[string]any{"rules_to_suppress": []any{map[string]any{
						"applies_to": []any{"Resource::*"},
						"id":         "AwsSolutions-IAM5",
						"reason":     ReasonXRayWildcard,
					}}},
				}),
			})
			if v.name == prodVariant.name {
				s.template.HasResource(jsii.String("AWS::IAM::Policy"), map[string]any{
					"Metadata": assertions.Match_ObjectLike(&map[string]any{
						"cdk_nag": map[string]any{"rules_to_suppress": assertions.Match_ArrayWith(&[]any{map[string]any{
							"applies_to": []any{"Resource::arn:<AWS::Partition>:secretsmanager:<AWS::Region>:<AWS::AccountId>:secret:scimless/prod/okta/*"},
							"id":         "AwsSolutions-IAM5",
							"reason":     ReasonSecretPrefix,
						}})},
					}),
				})
			}
			s.template.HasResource(jsii.String("AWS::ApiGatewayV2::Route"), map[string]any{
				"Metadata": assertions.Match_ObjectLike(&map[string]any{
					"cdk_nag": map[string]any{"rules_to_suppress": []any{map[string]any{
						"id":     "AwsSolutions-APIG4",
						"reason": ReasonBearerAuth,
					}}},
				}),
			})
		})
	}
}

// TestNagFires makes sure AddNagChecks reports a finding at all: a table
// without point-in-time recovery must be reported under AwsSolutions-DDB3
// (a warning in this rule pack; TestNagClean fails on warnings too).
func TestNagFires(t *testing.T) {
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(t.TempDir())})
	stack := awscdk.NewStack(app, jsii.String("NagProbe"), nil)
	awsdynamodb.NewTable(stack, jsii.String("Bare"), &awsdynamodb.TableProps{
		PartitionKey: &awsdynamodb.Attribute{Name: jsii.String("pk"), Type: awsdynamodb.AttributeType_STRING},
		BillingMode:  awsdynamodb.BillingMode_PAY_PER_REQUEST,
	})
	AddNagChecks(app)
	ann := assertions.Annotations_FromStack(stack)
	match := assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-DDB3"))
	if len(*ann.FindError(jsii.String("*"), match))+len(*ann.FindWarning(jsii.String("*"), match)) == 0 {
		t.Error("AwsSolutions-DDB3 not reported for a table without PITR: nag checks are not applied")
	}
}
