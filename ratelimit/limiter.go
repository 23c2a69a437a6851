package ratelimit

import (
	"fmt"
	"sync"
	"time"
)

// Config is a Limiter's settings.
type Config struct {
	Bytes Bucket // bandwidth, in bytes per second
	Ops   Bucket // operations per second (requests, frames)
	// Clock is the time source; nil is SystemClock.
	Clock Clock
}

// Limited reports whether c limits anything.
func (c Config) Limited() bool { return c.Bytes.Rate > 0 || c.Ops.Rate > 0 }

// Validate checks the rates and sizes against MaxTokens.
func (c Config) Validate() error {
	for _, b := range []struct {
		name string
		b    Bucket
	}{{"bytes", c.Bytes}, {"ops", c.Ops}} {
		if b.b.Rate > MaxTokens || b.b.Size > MaxTokens || b.b.OneTimeBurst > MaxTokens {
			return fmt.Errorf("ratelimit: %s bucket: rate, size and burst are at most %d", b.name, uint64(MaxTokens))
		}
	}
	return nil
}

// Limiter is a bandwidth bucket and an operations bucket checked together.
// Safe for concurrent use; a nil *Limiter limits nothing.
type Limiter struct {
	clock Clock

	mu         sync.Mutex
	bytes, ops *bucket // nil: not limited
}

// New returns a Limiter for cfg, or nil when cfg limits nothing.
func New(cfg Config) (*Limiter, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if !cfg.Limited() {
		return nil, nil
	}
	l := &Limiter{clock: cfg.Clock}
	if l.clock == nil {
		l.clock = SystemClock{}
	}
	now := l.clock.Now()
	if cfg.Bytes.Rate > 0 {
		b := newBucket(cfg.Bytes, now)
		l.bytes = &b
	}
	if cfg.Ops.Rate > 0 {
		b := newBucket(cfg.Ops, now)
		l.ops = &b
	}
	return l, nil
}

// Clock returns the limiter's clock, on which a device arms the timer
// that resumes its deferred work.
func (l *Limiter) Clock() Clock { return l.clock }

// Take spends ops operations and bytes bytes and returns 0, or spends
// nothing and returns how long to wait before asking again.
func (l *Limiter) Take(ops, bytes uint64) (wait time.Duration) {
	if l == nil {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.clock.Now()
	for _, c := range []struct {
		b    *bucket
		cost uint64
	}{{l.bytes, bytes}, {l.ops, ops}} {
		if c.b != nil {
			c.b.refill(now)
			wait = max(wait, c.b.wait(c.cost))
		}
	}
	if wait > 0 {
		return wait
	}
	if l.bytes != nil {
		l.bytes.take(bytes)
	}
	if l.ops != nil {
		l.ops.take(ops)
	}
	return 0
}

// Allow grants up to n bytes, what the bytes bucket holds now, and spends
// them; the caller drops the rest. It never waits and never goes into
// debt. The operations bucket does not apply.
func (l *Limiter) Allow(n uint64) uint64 {
	if l == nil || l.bytes == nil {
		return n
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.bytes.refill(l.clock.Now())
	granted := min(n, l.bytes.available())
	l.bytes.take(granted)
	return granted
}
