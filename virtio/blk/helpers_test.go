package blk_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/gluevmm/glue/guestmem"
	"github.com/gluevmm/glue/virtio"
	"github.com/gluevmm/glue/virtio/blk"
	"github.com/gluevmm/glue/virtio/transport/mmio"
	"github.com/gluevmm/glue/virtio/virtiotest"
)

// pattern returns what sector s of a test image holds: every byte differs
// between sectors and within one.
func pattern(s uint64) []byte {
	b := make([]byte, blk.SectorSize)
	for i := range b {
		b[i] = byte(s*7 + uint64(i)*13 + uint64(i>>8))
	}
	return b
}

// newImage writes an image of n patterned sectors plus tail extra bytes and
// returns its path.
func newImage(t testing.TB, n int, tail int) string {
	t.Helper()
	var img []byte
	for s := range n {
		img = append(img, pattern(uint64(s))...)
	}
	img = append(img, bytes.Repeat([]byte{0xee}, tail)...)
	path := filepath.Join(t.TempDir(), "disk.img")
	if err := os.WriteFile(path, img, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func openDisk(t testing.TB, path string, opts blk.Options) *blk.Disk {
	t.Helper()
	d, err := blk.Open(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// hdr is a request header.
func hdr(typ uint32, sector uint64) []byte {
	b := make([]byte, 16)
	binary.LittleEndian.PutUint32(b[0:], typ)
	binary.LittleEndian.PutUint64(b[8:], sector)
	return b
}

const poison = 0xa5

// fixture is a device behind the MMIO transport with the fake driver.
type fixture struct {
	mem  *guestmem.Memory
	dev  *blk.Device
	tr   *mmio.Transport
	drv  *virtiotest.MMIODriver
	q    *virtiotest.Queue
	next uint16 // next free descriptor
}

func newFixture(t testing.TB, b blk.Backend, features uint64) *fixture {
	return newFixtureMem(t, b, features, guestmem.Span{Base: 0, Size: 64 << 20})
}

func newFixtureMem(t testing.TB, b blk.Backend, features uint64, spans ...guestmem.Span) *fixture {
	t.Helper()
	mem := virtiotest.NewMemory(t, spans...)
	dev := blk.New(b, nil)
	tr, err := mmio.New(dev, mem, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{mem: mem, dev: dev, tr: tr, drv: &virtiotest.MMIODriver{Regs: tr}, q: virtiotest.NewQueue(mem, 0x1000, 64)}
	if _, err := f.drv.Init(features, f.q); err != nil {
		t.Fatal(err)
	}
	return f
}

// allFeatures is what Linux would negotiate.
const allFeatures = virtio.FeatureVersion1 | virtio.FeatureRingEventIdx | virtio.FeatureRingIndirectDesc |
	blk.FeatureFlush | blk.FeatureSegMax | blk.FeatureBlkSize | blk.FeatureRO

// submit places bufs as one chain and publishes it, without a kick. It
// returns the guest address of each buffer. Writable buffers are poisoned
// (only their last byte when large) so that an unwritten status shows.
func (f *fixture) submit(bufs ...virtiotest.Buf) []guestmem.Addr {
	head := f.next
	addrs := make([]guestmem.Addr, len(bufs))
	for i, b := range bufs {
		a := f.q.Alloc(uint64(b.Len))
		addrs[i] = a
		switch {
		case !b.Write:
			must(f.mem.WriteAt(b.Data, a))
		case b.Len <= 1<<20:
			must(f.mem.WriteAt(bytes.Repeat([]byte{poison}, int(b.Len)), a))
		case b.Len > 0:
			must(f.mem.WriteAt([]byte{poison}, a+guestmem.Addr(b.Len-1)))
		}
		d := virtio.Descriptor{Addr: a, Len: b.Len}
		if b.Write {
			d.Flags |= virtio.DescFlagWrite
		}
		if i < len(bufs)-1 {
			d.Flags |= virtio.DescFlagNext
			d.Next = (head + uint16(i) + 1) % f.q.Size
		}
		f.q.SetDesc((head+uint16(i))%f.q.Size, d)
	}
	f.next = (head + uint16(len(bufs))) % f.q.Size
	f.q.Publish(head)
	return addrs
}

// reply is a completed request as the driver sees it.
type reply struct {
	len    uint32   // used length
	status int      // last writable byte, -1 if the chain has none
	bufs   [][]byte // every buffer's contents afterwards (nil if over 1 MiB)
}

// run submits one request, kicks and returns the reply.
func (f *fixture) run(t testing.TB, bufs ...virtiotest.Buf) reply {
	t.Helper()
	addrs := f.submit(bufs...)
	f.drv.Kick(0)
	u := f.q.Used()
	if len(u) != 1 {
		t.Fatalf("used %+v, want one element", u)
	}
	r := reply{len: u[0].Len, status: -1, bufs: make([][]byte, len(bufs))}
	for i, b := range bufs {
		if b.Len <= 1<<20 {
			r.bufs[i] = make([]byte, b.Len)
			must(f.mem.ReadAt(r.bufs[i], addrs[i]))
		}
	}
	for i := len(bufs) - 1; i >= 0 && bufs[i].Write; i-- {
		if bufs[i].Len > 0 {
			var s [1]byte
			must(f.mem.ReadAt(s[:], addrs[i]+guestmem.Addr(bufs[i].Len-1)))
			r.status = int(s[0])
			break
		}
	}
	return r
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}

// memBackend is a Backend in memory, with injectable failures and a hook
// run inside Flush.
type memBackend struct {
	mu       sync.Mutex
	data     []byte
	ro       bool
	id       string
	sectors  uint64 // 0: len(data)/512
	flushes  int
	onFlush  func()
	readErr  error
	writeErr error
	flushErr error
}

var errInjected = errors.New("injected I/O error")

func (m *memBackend) ReadAt(p []byte, off int64) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.readErr != nil {
		return 0, m.readErr
	}
	if off >= int64(len(m.data)) {
		return 0, io.EOF
	}
	n := copy(p, m.data[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (m *memBackend) WriteAt(p []byte, off int64) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.writeErr != nil {
		return 0, m.writeErr
	}
	if off+int64(len(p)) > int64(len(m.data)) {
		return 0, errors.New("memBackend: write past the end")
	}
	return copy(m.data[off:], p), nil
}

func (m *memBackend) Flush() error {
	m.mu.Lock()
	m.flushes++
	hook, err := m.onFlush, m.flushErr
	m.mu.Unlock()
	if hook != nil {
		hook()
	}
	return err
}

func (m *memBackend) Sectors() uint64 {
	if m.sectors != 0 {
		return m.sectors
	}
	return uint64(len(m.data)) / blk.SectorSize
}

func (m *memBackend) ReadOnly() bool { return m.ro }
func (m *memBackend) ID() string     { return m.id }

func (m *memBackend) flushCount() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.flushes
}
