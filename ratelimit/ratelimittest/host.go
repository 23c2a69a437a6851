package ratelimittest

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/gluevmm/glue/ratelimit"
)

// HostClock is the host's clock counting the timers that are armed and
// have neither been stopped nor fired, so that a test can check that a
// device leaves none behind. Safe for concurrent use.
type HostClock struct {
	ratelimit.SystemClock
	armed atomic.Int64
}

// AfterFunc arms a host timer and counts it until it stops or fires.
func (c *HostClock) AfterFunc(d time.Duration, f func()) ratelimit.Timer {
	c.armed.Add(1)
	var once sync.Once
	done := func() { once.Do(func() { c.armed.Add(-1) }) }
	t := c.SystemClock.AfterFunc(d, func() { done(); f() })
	return stopFunc(func() bool {
		stopped := t.Stop()
		if stopped {
			done()
		}
		return stopped
	})
}

// Armed returns how many timers are pending.
func (c *HostClock) Armed() int64 { return c.armed.Load() }

type stopFunc func() bool

func (s stopFunc) Stop() bool { return s() }
