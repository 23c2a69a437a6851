package virtio

import (
	"encoding/binary"
	"fmt"

	"github.com/gluevmm/glue/guestmem"
)

// Descriptor is a host copy of one descriptor (struct virtq_desc), already
// validated: [Addr, Addr+Len) lies inside one RAM region.
type Descriptor struct {
	Addr  guestmem.Addr
	Len   uint32
	Flags uint16
	Next  uint16
}

// Writable reports whether the device may write the buffer.
func (d Descriptor) Writable() bool { return d.Flags&DescFlagWrite != 0 }

func decodeDesc(b *[descSize]byte) Descriptor {
	return Descriptor{
		Addr:  guestmem.Addr(binary.LittleEndian.Uint64(b[0:])),
		Len:   binary.LittleEndian.Uint32(b[8:]),
		Flags: binary.LittleEndian.Uint16(b[12:]),
		Next:  binary.LittleEndian.Uint16(b[14:]),
	}
}

// DescriptorChain is one request: a validated host copy of its descriptors,
// device-readable ones first, then device-writable ones. Indirect tables
// are flattened into it. The buffers themselves stay in guest memory, which
// the guest may change at any time: read a header once (Reader) and parse
// the copy.
type DescriptorChain struct {
	mem       *guestmem.Memory
	head      uint16
	descs     []Descriptor
	nReadable int
	readable  uint64 // total bytes
	writable  uint64
	inline    [4]Descriptor // backing for short chains: one allocation per chain
}

// Head returns the chain's head index, the id AddUsed takes.
func (c *DescriptorChain) Head() uint16 { return c.head }

// Descriptors returns the chain's descriptors: readable, then writable. The
// slice belongs to the chain; do not modify it.
func (c *DescriptorChain) Descriptors() []Descriptor { return c.descs }

// ReadableLen returns the total length of the device-readable buffers.
func (c *DescriptorChain) ReadableLen() uint32 { return uint32(c.readable) }

// WritableLen returns the total length of the device-writable buffers.
func (c *DescriptorChain) WritableLen() uint32 { return uint32(c.writable) }

// Reader returns a reader over the device-readable buffers.
func (c *DescriptorChain) Reader() *Reader {
	return &Reader{cursor{mem: c.mem, descs: c.descs[:c.nReadable], left: c.readable}}
}

// Writer returns a writer over the device-writable buffers.
func (c *DescriptorChain) Writer() *Writer {
	return &Writer{cursor: cursor{mem: c.mem, descs: c.descs[c.nReadable:], left: c.writable}}
}

// readChain walks the chain at head into a host copy, enforcing: at most
// Size descriptors in all (which also ends loops), next indices in range,
// every buffer inside one RAM region, the total length within the queue's
// limit, readable before writable, and indirect tables only when negotiated
// and well formed. Each descriptor is read from guest memory once.
func (q *Queue) readChain(head uint16) (*DescriptorChain, error) {
	c := &DescriptorChain{mem: q.mem, head: head}
	c.descs = c.inline[:0]
	idx := head
	for {
		if len(c.descs) >= int(q.size) {
			return nil, fmt.Errorf("%w: head %d", ErrChainTooLong, head)
		}
		d, err := q.readDesc(q.desc + descSize*guestmem.Addr(idx))
		if err != nil {
			return nil, err
		}
		if d.Flags&DescFlagIndirect != 0 {
			if err := q.readIndirect(c, d); err != nil {
				return nil, fmt.Errorf("head %d: %w", head, err)
			}
			break
		}
		if err := c.add(d, q.maxChainBytes); err != nil {
			return nil, fmt.Errorf("head %d, descriptor %d: %w", head, idx, err)
		}
		if d.Flags&DescFlagNext == 0 {
			break
		}
		if d.Next >= q.size {
			return nil, fmt.Errorf("%w: head %d: descriptor %d -> %d, size %d", ErrNextOutOfRange, head, idx, d.Next, q.size)
		}
		idx = d.Next
	}
	return c, nil
}

// readIndirect appends the descriptors of the indirect table d refers to.
// The table must be the chain's last element (no NEXT), a non-empty
// multiple of 16 bytes inside one RAM region, and hold no further indirect
// descriptors; its entries count toward the chain's Size bound.
func (q *Queue) readIndirect(c *DescriptorChain, d Descriptor) error {
	switch {
	case !q.indirect:
		return fmt.Errorf("%w: not negotiated", ErrIndirect)
	case d.Flags&DescFlagNext != 0:
		return fmt.Errorf("%w: NEXT set on an indirect descriptor", ErrIndirect)
	case d.Len == 0 || d.Len%descSize != 0:
		return fmt.Errorf("%w: table length %d", ErrIndirect, d.Len)
	case !q.mem.Contains(d.Addr, uint64(d.Len)):
		return fmt.Errorf("%w: table %#x+%#x: %w", ErrIndirect, d.Addr, d.Len, ErrDescOutsideRAM)
	}
	entries := d.Len / descSize
	if uint64(entries) > uint64(q.size)-uint64(len(c.descs)) {
		return fmt.Errorf("%w: %d table entries after %d descriptors, size %d", ErrChainTooLong, entries, len(c.descs), q.size)
	}
	budget := int(entries)
	idx := uint32(0)
	for {
		if budget == 0 {
			return fmt.Errorf("%w: indirect table loops", ErrChainTooLong)
		}
		budget--
		e, err := q.readDesc(d.Addr + descSize*guestmem.Addr(idx))
		if err != nil {
			return err
		}
		if e.Flags&DescFlagIndirect != 0 {
			return fmt.Errorf("%w: nested indirect table", ErrIndirect)
		}
		if err := c.add(e, q.maxChainBytes); err != nil {
			return fmt.Errorf("indirect entry %d: %w", idx, err)
		}
		if e.Flags&DescFlagNext == 0 {
			return nil
		}
		if uint32(e.Next) >= entries {
			return fmt.Errorf("%w: indirect entry %d -> %d, %d entries", ErrNextOutOfRange, idx, e.Next, entries)
		}
		idx = uint32(e.Next)
	}
}

// readDesc copies one descriptor out of guest memory.
func (q *Queue) readDesc(addr guestmem.Addr) (Descriptor, error) {
	var b [descSize]byte
	if err := q.mem.ReadAt(b[:], addr); err != nil {
		return Descriptor{}, fmt.Errorf("%w: descriptor at %#x: %w", ErrRingInaccessible, addr, err)
	}
	return decodeDesc(&b), nil
}

// add appends a validated buffer descriptor.
func (c *DescriptorChain) add(d Descriptor, maxBytes uint64) error {
	if !c.mem.Contains(d.Addr, uint64(d.Len)) {
		return fmt.Errorf("%w: %#x+%#x", ErrDescOutsideRAM, d.Addr, d.Len)
	}
	// Both totals are sums of at most MaxQueueSize 32-bit lengths: no
	// uint64 overflow.
	if c.readable+c.writable+uint64(d.Len) > maxBytes {
		return fmt.Errorf("%w: more than %d bytes", ErrChainTooBig, maxBytes)
	}
	if d.Writable() {
		c.writable += uint64(d.Len)
	} else {
		if len(c.descs) > c.nReadable { // a writable one came first
			return ErrDirection
		}
		c.nReadable++
		c.readable += uint64(d.Len)
	}
	c.descs = append(c.descs, d)
	return nil
}
