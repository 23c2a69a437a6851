package virtio_test

import (
	"errors"
	"math"
	"testing"

	"github.com/gluevmm/glue/guestmem"
	"github.com/gluevmm/glue/virtio"
	"github.com/gluevmm/glue/virtio/virtiotest"
)

// Test RAM: two regions around a hole, as around the MMIO gap.
const (
	lowEnd    = 1 << 20
	highStart = 2 << 20
	highEnd   = 3 << 20
)

func testMemory(t *testing.T) *guestmem.Memory {
	return virtiotest.NewMemory(t,
		guestmem.Span{Base: 0, Size: lowEnd},
		guestmem.Span{Base: highStart, Size: highEnd - highStart})
}

type fixture struct {
	mem *guestmem.Memory
	drv *virtiotest.Queue
	q   *virtio.Queue
	irq *virtiotest.Interrupt
}

func newFixture(t *testing.T, size uint16, features uint64) *fixture {
	t.Helper()
	mem := testMemory(t)
	drv := virtiotest.NewQueue(mem, 0x1000, size)
	irq := &virtiotest.Interrupt{}
	q, err := virtio.NewQueue(mem, drv.Config(0, features, irq))
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{mem, drv, q, irq}
}

func TestNewQueueGeometry(t *testing.T) {
	t.Parallel()
	mem := testMemory(t)
	ok := virtio.QueueConfig{Size: 16, MaxSize: 256, Desc: 0x1000, Driver: 0x2000, Device: 0x3000}
	tests := []struct {
		name string
		edit func(c *virtio.QueueConfig)
		want error
	}{
		{"valid", func(c *virtio.QueueConfig) {}, nil},
		{"valid at the top of the high region", func(c *virtio.QueueConfig) {
			c.Desc, c.Driver, c.Device = highEnd-16*16, highEnd-4-2*16, highEnd-0x1000
		}, nil},
		{"size 1", func(c *virtio.QueueConfig) { c.Size = 1 }, nil},
		{"size at maximum", func(c *virtio.QueueConfig) { c.Size = 256 }, nil},
		{"spec maximum by default", func(c *virtio.QueueConfig) { c.Size, c.MaxSize = 32768, 0; c.Driver, c.Device = 0x81000, 0x91000 }, nil},
		{"zero size", func(c *virtio.QueueConfig) { c.Size = 0 }, virtio.ErrQueueSize},
		{"not a power of two", func(c *virtio.QueueConfig) { c.Size = 12 }, virtio.ErrQueueSize},
		{"over the device maximum", func(c *virtio.QueueConfig) { c.Size = 512 }, virtio.ErrQueueSize},
		{"over the spec maximum", func(c *virtio.QueueConfig) { c.Size, c.MaxSize = 32768, 0xffff; c.Size = 65535 }, virtio.ErrQueueSize},
		{"descriptor table misaligned", func(c *virtio.QueueConfig) { c.Desc = 0x1008 }, virtio.ErrRingAlignment},
		{"available ring misaligned", func(c *virtio.QueueConfig) { c.Driver = 0x2001 }, virtio.ErrRingAlignment},
		{"used ring misaligned", func(c *virtio.QueueConfig) { c.Device = 0x3002 }, virtio.ErrRingAlignment},
		{"descriptor table past the end of RAM", func(c *virtio.QueueConfig) { c.Desc = highEnd - 0x80 }, virtio.ErrRingOutsideRAM},
		{"descriptor table in the hole", func(c *virtio.QueueConfig) { c.Desc = lowEnd + 0x1000 }, virtio.ErrRingOutsideRAM},
		{"available ring straddles the hole", func(c *virtio.QueueConfig) { c.Driver = lowEnd - 8 }, virtio.ErrRingOutsideRAM},
		{"used ring straddles the hole", func(c *virtio.QueueConfig) { c.Device = lowEnd - 0x40 }, virtio.ErrRingOutsideRAM},
		{"used ring wraps the address space", func(c *virtio.QueueConfig) { c.Device = math.MaxUint64 - 3 }, virtio.ErrRingOutsideRAM},
		{"descriptor table at 2^64-16", func(c *virtio.QueueConfig) { c.Desc = math.MaxUint64 - 15 }, virtio.ErrRingOutsideRAM},
		// With the event index the rings are 2 bytes longer: these fit
		// exactly without it and not with it.
		{"used ring fits without event index", func(c *virtio.QueueConfig) { c.Device = lowEnd - (4 + 8*16) }, nil},
		{"used ring too short for event index", func(c *virtio.QueueConfig) {
			c.Device = lowEnd - (4 + 8*16)
			c.Features = virtio.FeatureRingEventIdx
		}, virtio.ErrRingOutsideRAM},
		{"available ring too short for event index", func(c *virtio.QueueConfig) {
			c.Driver = lowEnd - (4 + 2*16)
			c.Features = virtio.FeatureRingEventIdx
		}, virtio.ErrRingOutsideRAM},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := ok
			tc.edit(&cfg)
			q, err := virtio.NewQueue(mem, cfg)
			if !errors.Is(err, tc.want) || (tc.want == nil) != (q != nil) {
				t.Fatalf("NewQueue = %v, %v; want %v", q, err, tc.want)
			}
		})
	}
}

