package events

import "sync"

// Hub tells waiting readers in the same process that a tenant has new
// events, so a long poll answers as soon as they are stored instead of at
// its next poll. The zero value is ready to use.
type Hub struct {
	mu sync.Mutex
	ch map[string]chan struct{}
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
