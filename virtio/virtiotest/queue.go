// Package virtiotest is the driver's side of virtio for tests: a fake
// driver that lays out split virtqueues in guest memory, adds descriptor
// chains (well-formed or deliberately malformed), kicks, and reads back
// used entries; a recording Interrupt; a virtio-mmio driver that performs
// the register handshake the way Linux's virtio_mmio does; and a virtio-pci
// driver that probes a function's capabilities and drives it the way
// Linux's virtio_pci_modern does.
//
// It is test code: misuse (a queue that does not fit in RAM, a data area
// exhausted) panics with a message rather than returning errors, so tests
// and examples stay short. Nothing here is meant to be hostile-proof; it is
// the hostile side.
package virtiotest

import (
	"fmt"
	"sync"
	"testing"

	"github.com/gluevmm/glue/guestmem"
	"github.com/gluevmm/glue/virtio"
)

// NewMemory returns guest memory over spans, unmapped when the test ends.
func NewMemory(tb testing.TB, spans ...guestmem.Span) *guestmem.Memory {
	tb.Helper()
	mem, err := guestmem.New(spans)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { mem.Close() })
	return mem
}

// Used is one used-ring element read back by the driver.
type Used struct {
	ID  uint32 // chain head
	Len uint32 // bytes the device wrote
}

// Queue is the driver's view of one split virtqueue. Its rings always
// include the event-index fields (as Linux allocates them); data buffers
// come from a bump allocator in the RAM that follows the rings.
type Queue struct {
	Mem                            *guestmem.Memory
	Size                           uint16
	DescTable, AvailRing, UsedRing guestmem.Addr

	nextDesc  uint16
	availIdx  uint16
	lastUsed  uint16
	data, end guestmem.Addr
	chains    map[uint16][]virtio.Descriptor // what AddChain built, by head
}

// NewQueue lays out a queue of size entries at base (rounded up to 16) and
// zeroes its rings. Buffers are allocated from the next page after the
// rings up to the end of base's RAM region.
func NewQueue(mem *guestmem.Memory, base guestmem.Addr, size uint16) *Queue {
	q := &Queue{Mem: mem, Size: size, chains: map[uint16][]virtio.Descriptor{}}
	q.DescTable = alignUp(base, 16)
	q.AvailRing = q.DescTable + 16*guestmem.Addr(size)
	q.UsedRing = alignUp(q.AvailRing+6+2*guestmem.Addr(size), 4)
	q.data = alignUp(q.UsedRing+6+8*guestmem.Addr(size), 4096)
	for _, r := range mem.Regions() {
		if base >= r.Base && base < r.End() {
			q.end = r.End()
		}
	}
	if q.end == 0 || q.data > q.end {
		panic(fmt.Sprintf("virtiotest: queue of %d at %#x does not fit in RAM", size, base))
	}
	must(mem.Zero(q.DescTable, uint64(q.data-q.DescTable)))
	return q
}

func alignUp(a guestmem.Addr, n guestmem.Addr) guestmem.Addr { return (a + n - 1) &^ (n - 1) }

func must(err error) {
	if err != nil {
		panic("virtiotest: " + err.Error())
	}
}

// Config returns the device-side configuration of this queue.
func (q *Queue) Config(index int, features uint64, irq virtio.Interrupt) virtio.QueueConfig {
	return virtio.QueueConfig{
		Index: index, Size: q.Size, Desc: q.DescTable, Driver: q.AvailRing, Device: q.UsedRing,
		Features: features, Interrupt: irq,
	}
}

// Alloc returns n bytes of the data area, 16-byte aligned.
func (q *Queue) Alloc(n uint64) guestmem.Addr {
	a := alignUp(q.data, 16)
	if uint64(q.end-a) < n {
		panic(fmt.Sprintf("virtiotest: data area exhausted (%d bytes wanted)", n))
	}
	q.data = a + guestmem.Addr(n)
	return a
}

// Buf describes one buffer of a chain: device-readable with contents Data,
// or device-writable of Len bytes.
type Buf struct {
	Data  []byte
	Len   uint32
	Write bool
}