func TestPopAndAddUsed(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 8, 0)
	head := f.drv.AddChain(virtiotest.Readable([]byte("ping")), virtiotest.Writable(8))
	c := f.q.Pop()
	if c == nil || c.Head() != head || c.ReadableLen() != 4 || c.WritableLen() != 8 || len(c.Descriptors()) != 2 {
		t.Fatalf("Pop = %+v", c)
	}
	if f.q.Pop() != nil {
		t.Fatal("second Pop returned a chain")
	}
	if _, err := c.Writer().Write([]byte("pong")); err != nil {
		t.Fatal(err)
	}
	if err := f.q.AddUsed(head, 4); err != nil {
		t.Fatal(err)
	}
	if err := f.q.AddUsed(head, 4); !errors.Is(err, virtio.ErrNotInFlight) {
		t.Fatalf("second AddUsed = %v, want ErrNotInFlight", err)
	}
	if err := f.q.AddUsed(99, 0); !errors.Is(err, virtio.ErrNotInFlight) {
		t.Fatalf("AddUsed(99) = %v", err)
	}
	f.q.SignalUsed()
	used := f.drv.Used()
	if len(used) != 1 || used[0].ID != uint32(head) || used[0].Len != 4 || string(f.drv.Written(used[0])) != "pong" {
		t.Fatalf("used = %+v", used)
	}
	if f.irq.UsedSignals(0) != 1 {
		t.Fatalf("used interrupts = %d", f.irq.UsedSignals(0))
	}
	if s := f.q.Stats(); s.Chains != 1 || s.Malformed != 0 || s.Broken {
		t.Fatalf("stats = %+v", s)
	}
}

// chainCase builds a chain with raw descriptors and says how it must fail.
type chainCase struct {
	name     string
	features uint64
	build    func(f *fixture) uint16 // returns the head to publish
	want     error                   // nil: well formed
}

func d(addr guestmem.Addr, n uint32, flags, next uint16) virtio.Descriptor {
	return virtio.Descriptor{Addr: addr, Len: n, Flags: flags, Next: next}
}

const (
	next  = virtio.DescFlagNext
	write = virtio.DescFlagWrite
	indir = virtio.DescFlagIndirect
	buf   = 0x40000 // a data address well inside the low region
)

// table writes an indirect table into guest memory and returns its address.
func table(f *fixture, descs ...virtio.Descriptor) guestmem.Addr {
	a := f.drv.Alloc(16 * uint64(len(descs)))
	for i, e := range descs {
		b := make([]byte, 16)
		for j := 0; j < 8; j++ {
			b[j] = byte(uint64(e.Addr) >> (8 * j))
		}
		b[8], b[9], b[10], b[11] = byte(e.Len), byte(e.Len>>8), byte(e.Len>>16), byte(e.Len>>24)
		b[12], b[13], b[14], b[15] = byte(e.Flags), byte(e.Flags>>8), byte(e.Next), byte(e.Next>>8)
		if err := f.mem.WriteAt(b, a+16*guestmem.Addr(i)); err != nil {
			panic(err)
		}
	}
	return a
}

