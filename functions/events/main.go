// Command events is the directory events Lambda function: it consumes the
// table's stream (NEW_AND_OLD_IMAGES) in batches, stores the events for the
// Events API and the audit trail, queues webhook deliveries on SQS and
// publishes to the EventBridge bus, reporting failed records with
// ReportBatchItemFailures.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/scimless/scimless/pkg/config"
	"github.com/scimless/scimless/pkg/events/bus"
	"github.com/scimless/scimless/pkg/events/consumer"
	"github.com/scimless/scimless/pkg/store"
	"github.com/scimless/scimless/pkg/webhook/delivery"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "events:", err)
		os.Exit(1)
	}
}

func run() error {
	ctx := context.Background()
	cfg, err := config.FromEnv(os.Getenv)
	if err != nil {
		return err
	}
	client, err := store.NewClient(ctx, store.ClientConfig{Region: cfg.Region, Endpoint: cfg.Endpoint})
	if err != nil {
		return err
	}
	opts := []consumer.Option{consumer.WithBaseURL(cfg.BaseURL), consumer.WithLogger(cfg.Logger())}
	if name, url := os.Getenv(config.EnvEventBus), os.Getenv(config.EnvWebhookQueueURL); name != "" || url != "" {
		awsCfg, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithRegion(cfg.Region))
		if err != nil {
			return fmt.Errorf("load aws config: %w", err)
		}
		if name != "" {
			opts = append(opts, consumer.WithBus(bus.New(eventbridge.NewFromConfig(awsCfg), name)))
		}
		if url != "" {
			opts = append(opts, consumer.WithQueue(delivery.NewSQSQueue(sqs.NewFromConfig(awsCfg), url)))
		}
	}
	lambda.Start(consumer.New(store.New(client, cfg.Table), opts...).Handle)
	return nil
}
