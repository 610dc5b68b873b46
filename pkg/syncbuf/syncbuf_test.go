package syncbuf_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/scimless/scimless/pkg/syncbuf"
)

func TestBufferConcurrentWrites(t *testing.T) {
	var b syncbuf.Buffer
	const writers, lines = 8, 200
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range lines {
				fmt.Fprintf(&b, "w%d-%d\n", w, i)
				_ = b.Len()
				_ = b.String()
			}
		})
	}
	wg.Wait()
	got := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if len(got) != writers*lines {
		t.Fatalf("%d lines, want %d", len(got), writers*lines)
	}
	seen := map[string]bool{}
	for _, l := range got {
		if seen[l] {
			t.Fatalf("line %q twice (interleaved writes)", l)
		}
		seen[l] = true
	}
	if b.Len() != len(b.String()) {
		t.Fatalf("Len %d, String has %d bytes", b.Len(), len(b.String()))
	}
}
