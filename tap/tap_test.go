package tap_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/gluevmm/glue/tap"
)

// testFrame is a broadcast Ethernet frame from a locally administered MAC
// with the IEEE "local experimental" EtherType, tagged so tests can tell
// it from anything else on the interface.
func testFrame(tag string) []byte {
	f := make([]byte, 14, 64)
	copy(f[0:6], []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	copy(f[6:12], []byte{0x02, 0, 0, 0, 0, 0x01})
	binary.BigEndian.PutUint16(f[12:14], 0x88b5)
	f = append(f, "glue tap test: "+tag...)
	for len(f) < 60 { // Ethernet's minimum, without FCS
		f = append(f, 0)
	}
	return f
}

func openTap(t *testing.T, name string) *tap.Tap {
	t.Helper()
	tp, err := tap.Open(name, tap.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := tp.Close(); err != nil {
			t.Error(err)
		}
	})
	return tp
}

// readFrame returns the header and frame of the first frame equal to want
// that the tap delivers, skipping any other.
func readFrame(t *testing.T, tp *tap.Tap, want []byte) (hdr, frame []byte) {
	t.Helper()
	buf := make([]byte, tap.MaxReadLen)
	for range 100 {
		waitReadable(t, tp.Fd())
		for i := range buf {
			buf[i] = 0xaa // to see what the kernel leaves alone
		}
		n, err := tp.ReadFrame(buf)
		if errors.Is(err, tap.ErrWouldBlock) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if n < tap.VnetHdrLen {
			t.Fatalf("ReadFrame = %d bytes, shorter than the header", n)
		}
		if bytes.Equal(buf[tap.VnetHdrLen:n], want) {
			return buf[:tap.VnetHdrLen], buf[tap.VnetHdrLen:n]
		}
	}
	t.Fatal("the frame never arrived")
	return nil, nil
}

