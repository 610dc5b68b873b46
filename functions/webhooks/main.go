// Command webhooks is the webhook delivery Lambda function: it receives
// delivery jobs from the SQS queue the events function fills, POSTs each
// event signed to its endpoint (https, public addresses only, 10 s cut-off),
// one resource's events at a time and in order (the FIFO queue's message
// groups), and delays a failed delivery's next attempt with backoff through
// its message's visibility.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/scimless/scimless/pkg/config"
	"github.com/scimless/scimless/pkg/store"
	"github.com/scimless/scimless/pkg/webhook/delivery"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "webhooks:", err)
		os.Exit(1)
	}
}

func run() error {
	ctx := context.Background()
	cfg, err := config.FromEnv(os.Getenv)
	if err != nil {
		return err
	}
	url := os.Getenv(config.EnvWebhookQueueURL)
	if url == "" {
		return errors.New(config.EnvWebhookQueueURL + " is not set")
	}
	client, err := store.NewClient(ctx, store.ClientConfig{Region: cfg.Region, Endpoint: cfg.Endpoint})
	if err != nil {
		return err
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithRegion(cfg.Region))
	if err != nil {
		return fmt.Errorf("load aws config: %w", err)
	}
	q := delivery.NewSQSQueue(sqs.NewFromConfig(awsCfg), url)
	d := delivery.NewDispatcher(store.New(client, cfg.Table), delivery.Strict, delivery.WithLogger(cfg.Logger()))
	lambda.Start(q.Handler(d))
	return nil
}