// Readable returns a device-readable buffer holding data.
func Readable(data []byte) Buf { return Buf{Data: data, Len: uint32(len(data))} }

// Writable returns a device-writable buffer of n bytes.
func Writable(n uint32) Buf { return Buf{Len: n, Write: true} }

// place allocates and fills the buffers and returns their descriptors,
// linked with NEXT through consecutive indices starting at first.
func (q *Queue) place(bufs []Buf, first uint16, mod uint16) []virtio.Descriptor {
	descs := make([]virtio.Descriptor, len(bufs))
	for i, b := range bufs {
		a := q.Alloc(uint64(b.Len))
		if !b.Write {
			must(q.Mem.WriteAt(b.Data, a))
		}
		d := virtio.Descriptor{Addr: a, Len: b.Len}
		if b.Write {
			d.Flags |= virtio.DescFlagWrite
		}
		if i < len(bufs)-1 {
			d.Flags |= virtio.DescFlagNext
			d.Next = (first + uint16(i) + 1) % mod
		}
		descs[i] = d
	}
	return descs
}

// AddChain writes bufs as a chain through the next free descriptors
// (allocated round-robin), publishes its head and returns it.
func (q *Queue) AddChain(bufs ...Buf) uint16 {
	head := q.nextDesc
	descs := q.place(bufs, head, q.Size)
	for i, d := range descs {
		q.SetDesc((head+uint16(i))%q.Size, d)
	}
	q.nextDesc = (head + uint16(len(bufs))) % q.Size
	q.chains[head] = descs
	q.Publish(head)
	return head
}

// AddIndirect writes bufs as an indirect table referred to by one
// descriptor, publishes it and returns its head.
func (q *Queue) AddIndirect(bufs ...Buf) uint16 {
	descs := q.place(bufs, 0, uint16(len(bufs)))
	table := q.Alloc(16 * uint64(len(descs)))
	for i, d := range descs {
		must(q.Mem.WriteAt(encode(d), table+16*guestmem.Addr(i)))
	}
	head := q.nextDesc
	q.SetDesc(head, virtio.Descriptor{Addr: table, Len: 16 * uint32(len(descs)), Flags: virtio.DescFlagIndirect})
	q.nextDesc = (head + 1) % q.Size
	q.chains[head] = descs
	q.Publish(head)
	return head
}

func encode(d virtio.Descriptor) []byte {
	b := make([]byte, 16)
	putLE(b[0:8], uint64(d.Addr))
	putLE(b[8:12], uint64(d.Len))
	putLE(b[12:14], uint64(d.Flags))
	putLE(b[14:16], uint64(d.Next))
	return b
}

func putLE(b []byte, v uint64) {
	for i := range b {
		b[i] = byte(v >> (8 * i))
	}
}

// SetDesc writes descriptor i verbatim: the way to build malformed chains.
func (q *Queue) SetDesc(i uint16, d virtio.Descriptor) {
	must(q.Mem.WriteAt(encode(d), q.DescTable+16*guestmem.Addr(i)))
}

// SetRawDesc writes descriptor i at any index, even past the table (the
// write still has to land in RAM).
func (q *Queue) SetRawDesc(i uint32, d virtio.Descriptor) {
	must(q.Mem.WriteAt(encode(d), q.DescTable+16*guestmem.Addr(i)))
}

// Publish puts heads in the available ring and then advances avail.idx
// with release ordering, as a driver does.
func (q *Queue) Publish(heads ...uint16) {
	for _, h := range heads {
		must(q.Mem.WriteU16(q.AvailRing+4+2*guestmem.Addr(q.availIdx%q.Size), h))
		q.availIdx++
	}
	must(q.Mem.StoreU16Release(q.AvailRing+2, q.availIdx))
}

// SetAvailIdx overwrites avail.idx (to simulate a driver that jumps).
func (q *Queue) SetAvailIdx(idx uint16) {
	q.availIdx = idx
	must(q.Mem.StoreU16Release(q.AvailRing+2, idx))
}

