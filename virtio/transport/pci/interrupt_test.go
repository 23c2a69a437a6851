package virtiopci_test

import (
	"slices"
	"testing"

	"github.com/gluevmm/glue/pci"
	"github.com/gluevmm/glue/virtio"
	"github.com/gluevmm/glue/virtio/virtiotest"
)

// activeEcho returns a rig with an echo device (one queue, 8 bytes of
// configuration) through the handshake, MSI-X as msix says.
func activeEcho(t *testing.T, msix bool) (*rig, *virtiotest.EchoDevice, *virtiotest.Queue) {
	t.Helper()
	dev := &virtiotest.EchoDevice{}
	dev.SetConfig(make([]byte, 8))
	r := newRig(t, dev)
	r.drv.UseMSIX = msix
	q := virtiotest.NewQueue(r.mem, 0x1000, 16)
	if _, err := r.drv.Init(virtio.FeatureVersion1, q); err != nil {
		t.Fatal(err)
	}
	return r, dev, q
}

// echo completes one request on queue 0.
func echo(t *testing.T, r *rig, q *virtiotest.Queue) {
	t.Helper()
	n := len(q.Used())
	q.AddChain(virtiotest.Readable([]byte("ping")), virtiotest.Writable(4))
	r.drv.Kick(0)
	if len(q.Used()) != n+1 {
		t.Fatal("request not completed")
	}
}

func (r *rig) entry(v int) uint64 {
	base, _ := r.tr.Function().BARAddress(0)
	return base + 0x4000 + 16*uint64(v)
}

// Queue and configuration interrupts go to the vectors the driver
// assigned; a rewritten vector is routed again before it fires.
func TestMSIXVectors(t *testing.T) {
	t.Parallel()
	r, dev, q := activeEcho(t, true)
	echo(t, r, q)
	dev.ChangeConfig(0, []byte{1})
	if got := r.sink.take(); !slices.Equal(got, []int{1, 0}) {
		t.Fatalf("vectors %v, want [1 0] (queue 0, then configuration)", got)
	}
	// The guest retargets vector 1 (another CPU's APIC).
	r.drv.MemWrite(r.entry(1), 4, 0xfee0_1000)
	r.drv.MemWrite(r.entry(1)+8, 4, 0x41)
	echo(t, r, q)
	if m, _ := r.sink.route(1); m != (pci.Message{Address: 0xfee0_1000, Data: 0x41}) {
		t.Fatalf("vector 1 routed to %+v after the rewrite", m)
	}
	if got := r.sink.take(); !slices.Equal(got, []int{1}) {
		t.Fatalf("vectors %v, want [1]", got)
	}
	if high, raises := r.line.state(); high || raises != 0 {
		t.Fatal("INTx used while MSI-X is enabled")
	}
}

// A masked vector is held pending (its PBA bit set) and sent on unmask.
func TestMSIXMaskedPendingUnmask(t *testing.T) {
	t.Parallel()
	r, _, q := activeEcho(t, true)
	pba := r.entry(0) - 0x4000 + 0xa000
	r.drv.MemWrite(r.entry(1)+12, 4, 1) // mask vector 1
	echo(t, r, q)
	if got := r.sink.take(); len(got) != 0 {
		t.Fatalf("masked vector sent: %v", got)
	}
	if p := r.drv.MemRead(pba, 8); p != 1<<1 {
		t.Fatalf("PBA %#x, want bit 1", p)
	}
	r.drv.MemWrite(r.entry(1)+12, 4, 0) // unmask
	if got := r.sink.take(); !slices.Equal(got, []int{1}) {
		t.Fatalf("unmask sent %v, want [1]", got)
	}
	if p := r.drv.MemRead(pba, 8); p != 0 {
		t.Fatalf("PBA %#x after delivery", p)
	}
}

// An event whose vector is NO_VECTOR is not signalled at all, but still
// latched in the ISR.
func TestMSIXNoVector(t *testing.T) {
	t.Parallel()
	r, dev, q := activeEcho(t, true)
	r.drv.Write(virtiotest.PCIConfigMSIXVector, 2, 0xffff)
	dev.ChangeConfig(0, []byte{1})
	if got := r.sink.take(); len(got) != 0 {
		t.Fatalf("configuration change without a vector sent %v", got)
	}
	echo(t, r, q)
	if got := r.sink.take(); !slices.Equal(got, []int{1}) {
		t.Fatalf("queue vector %v, want [1]", got)
	}
	if isr := r.drv.ReadISR(); isr != 3 {
		t.Fatalf("ISR %#x, want 3", isr)
	}
	if high, raises := r.line.state(); high || raises != 0 {
		t.Fatal("INTx used while MSI-X is enabled")
	}
}

// Without MSI-X each interrupt sets its ISR bit and raises INTx; the
// driver's ISR read returns the bits, clears them and lowers the line. A
// configuration change also bumps config_generation.
func TestINTxAndISR(t *testing.T) {
	t.Parallel()
	r, dev, q := activeEcho(t, false)
	for _, tc := range []struct {
		name  string
		cause func()
		isr   uint8
	}{
		{"used buffer", func() { echo(t, r, q) }, 1},
		{"configuration change", func() { dev.ChangeConfig(0, []byte{2}) }, 2},
		{"both", func() { echo(t, r, q); dev.ChangeConfig(0, []byte{3}) }, 3},
	} {
		gen := r.drv.Read(virtiotest.PCIConfigGeneration, 1)
		tc.cause()
		if high, _ := r.line.state(); !high {
			t.Fatalf("%s: INTx low", tc.name)
		}
		if v := r.drv.MemRead(r.drv.ISR.Addr, 2); v != 0 { // only a 1-byte read is the ISR
			t.Fatalf("%s: 2-byte ISR read %#x", tc.name, v)
		}
		if isr := r.drv.ReadISR(); isr != tc.isr {
			t.Fatalf("%s: ISR %#x, want %#x", tc.name, isr, tc.isr)
		}
		if high, _ := r.line.state(); high {
			t.Fatalf("%s: INTx high after the ISR read", tc.name)
		}
		if isr := r.drv.ReadISR(); isr != 0 {
			t.Fatalf("%s: ISR %#x on the second read", tc.name, isr)
		}
		if g := r.drv.Read(virtiotest.PCIConfigGeneration, 1); (g != gen) != (tc.isr&2 != 0) {
			t.Fatalf("%s: config_generation %d -> %d", tc.name, gen, g)
		}
	}
	if got := r.sink.take(); len(got) != 0 {
		t.Fatalf("MSI-X signalled %v while disabled", got)
	}
}