// A frame the host sends through the interface reaches ReadFrame behind a
// header with no flags and no GSO; then the queue is empty again.
func TestReadFrame(t *testing.T) {
	t.Parallel()
	enterNetns(t)
	tp := openTap(t, "gluetap0")
	if tp.Name() != "gluetap0" {
		t.Errorf("Name = %q, want gluetap0", tp.Name())
	}
	buf := make([]byte, 2048)
	_, err := tp.ReadFrame(buf)
	if !errors.Is(err, tap.ErrWouldBlock) || !errors.Is(err, syscall.EAGAIN) {
		t.Fatalf("ReadFrame on an empty tap = %v, want ErrWouldBlock, which is EAGAIN", err)
	}
	quietIPv6(t, tp.Name())
	linkUp(t, tp.Name())
	p := packetSocket(t, tp.Name())

	want := testFrame("host to guest")
	if _, err := unix.Write(p, want); err != nil {
		t.Fatal(err)
	}
	hdr, _ := readFrame(t, tp, want)
	// virtio_net_hdr: flags, gso_type, hdr_len, gso_size, csum_start,
	// csum_offset, all zero without offloads. num_buffers (bytes 10-11)
	// belongs to the device.
	if !bytes.Equal(hdr[:10], make([]byte, 10)) {
		t.Errorf("vnet header = % x, want 10 zero bytes first", hdr)
	}
	t.Logf("num_buffers bytes as left by the kernel: % x", hdr[10:12])

	for range 100 {
		_, err := tp.ReadFrame(buf)
		if errors.Is(err, tap.ErrWouldBlock) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	t.Error("ReadFrame never reported ErrWouldBlock on a drained tap")
}

// A frame written to the tap enters the host's stack on the interface.
func TestWriteFrame(t *testing.T) {
	t.Parallel()
	enterNetns(t)
	tp := openTap(t, "gluetap0")
	frame := testFrame("guest to host")
	msg := append(make([]byte, tap.VnetHdrLen), frame...)
	if _, err := tp.WriteFrame(msg); !errors.Is(err, unix.EIO) {
		t.Errorf("WriteFrame with the link down = %v, want EIO", err)
	}
	quietIPv6(t, tp.Name())
	linkUp(t, tp.Name())
	p := packetSocket(t, tp.Name())

	n, err := tp.WriteFrame(msg)
	if err != nil || n != len(msg) {
		t.Fatalf("WriteFrame = %d, %v; want %d, nil", n, err, len(msg))
	}
	buf := make([]byte, 65536)
	for range 100 {
		n, err := unix.Read(p, buf)
		if err != nil {
			t.Fatalf("packet socket: %v", err) // EAGAIN: nothing within SO_RCVTIMEO
		}
		if bytes.Equal(buf[:n], frame) {
			return
		}
	}
	t.Error("the frame never arrived on the packet socket")
}

// A frame longer than the buffer is cut to fit and the rest dropped: the
// next read gets the next frame, whole.
func TestReadFrameTruncated(t *testing.T) {
	t.Parallel()
	enterNetns(t)
	tp := openTap(t, "gluetap0")
	quietIPv6(t, tp.Name())
	linkUp(t, tp.Name())
	p := packetSocket(t, tp.Name())
	long, next := testFrame("long"), testFrame("next")
	for _, f := range [][]byte{long, next} {
		if _, err := unix.Write(p, f); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		buf  []byte
		want []byte
	}{
		{make([]byte, tap.VnetHdrLen+20), long[:20]},
		{make([]byte, tap.MaxReadLen), next},
	} {
		waitReadable(t, tp.Fd())
		n, err := tp.ReadFrame(tc.buf)
		if err != nil || !bytes.Equal(tc.buf[tap.VnetHdrLen:n], tc.want) {
			t.Fatalf("ReadFrame into %d bytes = %d, %v: % x; want % x", len(tc.buf), n, err, tc.buf[:max(n, 0)], tc.want)
		}
	}
}

func TestOpen(t *testing.T) {
	t.Parallel()
	enterNetns(t)
	// No subtests: they would run on other threads, outside the namespace.
	for _, tc := range []struct{ name, want string }{
		{"abcdefghijklmnop", `tap: open "abcdefghijklmnop": interface name is 16 bytes long, the limit is 15`},
		{"a/b", `tap: open "a/b": interface name cannot contain`},
		{"..", `tap: open "..": interface name cannot be`},
	} {
		if _, err := tap.Open(tc.name, tap.Options{}); err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("Open(%q) = %v, want %q...", tc.name, err, tc.want)
		}
	}

	first := openTap(t, "gluetap0")
	_, err := tap.Open("gluetap0", tap.Options{})
	if !errors.Is(err, unix.EBUSY) || !strings.Contains(err.Error(), "tap: open gluetap0: tap gluetap0 is in use by another process") {
		t.Errorf("second Open = %v, want EBUSY and a clear message", err)
	}
	if _, err := tap.Open("lo", tap.Options{}); !errors.Is(err, unix.EINVAL) || !strings.Contains(err.Error(), "lo exists and is not a single-queue tap") {
		t.Errorf("Open(lo) = %v, want EINVAL and a clear message", err)
	}
	if _, err := tap.Open("gluetap1", tap.Options{Offloads: 1 << 30}); !errors.Is(err, unix.EINVAL) || !strings.Contains(err.Error(), "set offloads") {
		t.Errorf("Open with unknown offloads = %v, want EINVAL from set offloads", err)
	}

	for pattern, want := range map[string]string{"": "tap", "glue%d": "glue"} {
		if name := openTap(t, pattern).Name(); !strings.HasPrefix(name, want) || strings.Contains(name, "%") {
			t.Errorf("Open(%q).Name() = %q, want %s and a number", pattern, name, want)
		}
	}
	if mtu, err := first.MTU(); err != nil || mtu != 1500 {
		t.Errorf("MTU = %d, %v; want 1500", mtu, err)
	}
	if err := first.SetOffload(unix.TUN_F_CSUM); err != nil {
		t.Errorf("SetOffload(TUN_F_CSUM): %v", err)
	}

	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := first.ReadFrame(make([]byte, 100)); !errors.Is(err, os.ErrClosed) {
		t.Errorf("ReadFrame after Close = %v, want os.ErrClosed", err)
	}
	openTap(t, "gluetap0") // no longer busy
}
