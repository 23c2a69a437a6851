package eventloop_test

import (
	"context"
	"encoding/binary"
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/gluevmm/glue/eventloop"
)

// An eventfd stands in for a virtio queue notification (an ioeventfd that
// KVM signals when the guest writes the queue's notify register): the
// handler reads and resets its counter, then hands the result to another
// goroutine.
func Example() {
	loop, err := eventloop.New(nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer loop.Close()

	efd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer unix.Close(efd)

	kicks := make(chan uint64, 1)
	loop.Add(efd, unix.EPOLLIN, func(events uint32) {
		var buf [8]byte
		if _, err := unix.Read(efd, buf[:]); err != nil {
			return // EAGAIN: already drained
		}
		kicks <- binary.NativeEndian.Uint64(buf[:])
	})

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- loop.Run(ctx) }()

	// Three notifications before the loop looks: one wake-up, counter 3.
	var buf [8]byte
	binary.NativeEndian.PutUint64(buf[:], 3)
	unix.Write(efd, buf[:])
	fmt.Println("counter:", <-kicks)

	loop.Remove(efd) // before closing efd
	cancel()
	fmt.Println("run:", <-done)
	// Output:
	// counter: 3
	// run: <nil>
}
