package main

import (
	"os"
	"strings"
	"testing"

	"github.com/scimless/scimless/pkg/lambdatest"
)

const runMainEnv = "SCIMLESS_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(runMainEnv) == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// TestRefusesToStartWithoutQueue: the function needs its queue to retry.
func TestRefusesToStartWithoutQueue(t *testing.T) {
	rt := lambdatest.StartRuntime(t)
	fn := lambdatest.StartFunction(t, runMainEnv, "AWS_LAMBDA_RUNTIME_API="+rt.Addr, "AWS_REGION=us-east-1")
	if err := fn.Wait(); err == nil {
		t.Fatal("started without a queue")
	}
	if !strings.Contains(fn.Stderr(), "SCIMLESS_WEBHOOK_QUEUE_URL is not set") {
		t.Fatalf("stderr: %s", fn.Stderr())
	}
}
