package ratelimit

import "time"

// Clock is where a Limiter reads the time and where a device arms the
// timer that resumes its deferred work.
type Clock interface {
	Now() time.Time
	// AfterFunc calls f, on a goroutine of the clock's, once d has passed.
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is an armed AfterFunc.
type Timer interface {
	// Stop cancels the call and reports whether it did so before f ran.
	Stop() bool
}

// SystemClock is the host's clock: time.Now and time.AfterFunc.
type SystemClock struct{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }

// AfterFunc returns time.AfterFunc(d, f).
func (SystemClock) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }
