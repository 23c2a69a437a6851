package virtiopci_test

import (
	"bytes"
	"slices"
	"testing"

	"github.com/gluevmm/glue/virtio"
	"github.com/gluevmm/glue/virtio/rng"
	"github.com/gluevmm/glue/virtio/virtiotest"
)

// TestLinuxHandshakeRNG drives virtio-rng through the handshake Linux's
// virtio_pci_modern makes, over ECAM and the BAR, and completes a request,
// once with MSI-X (the queue's vector fires) and once with INTx (the line
// rises, the ISR read reports a used buffer and lowers it).
func TestLinuxHandshakeRNG(t *testing.T) {
	t.Parallel()
	for _, msix := range []bool{true, false} {
		name := map[bool]string{true: "msix", false: "intx"}[msix]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dev := rng.New(bytes.NewReader(bytes.Repeat([]byte{0xa5}, 64)))
			r := newRig(t, dev)
			r.drv.UseMSIX = msix
			q := virtiotest.NewQueue(r.mem, 0x1000, 16)
			features, err := r.drv.Init(virtio.FeatureVersion1|virtio.FeatureRingEventIdx, q)
			if err != nil {
				t.Fatal(err)
			}
			if want := virtio.StatusAcknowledge | virtio.StatusDriver | virtio.StatusFeaturesOK | virtio.StatusDriverOK; r.drv.Status() != want {
				t.Fatalf("status %#x, want %#x", r.drv.Status(), want)
			}
			if features != virtio.FeatureVersion1|virtio.FeatureRingEventIdx {
				t.Fatalf("features %#x", features)
			}
			q.AddChain(virtiotest.Writable(16))
			r.drv.Kick(0)
			used := q.Used()
			if len(used) != 1 || !bytes.Equal(q.Written(used[0]), bytes.Repeat([]byte{0xa5}, 16)) {
				t.Fatalf("used %v", used)
			}
			if msix {
				if got := r.sink.take(); !slices.Equal(got, []int{1}) {
					t.Fatalf("MSI-X vectors signalled %v, want [1] (queue 0)", got)
				}
				m, ok := r.sink.route(1)
				if !ok || m.Address != virtiotest.MSIXAddress || m.Data != virtiotest.MSIXDataBase+1 {
					t.Fatalf("route of vector 1: %+v %v", m, ok)
				}
				if high, raises := r.line.state(); high || raises != 0 {
					t.Fatalf("INTx raised with MSI-X enabled")
				}
				return
			}
			if high, _ := r.line.state(); !high {
				t.Fatal("INTx not raised")
			}
			if isr := r.drv.ReadISR(); isr != 1 {
				t.Fatalf("ISR %#x, want 1", isr)
			}
			if high, _ := r.line.state(); high {
				t.Fatal("INTx still high after the ISR read")
			}
			if isr := r.drv.ReadISR(); isr != 0 {
				t.Fatalf("ISR %#x after it was read, want 0", isr)
			}
			if got := r.sink.take(); len(got) != 0 {
				t.Fatalf("MSI-X signalled %v without MSI-X", got)
			}
		})
	}
}