var chainCases = []chainCase{
	{"one readable", 0, func(f *fixture) uint16 { f.drv.SetDesc(0, d(buf, 16, 0, 0)); return 0 }, nil},
	{"readable then writable", 0, func(f *fixture) uint16 {
		f.drv.SetDesc(3, d(buf, 16, next, 5))
		f.drv.SetDesc(5, d(buf+16, 16, write, 0))
		return 3
	}, nil},
	{"zero-length buffers", 0, func(f *fixture) uint16 {
		f.drv.SetDesc(0, d(buf, 0, next, 1))
		f.drv.SetDesc(1, d(lowEnd, 0, write, 0)) // empty range at the end of a region
		return 0
	}, nil},
	{"chain as long as the queue", 0, func(f *fixture) uint16 {
		for i := uint16(0); i < 7; i++ {
			f.drv.SetDesc(i, d(buf, 1, next, i+1))
		}
		f.drv.SetDesc(7, d(buf, 1, 0, 0))
		return 0
	}, nil},
	{"buffer at the very end of RAM", 0, func(f *fixture) uint16 { f.drv.SetDesc(0, d(highEnd-8, 8, write, 0)); return 0 }, nil},
	{"self loop", 0, func(f *fixture) uint16 { f.drv.SetDesc(2, d(buf, 1, next, 2)); return 2 }, virtio.ErrChainTooLong},
	{"two-descriptor loop", 0, func(f *fixture) uint16 {
		f.drv.SetDesc(0, d(buf, 1, next, 1))
		f.drv.SetDesc(1, d(buf, 1, next, 0))
		return 0
	}, virtio.ErrChainTooLong},
	{"loop back into the chain", 0, func(f *fixture) uint16 {
		for i := uint16(0); i < 7; i++ {
			f.drv.SetDesc(i, d(buf, 1, next, i+1))
		}
		f.drv.SetDesc(7, d(buf, 1, next, 4))
		return 0
	}, virtio.ErrChainTooLong},
	{"next out of range", 0, func(f *fixture) uint16 { f.drv.SetDesc(0, d(buf, 1, next, 8)); return 0 }, virtio.ErrNextOutOfRange},
	{"next 0xffff", 0, func(f *fixture) uint16 { f.drv.SetDesc(0, d(buf, 1, next, 0xffff)); return 0 }, virtio.ErrNextOutOfRange},
	{"buffer past the end of RAM", 0, func(f *fixture) uint16 { f.drv.SetDesc(0, d(highEnd-8, 9, write, 0)); return 0 }, virtio.ErrDescOutsideRAM},
	{"buffer in the hole", 0, func(f *fixture) uint16 { f.drv.SetDesc(0, d(lowEnd+0x100, 4, 0, 0)); return 0 }, virtio.ErrDescOutsideRAM},
	{"buffer straddles the hole", 0, func(f *fixture) uint16 { f.drv.SetDesc(0, d(lowEnd-4, 8, 0, 0)); return 0 }, virtio.ErrDescOutsideRAM},
	{"buffer at 2^64-1", 0, func(f *fixture) uint16 { f.drv.SetDesc(0, d(math.MaxUint64, 1, write, 0)); return 0 }, virtio.ErrDescOutsideRAM},
	{"buffer wraps the address space", 0, func(f *fixture) uint16 { f.drv.SetDesc(0, d(math.MaxUint64-3, 0xffffffff, write, 0)); return 0 }, virtio.ErrDescOutsideRAM},
	{"bad buffer late in the chain", 0, func(f *fixture) uint16 {
		f.drv.SetDesc(0, d(buf, 4, next, 1))
		f.drv.SetDesc(1, d(math.MaxUint64-1, 4, write, 0))
		return 0
	}, virtio.ErrDescOutsideRAM},
	{"readable after writable", 0, func(f *fixture) uint16 {
		f.drv.SetDesc(0, d(buf, 4, next, 1))
		f.drv.SetDesc(1, d(buf, 4, write|next, 2))
		f.drv.SetDesc(2, d(buf, 4, 0, 0))
		return 0
	}, virtio.ErrDirection},
	{"readable after empty writable", 0, func(f *fixture) uint16 {
		f.drv.SetDesc(0, d(buf, 0, write|next, 1))
		f.drv.SetDesc(1, d(buf, 4, 0, 0))
		return 0
	}, virtio.ErrDirection},
	{"indirect not negotiated", 0, func(f *fixture) uint16 {
		f.drv.SetDesc(0, d(table(f, d(buf, 4, 0, 0)), 16, indir, 0))
		return 0
	}, virtio.ErrIndirect},
	{"indirect", virtio.FeatureRingIndirectDesc, func(f *fixture) uint16 {
		f.drv.SetDesc(0, d(buf, 4, next, 1))
		f.drv.SetDesc(1, d(table(f, d(buf, 4, next, 2), d(buf, 8, write, 0), d(buf, 4, write|next, 1)), 48, indir|write, 0))
		return 0
	}, nil},
	{"indirect with next", virtio.FeatureRingIndirectDesc, func(f *fixture) uint16 {
		f.drv.SetDesc(0, d(table(f, d(buf, 4, 0, 0)), 16, indir|next, 1))
		f.drv.SetDesc(1, d(buf, 4, 0, 0))
		return 0
	}, virtio.ErrIndirect},
	{"indirect table empty", virtio.FeatureRingIndirectDesc, func(f *fixture) uint16 {
		f.drv.SetDesc(0, d(buf, 0, indir, 0))
		return 0
	}, virtio.ErrIndirect},
	{"indirect table length not a multiple of 16", virtio.FeatureRingIndirectDesc, func(f *fixture) uint16 {
		f.drv.SetDesc(0, d(table(f, d(buf, 4, 0, 0)), 17, indir, 0))
		return 0
	}, virtio.ErrIndirect},
	{"indirect table outside RAM", virtio.FeatureRingIndirectDesc, func(f *fixture) uint16 {
		f.drv.SetDesc(0, d(math.MaxUint64-15, 16, indir, 0))
		return 0
	}, virtio.ErrDescOutsideRAM},
	{"nested indirect", virtio.FeatureRingIndirectDesc, func(f *fixture) uint16 {
		inner := table(f, d(buf, 4, 0, 0))
		f.drv.SetDesc(0, d(table(f, d(inner, 16, indir, 0)), 16, indir, 0))
		return 0
	}, virtio.ErrIndirect},
	{"indirect next out of range", virtio.FeatureRingIndirectDesc, func(f *fixture) uint16 {
		f.drv.SetDesc(0, d(table(f, d(buf, 4, next, 1)), 16, indir, 0))
		return 0
	}, virtio.ErrNextOutOfRange},
	{"indirect loop", virtio.FeatureRingIndirectDesc, func(f *fixture) uint16 {
		f.drv.SetDesc(0, d(table(f, d(buf, 4, next, 1), d(buf, 4, next, 0)), 32, indir, 0))
		return 0
	}, virtio.ErrChainTooLong},
	{"indirect table larger than the queue", virtio.FeatureRingIndirectDesc, func(f *fixture) uint16 {
		f.drv.SetDesc(0, d(buf, 4, next, 1))
		f.drv.SetDesc(1, d(f.drv.Alloc(16*8), 16*8, indir, 0)) // 1 + 8 > size 8
		return 0
	}, virtio.ErrChainTooLong},
	{"indirect direction", virtio.FeatureRingIndirectDesc, func(f *fixture) uint16 {
		f.drv.SetDesc(0, d(buf, 4, write|next, 1))
		f.drv.SetDesc(1, d(table(f, d(buf, 4, 0, 0)), 16, indir, 0))
		return 0
	}, virtio.ErrDirection},
	{"indirect buffer outside RAM", virtio.FeatureRingIndirectDesc, func(f *fixture) uint16 {
		f.drv.SetDesc(0, d(table(f, d(math.MaxUint64, 2, write, 0)), 16, indir, 0))
		return 0
	}, virtio.ErrDescOutsideRAM},
}

