package balloon

import (
	"encoding/binary"
	"errors"
	"io"
	"log/slog"

	"github.com/gluevmm/glue/guestmem"
	"github.com/gluevmm/glue/virtio"
)

// pfnChunk is how many page frame numbers are copied out of guest memory
// at a time: a fixed host buffer, whatever length the guest declares.
const pfnChunk = 1024

// inflate discards the pages one inflate chain lists.
func (d *Device) inflate(c *virtio.DescriptorChain) uint32 {
	d.eachRun(c, func(first, n uint64) {
		if d.discard(first, n) {
			d.counters[counterInflated].Add(n)
		}
	})
	return 0
}

// deflate takes back the pages one deflate chain lists. They need nothing
// from the host (VIRTIO_BALLOON_F_MUST_TELL_HOST is not offered): the
// guest's next touch faults fresh zeroed memory in. Pages outside RAM are
// counted, like inflate's.
func (d *Device) deflate(c *virtio.DescriptorChain) uint32 {
	d.eachRun(c, func(first, n uint64) {
		if d.mem.Contains(guestmem.Addr(first*PageSize), n*PageSize) {
			d.counters[counterDeflated].Add(n)
			return
		}
		for p := first; p < first+n; p++ {
			if d.mem.Contains(guestmem.Addr(p*PageSize), PageSize) {
				d.counters[counterDeflated].Add(1)
			} else {
				d.bad(counterBadPFN, "virtio-balloon: deflated page outside guest RAM ignored", slog.Uint64("pfn", p))
			}
		}
	})
	return 0
}

// eachRun reads the chain's page frame numbers (le32 each) in bounded
// chunks and calls fn for each run of consecutive ones (ascending or
// descending), so that a driver listing pages in order costs one discard
// per run. A trailing partial
// number is counted as malformed.
func (d *Device) eachRun(c *virtio.DescriptorChain, fn func(first, n uint64)) {
	var buf [pfnChunk * 4]byte
	r := c.Reader()
	var first, n uint64
	for {
		got, err := io.ReadFull(r, buf[:])
		for i := 0; i+4 <= got; i += 4 {
			pfn := uint64(binary.LittleEndian.Uint32(buf[i:]))
			switch {
			case n > 0 && pfn == first+n:
				n++
				continue
			case n > 0 && pfn+1 == first: // a driver giving pages up top down
				first--
				n++
				continue
			}
			if n > 0 {
				fn(first, n)
			}
			first, n = pfn, 1
		}
		if got%4 != 0 {
			d.bad(counterMalformed, "virtio-balloon: page list length not a multiple of 4", slog.Uint64("len", uint64(c.ReadableLen())))
		}
		if err != nil { // io.EOF or io.ErrUnexpectedEOF: the list ended
			break
		}
	}
	if n > 0 {
		fn(first, n)
	}
}

// discard releases n pages from page first, page by page where the run as
// a whole is not inside one RAM region (it reaches into the MMIO gap or
// past the end): those pages are counted and skipped. It reports whether
// the whole run was discarded.
func (d *Device) discard(first, n uint64) bool {
	err := d.mem.Discard(guestmem.Addr(first*PageSize), n*PageSize)
	if err == nil {
		return true
	}
	if !errors.Is(err, guestmem.ErrOutOfRange) {
		d.bad(counterDiscardFailed, "virtio-balloon: discarding pages failed", slog.Any("err", err))
		return false
	}
	for p := first; p < first+n; p++ {
		switch err := d.mem.Discard(guestmem.Addr(p*PageSize), PageSize); {
		case err == nil:
			d.counters[counterInflated].Add(1)
		case errors.Is(err, guestmem.ErrOutOfRange):
			d.bad(counterBadPFN, "virtio-balloon: inflated page outside guest RAM ignored", slog.Uint64("pfn", p))
		default:
			d.bad(counterDiscardFailed, "virtio-balloon: discarding pages failed", slog.Any("err", err))
		}
	}
	return false
}

// report discards the free memory one reporting chain describes: each
// buffer is a range the driver does not use (Linux reports them as
// device-writable buffers of whole 2 MiB or 4 MiB blocks). Only whole
// pages inside the buffer are discarded; the queue has already checked
// that every buffer lies inside RAM.
func (d *Device) report(c *virtio.DescriptorChain) uint32 {
	for _, desc := range c.Descriptors() {
		start := (uint64(desc.Addr) + PageSize - 1) &^ (PageSize - 1)
		end := (uint64(desc.Addr) + uint64(desc.Len)) &^ (PageSize - 1)
		if end <= start {
			continue
		}
		if err := d.mem.Discard(guestmem.Addr(start), end-start); err != nil {
			d.bad(counterDiscardFailed, "virtio-balloon: discarding reported pages failed", slog.Any("err", err))
			continue
		}
		d.counters[counterReported].Add((end - start) / PageSize)
	}
	return 0
}
