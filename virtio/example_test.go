package virtio_test

import (
	"bytes"
	"fmt"
	"io"

	"github.com/gluevmm/glue/guestmem"
	"github.com/gluevmm/glue/virtio"
	"github.com/gluevmm/glue/virtio/virtiotest"
)

// A device's side of a queue: Process hands each request to the callback
// and returns it to the driver with the length the callback wrote. The
// driver side is virtiotest's fake, laying out the rings in guest memory.
func Example() {
	mem, err := guestmem.New([]guestmem.Span{{Base: 0, Size: 1 << 20}})
	if err != nil {
		panic(err)
	}
	defer mem.Close()

	driver := virtiotest.NewQueue(mem, 0x1000, 16)
	irq := &virtiotest.Interrupt{}
	q, err := virtio.NewQueue(mem, driver.Config(0, virtio.FeatureVersion1, irq))
	if err != nil {
		panic(err)
	}

	driver.AddChain(virtiotest.Readable([]byte("hello")), virtiotest.Writable(16))
	driver.AddChain(virtiotest.Readable([]byte("virtio")), virtiotest.Writable(16))

	var in [64]byte // host buffer: its size, not the guest's, bounds the request
	more := q.Process(func(c *virtio.DescriptorChain) uint32 {
		n, _ := io.ReadFull(c.Reader(), in[:min(c.ReadableLen(), uint32(len(in)))])
		w := c.Writer()
		w.Write(bytes.ToUpper(in[:n]))
		return w.Written()
	})

	for _, u := range driver.Used() {
		fmt.Printf("head %d: %q\n", u.ID, driver.Written(u))
	}
	fmt.Println("interrupts:", irq.UsedSignals(0), "more:", more)
	// Output:
	// head 0: "HELLO"
	// head 2: "VIRTIO"
	// interrupts: 1 more: false
}
