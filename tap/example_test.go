package tap_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"golang.org/x/sys/unix"

	"github.com/gluevmm/glue/eventloop"
	"github.com/gluevmm/glue/tap"
)

// A virtio-net device's receive side: the event loop says when the tap is
// readable, and the handler reads until ErrWouldBlock. (It needs
// CAP_NET_ADMIN or a tap created for the user, so the example is compiled
// but not run by go test; the package tests do the same inside a network
// namespace of their own.)
func Example() {
	t, err := tap.Open("tap0", tap.Options{})
	if err != nil {
		fmt.Println(err) // e.g. "tap: open tap0: need CAP_NET_ADMIN or ..."
		return
	}
	defer t.Close()

	loop, err := eventloop.New(slog.Default())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer loop.Close()

	buf := make([]byte, tap.MaxReadLen)
	loop.Add(t.Fd(), unix.EPOLLIN, func(uint32) {
		for {
			n, err := t.ReadFrame(buf)
			if errors.Is(err, tap.ErrWouldBlock) {
				return // drained: wait for the next EPOLLIN
			}
			if err != nil {
				fmt.Println(err)
				loop.Remove(t.Fd())
				return
			}
			hdr, frame := buf[:tap.VnetHdrLen], buf[tap.VnetHdrLen:n]
			fmt.Printf("%s: %d-byte frame, header % x\n", t.Name(), len(frame), hdr)
		}
	})
	loop.Run(context.Background())
}
