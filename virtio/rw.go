package virtio

import (
	"io"

	"github.com/gluevmm/glue/guestmem"
)

// cursor walks a chain's buffers of one direction in order: the reading
// position of a Reader, the writing position of a Writer.
type cursor struct {
	mem   *guestmem.Memory
	descs []Descriptor
	off   uint32 // into descs[0]
	left  uint64
}

// span returns the guest range of the next unused bytes, at most n long.
func (c *cursor) span(n uint64) (guestmem.Addr, uint64) {
	for len(c.descs) > 0 && c.off == c.descs[0].Len {
		c.descs, c.off = c.descs[1:], 0
	}
	if len(c.descs) == 0 {
		return 0, 0
	}
	d := c.descs[0]
	return d.Addr + guestmem.Addr(c.off), min(n, uint64(d.Len-c.off))
}

func (c *cursor) advance(n uint64) {
	c.off += uint32(n)
	c.left -= n
}

// Reader reads a chain's device-readable buffers in order. It allocates
// nothing: Read copies into the caller's buffer, whose size bounds the host
// memory a request costs, whatever lengths the guest declared.
type Reader struct{ cursor }

// Len returns the number of bytes not yet read.
func (r *Reader) Len() int { return int(r.left) }

// Read copies the next bytes into p. It returns io.EOF once everything has
// been read.
func (r *Reader) Read(p []byte) (int, error) {
	if r.left == 0 {
		if len(p) == 0 {
			return 0, nil
		}
		return 0, io.EOF
	}
	done := 0
	for done < len(p) && r.left > 0 {
		addr, n := r.span(uint64(len(p) - done))
		if err := r.mem.ReadAt(p[done:done+int(n)], addr); err != nil {
			return done, err
		}
		r.advance(n)
		done += int(n)
	}
	return done, nil
}

// WriteTo writes the unread bytes to w straight from guest memory, without
// a host copy. w must not retain the slices it is given.
func (r *Reader) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for r.left > 0 {
		addr, n := r.span(r.left)
		b, err := r.mem.Slice(addr, n)
		if err != nil {
			return total, err
		}
		m, err := w.Write(b)
		if m < 0 || m > len(b) {
			return total, io.ErrShortWrite // a broken writer; do not trust m
		}
		r.advance(uint64(m))
		total += int64(m)
		if err != nil {
			return total, err
		}
		if m < len(b) {
			return total, io.ErrShortWrite
		}
	}
	return total, nil
}

// maxEmptyReads is how many (0, nil) results ReadFrom tolerates in a row,
// as bufio does, so a broken reader cannot spin it forever.
const maxEmptyReads = 100

// Writer writes a chain's device-writable buffers in order. Written is the
// length to report in AddUsed.
type Writer struct {
	cursor
	written uint64
}

// Len returns the writable space left, in bytes.
func (w *Writer) Len() int { return int(w.left) }

// Written returns the number of bytes written so far.
func (w *Writer) Written() uint32 { return uint32(w.written) }

func (w *Writer) advance(n uint64) {
	w.cursor.advance(n)
	w.written += n
}

// Write copies p into the writable buffers. If p does not fit, it writes
// what fits and returns ErrChainFull.
func (w *Writer) Write(p []byte) (int, error) {
	done := 0
	for done < len(p) {
		if w.left == 0 {
			return done, ErrChainFull
		}
		addr, n := w.span(uint64(len(p) - done))
		if err := w.mem.WriteAt(p[done:done+int(n)], addr); err != nil {
			return done, err
		}
		w.advance(n)
		done += int(n)
	}
	return done, nil
}

// ReadFrom fills the writable buffers from r straight into guest memory,
// without a host copy, until r returns io.EOF (returning a nil error) or
// an error. If the buffers fill up first, it returns ErrChainFull unless r
// reports io.EOF on a zero-length read (as io.LimitReader does once
// exhausted). r must not retain the slices it reads into. To bound a
// request, wrap r: io.CopyN(w, src, n) calls ReadFrom with a LimitReader.
func (w *Writer) ReadFrom(r io.Reader) (int64, error) {
	var total int64
	for empty := 0; w.left > 0; {
		addr, n := w.span(w.left)
		b, err := w.mem.Slice(addr, n)
		if err != nil {
			return total, err
		}
		m, err := r.Read(b)
		if m < 0 || m > len(b) {
			return total, io.ErrNoProgress // a broken reader; do not trust m
		}
		w.advance(uint64(m))
		total += int64(m)
		if m == 0 && err == nil {
			if empty++; empty >= maxEmptyReads {
				return total, io.ErrNoProgress
			}
		} else {
			empty = 0
		}
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
	if _, err := r.Read(nil); err == io.EOF {
		return total, nil
	}
	return total, ErrChainFull
}
