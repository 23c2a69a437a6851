package blk_test

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"

	"github.com/gluevmm/glue/guestmem"
	"github.com/gluevmm/glue/virtio"
	"github.com/gluevmm/glue/virtio/blk"
	vt "github.com/gluevmm/glue/virtio/virtiotest"
)

// Layout of the fuzzed guest: a 16-entry queue in the first page, the
// fuzzed data (headers, payloads, status bytes) from fuzzData, and a
// 16-sector disk.
const (
	fuzzQueue   = 16
	fuzzData    = 0x1000
	fuzzSectors = 16
)

var fuzzState struct {
	mem    *guestmem.Memory
	rw, ro *blk.Disk
	image  []byte
}

// FuzzRequest hands virtio-blk requests made of a fuzzed descriptor table
// (16 entries, little-endian struct virtq_desc), fuzzed available heads and
// fuzzed guest memory (headers and payloads, copied to 0x1000) to a device
// over a real 16-sector image, read-only or not, with FLUSH negotiated or
// not (writethrough). It checks that the device never panics, does bounded
// work, counts every request exactly once, writes guest memory only in the
// used ring and device-writable buffers, reports used lengths its counters
// explain, and changes the image only through successful writes: never on
// a read-only disk, never its size.
func FuzzRequest(f *testing.F) {
	f.Add(
		descs(
			virtio.Descriptor{Addr: fuzzData, Len: 16, Flags: virtio.DescFlagNext, Next: 1},
			virtio.Descriptor{Addr: fuzzData + 0x100, Len: 512, Flags: virtio.DescFlagWrite | virtio.DescFlagNext, Next: 2},
			virtio.Descriptor{Addr: fuzzData + 0x60, Len: 1, Flags: virtio.DescFlagWrite},
		),
		[]byte{0}, hdr(blk.ReqIn, 1), false, false)
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, table, heads, data []byte, ro, noFlush bool) {
		st := &fuzzState
		if st.mem == nil {
			setupFuzz(t, dir)
		}
		mem := st.mem
		clear(mem.Regions()[0].Host())
		if _, err := st.rw.WriteAt(st.image, 0); err != nil {
			t.Fatal(err)
		}
		drv := vt.NewQueue(mem, 0, fuzzQueue)
		must(mem.WriteAt(table[:min(len(table), 16*fuzzQueue)], drv.DescTable))
		must(mem.WriteAt(data[:min(len(data), 0x2000)], fuzzData))
		for _, h := range heads[:min(len(heads), fuzzQueue)] {
			drv.Publish(uint16(h % (2 * fuzzQueue))) // out-of-range heads too
		}

		disk := st.rw
		if ro {
			disk = st.ro
		}
		features := virtio.FeatureVersion1 | blk.FeatureFlush
		if noFlush {
			features &^= blk.FeatureFlush
		}
		dev := blk.New(disk, nil)
		irq := &vt.Interrupt{}
		q, err := virtio.NewQueue(mem, drv.Config(0, features, irq))
		if err != nil {
			t.Fatal(err)
		}
		if err := dev.Activate(mem, features, []*virtio.Queue{q}, irq); err != nil {
			t.Fatal(err)
		}

		// Allowed guest writes: the used ring and every device-writable
		// buffer in the table. Buffers over the rings would rewrite the
		// table under the device; the core's own fuzzing covers them.
		allowed := [][2]uint64{{uint64(drv.UsedRing), uint64(drv.UsedRing) + 4 + 8*fuzzQueue + 2}}
		for i := range fuzzQueue {
			var b [16]byte
			must(mem.ReadAt(b[:], drv.DescTable+guestmem.Addr(16*i)))
			if binary.LittleEndian.Uint16(b[12:])&virtio.DescFlagWrite != 0 {
				a := binary.LittleEndian.Uint64(b[:])
				end := a + uint64(binary.LittleEndian.Uint32(b[8:]))
				if a < fuzzData && end > 0 {
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

		s := dev.Stats()
		qs := q.Stats()
		if n := s.Reads + s.Writes + s.Flushes + s.IDs + s.Errors; n != qs.Chains {
			t.Fatalf("stats %+v count %d requests, the queue handed out %d", s, n, qs.Chains)
		}
		if s.HostErrors != 0 {
			t.Fatalf("host errors on a healthy image: %+v", s)
		}
		used := drv.Used()
		if !qs.Broken && uint64(len(used)) != qs.Chains+qs.Malformed {
			t.Fatalf("%d used elements for %d chains and %d malformed", len(used), qs.Chains, qs.Malformed)
		}
		var total uint64
		for _, u := range used {
			total += uint64(u.Len)
		}
		if total < s.ReadBytes || total > s.ReadBytes+blk.IDBytes*s.IDs+qs.Chains {
			t.Fatalf("used lengths add up to %d; stats %+v, %d chains", total, s, qs.Chains)
		}
		if s.ReadBytes%blk.SectorSize != 0 || s.WriteBytes%blk.SectorSize != 0 {
			t.Fatalf("partial sectors moved: %+v", s)
		}

		img := make([]byte, len(st.image)+1)
		if n, _ := disk.ReadAt(img, 0); n != len(st.image) {
			t.Fatalf("image is %d bytes, was %d", n, len(st.image))
		}
		if (ro || s.Writes == 0) && !bytes.Equal(img[:len(st.image)], st.image) {
			t.Fatalf("image changed without a successful write (read-only %v, %+v)", ro, s)
		}
		if ro && s.Writes != 0 {
			t.Fatal("a write succeeded on a read-only disk")
		}

		after := mem.Regions()[0].Host()
	next:
		for off := range after {
			if after[off] == before[off] {
				continue
			}
			for _, a := range allowed {
				if uint64(off) >= a[0] && uint64(off) < a[1] {
					continue next
				}
			}
			t.Fatalf("device wrote guest memory at %#x", off)
		}
	})
}

// setupFuzz creates the guest memory and the two images once per process
// (each fuzzing worker is one).
func setupFuzz(t *testing.T, dir string) {
	st := &fuzzState
	mem, err := guestmem.New([]guestmem.Span{{Base: 0, Size: 1 << 16}})
	if err != nil {
		t.Fatal(err)
	}
	st.image = sectors(0, fuzzSectors)
	write := func(name string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, st.image, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	rw, err := blk.Open(write("rw.img"), blk.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ro, err := blk.Open(write("ro.img"), blk.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	st.mem, st.rw, st.ro = mem, rw, ro
}

// descs encodes a descriptor table.
func descs(ds ...virtio.Descriptor) []byte {
	var b []byte
	for _, d := range ds {
		b = binary.LittleEndian.AppendUint64(b, uint64(d.Addr))
		b = binary.LittleEndian.AppendUint32(b, d.Len)
		b = binary.LittleEndian.AppendUint16(b, d.Flags)
		b = binary.LittleEndian.AppendUint16(b, d.Next)
	}
	return b
}