func TestChainValidation(t *testing.T) {
	t.Parallel()
	for _, tc := range chainCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, 8, tc.features)
			head := tc.build(f)
			_, err := f.q.ReadChain(head)
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Fatalf("ReadChain = %v, want %v", err, tc.want)
			}

			// Through the queue: a malformed chain comes back with length 0
			// and is counted; the queue stays usable.
			f.drv.Publish(head)
			got := f.q.Process(func(c *virtio.DescriptorChain) uint32 { return c.WritableLen() })
			if got {
				t.Fatal("Process reports more work")
			}
			used := f.drv.Used()
			if len(used) != 1 || used[0].ID != uint32(head) {
				t.Fatalf("used = %+v", used)
			}
			s := f.q.Stats()
			if tc.want != nil && (used[0].Len != 0 || s.Malformed != 1 || s.Chains != 0) {
				t.Fatalf("malformed chain: used %+v, stats %+v", used[0], s)
			}
			if tc.want == nil && s.Chains != 1 {
				t.Fatalf("stats %+v", s)
			}
			if s.Broken || f.irq.ResetRequests() != 0 {
				t.Fatal("a malformed chain broke the queue")
			}
			h := f.drv.AddChain(virtiotest.Writable(4))
			f.q.Process(func(c *virtio.DescriptorChain) uint32 { return 4 })
			if u := f.drv.Used(); len(u) != 1 || u[0].ID != uint32(h) || u[0].Len != 4 {
				t.Fatalf("queue not usable after: %+v", u)
			}
		})
	}
}

