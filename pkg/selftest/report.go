package selftest

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// Status is the outcome of a step or a flow.
type Status string

// Outcomes.
const (
	Pass Status = "pass"
	Fail Status = "fail"
	Skip Status = "skip"
)

// Step is one checked request (or a few requests checked together).
type Step struct {
	Flow    string        `json:"flow"`
	Name    string        `json:"name"`
	Status  Status        `json:"status"`
	Latency time.Duration `json:"-"`
	// LatencyMS is Latency in milliseconds, for -json.
	LatencyMS float64 `json:"latencyMs"`
	// Requests is how many HTTP requests the step sent (retries included).
	Requests int `json:"requests"`
	// Reason says, in one line, why the step failed or was skipped.
	Reason string `json:"reason,omitempty"`
	// Detail is what a passed step measured (e.g. a sync's counts).
	Detail string `json:"detail,omitempty"`
}

// FlowResult sums up one flow.
type FlowResult struct {
	Name     string        `json:"name"`
	Status   Status        `json:"status"`
	Steps    int           `json:"steps"`
	Passed   int           `json:"passed"`
	Failed   int           `json:"failed"`
	Skipped  int           `json:"skipped"`
	Duration time.Duration `json:"-"`
	// DurationMS is Duration in milliseconds, for -json.
	DurationMS float64 `json:"durationMs"`
	// Reason is the first failure's or the skip's reason.
	Reason string `json:"reason,omitempty"`
}

// Report is the result of a selftest run.
type Report struct {
	BaseURL string `json:"baseUrl"`
	// Prefix starts the name of everything the run created.
	Prefix string `json:"prefix"`
	// Supported is what the server's discovery endpoints said it supports.
	Supported Capabilities `json:"supported"`
	Flows     []FlowResult `json:"flows"`
	Steps     []Step       `json:"steps"`
	// Cleanup says what was removed at the end, or kept with -keep.
	Cleanup    string        `json:"cleanup"`
	Duration   time.Duration `json:"-"`
	DurationMS float64       `json:"durationMs"`
	Passed     bool          `json:"passed"`
}

// summarize fills the flow results and the verdict from the steps.
func (r *Report) summarize(order []string) {
	byFlow := map[string]*FlowResult{}
	r.Flows = r.Flows[:0]
	for _, name := range order {
		r.Flows = append(r.Flows, FlowResult{Name: name, Status: Pass})
	}
	for i := range r.Flows {
		byFlow[r.Flows[i].Name] = &r.Flows[i]
	}
	for i := range r.Steps {
		s := &r.Steps[i]
		s.LatencyMS = ms(s.Latency)
		f := byFlow[s.Flow]
		if f == nil {
			continue
		}
		f.Steps++
		f.Duration += s.Latency
		switch s.Status {
		case Pass:
			f.Passed++
		case Fail:
			f.Failed++
			if f.Status != Fail {
				f.Status, f.Reason = Fail, s.Name+": "+s.Reason
			}
		case Skip:
			f.Skipped++
			if f.Reason == "" {
				f.Reason = s.Reason
			}
		}
	}
	r.Passed = true
	for i := range r.Flows {
		f := &r.Flows[i]
		f.DurationMS = ms(f.Duration)
		if f.Status == Pass && f.Passed == 0 && f.Skipped > 0 {
			f.Status = Skip
		}
		if f.Status == Fail {
			r.Passed = false
		}
	}
	r.DurationMS = ms(r.Duration)
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// WriteText writes the table of steps, then the summary per flow.
func (r *Report) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "FLOW\tSTEP\tSTATUS\tLATENCY\tREASON\n")
	for _, s := range r.Steps {
		reason := s.Reason
		if reason == "" {
			reason = s.Detail
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", s.Flow, s.Name, strings.ToUpper(string(s.Status)), roundLatency(s.Latency), reason)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\nsummary against %s (prefix %s):\n", r.BaseURL, r.Prefix)
	fmt.Fprintf(w, "  the server %s\n", r.Supported)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, f := range r.Flows {
		fmt.Fprintf(tw, "  %s\t%s\t%d steps: %d passed, %d failed, %d skipped\t%s\t%s\n",
			f.Name, strings.ToUpper(string(f.Status)), f.Steps, f.Passed, f.Failed, f.Skipped, roundLatency(f.Duration), f.Reason)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	verdict := "PASS: every flow passed"
	if !r.Passed {
		verdict = "FAIL: at least one flow failed"
	}
	_, err := fmt.Fprintf(w, "cleanup: %s\n%s in %s\n", r.Cleanup, verdict, roundLatency(r.Duration))
	return err
}

// WriteJSON writes the report as one JSON document.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

func roundLatency(d time.Duration) time.Duration {
	switch {
	case d >= 10*time.Second:
		return d.Round(100 * time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(100 * time.Microsecond)
	}
	return d.Round(time.Microsecond)
}
