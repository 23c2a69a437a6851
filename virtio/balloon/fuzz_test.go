package balloon_test

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/gluevmm/glue/guestmem"
	"github.com/gluevmm/glue/virtio"
	"github.com/gluevmm/glue/virtio/balloon"
	"github.com/gluevmm/glue/virtio/virtiotest"
)

var fuzzMem = virtiotest.FuzzMemory{Spans: []guestmem.Span{{Base: 0, Size: 1 << 20}, {Base: highBase, Size: 1 << 20}}}

// FuzzPageList hands the device one inflate chain and one deflate chain
// carrying the fuzzed page list, over RAM of two regions around a gap. It
// checks that exactly the listed pages of the high region are given up
// (zeroed), nothing else changes there, every whole page number is counted
// either as a page in RAM or as a bad one, a trailing fragment as
// malformed, and that nothing panics.
func FuzzPageList(f *testing.F) {
	f.Add(pfnList(highPFN, highPFN+1, highPFN+2))
	f.Add(pfnList(highPFN+255, highPFN+256, 0xffffffff, 0))
	f.Add(pfnList(1<<20/balloon.PageSize, highPFN-1, highPFN, highPFN))
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, list []byte) {
		list = list[:min(len(list), 4*1024)]
		mem := fuzzMem.Get(t)
		high, _ := mem.Slice(highBase, 1<<20)
		for i := range high {
			high[i] = 0xaa
		}
		dev := balloon.New(balloon.Config{})
		irq := &virtiotest.Interrupt{}
		inflate := virtiotest.NewQueue(mem, 0x1000, 16)
		deflate := virtiotest.NewQueue(mem, 0x40000, 16)
		var queues []*virtio.Queue
		for i, d := range []*virtiotest.Queue{inflate, deflate} {
			q, err := virtio.NewQueue(mem, d.Config(i, 0, irq))
			if err != nil {
				t.Fatal(err)
			}
			queues = append(queues, q)
		}
		if err := dev.Activate(mem, virtio.FeatureVersion1, queues, irq); err != nil {
			t.Fatal(err)
		}
		listed := map[uint32]bool{}
		lowListed := false
		for i := 0; i+4 <= len(list); i += 4 {
			p := binary.LittleEndian.Uint32(list[i:])
			listed[p] = true
			lowListed = lowListed || p < 1<<20/balloon.PageSize
		}
		inflate.AddChain(virtiotest.Readable(list))
		deflate.AddChain(virtiotest.Readable(list))
		for i := range 2 {
			if dev.Notify(i) {
				t.Fatal("more work than was made available")
			}
		}
		if lowListed {
			return // the list gave up the rings' own pages: the driver's loss, not checked
		}
		for p := uint32(highPFN); p < highPFN+256; p++ {
			b := high[(p-highPFN)*balloon.PageSize:][:balloon.PageSize]
			want := byte(0xaa)
			if listed[p] {
				want = 0
			}
			if bytes.Count(b, []byte{want}) != len(b) {
				t.Fatalf("page %#x: listed %v, but its contents are not all %#x", p, listed[p], want)
			}
		}
		whole := uint64(len(list) / 4)
		s := dev.Status()
		if s.Inflated+s.BadPages/2 != whole || s.Deflated != s.Inflated || s.BadPages%2 != 0 {
			t.Fatalf("status %+v for %d page numbers", s, whole)
		}
		if wantMalformed := uint64(2 * min(len(list)%4, 1)); s.Malformed != wantMalformed {
			t.Fatalf("malformed %d, want %d", s.Malformed, wantMalformed)
		}
	})
}

// FuzzStatsBuffer hands the device one fuzzed statistics buffer and checks
// what it took from it against a reading of the specification: whole
// 10-byte entries of the first MaxStatsBytes, the last value of each known
// tag, one malformed count for a buffer that is too long and one for a
// bad length or an unknown tag among what was read; and that the buffer
// is held, not returned.
func FuzzStatsBuffer(f *testing.F) {
	f.Add(append(stat(balloon.StatFreeMemory, 1<<20), stat(balloon.StatTotalMemory, 2<<20)...))
	f.Add([]byte{4, 0, 1})
	f.Add(append(stat(200, 1), stat(balloon.StatFreeMemory, 3)...))
	f.Add(bytes.Repeat(stat(balloon.StatSwapIn, 9), 70))
	f.Fuzz(func(t *testing.T, buf []byte) {
		buf = buf[:min(len(buf), 2*balloon.MaxStatsBytes)]
		mem := fuzzMem.Get(t)
		dev := balloon.New(balloon.Config{Stats: true})
		irq := &virtiotest.Interrupt{}
		drv := make([]*virtiotest.Queue, 3)
		var queues []*virtio.Queue
		for i := range drv {
			drv[i] = virtiotest.NewQueue(mem, guestmem.Addr(0x1000+i*0x40000), 16)
			q, err := virtio.NewQueue(mem, drv[i].Config(i, 0, irq))
			if err != nil {
				t.Fatal(err)
			}
			queues = append(queues, q)
		}
		if err := dev.Activate(mem, virtio.FeatureVersion1|balloon.FeatureStatsVQ, queues, irq); err != nil {
			t.Fatal(err)
		}
		drv[2].AddChain(virtiotest.Readable(buf))
		dev.Notify(2)
		if u := drv[2].Used(); len(u) != 0 {
			t.Fatalf("the statistics buffer came back at once: %+v", u)
		}

		var want balloon.Stats
		read := buf[:min(len(buf), balloon.MaxStatsBytes)]
		bad := len(read)%10 != 0
		for i := 0; i+10 <= len(read); i += 10 {
			tag := int(read[i]) | int(read[i+1])<<8
			if tag >= balloon.NumStats {
				bad = true
				continue
			}
			want.Values[tag] = binary.LittleEndian.Uint64(read[i+2:])
			want.Known[tag] = true
		}
		wantMalformed := uint64(0)
		if len(buf) > balloon.MaxStatsBytes {
			wantMalformed++
		}
		if bad {
			wantMalformed++
		}
		s := dev.Status()
		if s.StatsUpdates != 1 || s.Stats == nil || *s.Stats != want || s.Malformed != wantMalformed {
			t.Fatalf("status %+v stats %+v; want %+v, %d malformed", s, s.Stats, want, wantMalformed)
		}
	})
}
