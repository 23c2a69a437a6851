package mmio_test

import (
	"encoding/binary"
	"testing"

	"github.com/gluevmm/glue/guestmem"
	"github.com/gluevmm/glue/virtio"
	"github.com/gluevmm/glue/virtio/rng"
	"github.com/gluevmm/glue/virtio/transport/mmio"
	"github.com/gluevmm/glue/virtio/virtiotest"
)

// zeros is a source of zero bytes: the fuzz target needs no entropy.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// FuzzMMIORegisters drives a virtio-rng device through its register window
// with arbitrary accesses, interleaved with guest writes to the memory
// where a driver would put its rings, and notifications as an event loop
// would deliver them. ops is read 8 bytes at a time:
//
//	op, offset (u16 LE), width, value (u32 LE)
//	op%4 == 0: read  at offset, 1<<(width&3) bytes (offset |= 1<<63 if width bit 7)
//	op%4 == 1: write at offset, same width, value's bytes
//	op%4 == 2: guest writes value to RAM at 4*(offset&0x7ff) (rings, buffers)
//	op%4 == 3: NotifyQueue(int(int8(value)))
//
// After every step it checks: no panic; the status never shows a bit
// without its predecessors (DRIVER_OK needs FEATURES_OK needs DRIVER needs
// ACKNOWLEDGE) unless FAILED; the interrupt line is high exactly while
// InterruptStatus is non-zero, and SetLevel is called on changes only.
// Seeds in testdata/fuzz/FuzzMMIORegisters follow Linux's probe and a
// request, a reset in the middle, and odd widths and offsets.
func FuzzMMIORegisters(f *testing.F) {
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, ops []byte) {
		if len(ops) > 8*4096 {
			return
		}
		mem := fuzzMem.Get(t)
		irq := &line{}
		tr, err := mmio.New(rng.New(zeros{}), mem, irq, nil)
		if err != nil {
			t.Fatal(err)
		}
		drv := &virtiotest.MMIODriver{Regs: tr}
		for ; len(ops) >= 8; ops = ops[8:] {
			off := uint64(binary.LittleEndian.Uint16(ops[1:]))
			if ops[3]&0x80 != 0 {
				off |= 1 << 63
			}
			data := make([]byte, 8)
			copy(data, ops[4:8])
			data = data[:1<<(ops[3]&3)]
			switch ops[0] % 4 {
			case 0:
				tr.Read(off, data)
			case 1:
				tr.Write(off, data)
			case 2:
				mem.WriteAt(ops[4:8], guestmem.Addr(4*(off&0x7ff)))
			case 3:
				tr.NotifyQueue(int(int8(ops[4])))
			}
			checkInvariants(t, drv, irq)
		}
	})
}

var fuzzMem = virtiotest.FuzzMemory{Spans: []guestmem.Span{{Base: 0, Size: 1 << 16}}}

func checkInvariants(t *testing.T, drv *virtiotest.MMIODriver, irq *line) {
	t.Helper()
	s := drv.Status()
	if s&virtio.StatusFailed == 0 {
		for _, dep := range [][2]uint8{
			{virtio.StatusDriverOK, virtio.StatusFeaturesOK},
			{virtio.StatusFeaturesOK, virtio.StatusDriver},
			{virtio.StatusDriver, virtio.StatusAcknowledge},
		} {
			if s&dep[0] != 0 && s&dep[1] == 0 {
				t.Fatalf("status %#x has %#x without %#x", s, dep[0], dep[1])
			}
		}
	}
	isr := drv.Read32(virtiotest.MMIOInterruptStatus)
	high, _, bad := irq.state()
	if bad || high != (isr != 0) {
		t.Fatalf("line high=%v (repeated level: %v) with InterruptStatus %#x", high, bad, isr)
	}
	if isr&^3 != 0 {
		t.Fatalf("InterruptStatus %#x has undefined bits", isr)
	}
}
