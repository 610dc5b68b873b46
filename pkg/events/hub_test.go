package events_test

import (
	"testing"

	"github.com/scimless/scimless/pkg/events"
)

// The watermark bounds the ids of events stored in full: it only moves up,
// and its bound sorts after the watermark and before every higher id.
func TestHubWatermark(t *testing.T) {
	var h events.Hub
	if got := h.Before(); got != "" {
		t.Fatalf("Before() = %q before any batch, want empty", got)
	}
	lo, mid, hi := "0001", "0005", "0009"
	h.Advance(mid)
	h.Advance(lo) // a lower id never moves it back
	b := h.Before()
	for _, tc := range []struct {
		id     string
		served bool
	}{{lo, true}, {mid, true}, {hi, false}, {"0006", false}} {
		if got := tc.id < b; got != tc.served {
			t.Errorf("id %s below %q = %v, want %v", tc.id, b, got, tc.served)
		}
	}
}
