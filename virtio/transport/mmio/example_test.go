package mmio_test

import (
	"fmt"

	"github.com/gluevmm/glue/bus"
	"github.com/gluevmm/glue/guestmem"
	"github.com/gluevmm/glue/virtio"
	"github.com/gluevmm/glue/virtio/transport/mmio"
	"github.com/gluevmm/glue/virtio/virtiotest"
)

// The VMM puts a transport on its MMIO bus, tells Linux where it is, and
// connects its interrupt line. Here virtiotest's driver plays the guest:
// the same register accesses Linux's virtio_mmio makes, through the bus.
func Example() {
	mem, err := guestmem.New([]guestmem.Span{{Base: 0, Size: 1 << 20}})
	if err != nil {
		panic(err)
	}
	defer mem.Close()

	const base, irqLine = 0xd0000000, 5
	line := mmio.TriggerFunc(func(high bool) {
		fmt.Println("IRQ", irqLine, "level:", high) // the VMM calls KVM_IRQ_LINE here
	})
	dev := &virtiotest.EchoDevice{}
	t, err := mmio.New(dev, mem, line, nil)
	if err != nil {
		panic(err)
	}
	var mmioBus bus.Bus
	if err := mmioBus.Insert(base, mmio.WindowSize, t); err != nil {
		panic(err)
	}
	fmt.Println(mmio.KernelParam(base, mmio.WindowSize, irqLine))

	guest := &virtiotest.MMIODriver{Regs: window{&mmioBus, base}}
	q := virtiotest.NewQueue(mem, 0x1000, 16)
	features, err := guest.Init(virtio.FeatureVersion1|virtio.FeatureRingEventIdx, q)
	if err != nil {
		panic(err)
	}
	fmt.Printf("features %#x, status %#x\n", features, guest.Status())

	q.AddChain(virtiotest.Readable([]byte("ping")), virtiotest.Writable(4))
	guest.Kick(0)
	fmt.Printf("interrupt status %#x\n", guest.Ack())
	for _, u := range q.Used() {
		fmt.Printf("used: %q\n", q.Written(u))
	}
	// Output:
	// virtio_mmio.device=4K@0xd0000000:5
	// features 0x120000000, status 0xf
	// IRQ 5 level: true
	// IRQ 5 level: false
	// interrupt status 0x1
	// used: "ping"
}

// window turns bus addresses into a device's register offsets, as a vCPU's
// MMIO exit does.
type window struct {
	b    *bus.Bus
	base uint64
}

func (w window) Read(off uint64, data []byte)  { w.b.Read(w.base+off, data) }
func (w window) Write(off uint64, data []byte) { w.b.Write(w.base+off, data) }
