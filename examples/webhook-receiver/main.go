// Command webhook-receiver is an example receiver of scimless webhooks: it
// verifies each delivery's signature, acknowledges it with 204, skips
// deliveries it has already seen (delivery is at least once), and prints
// each event as one line.
//
//	SCIMLESS_WEBHOOK_SECRET=whsec_… go run ./examples/webhook-receiver -addr :9000
//	scimless webhook add acme http://localhost:9000/scimless   (local run)
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/scimless/scimless/pkg/webhook"
)

// maxBody bounds a delivery (scimless events are at most about 200 KB).
const maxBody = 1 << 20

// event is the part of a scimless event this receiver uses.
type event struct {
	ID     string          `json:"id"`
	Type   string          `json:"type"`
	Tenant string          `json:"tenant"`
	Time   time.Time       `json:"time"`
	Data   json.RawMessage `json:"data"`
}

// receiver handles deliveries.
type receiver struct {
	secret string
	out    io.Writer

	mu   sync.Mutex
	seen map[string]time.Time // event ids acknowledged, for deduplication
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
		return
	}
	// Verify before reading anything else: an unsigned or stale request
	// is refused, and a retry with a fresh signature will come.
	if err := webhook.Verify(rc.secret, r.Header.Get(webhook.SignatureHeader), body, 5*time.Minute); err != nil {
		status := http.StatusUnauthorized
		if errors.Is(err, webhook.ErrBadHeader) {
			status = http.StatusBadRequest
		}
		http.Error(w, "signature: "+err.Error(), status)
		return
	}
	var e event
	if err := json.Unmarshal(body, &e); err != nil || e.ID == "" {
		http.Error(w, "not a scimless event", http.StatusBadRequest)
		return
	}
	rc.mu.Lock()
	_, dup := rc.seen[e.ID]
	rc.seen[e.ID] = time.Now()
	if len(rc.seen) > 100000 {
		cut := time.Now().Add(-24 * time.Hour)
		for id, at := range rc.seen {
			if at.Before(cut) {
				delete(rc.seen, id)
			}
		}
	}
	rc.mu.Unlock()
	if !dup {
		// A real application applies the change here: a resource's
		// events arrive one at a time, in order.
		fmt.Fprintf(rc.out, "%s %s %s %s\n", e.Time.Format(time.RFC3339), e.Tenant, e.Type, e.Data)
	}
	w.WriteHeader(http.StatusNoContent)
}

func main() {
	addr := flag.String("addr", "127.0.0.1:9000", "address to listen on")
	path := flag.String("path", "/scimless", "path to receive deliveries on")
	flag.Parse()
	secret := os.Getenv("SCIMLESS_WEBHOOK_SECRET")
	if secret == "" {
		log.Fatal("set SCIMLESS_WEBHOOK_SECRET to the secret printed by scimless webhook add")
	}
	mux := http.NewServeMux()
	mux.Handle(*path, &receiver{secret: secret, out: os.Stdout, seen: map[string]time.Time{}})
	srv := &http.Server{Addr: *addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second}
	log.Printf("receiving scimless webhooks on http://%s%s", *addr, *path)
	log.Fatal(srv.ListenAndServe())
}
