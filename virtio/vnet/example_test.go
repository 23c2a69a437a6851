package vnet_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net"

	"github.com/gluevmm/glue/guestmem"
	"github.com/gluevmm/glue/virtio"
	"github.com/gluevmm/glue/virtio/transport/mmio"
	"github.com/gluevmm/glue/virtio/virtiotest"
	"github.com/gluevmm/glue/virtio/vnet"
)

// loopback is a Backend that hands every frame the guest sends back to it,
// as a tap whose host side echoes would. A real VMM passes a tap.
type loopback struct{ frames [][]byte }

func (l *loopback) WriteFrame(p []byte) (int, error) {
	l.frames = append(l.frames, bytes.Clone(p))
	return len(p), nil
}

func (l *loopback) ReadFrame(p []byte) (int, error) {
	if len(l.frames) == 0 {
		return 0, vnet.ErrWouldBlock // EAGAIN on a tap
	}
	n := copy(p, l.frames[0])
	l.frames = l.frames[1:]
	return n, nil
}

// virtio-net behind the MMIO transport, with the calls a VMM's event loop
// makes: HandleRx when the backend is readable, and SetRxInterest mapped to
// switching the backend's fd on and off in epoll.
func Example() {
	mem, err := guestmem.New([]guestmem.Span{{Base: 0, Size: 1 << 20}, {Base: 2 << 20, Size: 1 << 20}})
	if err != nil {
		panic(err)
	}
	defer mem.Close()

	lo := &loopback{}
	dev, err := vnet.New(vnet.Config{
		MAC:           vnet.MACFromName("example/0"),
		Backend:       lo,
		SetRxInterest: func(on bool) { fmt.Println("watch the tap:", on) }, // loop.Modify(fd, ...)
	})
	if err != nil {
		panic(err)
	}
	t, err := mmio.New(dev, mem, nil, nil)
	if err != nil {
		panic(err)
	}

	guest := &virtiotest.MMIODriver{Regs: t}
	rx := virtiotest.NewQueue(mem, 0x1000, 16)
	tx := virtiotest.NewQueue(mem, 2<<20, 16)
	if _, err := guest.Init(virtio.FeatureVersion1|vnet.FeatureMAC, rx, tx); err != nil {
		panic(err)
	}

	// The guest sends a frame; the loopback makes the tap readable, but
	// the guest has posted no receive buffer yet.
	frame := make([]byte, vnet.HeaderLen+60)
	copy(frame[vnet.HeaderLen:], "\xff\xff\xff\xff\xff\xff")
	mac := dev.MAC()
	copy(frame[vnet.HeaderLen+6:], mac[:])
	copy(frame[vnet.HeaderLen+14:], "hello")
	tx.AddChain(virtiotest.Readable(frame))
	guest.Kick(vnet.TxQueue)
	dev.HandleRx() // the event loop: the tap fd is readable

	// The guest posts a buffer and kicks: the frame comes in.
	rx.AddChain(virtiotest.Writable(1526))
	guest.Kick(vnet.RxQueue)
	for _, u := range rx.Used() {
		b := rx.Written(u)
		fmt.Printf("received %d bytes, num_buffers %d, from %v: %q\n",
			u.Len, binary.LittleEndian.Uint16(b[10:]), net.HardwareAddr(b[18:24]), bytes.TrimRight(b[26:], "\x00"))
	}
	fmt.Printf("%+v\n", dev.Stats())
	// Output:
	// watch the tap: false
	// watch the tap: true
	// received 72 bytes, num_buffers 1, from be:31:0c:1c:7e:28: "hello"
	// {TxFrames:1 TxBytes:60 TxMalformed:0 TxDropped:0 TxErrors:0 RxFrames:1 RxBytes:60 RxMalformed:0 RxDropped:0 RxErrors:0 TxThrottled:0 TxThrottledKicks:0 RxThrottled:0 RxThrottledKicks:0}
}
