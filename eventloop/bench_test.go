package eventloop_test

import (
	"testing"

	"golang.org/x/sys/unix"
)

// BenchmarkEventfdRoundTrip is one queue notification: a write to an
// eventfd from another goroutine, the handler's call and its read.
func BenchmarkEventfdRoundTrip(b *testing.B) {
	l := newLoop(b, nil)
	fd := newEventfd(b)
	called := make(chan struct{})
	l.Add(fd, unix.EPOLLIN, func(uint32) {
		drain(fd)
		called <- struct{}{}
	})
	start(b, l)
	for b.Loop() {
		signal(b, fd, 1)
		<-called
	}
}

// BenchmarkSubmit is a function handed to the loop and waited for.
func BenchmarkSubmit(b *testing.B) {
	l := newLoop(b, nil)
	start(b, l)
	done := make(chan struct{})
	fn := func() { done <- struct{}{} }
	for b.Loop() {
		l.Submit(fn)
		<-done
	}
}