func TestIndirectChainContents(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 8, virtio.FeatureRingIndirectDesc)
	head := f.drv.AddIndirect(virtiotest.Readable([]byte("abc")), virtiotest.Readable([]byte("de")), virtiotest.Writable(3), virtiotest.Writable(4))
	c := f.q.Pop()
	if c == nil || c.Head() != head || c.ReadableLen() != 5 || c.WritableLen() != 7 {
		t.Fatalf("Pop = %+v", c)
	}
	in := make([]byte, 8)
	n, _ := c.Reader().Read(in)
	if string(in[:n]) != "abcde" {
		t.Fatalf("read %q", in[:n])
	}
	c.Writer().Write([]byte("1234567"))
	f.q.AddUsed(head, 7)
	if u := f.drv.Used(); len(u) != 1 || string(f.drv.Written(u[0])) != "1234567" {
		t.Fatalf("used %+v", u)
	}
}

func TestTotalLengthLimit(t *testing.T) {
	t.Parallel()
	t.Run("uint32 overflow", func(t *testing.T) {
		t.Parallel()
		// 3 GiB of address space, never touched (the mapping is lazy).
		mem := virtiotest.NewMemory(t, guestmem.Span{Base: 0, Size: 3 << 30})
		drv := virtiotest.NewQueue(mem, 0x1000, 4)
		q, err := virtio.NewQueue(mem, drv.Config(0, 0, nil))
		if err != nil {
			t.Fatal(err)
		}
		drv.SetDesc(0, d(0x100000, 1<<31, next, 1))
		drv.SetDesc(1, d(0x100000, 1<<31, write, 0)) // 2^32 > 2^32-1
		if _, err := q.ReadChain(0); !errors.Is(err, virtio.ErrChainTooBig) {
			t.Fatalf("ReadChain = %v, want ErrChainTooBig", err)
		}
		drv.SetDesc(1, d(0x100000, 1<<31-1, write, 0))
		if c, err := q.ReadChain(0); err != nil || c.ReadableLen() != 1<<31 || c.WritableLen() != 1<<31-1 {
			t.Fatalf("ReadChain = %v", err)
		}
	})
	t.Run("device limit", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, 4, 0)
		f.q.SetMaxChainBytes(100)
		f.drv.SetDesc(0, d(buf, 50, next, 1))
		f.drv.SetDesc(1, d(buf, 51, write, 0))
		if _, err := f.q.ReadChain(0); !errors.Is(err, virtio.ErrChainTooBig) {
			t.Fatalf("ReadChain = %v, want ErrChainTooBig", err)
		}
		f.drv.SetDesc(1, d(buf, 50, write, 0))
		if _, err := f.q.ReadChain(0); err != nil {
			t.Fatal(err)
		}
	})
}

