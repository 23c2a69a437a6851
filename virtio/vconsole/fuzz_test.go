package vconsole_test

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/gluevmm/glue/guestmem"
	"github.com/gluevmm/glue/virtio"
	"github.com/gluevmm/glue/virtio/vconsole"
	"github.com/gluevmm/glue/virtio/virtiotest"
)

// Fuzzed guest memory: one 128 KiB region (room for a chain over
// MaxTransmitBytes), the queue's rings at 0, data from fzData.
const (
	fzSize  = 128 << 10
	fzData  = 0x1000
	fzQueue = 16
)

var fzMem = virtiotest.FuzzMemory{Spans: []guestmem.Span{{Base: 0, Size: fzSize}}}

// fuzzQueue lays out a queue at 0 with the fuzzed descriptor table (16
// little-endian struct virtq_desc), available heads (up to twice the queue
// size, so some are out of range) and data, and activates dev with it as
// queue index; flags bit 0 negotiates the event index, bit 1 indirect
// descriptors.
func fuzzQueue(t *testing.T, dev *vconsole.Device, index int, table, heads, data []byte, flags uint8) (*guestmem.Memory, *virtiotest.Queue, *virtio.Queue) {
	mem := fzMem.Get(t)
	drv := virtiotest.NewQueue(mem, 0, fzQueue)
	mem.WriteAt(table[:min(len(table), 16*fzQueue)], drv.DescTable)
	mem.WriteAt(data[:min(len(data), fzSize-fzData)], fzData)
	for _, h := range heads[:min(len(heads), fzQueue)] {
		drv.Publish(uint16(h % (2 * fzQueue)))
	}
	features := virtio.FeatureVersion1
	if flags&1 != 0 {
		features |= virtio.FeatureRingEventIdx
	}
	if flags&2 != 0 {
		features |= virtio.FeatureRingIndirectDesc
	}
	irq := &virtiotest.Interrupt{}
	q, err := virtio.NewQueue(mem, drv.Config(index, features, irq))
	if err != nil {
		t.Fatal(err)
	}
	queues := make([]*virtio.Queue, 2)
	queues[index] = q
	if err := dev.Activate(mem, features, queues, irq); err != nil {
		t.Fatal(err)
	}
	return mem, drv, q
}

// changedOutside returns the first guest address outside allowed whose
// byte differs between before and after, or -1.
func changedOutside(before, after []byte, allowed [][2]uint64) int {
	for base := 0; base < len(after); base += 4096 {
		end := min(base+4096, len(after))
		if bytes.Equal(before[base:end], after[base:end]) {
			continue
		}
	next:
		for off := base; off < end; off++ {
			if after[off] == before[off] {
				continue
			}
			for _, s := range allowed {
				if uint64(off) >= s[0] && uint64(off) < s[1] {
					continue next
				}
			}
			return off
		}
	}
	return -1
}

func usedRing(drv *virtiotest.Queue) [2]uint64 {
	return [2]uint64{uint64(drv.UsedRing), uint64(drv.UsedRing) + 4 + 8*fzQueue + 2}
}

// FuzzTransmit hands transmitq chains made of fuzzed descriptors, heads and
// contents to the device, with a writer that takes at most limit bytes
// (negative: unlimited). It checks that the device never panics, writes
// guest memory only in the used ring, completes every chain with length 0,
// takes at most MaxTransmitBytes from a chain, and counts exactly what the
// writer got.
func FuzzTransmit(f *testing.F) {
	f.Add([]byte{}, []byte{0}, []byte{}, int32(-1), uint8(0))
	f.Fuzz(func(t *testing.T, table, heads, data []byte, limit int32, flags uint8) {
		w := &stalled{limit: int(limit)}
		if limit < 0 {
			w.limit = 1 << 30
		}
		dev := vconsole.New(w)
		mem, drv, q := fuzzQueue(t, dev, vconsole.TransmitQueue, table, heads, data, flags)
		before := bytes.Clone(mem.Regions()[0].Host())
		for i := 0; dev.Notify(vconsole.TransmitQueue); i++ {
			if i > 2 {
				t.Fatal("more work than was made available")
			}
		}
		if off := changedOutside(before, mem.Regions()[0].Host(), [][2]uint64{usedRing(drv)}); off >= 0 {
			t.Fatalf("device wrote guest memory at %#x", off)
		}
		for _, u := range drv.Used() {
			if u.Len != 0 {
				t.Fatalf("transmit chain %d completed with length %d", u.ID, u.Len)
			}
		}
		s, qs := dev.Stats(), q.Stats()
		if got := len(w.String()); uint64(got) != s.TxBytes {
			t.Fatalf("writer got %d bytes, TxBytes %d", got, s.TxBytes)
		}
		if s.TxBytes > qs.Chains*vconsole.MaxTransmitBytes {
			t.Fatalf("%d bytes out of %d chains", s.TxBytes, qs.Chains)
		}
		if s.TxMalformed > qs.Chains {
			t.Fatalf("%d malformed of %d chains", s.TxMalformed, qs.Chains)
		}
	})
}

// FuzzReceive delivers fuzzed input into receiveq chains made of fuzzed
// descriptors and heads. It checks that the device never panics, writes
// guest memory only in the used ring and device-writable buffers, takes
// all the input it reports, and hands the guest exactly the input it
// counted, never more than it took.
func FuzzReceive(f *testing.F) {
	f.Add([]byte{}, []byte{0}, []byte("hello\n"), uint8(0))
	f.Fuzz(func(t *testing.T, table, heads, input []byte, flags uint8) {
		dev := vconsole.New(nil)
		mem, drv, _ := fuzzQueue(t, dev, vconsole.ReceiveQueue, table, heads, nil, flags&^2) // indirect tables would hide writable buffers from the check
		allowed := [][2]uint64{usedRing(drv)}
		for i := range fzQueue {
			var b [16]byte
			mem.ReadAt(b[:], drv.DescTable+guestmem.Addr(16*i))
			if binary.LittleEndian.Uint16(b[12:])&virtio.DescFlagWrite != 0 {
				a := binary.LittleEndian.Uint64(b[:])
				end := a + uint64(binary.LittleEndian.Uint32(b[8:]))
				if a < fzData && end > 0 {
					return // a writable buffer over the rings: the device may rewrite them; not an input this target checks
				}
				allowed = append(allowed, [2]uint64{a, end})
			}
		}
		before := bytes.Clone(mem.Regions()[0].Host())
		taken := dev.Enqueue(input)
		dev.Notify(vconsole.ReceiveQueue)
		if off := changedOutside(before, mem.Regions()[0].Host(), allowed); off >= 0 {
			t.Fatalf("device wrote guest memory at %#x", off)
		}
		if taken > len(input) || taken < min(len(input), vconsole.InputBufferSize) {
			t.Fatalf("Enqueue took %d of %d bytes", taken, len(input))
		}
		var delivered uint64
		for _, u := range drv.Used() {
			delivered += uint64(u.Len)
		}
		kept := uint64(vconsole.InputBufferSize - dev.Room())
		if s := dev.Stats(); s.RxBytes != delivered || delivered+kept != uint64(taken) {
			t.Fatalf("took %d, delivered %d, kept %d, RxBytes %d", taken, delivered, kept, s.RxBytes)
		}
	})
}
