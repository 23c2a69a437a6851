package virtio_test

import (
	"bytes"
	"encoding/binary"
	"io"
	"math"
	"testing"

	"github.com/gluevmm/glue/guestmem"
	"github.com/gluevmm/glue/virtio"
	"github.com/gluevmm/glue/virtio/virtiotest"
)

// Fuzzed guest memory: two 64 KiB regions around a 64 KiB hole. The rings
// sit at fixed places in the low region; the rest of each region is data.
const (
	fzRegion   = 0x10000
	fzHigh     = 0x20000
	fzDesc     = 0x0000 // up to 128 descriptors
	fzAvail    = 0x0800
	fzUsed     = 0x1000
	fzScratch  = 0x2000 // fuzzer bytes past the descriptor table land here
	fzMaxBytes = 0x4000
)

var fzMem = virtiotest.FuzzMemory{Spans: []guestmem.Span{{Base: 0, Size: fzRegion}, {Base: fzHigh, Size: fzRegion}}}

// snapshot copies all of guest memory.
func snapshot(mem *guestmem.Memory) [][]byte {
	var s [][]byte
	for _, r := range mem.Regions() {
		s = append(s, bytes.Clone(r.Host()))
	}
	return s
}

type span struct{ addr, end uint64 }

// FuzzDescriptorChain walks fuzzed rings and descriptor tables the way a
// device does and checks what the core promises whatever the guest wrote:
// no panic; every chain handed out has at most Size descriptors, each inside
// one RAM region, readable before writable, with a total under 2^32; the
// Reader and Writer see exactly the declared lengths; and the device writes
// guest memory only in the used ring and in writable buffers of chains it
// was given.
//
// Inputs: cfg bits 0-2 = log2 of the queue size, bit 3 = indirect
// descriptors negotiated, bit 4 = event index, bit 5 = the device pops
// every chain before completing any (a device with requests in flight)
// instead of using Process. availIdx is avail.idx; ring fills the
// available ring's entries (and used_event); table fills the descriptor
// table and, past its end, the scratch area at 0x2000 where indirect tables
// and buffers can point.
func FuzzDescriptorChain(f *testing.F) {
	f.Add(byte(3), uint16(1), []byte{0, 0}, make([]byte, 16))
	f.Fuzz(func(t *testing.T, cfg byte, availIdx uint16, ring []byte, table []byte) {
		mem := fzMem.Get(t)
		size := uint16(1) << (cfg & 7)
		var features uint64
		if cfg&8 != 0 {
			features |= virtio.FeatureRingIndirectDesc
		}
		if cfg&16 != 0 {
			features |= virtio.FeatureRingEventIdx
		}
		table = table[:min(len(table), fzMaxBytes)]
		n := min(len(table), 16*int(size))
		mem.WriteAt(table[:n], fzDesc)
		mem.WriteAt(table[n:], fzScratch)
		mem.WriteAt(ring[:min(len(ring), 2*int(size)+2)], fzAvail+4)
		mem.WriteU16(fzAvail+2, availIdx)

		q, err := virtio.NewQueue(mem, virtio.QueueConfig{
			Size: size, Desc: fzDesc, Driver: fzAvail, Device: fzUsed, Features: features,
		})
		if err != nil {
			t.Fatal(err)
		}
		before := snapshot(mem)
		usedEnd := uint64(fzUsed + 4 + 8*uint64(size) + 2)
		allowed := []span{{fzUsed, usedEnd}}
		var scratch [4096]byte
		handle := func(c *virtio.DescriptorChain) uint32 {
			checkChain(t, mem, c, size)
			for _, d := range c.Descriptors() {
				if d.Writable() {
					allowed = append(allowed, span{uint64(d.Addr), uint64(d.Addr) + uint64(d.Len)})
				}
			}
			if got, err := c.Reader().WriteTo(io.Discard); err != nil || got != int64(c.ReadableLen()) {
				t.Fatalf("read %d of %d readable bytes: %v", got, c.ReadableLen(), err)
			}
			w := c.Writer()
			for i := range scratch {
				scratch[i] = 0xa5
			}
			for w.Len() > 0 {
				if _, err := w.Write(scratch[:min(w.Len(), len(scratch))]); err != nil {
					t.Fatal(err)
				}
			}
			if w.Written() != c.WritableLen() {
				t.Fatalf("wrote %d of %d writable bytes", w.Written(), c.WritableLen())
			}
			return w.Written()
		}

		if cfg&32 != 0 {
			var held []*virtio.DescriptorChain
			for c := q.Pop(); c != nil; c = q.Pop() {
				handle(c)
				held = append(held, c)
				if len(held) > int(size) {
					t.Fatalf("%d chains in flight on a queue of %d", len(held), size)
				}
			}
			for _, c := range held {
				if err := q.AddUsed(c.Head(), c.WritableLen()); err != nil {
					t.Fatal(err)
				}
			}
			q.SignalUsed()
		} else {
			for range 3 {
				if !q.Process(handle) {
					break
				}
			}
		}
		if q.Broken() && q.Pending() {
			t.Fatal("a broken queue reports pending work")
		}
		checkWrites(t, mem, before, allowed)
	})
}

