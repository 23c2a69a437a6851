package rng_test

import (
	"crypto/rand"
	"fmt"

	"github.com/gluevmm/glue/guestmem"
	"github.com/gluevmm/glue/virtio"
	"github.com/gluevmm/glue/virtio/rng"
	"github.com/gluevmm/glue/virtio/transport/mmio"
	"github.com/gluevmm/glue/virtio/virtiotest"
)

// virtio-rng behind the MMIO transport, driven the way Linux's hw_random
// driver does: post a writable buffer, kick, wait for the used entry.
func Example() {
	mem, err := guestmem.New([]guestmem.Span{{Base: 0, Size: 1 << 20}})
	if err != nil {
		panic(err)
	}
	defer mem.Close()

	dev := rng.New(rand.Reader)
	t, err := mmio.New(dev, mem, nil, nil) // the VMM passes its IRQ trigger
	if err != nil {
		panic(err)
	}

	guest := &virtiotest.MMIODriver{Regs: t}
	q := virtiotest.NewQueue(mem, 0x1000, 64)
	if _, err := guest.Init(virtio.FeatureVersion1, q); err != nil {
		panic(err)
	}
	q.AddChain(virtiotest.Writable(32))
	q.AddChain(virtiotest.Writable(512 << 10)) // asks for more than one request gets
	guest.Kick(0)

	for _, u := range q.Used() {
		fmt.Printf("request %d: %d random bytes\n", u.ID, len(q.Written(u)))
	}
	// Output:
	// request 0: 32 random bytes
	// request 1: 65536 random bytes
}
