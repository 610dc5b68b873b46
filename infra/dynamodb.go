package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/jsii-runtime-go"

	"github.com/scimless/scimless/pkg/table"
)

// newTable defines the single table from package table, the same definition
// the store and the local engine use: key names, every GSI and the TTL
// attribute come from there, never from literals here.
//
// CloudFormation adds or removes at most one GSI per table update, so a
// change that adds two entries to table.Indexes() needs two deploys.
func newTable(stack awscdk.Stack, cfg Config) awsdynamodb.Table {
	removal := awscdk.RemovalPolicy_DESTROY
	if cfg.Prod() {
		removal = awscdk.RemovalPolicy_RETAIN
	}
	t := awsdynamodb.NewTable(stack, jsii.String(TableLogicalID), &awsdynamodb.TableProps{
		PartitionKey: stringKey(table.PartitionKey),
		SortKey:      stringKey(table.SortKey),
		// On-demand: nothing to pay at rest, no capacity to plan for the
		// bursty Okta imports.
		BillingMode: awsdynamodb.BillingMode_PAY_PER_REQUEST,
		PointInTimeRecoverySpecification: &awsdynamodb.PointInTimeRecoverySpecification{
			PointInTimeRecoveryEnabled: jsii.Bool(true),
		},
		DeletionProtection: jsii.Bool(cfg.Prod()),
		RemovalPolicy:      removal,
		// KMS with the AWS managed key aws/dynamodb: encryption at rest,
		// key use logged in CloudTrail, no key to pay for or administer.
		Encryption:          awsdynamodb.TableEncryption_AWS_MANAGED,
		TimeToLiveAttribute: jsii.String(table.TTLAttribute),
		// The source of directory events (functions/events).
		Stream: awsdynamodb.StreamViewType(table.StreamViewType),
	})
	for _, ix := range table.Indexes() {
		p := &awsdynamodb.GlobalSecondaryIndexProps{
			IndexName:      jsii.String(ix.Name),
			PartitionKey:   stringKey(ix.PartitionKey),
			ProjectionType: awsdynamodb.ProjectionType_ALL,
		}
		if ix.SortKey != "" {
			p.SortKey = stringKey(ix.SortKey)
		}
		t.AddGlobalSecondaryIndex(p)
	}
	t.Node().DefaultChild().(awscdk.CfnResource).OverrideLogicalId(jsii.String(TableLogicalID))
	return t
}

func stringKey(name string) *awsdynamodb.Attribute {
	return &awsdynamodb.Attribute{Name: jsii.String(name), Type: awsdynamodb.AttributeType_STRING}
}

// IndexArn is the ARN of a table's global secondary index.
func IndexArn(t awsdynamodb.ITable, index string) *string {
	return jsii.String(*t.TableArn() + "/index/" + index)
}