func TestBrokenQueue(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		setup func(f *fixture)
		want  error
	}{
		{"avail index jumps past the queue size", func(f *fixture) {
			f.drv.SetAvailIdx(9)
		}, virtio.ErrAvailIndex},
		{"avail index goes backwards", func(f *fixture) {
			f.drv.SetAvailIdx(0xffff)
		}, virtio.ErrAvailIndex},
		{"head out of range", func(f *fixture) {
			f.drv.SetDesc(0, d(buf, 1, 0, 0))
			f.drv.Publish(8)
		}, virtio.ErrHeadOutOfRange},
		{"head published twice while in flight", func(f *fixture) {
			f.drv.SetDesc(1, d(buf, 1, write, 0))
			f.drv.Publish(1, 1)
		}, virtio.ErrHeadInFlight},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, 8, 0)
			tc.setup(f)
			// A device that holds chains in flight: pop without completing.
			for f.q.Pop() != nil {
			}
			if !f.q.Broken() || !f.q.Stats().Broken {
				t.Fatal("queue not broken")
			}
			if f.irq.ResetRequests() != 1 {
				t.Fatalf("NeedsReset called %d times", f.irq.ResetRequests())
			}
			f.drv.AddChain(virtiotest.Writable(1))
			if f.q.Pop() != nil || f.q.Pending() || f.q.Process(func(*virtio.DescriptorChain) uint32 { return 0 }) {
				t.Fatal("a broken queue still hands out work")
			}
			if f.irq.ResetRequests() != 1 {
				t.Fatal("NeedsReset repeated")
			}
		})
	}
}

func TestAvailIndexExactlyFull(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 4, 0)
	for range 4 {
		f.drv.AddChain(virtiotest.Writable(1))
	}
	n := 0
	for f.q.Pop() != nil {
		n++
	}
	if n != 4 || f.q.Broken() {
		t.Fatalf("popped %d, broken %v", n, f.q.Broken())
	}
}

// A head made available twice is only a problem while it is in flight: a
// device that completes each chain before the next sees it twice.
func TestDuplicateHeadsCompleted(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 8, 0)
	f.drv.SetDesc(2, d(buf, 4, write, 0))
	f.drv.Publish(2, 2, 2)
	f.q.Process(func(c *virtio.DescriptorChain) uint32 { return 4 })
	if u := f.drv.Used(); len(u) != 3 || f.q.Broken() {
		t.Fatalf("used %+v, broken %v", u, f.q.Broken())
	}
}

func TestProcessIsBounded(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 4, 0)
	for range 4 {
		f.drv.AddChain(virtiotest.Writable(1))
	}
	calls := 0
	handle := func(c *virtio.DescriptorChain) uint32 {
		calls++
		if calls <= 4 {
			f.drv.AddChain(virtiotest.Writable(1)) // the driver keeps feeding
		}
		return 1
	}
	if more := f.q.Process(handle); !more || calls != 4 {
		t.Fatalf("first batch: more %v after %d chains", more, calls)
	}
	if more := f.q.Process(handle); more || calls != 8 {
		t.Fatalf("second batch: more %v after %d chains", more, calls)
	}
}

