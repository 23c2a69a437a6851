package rng_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"
	"testing/iotest"

	"github.com/gluevmm/glue/guestmem"
	"github.com/gluevmm/glue/virtio"
	"github.com/gluevmm/glue/virtio/rng"
	"github.com/gluevmm/glue/virtio/virtiotest"
)

var fuzzMem *guestmem.Memory

// FuzzRequest hands virtio-rng requests made of fuzzed descriptors (a
// 16-entry table, little-endian struct virtq_desc) and fuzzed available
// heads, with a source that fails after srcLen bytes when srcLen is
// non-zero. It checks that the device writes guest memory only in the used
// ring and in device-writable buffers, answers every request with at most
// MaxRequestBytes, reports in its counters exactly what it wrote, and
// never panics.
func FuzzRequest(f *testing.F) {
	f.Add([]byte{}, []byte{0}, uint16(0))
	f.Fuzz(func(t *testing.T, table []byte, heads []byte, srcLen uint16) {
		if fuzzMem == nil {
			m, err := guestmem.New([]guestmem.Span{{Base: 0, Size: 1 << 18}})
			if err != nil {
				t.Fatal(err)
			}
			fuzzMem = m
		}
		mem := fuzzMem
		clear(mem.Regions()[0].Host())
		drv := virtiotest.NewQueue(mem, 0, 16)
		mem.WriteAt(table[:min(len(table), 16*16)], drv.DescTable)
		for _, h := range heads[:min(len(heads), 16)] {
			drv.Publish(uint16(h % 32)) // up to twice the queue size
		}
		var src io.Reader = &counter{}
		if srcLen != 0 {
			src = io.MultiReader(io.LimitReader(src, int64(srcLen)), iotest.ErrReader(errors.New("no entropy")))
		}
		dev := rng.New(src)
		irq := &virtiotest.Interrupt{}
		q, err := virtio.NewQueue(mem, drv.Config(0, 0, irq))
		if err != nil {
			t.Fatal(err)
		}
		if err := dev.Activate(mem, virtio.FeatureVersion1, []*virtio.Queue{q}, irq); err != nil {
			t.Fatal(err)
		}
		// Allowed writes: the used ring and any device-writable descriptor
		// in the table, whichever chain it ends up in. Buffers over the
		// rings would rewrite the table under the device and make this
		// bound inexact; FuzzDescriptorChain covers them.
		allowed := [][2]uint64{{uint64(drv.UsedRing), uint64(drv.UsedRing) + 4 + 8*16 + 2}}
		for i := range 16 {
			var b [16]byte
			mem.ReadAt(b[:], drv.DescTable+guestmem.Addr(16*i))
			if binary.LittleEndian.Uint16(b[12:])&virtio.DescFlagWrite != 0 {
				a := binary.LittleEndian.Uint64(b[:])
				end := a + uint64(binary.LittleEndian.Uint32(b[8:]))
				if a < 0x1000 && end > 0 {
					return // a writable buffer over the rings: the device may rewrite them; not an input this target checks
				}
				allowed = append(allowed, [2]uint64{a, end})
			}
		}
		before := bytes.Clone(mem.Regions()[0].Host())
		for i := 0; dev.Notify(0); i++ {
			if i > 2 {
				t.Fatal("more work than was made available")
			}
		}

		var delivered uint64
		for _, u := range drv.Used() {
			if u.Len > rng.MaxRequestBytes {
				t.Fatalf("request %d got %d bytes", u.ID, u.Len)
			}
			delivered += uint64(u.Len)
		}
		if n, _ := dev.Stats(); n != delivered {
			t.Fatalf("device counted %d bytes, used ring says %d", n, delivered)
		}

		after := mem.Regions()[0].Host()
	next:
		for off := range after {
			if after[off] == before[off] {
				continue
			}
			for _, s := range allowed {
				if uint64(off) >= s[0] && uint64(off) < s[1] {
					continue next
				}
			}
			t.Fatalf("device wrote guest memory at %#x", off)
		}
	})
}