// checkChain checks a chain the queue handed out.
func checkChain(t *testing.T, mem *guestmem.Memory, c *virtio.DescriptorChain, size uint16) {
	t.Helper()
	descs := c.Descriptors()
	if len(descs) == 0 || len(descs) > int(size) {
		t.Fatalf("chain of %d descriptors on a queue of %d", len(descs), size)
	}
	if c.Head() >= size {
		t.Fatalf("head %d", c.Head())
	}
	var r, w uint64
	seenWritable := false
	for _, d := range descs {
		if !mem.Contains(d.Addr, uint64(d.Len)) {
			t.Fatalf("descriptor %#x+%#x outside RAM", d.Addr, d.Len)
		}
		if d.Writable() {
			seenWritable = true
			w += uint64(d.Len)
		} else {
			if seenWritable {
				t.Fatal("readable descriptor after a writable one")
			}
			r += uint64(d.Len)
		}
	}
	if r+w > math.MaxUint32 || uint32(r) != c.ReadableLen() || uint32(w) != c.WritableLen() {
		t.Fatalf("lengths %d/%d, chain says %d/%d", r, w, c.ReadableLen(), c.WritableLen())
	}
}

// checkWrites fails if guest memory changed outside the allowed spans.
func checkWrites(t *testing.T, mem *guestmem.Memory, before [][]byte, allowed []span) {
	t.Helper()
	for i, r := range mem.Regions() {
		after := r.Host()
		for off := range after {
			if after[off] == before[i][off] {
				continue
			}
			a := uint64(r.Base) + uint64(off)
			ok := false
			for _, s := range allowed {
				if a >= s.addr && a < s.end {
					ok = true
					break
				}
			}
			if !ok {
				t.Fatalf("device wrote guest memory at %#x, outside the used ring and writable buffers", a)
			}
		}
	}
}

// FuzzChainLayout checks that a chain built from fuzzed little-endian
// descriptors is read back field for field (a decoder regression guard).
func FuzzChainLayout(f *testing.F) {
	f.Add(uint64(0x3000), uint32(16), uint16(2))
	f.Fuzz(func(t *testing.T, addr uint64, n uint32, flags uint16) {
		mem := fzMem.Get(t)
		var b [16]byte
		binary.LittleEndian.PutUint64(b[0:], addr)
		binary.LittleEndian.PutUint32(b[8:], n)
		binary.LittleEndian.PutUint16(b[12:], flags&^(virtio.DescFlagNext|virtio.DescFlagIndirect))
		mem.WriteAt(b[:], fzDesc)
		q, err := virtio.NewQueue(mem, virtio.QueueConfig{Size: 1, Desc: fzDesc, Driver: fzAvail, Device: fzUsed})
		if err != nil {
			t.Fatal(err)
		}
		c, err := q.ReadChain(0)
		inRAM := mem.Contains(guestmem.Addr(addr), uint64(n))
		if (err == nil) != inRAM {
			t.Fatalf("ReadChain(%#x+%#x) = %v, in RAM %v", addr, n, err, inRAM)
		}
		if err == nil {
			d := c.Descriptors()[0]
			if uint64(d.Addr) != addr || d.Len != n || d.Writable() != (flags&virtio.DescFlagWrite != 0) {
				t.Fatalf("decoded %+v", d)
			}
		}
	})
}
