package vnet

import (
	"errors"
	"syscall"
)

// Backend moves frames between the device and the host network, normally a
// tap device opened with IFF_VNET_HDR and a 12-byte vnet header. Each frame
// starts with a HeaderLen-byte struct virtio_net_hdr. Both methods must not
// block: with nothing to read, or no room to write, they return an error
// for which errors.Is(err, ErrWouldBlock) or errors.Is(err, syscall.EAGAIN)
// holds.
type Backend interface {
	// ReadFrame reads one frame (header included) into p and returns its
	// length. p is large enough for any frame a tap can deliver.
	ReadFrame(p []byte) (int, error)
	// WriteFrame writes one frame (header included) and returns the
	// number of bytes written.
	WriteFrame(p []byte) (int, error)
}

// ErrWouldBlock is what a Backend returns when it has no frame to read or
// no room to write one. EAGAIN is accepted as well, so a non-blocking fd's
// error can be passed through unchanged.
var ErrWouldBlock = errors.New("virtio-net: backend would block")

func wouldBlock(err error) bool {
	return errors.Is(err, ErrWouldBlock) || errors.Is(err, syscall.EAGAIN)
}