// SetAvailFlags writes avail.flags (1: VIRTQ_AVAIL_F_NO_INTERRUPT).
func (q *Queue) SetAvailFlags(f uint16) { must(q.Mem.WriteU16(q.AvailRing, f)) }

// SetUsedEvent writes used_event, the event-index threshold for interrupts.
func (q *Queue) SetUsedEvent(v uint16) {
	must(q.Mem.StoreU16Release(q.AvailRing+4+2*guestmem.Addr(q.Size), v))
}

// AvailEvent reads avail_event, where the device asks to be kicked.
func (q *Queue) AvailEvent() uint16 {
	v, err := q.Mem.LoadU16Acquire(q.UsedRing + 4 + 8*guestmem.Addr(q.Size))
	must(err)
	return v
}

// UsedIdx reads used.idx.
func (q *Queue) UsedIdx() uint16 {
	v, err := q.Mem.LoadU16Acquire(q.UsedRing + 2)
	must(err)
	return v
}

// Used returns the used elements the device added since the last call.
func (q *Queue) Used() []Used {
	idx := q.UsedIdx()
	var out []Used
	for ; q.lastUsed != idx; q.lastUsed++ {
		e := q.UsedRing + 4 + 8*guestmem.Addr(q.lastUsed%q.Size)
		id, err := q.Mem.ReadU32(e)
		must(err)
		n, err := q.Mem.ReadU32(e + 4)
		must(err)
		out = append(out, Used{ID: id, Len: n})
	}
	return out
}

// Written returns the first u.Len bytes of the writable buffers of the
// chain AddChain or AddIndirect built at head u.ID.
func (q *Queue) Written(u Used) []byte {
	var out []byte
	left := u.Len
	for _, d := range q.chains[uint16(u.ID)] {
		if d.Flags&virtio.DescFlagWrite == 0 || left == 0 {
			continue
		}
		n := min(left, d.Len)
		b := make([]byte, n)
		must(q.Mem.ReadAt(b, d.Addr))
		out = append(out, b...)
		left -= n
	}
	return out
}

// Interrupt records what a device signals. Safe for concurrent use.
type Interrupt struct {
	mu      sync.Mutex
	used    map[int]int
	config  int
	resets  int
	OnEvent func() // called after each event is recorded, if set
}

// Signal records an interrupt.
func (i *Interrupt) Signal(kind virtio.InterruptKind, queue int) {
	i.mu.Lock()
	if kind == virtio.InterruptUsedBuffer {
		if i.used == nil {
			i.used = map[int]int{}
		}
		i.used[queue]++
	} else {
		i.config++
	}
	i.mu.Unlock()
	if i.OnEvent != nil {
		i.OnEvent()
	}
}

// NeedsReset records a request for reset (and its config interrupt).
func (i *Interrupt) NeedsReset() {
	i.mu.Lock()
	i.resets++
	i.config++
	i.mu.Unlock()
	if i.OnEvent != nil {
		i.OnEvent()
	}
}

// UsedSignals returns how many used-buffer interrupts queue got.
func (i *Interrupt) UsedSignals(queue int) int {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.used[queue]
}

// ConfigSignals returns how many configuration-change interrupts were sent.
func (i *Interrupt) ConfigSignals() int {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.config
}

// ResetRequests returns how many times the device asked for a reset.
func (i *Interrupt) ResetRequests() int {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.resets
}

// FuzzMemory is guest memory reused across a fuzz target's inputs: mapping
// fresh memory for each input would take most of the fuzzer's time. Get
// maps it on first use (it stays mapped for the process) and clears it.
type FuzzMemory struct {
	Spans []guestmem.Span
	mem   *guestmem.Memory
}

// Get returns the memory, zeroed.
func (f *FuzzMemory) Get(tb testing.TB) *guestmem.Memory {
	tb.Helper()
	if f.mem == nil {
		m, err := guestmem.New(f.Spans)
		if err != nil {
			tb.Fatal(err)
		}
		f.mem = m
	}
	for _, r := range f.mem.Regions() {
		clear(r.Host())
	}
	return f.mem
}
