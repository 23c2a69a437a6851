package blk_test

import (
	"bytes"
	"crypto/sha256"
	"math"
	"testing"

	"github.com/gluevmm/glue/virtio/blk"
	vt "github.com/gluevmm/glue/virtio/virtiotest"
)

const testSectors = 64 // sectors in a test image

// sectors concatenates the patterns of sectors [from, from+n).
func sectors(from, n uint64) []byte {
	var b []byte
	for s := from; s < from+n; s++ {
		b = append(b, pattern(s)...)
	}
	return b
}

// TestRequests runs one request against a fresh patterned image and checks
// the status, the used length, the data the guest got, the image
// afterwards and the counters.
func TestRequests(t *testing.T) {
	t.Parallel()
	newData := bytes.Repeat([]byte("glue"), 256) // two sectors
	id := append([]byte("disk.img"), make([]byte, 12)...)
	const none = -1
	tests := []struct {
		name     string
		ro       bool
		bufs     []vt.Buf
		status   int    // want; none: no status byte
		len      uint32 // want used length
		data     []byte // want in the writable data buffers, in order (nil: not checked)
		image    func(img []byte) []byte
		stats    blk.Stats
		dataBufs int // how many buffers hold data
		first    int // the first of them; 0 means 1 (right after the header)
	}{
		{
			name: "read first sector", bufs: []vt.Buf{vt.Readable(hdr(blk.ReqIn, 0)), vt.Writable(512), vt.Writable(1)},
			status: 0, len: 513, data: sectors(0, 1), dataBufs: 1,
			stats: blk.Stats{Reads: 1, ReadBytes: 512},
		},
		{
			name: "read last sector", bufs: []vt.Buf{vt.Readable(hdr(blk.ReqIn, testSectors-1)), vt.Writable(512), vt.Writable(1)},
			status: 0, len: 513, data: sectors(testSectors-1, 1), dataBufs: 1,
			stats: blk.Stats{Reads: 1, ReadBytes: 512},
		},
		{
			name: "read three segments", bufs: []vt.Buf{vt.Readable(hdr(blk.ReqIn, 10)), vt.Writable(1024), vt.Writable(512), vt.Writable(1536), vt.Writable(1)},
			status: 0, len: 3073, data: sectors(10, 6), dataBufs: 3,
			stats: blk.Stats{Reads: 1, ReadBytes: 3072},
		},
		{
			name: "read with data and status in one buffer", bufs: []vt.Buf{vt.Readable(hdr(blk.ReqIn, 3)), vt.Writable(513)},
			status: 0, len: 513, data: append(sectors(3, 1), 0), dataBufs: 1,
			stats: blk.Stats{Reads: 1, ReadBytes: 512},
		},
		{
			name: "header split over two buffers", bufs: []vt.Buf{vt.Readable(hdr(blk.ReqIn, 2)[:5]), vt.Readable(hdr(blk.ReqIn, 2)[5:]), vt.Writable(512), vt.Writable(1)},
			status: 0, len: 513, data: sectors(2, 1), dataBufs: 1, first: 2,
			stats: blk.Stats{Reads: 1, ReadBytes: 512},
		},
		{
			name: "empty descriptor after the status", bufs: []vt.Buf{vt.Readable(hdr(blk.ReqIn, 1)), vt.Writable(512), vt.Writable(1), vt.Writable(0)},
			status: 0, len: 513, data: sectors(1, 1), dataBufs: 1,
			stats: blk.Stats{Reads: 1, ReadBytes: 512},
		},
		{
			name: "zero-length read at the capacity", bufs: []vt.Buf{vt.Readable(hdr(blk.ReqIn, testSectors)), vt.Writable(1)},
			status: 0, len: 1, stats: blk.Stats{Reads: 1},
		},
		{
			name: "read one past the end", bufs: []vt.Buf{vt.Readable(hdr(blk.ReqIn, testSectors)), vt.Writable(512), vt.Writable(1)},
			status: 1, len: 1, data: bytes.Repeat([]byte{poison}, 512), dataBufs: 1, stats: blk.Stats{Errors: 1},
		},
		{
			name: "read straddling the end", bufs: []vt.Buf{vt.Readable(hdr(blk.ReqIn, testSectors-1)), vt.Writable(1024), vt.Writable(1)},
			status: 1, len: 1, stats: blk.Stats{Errors: 1},
		},
		{
			name: "read at sector 2^64-1", bufs: []vt.Buf{vt.Readable(hdr(blk.ReqIn, math.MaxUint64)), vt.Writable(512), vt.Writable(1)},
			status: 1, len: 1, stats: blk.Stats{Errors: 1},
		},
		{
			name: "empty read at sector 2^64-1", bufs: []vt.Buf{vt.Readable(hdr(blk.ReqIn, math.MaxUint64)), vt.Writable(1)},
			status: 1, len: 1, stats: blk.Stats{Errors: 1},
		},
		{
			name: "read whose end wraps 2^64", bufs: []vt.Buf{vt.Readable(hdr(blk.ReqIn, math.MaxUint64-1)), vt.Writable(2048), vt.Writable(1)},
			status: 1, len: 1, stats: blk.Stats{Errors: 1},
		},
		{
			name: "read at a byte offset that wraps", bufs: []vt.Buf{vt.Readable(hdr(blk.ReqIn, 1<<55)), vt.Writable(512), vt.Writable(1)},
			status: 1, len: 1, stats: blk.Stats{Errors: 1},
		},
		{
			name: "read of 511 bytes", bufs: []vt.Buf{vt.Readable(hdr(blk.ReqIn, 0)), vt.Writable(511), vt.Writable(1)},
			status: 1, len: 1, stats: blk.Stats{Errors: 1},
		},
		{
			name: "read of 513 bytes", bufs: []vt.Buf{vt.Readable(hdr(blk.ReqIn, 0)), vt.Writable(513), vt.Writable(1)},
			status: 1, len: 1, stats: blk.Stats{Errors: 1},
		},
		{
			name: "read with readable data", bufs: []vt.Buf{vt.Readable(hdr(blk.ReqIn, 0)), vt.Readable(make([]byte, 512)), vt.Writable(1)},
			status: 1, len: 1, stats: blk.Stats{Errors: 1},
		},
		{
			name:   "write two segments",
			bufs:   []vt.Buf{vt.Readable(hdr(blk.ReqOut, 5)), vt.Readable(newData[:512]), vt.Readable(newData[512:]), vt.Writable(1)},
			image:  func(img []byte) []byte { copy(img[5*512:], newData); return img },
			status: 0, len: 1, stats: blk.Stats{Writes: 1, WriteBytes: 1024},
		},
		{
			name:   "write last sector",
			bufs:   []vt.Buf{vt.Readable(hdr(blk.ReqOut, testSectors-1)), vt.Readable(newData[:512]), vt.Writable(1)},
			image:  func(img []byte) []byte { copy(img[(testSectors-1)*512:], newData[:512]); return img },
			status: 0, len: 1, stats: blk.Stats{Writes: 1, WriteBytes: 512},
		},
		{
			name: "write header and data in one buffer", bufs: []vt.Buf{vt.Readable(append(hdr(blk.ReqOut, 7), newData[:512]...)), vt.Writable(1)},
			image:  func(img []byte) []byte { copy(img[7*512:], newData[:512]); return img },
			status: 0, len: 1, stats: blk.Stats{Writes: 1, WriteBytes: 512},
		},
		{
			name: "write one past the end", bufs: []vt.Buf{vt.Readable(hdr(blk.ReqOut, testSectors)), vt.Readable(newData[:512]), vt.Writable(1)},
			status: 1, len: 1, stats: blk.Stats{Errors: 1},
		},
		{
			name: "write straddling the end", bufs: []vt.Buf{vt.Readable(hdr(blk.ReqOut, testSectors-1)), vt.Readable(newData), vt.Writable(1)},
			status: 1, len: 1, stats: blk.Stats{Errors: 1},
		},
		{
			name: "write at sector 2^64-1", bufs: []vt.Buf{vt.Readable(hdr(blk.ReqOut, math.MaxUint64)), vt.Readable(newData[:512]), vt.Writable(1)},
			status: 1, len: 1, stats: blk.Stats{Errors: 1},
		},
		{
			name: "write of 100 bytes", bufs: []vt.Buf{vt.Readable(hdr(blk.ReqOut, 0)), vt.Readable(newData[:100]), vt.Writable(1)},
			status: 1, len: 1, stats: blk.Stats{Errors: 1},
		},
		{
			name: "write with writable data", bufs: []vt.Buf{vt.Readable(hdr(blk.ReqOut, 0)), vt.Writable(512), vt.Writable(1)},
			status: 1, len: 1, data: bytes.Repeat([]byte{poison}, 512), dataBufs: 1, stats: blk.Stats{Errors: 1},
		},
		{
			name: "write to a read-only disk", ro: true, bufs: []vt.Buf{vt.Readable(hdr(blk.ReqOut, 0)), vt.Readable(newData[:512]), vt.Writable(1)},
			status: 1, len: 1, stats: blk.Stats{Errors: 1},
		},
		{
			name: "read from a read-only disk", ro: true, bufs: []vt.Buf{vt.Readable(hdr(blk.ReqIn, 9)), vt.Writable(512), vt.Writable(1)},
			status: 0, len: 513, data: sectors(9, 1), dataBufs: 1, stats: blk.Stats{Reads: 1, ReadBytes: 512},
		},
		{
			name: "flush", bufs: []vt.Buf{vt.Readable(hdr(blk.ReqFlush, 0)), vt.Writable(1)},
			status: 0, len: 1, stats: blk.Stats{Flushes: 1},
		},
		{
			name: "flush ignores sector and data", bufs: []vt.Buf{vt.Readable(hdr(blk.ReqFlush, math.MaxUint64)), vt.Readable([]byte{1, 2, 3}), vt.Writable(1)},
			status: 0, len: 1, stats: blk.Stats{Flushes: 1},
		},
		{
			name: "flush a read-only disk", ro: true, bufs: []vt.Buf{vt.Readable(hdr(blk.ReqFlush, 0)), vt.Writable(1)},
			status: 0, len: 1, stats: blk.Stats{Flushes: 1},
		},
		{
			name: "get id", bufs: []vt.Buf{vt.Readable(hdr(blk.ReqGetID, 0)), vt.Writable(20), vt.Writable(1)},
			status: 0, len: 21, data: id, dataBufs: 1, stats: blk.Stats{IDs: 1},
		},
		{
			name: "get id into a short buffer", bufs: []vt.Buf{vt.Readable(hdr(blk.ReqGetID, 0)), vt.Writable(4), vt.Writable(1)},
			status: 0, len: 5, data: id[:4], dataBufs: 1, stats: blk.Stats{IDs: 1},
		},
		{
			name: "get id into a long buffer", bufs: []vt.Buf{vt.Readable(hdr(blk.ReqGetID, 0)), vt.Writable(24), vt.Writable(1)},
			status: 0, len: 21, data: append(id[:20:20], poison, poison, poison, poison), dataBufs: 1, stats: blk.Stats{IDs: 1},
		},
		{
			name: "get id with readable data", bufs: []vt.Buf{vt.Readable(hdr(blk.ReqGetID, 0)), vt.Readable(make([]byte, 20)), vt.Writable(1)},
			status: 1, len: 1, stats: blk.Stats{Errors: 1},
		},
		{
			name: "discard is unsupported", bufs: []vt.Buf{vt.Readable(hdr(11, 0)), vt.Readable(make([]byte, 16)), vt.Writable(1)},
			status: 2, len: 1, stats: blk.Stats{Errors: 1},
		},
		{
			name: "type 2^32-1 is unsupported", bufs: []vt.Buf{vt.Readable(hdr(math.MaxUint32, 0)), vt.Writable(1)},
			status: 2, len: 1, stats: blk.Stats{Errors: 1},
		},
		{
			name: "header of 8 bytes", bufs: []vt.Buf{vt.Readable(hdr(blk.ReqIn, 0)[:8]), vt.Writable(512), vt.Writable(1)},
			status: 1, len: 1, stats: blk.Stats{Errors: 1},
		},
		{
			name: "no header at all", bufs: []vt.Buf{vt.Writable(1)},
			status: 1, len: 1, stats: blk.Stats{Errors: 1},
		},
		{
			name: "no status byte", bufs: []vt.Buf{vt.Readable(hdr(blk.ReqOut, 0)), vt.Readable(newData[:512])},
			status: none, len: 0, stats: blk.Stats{Errors: 1},
		},
		{
			name: "only an empty writable buffer", bufs: []vt.Buf{vt.Readable(hdr(blk.ReqFlush, 0)), vt.Writable(0)},
			status: none, len: 0, stats: blk.Stats{Errors: 1},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := newImage(t, testSectors, 0)
			before := readFile(t, path)
			f := newFixture(t, openDisk(t, path, blk.Options{ReadOnly: tc.ro}), allFeatures)
			r := f.run(t, tc.bufs...)
			if r.status != tc.status || r.len != tc.len {
				t.Errorf("status %d, used length %d; want %d, %d", r.status, r.len, tc.status, tc.len)
			}
			if tc.data != nil {
				first := max(tc.first, 1)
				var got []byte
				for _, b := range r.bufs[first : first+tc.dataBufs] {
					got = append(got, b...)
				}
				if !bytes.Equal(got, tc.data) {
					t.Errorf("data\n%x\nwant\n%x", got, tc.data)
				}
			}
			want := before
			if tc.image != nil {
				want = tc.image(bytes.Clone(before))
			}
			if after := readFile(t, path); sha256.Sum256(after) != sha256.Sum256(want) {
				t.Errorf("image changed wrongly (%d bytes, want %d)", len(after), len(want))
			}
			if s := f.dev.Stats(); s != tc.stats {
				t.Errorf("stats %+v, want %+v", s, tc.stats)
			}
		})
	}
}
