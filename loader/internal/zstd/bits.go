package zstd

import (
	"encoding/binary"
	"errors"
	"math/bits"
)

// bitReader reads a backward bitstream, the form of every entropy-coded
// stream in a zstd frame: it is written forwards, so it is read from its
// last byte to its first, and from each byte's high bit to its low one.
// The last byte's highest set bit marks where the data starts.
//
// val holds the eight bytes at in[pos:], used counts the bits of val
// already read, from its top. Reading past the stream's first byte gives
// zero bits and leaves used above 64, which overflowed reports.
type bitReader struct {
	in   []byte
	pos  int
	val  uint64
	used uint
	pad  [8]byte
}

var (
	errEmptyStream = errors.New("empty bitstream")
	errNoMarker    = errors.New("bitstream has no end marker")
)

// init starts reading stream.
func (b *bitReader) init(stream []byte) error {
	if len(stream) == 0 {
		return errEmptyStream
	}
	last := stream[len(stream)-1]
	if last == 0 {
		return errNoMarker
	}
	if len(stream) < 8 {
		// Put the stream at the bottom of eight bytes and start past
		// the zero bytes above it.
		b.pad = [8]byte{}
		copy(b.pad[:], stream)
		b.in = b.pad[:]
		b.pos = 0
		b.used = uint(8-len(stream)) * 8
	} else {
		b.in = stream
		b.pos = len(stream) - 8
		b.used = 0
	}
	b.val = binary.LittleEndian.Uint64(b.in[b.pos:])
	b.used += uint(bits.LeadingZeros8(last)) + 1
	return nil
}

// refill moves the window down past the whole bytes already read, so that
// at least 57 bits can be read until the stream's start is near.
func (b *bitReader) refill() {
	n := int(b.used >> 3)
	if n > b.pos {
		n = b.pos
	}
	b.pos -= n
	b.used -= uint(n) * 8
	b.val = binary.LittleEndian.Uint64(b.in[b.pos:])
}

// read returns the next n bits (n <= 56 after a refill).
func (b *bitReader) read(n uint8) uint64 {
	v := b.val << b.used >> (64 - n) // n == 0 shifts by 64, giving 0
	b.used += uint(n)
	return v
}

// overflowed says whether more bits were read than the stream has.
func (b *bitReader) overflowed() bool {
	b.refill()
	return b.pos == 0 && b.used > 64
}

// finished says whether exactly the stream's bits were read.
func (b *bitReader) finished() bool {
	b.refill()
	return b.pos == 0 && b.used == 64
}
