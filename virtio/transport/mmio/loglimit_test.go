package mmio_test

import (
	"log/slog"
	"testing"
	"time"

	"github.com/gluevmm/glue/guestmem"
	"github.com/gluevmm/glue/virtio"
	"github.com/gluevmm/glue/virtio/transport/mmio"
	"github.com/gluevmm/glue/virtio/virtiotest"
)

// A guest looping reset -> activate with a bad queue through the
// registers gets a bounded number of lines: LogBurst, plus one per
// LogInterval the loop took (a bound, not a timing assertion).
func TestGuestLogFloodIsBounded(t *testing.T) {
	t.Parallel()
	mem := virtiotest.NewMemory(t, guestmem.Span{Base: 0, Size: 1 << 20})
	h := &virtiotest.LogCounter{}
	tr, err := mmio.New(&virtiotest.EchoDevice{MaxSizes: []uint16{64}}, mem, &line{}, slog.New(h))
	if err != nil {
		t.Fatal(err)
	}
	drv := &virtiotest.MMIODriver{Regs: tr}
	const events = 100_000
	start := time.Now()
	for range events {
		drv.Reset()
		drv.Write32(virtiotest.MMIOStatus, uint32(virtio.StatusAcknowledge|virtio.StatusDriver))
		drv.Write32(virtiotest.MMIODriverFeaturesSel, 1)
		drv.Write32(virtiotest.MMIODriverFeatures, uint32(virtio.FeatureVersion1>>32))
		drv.Write32(virtiotest.MMIOStatus, uint32(virtio.StatusAcknowledge|virtio.StatusDriver|virtio.StatusFeaturesOK))
		drv.Write32(virtiotest.MMIOQueueSel, 0)
		drv.Write32(virtiotest.MMIOQueueNum, 12) // not a power of two
		drv.Write32(virtiotest.MMIOQueueReady, 1)
		drv.Write32(virtiotest.MMIOStatus, uint32(virtio.StatusAcknowledge|virtio.StatusDriver|virtio.StatusFeaturesOK|virtio.StatusDriverOK))
	}
	bound := virtio.LogBurst + int(time.Since(start)/virtio.LogInterval) + 1
	if drv.Status()&virtio.StatusDeviceNeedsReset == 0 {
		t.Fatalf("status %#x: the activation did not fail", drv.Status())
	}
	if lines, _ := h.Count(); lines == 0 || lines > bound {
		t.Fatalf("%d events logged %d lines, want 1 to %d", events, lines, bound)
	}
}
