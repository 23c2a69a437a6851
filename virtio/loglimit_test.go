package virtio_test

import (
	"log/slog"
	"testing"
	"time"

	"github.com/gluevmm/glue/virtio"
	"github.com/gluevmm/glue/virtio/virtiotest"
)

// A guest cycling reset -> activate with a bad queue, a million times,
// gets LogBurst lines out of glue, however the resets go; once the
// interval has passed, the next line says how many were suppressed.
func TestGuestLogFloodIsBounded(t *testing.T) {
	t.Parallel()
	h := &virtiotest.LogCounter{}
	dev := &virtiotest.EchoDevice{MaxSizes: []uint16{16}}
	c, err := virtio.NewCommon(dev, testMemory(t), func(virtio.InterruptKind, int) {}, slog.New(h))
	if err != nil {
		t.Fatal(err)
	}
	clock := time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC)
	c.SetLogClock(func() time.Time { return clock })
	activateBadQueue := func() {
		c.SetStatus(0) // reset
		c.SetStatus(ack)
		c.SetStatus(ack | driver)
		c.SetDriverFeatures(1, uint32(virtio.FeatureVersion1>>32))
		c.SetStatus(ack | driver | featOK)
		c.SetQueueSize(0, 12) // not a power of two
		c.SetQueueReady(0, true)
		c.SetStatus(ack | driver | featOK | driverOK)
	}
	const events = 1_000_000
	for range events {
		activateBadQueue()
	}
	if c.Status()&needsRst == 0 {
		t.Fatalf("status %#x: the activation did not fail", c.Status())
	}
	if lines, _ := h.Count(); lines != virtio.LogBurst {
		t.Fatalf("%d events logged %d lines, want %d", events, lines, virtio.LogBurst)
	}
	clock = clock.Add(virtio.LogInterval)
	activateBadQueue()
	lines, suppressed := h.Count()
	if lines != virtio.LogBurst+1 || len(suppressed) != 1 || suppressed[0] != events-virtio.LogBurst {
		t.Fatalf("after the interval: %d lines, suppressed %v; want %d lines, suppressed [%d]",
			lines, suppressed, virtio.LogBurst+1, events-virtio.LogBurst)
	}
}
