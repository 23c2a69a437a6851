package vsock_test

import (
	"fmt"

	"github.com/gluevmm/glue/guestmem"
	"github.com/gluevmm/glue/virtio"
	"github.com/gluevmm/glue/virtio/transport/mmio"
	"github.com/gluevmm/glue/virtio/virtiotest"
	"github.com/gluevmm/glue/virtio/vsock"
)

// A guest connects to host port 1234; the backend (here in memory; in glue
// a Unix socket per port) accepts, and the guest's bytes reach the host
// stream.
func Example() {
	be := &backend{listen: map[uint32]bool{1234: true}, conns: map[uint32][]*hostConn{}, room: -1}
	dev, err := vsock.New(vsock.Config{CID: 3, Backend: be})
	if err != nil {
		panic(err)
	}
	mem, err := guestmem.New([]guestmem.Span{{Base: 0, Size: 4 << 20}})
	if err != nil {
		panic(err)
	}
	defer mem.Close()
	regs, err := mmio.New(dev, mem, nil, nil)
	if err != nil {
		panic(err)
	}
	drv := &virtiotest.MMIODriver{Regs: regs}
	rx, tx, ev := virtiotest.NewQueue(mem, 0x1000, 16), virtiotest.NewQueue(mem, 1<<20, 16), virtiotest.NewQueue(mem, 2<<20, 4)
	if _, err := drv.Init(virtio.FeatureVersion1, rx, tx, ev); err != nil {
		panic(err)
	}
	rx.AddChain(virtiotest.Writable(4096))
	drv.Kick(vsock.RxQueue)

	for _, p := range []struct {
		op      uint16
		payload string
	}{{vsock.OpRequest, ""}, {vsock.OpRW, "hello"}} {
		h := vsock.Header{SrcCID: 3, DstCID: vsock.HostCID, SrcPort: 5000, DstPort: 1234,
			Type: vsock.TypeStream, Op: p.op, Len: uint32(len(p.payload)), BufAlloc: 4096}
		b := make([]byte, vsock.HeaderLen)
		h.Encode(b)
		tx.AddChain(virtiotest.Readable(append(b, p.payload...)))
		drv.Kick(vsock.TxQueue)
	}
	reply, _ := vsock.DecodeHeader(rx.Written(rx.Used()[0]))
	fmt.Println("guest got op", reply.Op, "(RESPONSE); host got", be.conns[1234][0].out.String())
	// Output: guest got op 2 (RESPONSE); host got hello
}
