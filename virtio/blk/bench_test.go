package blk_test

import (
	"os"
	"testing"

	"github.com/gluevmm/glue/guestmem"
	"github.com/gluevmm/glue/virtio"
	"github.com/gluevmm/glue/virtio/blk"
	vt "github.com/gluevmm/glue/virtio/virtiotest"
)

// benchmarkIO measures one 64 KiB request at a time through the device
// (queue, request parsing, pread/pwrite into guest memory, used ring),
// against a 16 MiB image in the host's page cache. The MB/s it reports is
// the device's ceiling, not a disk's speed.
func benchmarkIO(b *testing.B, typ uint32) {
	const size, image = 64 << 10, 16 << 20
	path := newImage(b, 0, 0)
	if err := os.Truncate(path, image); err != nil {
		b.Fatal(err)
	}
	disk := openDisk(b, path, blk.Options{})
	if _, err := disk.WriteAt(make([]byte, image), 0); err != nil { // into the page cache
		b.Fatal(err)
	}
	mem := vt.NewMemory(b, guestmem.Span{Base: 0, Size: 1 << 20})
	drv := vt.NewQueue(mem, 0x1000, 16)
	dev := blk.New(disk, nil)
	features := virtio.FeatureVersion1 | blk.FeatureFlush
	q, err := virtio.NewQueue(mem, drv.Config(0, features, nil))
	if err != nil {
		b.Fatal(err)
	}
	if err := dev.Activate(mem, features, []*virtio.Queue{q}, nil); err != nil {
		b.Fatal(err)
	}

	h, data, status := drv.Alloc(16), drv.Alloc(size), drv.Alloc(1)
	must(mem.WriteAt(hdr(typ, 0), h))
	dataFlags := virtio.DescFlagNext
	if typ == blk.ReqIn {
		dataFlags |= virtio.DescFlagWrite
	}
	drv.SetDesc(0, virtio.Descriptor{Addr: h, Len: 16, Flags: virtio.DescFlagNext, Next: 1})
	drv.SetDesc(1, virtio.Descriptor{Addr: data, Len: size, Flags: dataFlags, Next: 2})
	drv.SetDesc(2, virtio.Descriptor{Addr: status, Len: 1, Flags: virtio.DescFlagWrite})

	b.SetBytes(size)
	n := uint64(0)
	for b.Loop() {
		must(mem.WriteU64(h+8, n%(image/size)*(size/blk.SectorSize)))
		drv.Publish(0) // the same chain again: the previous one completed
		dev.Notify(0)
		n++
	}
	b.StopTimer()
	var st [1]byte
	must(mem.ReadAt(st[:], status))
	if drv.UsedIdx() != uint16(n) || st[0] != blk.StatusOK {
		b.Fatalf("used.idx %d after %d requests, last status %d", drv.UsedIdx(), n, st[0])
	}
	want := blk.Stats{Reads: n, ReadBytes: n * size}
	if typ == blk.ReqOut {
		want = blk.Stats{Writes: n, WriteBytes: n * size}
	}
	if s := dev.Stats(); s != want {
		b.Fatalf("stats %+v, want %+v", s, want)
	}
}

func BenchmarkRead64K(b *testing.B)  { benchmarkIO(b, blk.ReqIn) }
func BenchmarkWrite64K(b *testing.B) { benchmarkIO(b, blk.ReqOut) }
