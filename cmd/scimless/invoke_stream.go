package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"

	lambdaevents "github.com/aws/aws-lambda-go/events"

	"github.com/scimless/scimless/pkg/events/consumer"
)

// streamInvokeResult is what `invoke` prints for a table stream batch: the
// events function's answer and what the batch stored.
type streamInvokeResult struct {
	// Response is what the function returns to Lambda (ReportBatchItemFailures).
	Response lambdaevents.DynamoDBEventResponse `json:"response"`
	// Stats counts the records, the events derived and those stored.
	Stats consumer.Stats `json:"stats"`
}

// isStreamEvent reports whether raw is a batch of DynamoDB stream records,
// as Lambda hands it to the events function.
func isStreamEvent(raw []byte) bool {
	var probe struct {
		Records []struct {
			EventSource string `json:"eventSource"`
		} `json:"Records"`
	}
	return json.Unmarshal(raw, &probe) == nil && len(probe.Records) > 0 && probe.Records[0].EventSource == "aws:dynamodb"
}

// streamInvoke runs a table stream batch through the events function's
// handler against the table of tf (a fresh embedded one by default), as
// `sam local invoke` would: ok is false when raw is not a stream batch.
func streamInvoke(ctx context.Context, tf *tableFlags, raw []byte, logw io.Writer) (res streamInvokeResult, ok bool, err error) {
	if !isStreamEvent(raw) {
		return res, false, nil
	}
	var ev lambdaevents.DynamoDBEvent
	if err := json.Unmarshal(raw, &ev); err != nil {
		return res, true, fmt.Errorf("decode stream batch: %w", err)
	}
	db, err := tf.open(ctx, true, true)
	if err != nil {
		return res, true, err
	}
	defer db.Close()
	c := consumer.New(db.Store, consumer.WithLogger(slog.New(slog.NewJSONHandler(logw, nil))))
	res.Response, res.Stats, err = c.HandleStats(ctx, ev)
	return res, true, err
}
