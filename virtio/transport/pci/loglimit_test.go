package virtiopci_test

import (
	"log/slog"
	"testing"
	"time"

	"github.com/gluevmm/glue/guestmem"
	"github.com/gluevmm/glue/virtio"
	virtiopci "github.com/gluevmm/glue/virtio/transport/pci"
	"github.com/gluevmm/glue/virtio/virtiotest"
)

// A guest looping reset -> activate with a bad queue through the common
// configuration gets a bounded number of lines: LogBurst, plus one per
// LogInterval the loop took (a bound, not a timing assertion).
func TestGuestLogFloodIsBounded(t *testing.T) {
	t.Parallel()
	r := &rig{mem: virtiotest.NewMemory(t, guestmem.Span{Base: 0, Size: ramSize}), sink: &sink{}, line: &line{}}
	h := &virtiotest.LogCounter{}
	tr, err := virtiopci.New(&virtiotest.EchoDevice{MaxSizes: []uint16{64}}, r.mem, virtiopci.Config{BARAddr: barAddr, MSIX: r.sink}, slog.New(h))
	if err != nil {
		t.Fatal(err)
	}
	r.attach(t, tr)
	if err := r.drv.Probe(); err != nil {
		t.Fatal(err)
	}
	const events = 100_000
	status := func(s uint8) { r.drv.Write(virtiotest.PCIDeviceStatus, 1, uint64(s)) }
	start := time.Now()
	for range events {
		r.drv.Reset()
		status(virtio.StatusAcknowledge | virtio.StatusDriver)
		r.drv.Write(virtiotest.PCIDriverFeatureSel, 4, 1)
		r.drv.Write(virtiotest.PCIDriverFeature, 4, virtio.FeatureVersion1>>32)
		status(virtio.StatusAcknowledge | virtio.StatusDriver | virtio.StatusFeaturesOK)
		r.drv.Write(virtiotest.PCIQueueSelect, 2, 0)
		r.drv.Write(virtiotest.PCIQueueSize, 2, 12) // not a power of two
		r.drv.Write(virtiotest.PCIQueueEnable, 2, 1)
		status(virtio.StatusAcknowledge | virtio.StatusDriver | virtio.StatusFeaturesOK | virtio.StatusDriverOK)
	}
	bound := virtio.LogBurst + int(time.Since(start)/virtio.LogInterval) + 1
	if r.drv.Status()&virtio.StatusDeviceNeedsReset == 0 {
		t.Fatalf("status %#x: the activation did not fail", r.drv.Status())
	}
	if lines, _ := h.Count(); lines == 0 || lines > bound {
		t.Fatalf("%d events logged %d lines, want 1 to %d", events, lines, bound)
	}
}