// Malformed chains count toward the per-call bound too.
func TestProcessBoundCountsMalformed(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 4, 0)
	f.drv.SetDesc(0, d(buf, 1, write, 0))
	f.drv.SetDesc(1, d(buf, 1, next, 1)) // loop
	f.drv.Publish(0, 1, 1, 1)
	handle := func(c *virtio.DescriptorChain) uint32 {
		f.drv.Publish(1) // one more malformed chain while the device works
		return 1
	}
	if !f.q.Process(handle) {
		t.Fatal("Process consumed more than the queue size")
	}
	if s := f.q.Stats(); s.Chains != 1 || s.Malformed != 3 {
		t.Fatalf("stats %+v", s)
	}
	if f.q.Process(handle) {
		t.Fatal("more work after the second batch")
	}
	if s := f.q.Stats(); s.Malformed != 4 {
		t.Fatalf("stats %+v", s)
	}
}

func TestInterruptSuppression(t *testing.T) {
	t.Parallel()
	t.Run("VIRTQ_AVAIL_F_NO_INTERRUPT", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, 8, 0)
		f.drv.SetAvailFlags(1)
		f.drv.AddChain(virtiotest.Writable(1))
		f.q.Process(func(*virtio.DescriptorChain) uint32 { return 1 })
		if f.irq.UsedSignals(0) != 0 {
			t.Fatal("interrupted despite NO_INTERRUPT")
		}
		f.drv.SetAvailFlags(0)
		f.drv.AddChain(virtiotest.Writable(1))
		f.q.Process(func(*virtio.DescriptorChain) uint32 { return 1 })
		if f.irq.UsedSignals(0) != 1 {
			t.Fatal("no interrupt")
		}
		f.q.SignalUsed()
		if f.irq.UsedSignals(0) != 1 {
			t.Fatal("interrupt without new used entries")
		}
	})
	t.Run("event index", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, 8, virtio.FeatureRingEventIdx)
		process := func() { f.q.Process(func(*virtio.DescriptorChain) uint32 { return 1 }) }
		// used_event = 0: interrupt when used.idx moves past 0.
		f.drv.AddChain(virtiotest.Writable(1))
		process()
		if f.irq.UsedSignals(0) != 1 {
			t.Fatalf("first: %d interrupts", f.irq.UsedSignals(0))
		}
		// The device asked to be kicked at the next buffer.
		if ev := f.drv.AvailEvent(); ev != 1 {
			t.Fatalf("avail_event = %d, want 1", ev)
		}
		// The driver wants an interrupt only once used.idx passes 3.
		f.drv.SetUsedEvent(3)
		f.drv.AddChain(virtiotest.Writable(1))
		process() // used.idx 2
		if f.irq.UsedSignals(0) != 1 {
			t.Fatal("interrupt before used_event")
		}
		f.drv.AddChain(virtiotest.Writable(1))
		f.drv.AddChain(virtiotest.Writable(1))
		process() // used.idx 4: crosses 3
		if f.irq.UsedSignals(0) != 2 {
			t.Fatalf("no interrupt after crossing used_event: %d", f.irq.UsedSignals(0))
		}
		if ev := f.drv.AvailEvent(); ev != 4 {
			t.Fatalf("avail_event = %d, want 4", ev)
		}
		// NO_INTERRUPT is ignored with the event index.
		f.drv.SetAvailFlags(1)
		f.drv.SetUsedEvent(4)
		f.drv.AddChain(virtiotest.Writable(1))
		process()
		if f.irq.UsedSignals(0) != 3 {
			t.Fatal("event index did not override NO_INTERRUPT")
		}
	})
}

func TestPending(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 8, 0)
	if f.q.Pending() {
		t.Fatal("pending on an empty queue")
	}
	f.drv.AddChain(virtiotest.Writable(1))
	if !f.q.Pending() {
		t.Fatal("not pending")
	}
	c := f.q.Pop()
	f.q.AddUsed(c.Head(), 0)
	if f.q.Pending() {
		t.Fatal("pending after pop")
	}
}
