package events

import "sync"

// Hub tells waiting readers in the same process that a tenant has new
// events, so a long poll answers as soon as they are stored instead of at
// its next poll. The zero value is ready to use.
type Hub struct {
	mu        sync.Mutex
	ch        map[string]chan struct{}
	watermark string // highest event id of the batches stored in full
}

// Advance records that every event up to and including id is stored: the
// consumer calls it after a batch is stored in full. With one stream shard,
// read in order, no event with a lower id can be stored later.
func (h *Hub) Advance(id string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if id > h.watermark {
		h.watermark = id
	}
}

// Before returns the exclusive upper bound of the event ids that are stored
// in full ("" before the first batch): the Events API serves none past it.
func (h *Hub) Before() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.watermark == "" {
		return ""
	}
	return h.watermark + "~" // sorts after the watermark and before every higher id (ids are digits)
}

// Changed returns a channel closed at the next Notify of tenant.
func (h *Hub) Changed(tenant string) <-chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.ch == nil {
		h.ch = map[string]chan struct{}{}
	}
	c, ok := h.ch[tenant]
	if !ok {
		c = make(chan struct{})
		h.ch[tenant] = c
	}
	return c
}

// Notify wakes the readers waiting on tenant.
func (h *Hub) Notify(tenant string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if c, ok := h.ch[tenant]; ok {
		close(c)
		delete(h.ch, tenant)
	}
}
