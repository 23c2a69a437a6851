package vnet

import (
	"io"

	"github.com/gluevmm/glue/virtio"
)

// transmit sends the frame in one transmit chain and returns the used
// length, always 0: the device writes nothing into a transmit buffer.
func (d *Device) transmit(c *virtio.DescriptorChain) uint32 {
	n := c.ReadableLen()
	switch {
	case hasWritable(c):
		d.count(&d.stats.txMalformed, "virtio-net: transmit chain with device-writable buffers dropped", "head", c.Head())
		return 0
	case n < HeaderLen+ethHeaderLen:
		d.count(&d.stats.txMalformed, "virtio-net: transmit chain shorter than a header and an Ethernet header dropped", "head", c.Head(), "len", n)
		return 0
	case n > MaxFrameLen:
		d.count(&d.stats.txMalformed, "virtio-net: oversized transmit frame dropped", "head", c.Head(), "len", n, "max", MaxFrameLen)
		return 0
	}
	// One copy into the device's buffer: the guest may rewrite its buffers
	// meanwhile, so the header is checked on this copy, and the backend
	// gets bytes the guest can no longer change.
	frame := d.txBuf[:n]
	if _, err := io.ReadFull(c.Reader(), frame); err != nil {
		d.count(&d.stats.txMalformed, "virtio-net: transmit chain unreadable", "head", c.Head(), "err", err)
		return 0
	}
	if !validTxHeader(frame) {
		d.count(&d.stats.txMalformed, "virtio-net: transmit header asks for offloads that were not negotiated, frame dropped",
			"head", c.Head(), "flags", frame[hdrFlags], "gso_type", frame[hdrGSOType])
		return 0
	}
	clear(frame[:HeaderLen]) // the host sees no guest-chosen header field
	m, err := d.backend.WriteFrame(frame)
	switch {
	case err != nil && wouldBlock(err):
		d.count(&d.stats.txDropped, "virtio-net: backend full, transmit frame dropped")
	case err != nil:
		d.count(&d.stats.txErrors, "virtio-net: backend write failed, frame dropped", "err", err)
	case m != len(frame):
		d.count(&d.stats.txErrors, "virtio-net: backend wrote part of a frame", "wrote", m, "len", len(frame))
	default:
		d.stats.txFrames.Add(1)
		d.stats.txBytes.Add(uint64(n - HeaderLen))
	}
	return 0
}
