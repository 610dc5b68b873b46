package main

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"github.com/scimless/scimless/pkg/selftest"
)

// TestSoakShort runs the soak for a few seconds: the local stack starts,
// the load runs, and the model and the table are checked. Whether the soak
// passes is its own verdict on the stack (make soak); here it must run and
// report every part.
func TestSoakShort(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"soak", "-clients", "3", "-duration", "2s", "-seed", "5", "-json"}, &stdout, &stderr)
	var rep selftest.LoadReport
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("exit %d, -json output: %v\n%s\n%s", code, err, stdout.String(), stderr.String())
	}
	if (code == 0) != rep.Passed {
		t.Errorf("exit %d but passed %v", code, rep.Passed)
	}
	if rep.Requests == 0 || rep.Model.Users == 0 || rep.Seed != 5 || len(rep.Ops) == 0 {
		t.Errorf("the load did not run: %+v", rep)
	}
	names := map[string]bool{}
	for _, c := range rep.Checks {
		names[c.Name] = true
	}
	if len(rep.Checks) != 2 || !names["orphan items"] || !names["failed deletes"] {
		t.Errorf("checks %+v, want the cleanup's failed deletes and the table's orphan items", rep.Checks)
	}
	if rep.XaaS == "" || rep.XaaS[:8] != "parallel" {
		t.Errorf("XaaS %q: the local stack serves the XaaS API", rep.XaaS)
	}
	if !rep.Passed {
		t.Logf("the soak found problems (exit %d):\n%s", code, stdout.String())
	}
}

func TestSoakFlags(t *testing.T) {
	for _, args := range [][]string{{"soak", "-clients", "x"}, {"soak", "--", "-dynamodb-endpoint", "http://x"}, {"soak", "--", "-table=t"}} {
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), args, &stdout, &stderr); code != 2 {
			t.Errorf("%v: exit %d, want 2\n%s", args, code, stderr.String())
		}
	}
}
