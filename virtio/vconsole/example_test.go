package vconsole_test

import (
	"fmt"
	"os"

	"github.com/gluevmm/glue/guestmem"
	"github.com/gluevmm/glue/virtio"
	"github.com/gluevmm/glue/virtio/transport/mmio"
	"github.com/gluevmm/glue/virtio/vconsole"
	"github.com/gluevmm/glue/virtio/virtiotest"
)

// virtio-console behind the MMIO transport, driven as glue's guest drives
// it: output on transmitq, a line of input read from receiveq. The VMM
// passes a non-blocking writer (here stdout, for the example) and pumps
// input with Enqueue and Drained.
func Example() {
	mem, err := guestmem.New([]guestmem.Span{{Base: 0, Size: 1 << 20}, {Base: 2 << 20, Size: 1 << 20}})
	if err != nil {
		panic(err)
	}
	defer mem.Close()

	dev := vconsole.New(os.Stdout)
	t, err := mmio.New(dev, mem, nil, nil)
	if err != nil {
		panic(err)
	}
	// Typed before the guest is ready: the device keeps it.
	fmt.Println("host: enqueued", dev.Enqueue([]byte("line from the host\n")), "bytes")

	guest := &virtiotest.MMIODriver{Regs: t}
	rx := virtiotest.NewQueue(mem, 0x1000, 4)
	tx := virtiotest.NewQueue(mem, 2<<20, 4)
	if _, err := guest.Init(virtio.FeatureVersion1, rx, tx); err != nil {
		panic(err)
	}
	tx.AddChain(virtiotest.Readable([]byte("GLUE-CONSOLE hello from hvc0\n")))
	guest.Kick(vconsole.TransmitQueue)

	for range 4 {
		rx.AddChain(virtiotest.Writable(64))
	}
	guest.Kick(vconsole.ReceiveQueue)
	for _, u := range rx.Used() {
		fmt.Printf("guest: read %q\n", rx.Written(u))
	}
	// Output:
	// host: enqueued 19 bytes
	// GLUE-CONSOLE hello from hvc0
	// guest: read "line from the host\n"
}
