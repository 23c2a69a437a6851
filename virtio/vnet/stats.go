package vnet

import (
	"context"
	"log/slog"
	"sync/atomic"
)

// Stats counts what the device did since it was created. Frame and byte
// counts exclude the vnet header.
type Stats struct {
	TxFrames, TxBytes uint64 // handed to the backend
	TxMalformed       uint64 // guest chains rejected (layout, size, header)
	TxDropped         uint64 // frames the backend had no room for
	TxErrors          uint64 // backend write failures and short writes

	RxFrames, RxBytes uint64 // delivered to the guest
	RxMalformed       uint64 // receive chains with device-readable buffers
	RxDropped         uint64 // frames too big for the guest's buffer, or bad from the backend
	RxErrors          uint64 // backend read failures

	// Frames the rate limiters deferred (each time they did), and queue
	// notifications left to the limiter's timer.
	TxThrottled, TxThrottledKicks uint64
	RxThrottled, RxThrottledKicks uint64
}

type counters struct {
	txFrames, txBytes, txMalformed, txDropped, txErrors          atomic.Uint64
	rxFrames, rxBytes, rxMalformed, rxDropped, rxErrors          atomic.Uint64
	txThrottled, txThrottledKicks, rxThrottled, rxThrottledKicks atomic.Uint64
}

// Stats returns the counters. Safe from any goroutine.
func (d *Device) Stats() Stats {
	s := &d.stats
	return Stats{
		TxFrames: s.txFrames.Load(), TxBytes: s.txBytes.Load(), TxMalformed: s.txMalformed.Load(),
		TxDropped: s.txDropped.Load(), TxErrors: s.txErrors.Load(),
		RxFrames: s.rxFrames.Load(), RxBytes: s.rxBytes.Load(), RxMalformed: s.rxMalformed.Load(),
		RxDropped: s.rxDropped.Load(), RxErrors: s.rxErrors.Load(),
		TxThrottled: s.txThrottled.Load(), TxThrottledKicks: s.txThrottledKicks.Load(),
		RxThrottled: s.rxThrottled.Load(), RxThrottledKicks: s.rxThrottledKicks.Load(),
	}
}

// count bumps c and logs the event: the first of its kind at Warn (the
// guest or the host is misbehaving), later ones at Debug, so a hostile
// guest cannot flood the log.
func (d *Device) count(c *atomic.Uint64, msg string, args ...any) {
	level := slog.LevelDebug
	if c.Add(1) == 1 {
		level = slog.LevelWarn
		msg += " (further ones at debug level)"
	}
	d.log.Log(context.Background(), level, msg, args...)
}
