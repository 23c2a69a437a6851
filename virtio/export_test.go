package virtio

import "time"

// ReadChain exposes the chain walker to the external tests, so they can
// check why a chain is malformed.
func (q *Queue) ReadChain(head uint16) (*DescriptorChain, error) { return q.readChain(head) }

// SetLogClock replaces the clock of c's log rate limiter, so that tests
// decide when its interval has passed.
func (c *Common) SetLogClock(now func() time.Time) {
	c.limiter.mu.Lock()
	defer c.limiter.mu.Unlock()
	c.limiter.now = now
}
