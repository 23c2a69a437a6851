package bus

import (
	"fmt"
	"testing"
)

// sink is a device that does nothing, so that only the dispatch is timed.
type sink struct{}

func (sink) Read(offset uint64, data []byte)  {}
func (sink) Write(offset uint64, data []byte) {}

// portBus is a bus laid out as glue's port bus is: a handful of legacy
// devices, the exit sink at 0x80 among them.
func portBus(tb testing.TB) *Bus {
	tb.Helper()
	var b Bus
	for _, r := range [][2]uint64{{0x20, 2}, {0x40, 4}, {0x60, 1}, {0x64, 1}, {0x70, 2}, {0x80, 1}, {0xa0, 2}, {0x3f8, 8}, {0xcf8, 8}, {0x600, 8}} {
		if err := b.Insert(r[0], r[1], sink{}); err != nil {
			tb.Fatal(err)
		}
	}
	return &b
}

// Dispatching an access allocates nothing (see kvm's decoding): an
// allocation per exit is garbage at the exit rate.
func TestDispatchDoesNotAllocate(t *testing.T) {
	b := portBus(t)
	data := make([]byte, 1)
	for _, port := range []uint64{0x80, 0x3f8, 0x1234} {
		if n := testing.AllocsPerRun(1000, func() { b.Write(port, data); b.Read(port, data) }); n != 0 {
			t.Errorf("port %#x: %v allocations per write and read, want 0", port, n)
		}
	}
}

func BenchmarkDispatch(b *testing.B) {
	bus := portBus(b)
	data := make([]byte, 1)
	for _, port := range []uint64{0x80, 0x3f8, 0x1234} {
		b.Run(fmt.Sprintf("port=%#x", port), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				bus.Write(port, data)
			}
		})
	}
}
