package delivery

import "time"

// SetHandBackDelay shortens how long a handed-back job waits (tests).
func SetHandBackDelay(q *MemQueue, d time.Duration) { q.handBack = d }
