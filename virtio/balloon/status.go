package balloon

import (
	"context"
	"log/slog"
)

// The device's counters.
const (
	counterInflated      = iota // pages discarded from inflate lists
	counterDeflated             // pages taken back on the deflate queue
	counterReported             // pages discarded from free page reports
	counterBadPFN               // page numbers outside guest RAM, skipped
	counterMalformed            // page lists and statistics buffers of a bad length, unknown tags
	counterDiscardFailed        // discards the host refused (madvise errors)
	numCounters
)

// Status is what the device knows: the target the host set, what the
// driver says it holds, what the device did, and the statistics the driver
// last reported.
type Status struct {
	TargetPages, ActualPages uint32
	// Pages discarded from inflate lists, taken back on the deflate
	// queue, and discarded from free page reports; a page given up twice
	// counts twice.
	Inflated, Deflated, Reported uint64
	// BadPages counts page numbers outside guest RAM, Malformed buffers
	// of a bad length and unknown statistics tags, DiscardFailed discards
	// the host refused.
	BadPages, Malformed, DiscardFailed uint64
	// Stats are the statistics the driver last reported (nil: none yet);
	// StatsUpdates counts the buffers it sent.
	Stats        *Stats
	StatsUpdates uint64
}

// Status returns the device's state.
func (d *Device) Status() Status {
	d.mu.Lock()
	defer d.mu.Unlock()
	s := Status{
		TargetPages:   d.target.Load(),
		ActualPages:   d.actual.Load(),
		Inflated:      d.counters[counterInflated].Load(),
		Deflated:      d.counters[counterDeflated].Load(),
		Reported:      d.counters[counterReported].Load(),
		BadPages:      d.counters[counterBadPFN].Load(),
		Malformed:     d.counters[counterMalformed].Load(),
		DiscardFailed: d.counters[counterDiscardFailed].Load(),
		StatsUpdates:  d.statsUpdates,
	}
	if d.statsUpdates > 0 {
		st := d.stats
		s.Stats = &st
	}
	return s
}

// bad counts a bad input of one kind and logs it: the first of each kind
// at Warn, the rest at Debug, so a guest cannot flood the log.
func (d *Device) bad(counter int, msg string, attrs ...slog.Attr) {
	d.counters[counter].Add(1)
	level := slog.LevelDebug
	if !d.warned[counter] {
		d.warned[counter] = true
		level = slog.LevelWarn
		msg += " (further ones at debug level)"
	}
	d.log.LogAttrs(context.Background(), level, msg, attrs...)
}
