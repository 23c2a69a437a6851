package blk

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math/bits"

	"github.com/gluevmm/glue/guestmem"
	"github.com/gluevmm/glue/virtio"
)

// Request types (struct virtio_blk_req.type).
const (
	ReqIn    uint32 = 0 // VIRTIO_BLK_T_IN: read sectors
	ReqOut   uint32 = 1 // VIRTIO_BLK_T_OUT: write sectors
	ReqFlush uint32 = 4 // VIRTIO_BLK_T_FLUSH: make completed writes durable
	ReqGetID uint32 = 8 // VIRTIO_BLK_T_GET_ID: the IDBytes-byte serial
)

// Request status values, the last byte of a request.
const (
	StatusOK     uint8 = 0 // VIRTIO_BLK_S_OK
	StatusIOErr  uint8 = 1 // VIRTIO_BLK_S_IOERR
	StatusUnsupp uint8 = 2 // VIRTIO_BLK_S_UNSUPP
)

// headerSize is the size of the request header: type u32, reserved u32,
// sector u64 (struct virtio_blk_outhdr).
const headerSize = 16

// serve handles one request and returns its used length: the data bytes
// written to the guest plus the status byte. The status is the last
// writable byte of the chain; a chain without one cannot be answered and
// comes back with length 0.
func (d *Device) serve(c *virtio.DescriptorChain) uint32 {
	addr, ok := statusAddr(c)
	if !ok {
		d.refuse("no device-writable status byte")
		return 0
	}
	st, n := d.execute(c)
	// Written only now: after the data, and after the flush a FLUSH or a
	// writethrough write asked for. It cannot fail: the chain's buffers
	// were checked to lie in RAM.
	b := [1]byte{st}
	d.mem.WriteAt(b[:], addr)
	return n + 1
}

// statusAddr returns the guest address of the chain's last writable byte.
func statusAddr(c *virtio.DescriptorChain) (guestmem.Addr, bool) {
	descs := c.Descriptors()
	for i := len(descs) - 1; i >= 0 && descs[i].Writable(); i-- {
		if descs[i].Len > 0 {
			return descs[i].Addr + guestmem.Addr(descs[i].Len-1), true
		}
	}
	return 0, false
}

// execute parses the header once into a host copy and runs the request.
// It returns the status and the data bytes written to the guest.
func (d *Device) execute(c *virtio.DescriptorChain) (uint8, uint32) {
	if c.ReadableLen() < headerSize {
		return d.refuse("header shorter than 16 bytes", "readable", c.ReadableLen()), 0
	}
	r := c.Reader()
	var h [headerSize]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return d.refuse("header unreadable", "err", err), 0
	}
	typ := binary.LittleEndian.Uint32(h[0:])
	sector := binary.LittleEndian.Uint64(h[8:])
	out := uint64(c.ReadableLen()) - headerSize // data the device reads
	in := uint64(c.WritableLen()) - 1           // data the device writes, before the status
	switch typ {
	case ReqIn:
		return d.read(c, sector, out, in)
	case ReqOut:
		return d.write(r, sector, out, in), 0
	case ReqFlush:
		return d.flush(), 0 // sector and any data are ignored
	case ReqGetID:
		return d.getID(c, out, in)
	}
	d.errors.Add(1)
	d.logf(&d.guestWarn, "blk: unsupported request type", "type", typ)
	return StatusUnsupp, 0
}

// span checks a transfer of n bytes at sector: whole sectors, inside the
// capacity, with overflow-checked arithmetic. It returns the byte offset.
func (d *Device) span(sector, n uint64) (int64, error) {
	if n%SectorSize != 0 {
		return 0, fmt.Errorf("data length %d is not a multiple of %d", n, SectorSize)
	}
	end, carry := bits.Add64(sector, n/SectorSize, 0)
	if carry != 0 || end > d.sectors {
		return 0, fmt.Errorf("sectors %d+%d past the capacity of %d", sector, n/SectorSize, d.sectors)
	}
	return int64(sector * SectorSize), nil // d.sectors*SectorSize fits an int64 (New)
}

// read serves IN: sectors from the backend straight into the guest's
// buffers (no host copy, so no host buffer sized by the guest).
func (d *Device) read(c *virtio.DescriptorChain, sector, out, in uint64) (uint8, uint32) {
	if out != 0 {
		return d.refuse("read request with device-readable data", "bytes", out), 0
	}
	off, err := d.span(sector, in)
	if err != nil {
		return d.refuse("read out of range", "err", err), 0
	}
	w := c.Writer()
	n, err := w.ReadFrom(io.NewSectionReader(d.b, off, int64(in)))
	if err == nil && uint64(n) != in {
		err = io.ErrUnexpectedEOF // the image shrank under us
	}
	if err != nil {
		return d.hostFail("read", sector, err), w.Written()
	}
	d.reads.Add(1)
	d.readBytes.Add(uint64(n))
	return StatusOK, w.Written()
}

// write serves OUT: sectors from the guest's buffers straight to the
// backend. A read-only disk refuses it before touching anything.
func (d *Device) write(r *virtio.Reader, sector, out, in uint64) uint8 {
	if d.readOnly {
		return d.refuse("write to a read-only disk", "sector", sector)
	}
	if in != 0 {
		return d.refuse("write request with device-writable data", "bytes", in)
	}
	off, err := d.span(sector, out)
	if err != nil {
		return d.refuse("write out of range", "err", err)
	}
	n, err := r.WriteTo(io.NewOffsetWriter(d.b, off))
	if err == nil && uint64(n) != out {
		err = io.ErrShortWrite
	}
	if err == nil && d.writethrough {
		err = d.b.Flush()
	}
	if err != nil {
		return d.hostFail("write", sector, err)
	}
	d.writes.Add(1)
	d.writeBytes.Add(uint64(n))
	return StatusOK
}

// flush serves FLUSH. A read-only disk has nothing to flush.
func (d *Device) flush() uint8 {
	if !d.readOnly {
		if err := d.b.Flush(); err != nil {
			return d.hostFail("flush", 0, err)
		}
	}
	d.flushes.Add(1)
	return StatusOK
}

// getID serves GET_ID: the serial, NUL-padded to IDBytes, cut to the
// buffer if the driver gave less (as QEMU does).
func (d *Device) getID(c *virtio.DescriptorChain, out, in uint64) (uint8, uint32) {
	if out != 0 {
		return d.refuse("GET_ID request with device-readable data", "bytes", out), 0
	}
	w := c.Writer()
	w.Write(d.id[:min(in, IDBytes)]) // fits: in bytes precede the status
	d.ids.Add(1)
	return StatusOK, w.Written()
}

// refuse counts a malformed or refused request and returns IOERR.
func (d *Device) refuse(reason string, args ...any) uint8 {
	d.errors.Add(1)
	d.logf(&d.guestWarn, "blk: request refused: "+reason, args...)
	return StatusIOErr
}

// hostFail counts a request the backend failed and returns IOERR.
func (d *Device) hostFail(op string, sector uint64, err error) uint8 {
	d.errors.Add(1)
	d.hostErrors.Add(1)
	d.logf(&d.hostWarn, "blk: "+op+" failed", "sector", sector, "err", err)
	return StatusIOErr
}

// logf logs at Warn as l allows, else at Debug. Called with d.mu held.
func (d *Device) logf(l *warnLimiter, msg string, args ...any) {
	d.log.Log(context.Background(), l.level(), msg, args...)
}
