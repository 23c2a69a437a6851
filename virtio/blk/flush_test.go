package blk_test

import (
	"bytes"
	"os"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/gluevmm/glue/virtio/blk"
	vt "github.com/gluevmm/glue/virtio/virtiotest"
)

// syncSpy stands in for fdatasync: it counts the calls, checks that they
// are made on the image's descriptor, records the request's status byte
// at that moment, and returns err.
type syncSpy struct {
	t      *testing.T
	image  os.FileInfo
	calls  int
	status func() byte // nil: not inside a request
	atSync []byte
	err    error
}

func (s *syncSpy) sync(fd int) error {
	s.calls++
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		s.t.Errorf("sync on fd %d: %v", fd, err)
	} else if img := s.image.Sys().(*syscall.Stat_t); st.Dev != img.Dev || st.Ino != img.Ino {
		s.t.Errorf("sync on fd %d, which is not the image", fd)
	}
	if s.status != nil {
		s.atSync = append(s.atSync, s.status())
	}
	return s.err
}

// A FLUSH (and a write when the driver did not negotiate FLUSH) reaches
// fdatasync on the image's descriptor before the status byte is written;
// a failing sync answers IOERR. The device runs on the real Disk here, so
// a Flush that stops syncing fails this test.
func TestDiskFlushSyncsBeforeStatus(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		features uint64
		typ      uint32
		syncErr  error
		syncs    int
		status   byte
	}{
		{"flush", allFeatures, blk.ReqFlush, nil, 1, blk.StatusOK},
		{"flush, sync fails", allFeatures, blk.ReqFlush, syscall.EIO, 1, blk.StatusIOErr},
		{"write with FLUSH negotiated", allFeatures, blk.ReqOut, nil, 0, blk.StatusOK},
		{"write without FLUSH: writethrough", allFeatures &^ blk.FeatureFlush, blk.ReqOut, nil, 1, blk.StatusOK},
		{"writethrough, sync fails", allFeatures &^ blk.FeatureFlush, blk.ReqOut, syscall.EIO, 1, blk.StatusIOErr},
		{"read", allFeatures &^ blk.FeatureFlush, blk.ReqIn, nil, 0, blk.StatusOK},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := newImage(t, 8, 0)
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			d := openDisk(t, path, blk.Options{})
			spy := &syncSpy{t: t, image: fi, err: tc.syncErr}
			d.SetSync(spy.sync)
			f := newFixture(t, d, tc.features)

			data := bytes.Repeat([]byte{7}, blk.SectorSize)
			bufs := []vt.Buf{vt.Readable(hdr(tc.typ, 1))}
			switch tc.typ {
			case blk.ReqOut:
				bufs = append(bufs, vt.Readable(data))
			case blk.ReqIn:
				bufs = append(bufs, vt.Writable(blk.SectorSize))
			}
			bufs = append(bufs, vt.Writable(1))
			addrs := f.submit(bufs...)
			statusAddr := addrs[len(addrs)-1]
			spy.status = func() byte {
				var s [1]byte
				must(f.mem.ReadAt(s[:], statusAddr))
				if tc.typ == blk.ReqOut && !bytes.Equal(readFile(t, path)[blk.SectorSize:2*blk.SectorSize], data) {
					t.Error("synced before the data was written")
				}
				return s[0]
			}
			f.drv.Kick(0)
			if u := f.q.Used(); len(u) != 1 {
				t.Fatalf("used %+v", u)
			}
			spy.status = nil
			var s [1]byte
			must(f.mem.ReadAt(s[:], statusAddr))
			if s[0] != tc.status {
				t.Errorf("status %d, want %d", s[0], tc.status)
			}
			if spy.calls != tc.syncs {
				t.Errorf("%d fdatasync calls, want %d", spy.calls, tc.syncs)
			}
			for _, v := range spy.atSync {
				if v != poison {
					t.Errorf("status was %#x at fdatasync: written before the sync", v)
				}
			}
		})
	}
}

// Close syncs a read-write image once (what the guest wrote but never
// flushed survives an orderly stop), a read-only one not at all, and
// reports a failing sync.
func TestDiskCloseSyncs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		readOnly bool
		syncErr  error
		syncs    int
	}{
		{"read-write", false, nil, 1},
		{"read-write, sync fails", false, syscall.EIO, 1},
		{"read-only", true, nil, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := newImage(t, 2, 0)
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			d := openDisk(t, path, blk.Options{ReadOnly: tc.readOnly})
			spy := &syncSpy{t: t, image: fi, err: tc.syncErr}
			d.SetSync(spy.sync)
			err = d.Close()
			if spy.calls != tc.syncs {
				t.Errorf("%d fdatasync calls, want %d", spy.calls, tc.syncs)
			}
			if (err != nil) != (tc.syncErr != nil) {
				t.Errorf("Close: %v, want the sync's error %v", err, tc.syncErr)
			}
		})
	}
}
