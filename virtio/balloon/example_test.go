package balloon_test

import (
	"fmt"

	"github.com/gluevmm/glue/guestmem"
	"github.com/gluevmm/glue/virtio"
	"github.com/gluevmm/glue/virtio/balloon"
	"github.com/gluevmm/glue/virtio/transport/mmio"
	"github.com/gluevmm/glue/virtio/virtiotest"
)

// The host asks for 256 pages; the driver gives three of them up on the
// inflate queue, and the device returns their memory to the host.
func Example() {
	mem, _ := guestmem.New([]guestmem.Span{{Base: 0, Size: 4 << 20}})
	defer mem.Close()
	dev := balloon.New(balloon.Config{Stats: true, DeflateOnOOM: true})
	tr, _ := mmio.New(dev, mem, nil, nil)

	// The guest's side, as a driver would do it.
	drv := &virtiotest.MMIODriver{Regs: tr}
	inflate := virtiotest.NewQueue(mem, 0x1000, 16)
	deflate := virtiotest.NewQueue(mem, 0x20000, 16)
	drv.Init(virtio.FeatureVersion1|balloon.FeatureDeflateOnOOM, inflate, deflate)

	dev.SetTarget(256)
	fmt.Println("num_pages:", drv.Read32(virtiotest.MMIOConfig))
	mem.WriteU32(0x300000, 0xdead) // a page the guest used
	inflate.AddChain(virtiotest.Readable([]byte{0x00, 0x03, 0, 0, 0x01, 0x03, 0, 0, 0x02, 0x03, 0, 0}))
	drv.Kick(0)
	drv.Write32(virtiotest.MMIOConfig+4, 3) // actual

	v, _ := mem.ReadU32(0x300000)
	s := dev.Status()
	fmt.Printf("inflated %d pages, actual %d, page 0x300 now reads %#x\n", s.Inflated, s.ActualPages, v)
	// Output:
	// num_pages: 256
	// inflated 3 pages, actual 3, page 0x300 now reads 0x0
}
