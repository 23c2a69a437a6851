// Package zstd decodes Zstandard data (RFC 8878), the compression inside
// the bzImage of a kernel built with CONFIG_KERNEL_ZSTD, into a buffer
// that holds the whole output.
//
// Because the output is in memory from its first byte to its last, it is
// its own window: a match copies from earlier output of its frame
// directly, with no circular buffer and no second copy out of one.
// Dictionaries are not supported; a frame that names one is an error.
//
// Input is untrusted: every size, offset and length is checked before it
// is used, and bad data is an error, never a panic, a read outside the
// buffers or an allocation beyond the caller's limit.
package zstd

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
)

// ErrTooLarge is the error when the output would exceed the limit given
// to Decode.
var ErrTooLarge = errors.New("zstd: output exceeds the limit")

const (
	frameMagic       = 0xFD2FB528
	skippableMagic   = 0x184D2A50 // and the 15 values after it
	maxBlockSize     = 128 << 10
	ctxCheckInterval = 256 << 10 // output between looks at ctx, well under the 1 MiB promised
	minWindowLog     = 10
	blockHeaderSize  = 3
	checksumSize     = 4
)

// Decode decodes every frame of src (zstd frames and skippable frames,
// concatenated) into one buffer of at most limit bytes, allocated for
// min(sizeHint, limit) bytes up front. It looks at ctx between blocks (at
// least every 1 MiB of output) and returns ctx's error once it ends.
func Decode(ctx context.Context, src []byte, sizeHint, limit uint64) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if len(src) == 0 {
		return nil, errors.New("zstd: no frame")
	}
	d := &decoder{ctx: ctx, limit: limit, out: make([]byte, 0, min(sizeHint, limit)), pipeMin: pipeMin}
	in := 0
	for in < len(src) {
		if len(src)-in < 4 {
			return nil, fmt.Errorf("zstd: %d bytes after the frames at offset %d", len(src)-in, in)
		}
		magic := binary.LittleEndian.Uint32(src[in:])
		switch {
		case magic == frameMagic:
			n, err := d.frame(src, in)
			if err != nil {
				return nil, err
			}
			in += n
		case magic&^15 == skippableMagic:
			if len(src)-in < 8 {
				return nil, fmt.Errorf("zstd: skippable frame at offset %d: header truncated", in)
			}
			size := uint64(binary.LittleEndian.Uint32(src[in+4:]))
			if size > uint64(len(src)-in-8) {
				return nil, fmt.Errorf("zstd: skippable frame at offset %d: %d bytes run past the input", in, size)
			}
			in += 8 + int(size)
		default:
			return nil, fmt.Errorf("zstd: no frame magic at offset %d (%#08x)", in, magic)
		}
	}
	return d.out, nil
}

// decoder holds what lasts from block to block of a frame.
type decoder struct {
	ctx       context.Context
	limit     uint64
	out       []byte // the executor's while the pipeline runs
	size      int    // len(out) once every block parsed is written
	checked   int    // size when ctx was last looked at
	huff      huffTable
	ll, of, m seqTable
	rep       [3]int
	frameBase int // where the current frame's output starts
	blockMax  int
	pipeMin   int // pipeMin when Decode began
	items     [pipeDepth]*work
	pipe      *pipeline // the executor, while it runs
}

// frameHeader is what a frame header says.
type frameHeader struct {
	size        int // header bytes
	contentSize uint64
	hasSize     bool
	checksum    bool
	window      uint64
}

func parseFrameHeader(b []byte) (frameHeader, error) {
	if len(b) < 5 {
		return frameHeader{}, errors.New("frame header truncated")
	}
	desc := b[4]
	if desc&0x08 != 0 {
		return frameHeader{}, errors.New("reserved bit of the frame header descriptor set")
	}
	h := frameHeader{checksum: desc&0x04 != 0}
	single := desc&0x20 != 0
	fcsSize := [4]int{0, 2, 4, 8}[desc>>6]
	if fcsSize == 0 && single {
		fcsSize = 1
	}
	didSize := [4]int{0, 1, 2, 4}[desc&3]
	h.size = 5 + fcsSize + didSize
	if !single {
		h.size++
	}
	if len(b) < h.size {
		return frameHeader{}, errors.New("frame header truncated")
	}
	p := 5
	if !single {
		wd := b[p]
		p++
		log := uint(minWindowLog + wd>>3)
		base := uint64(1) << log
		h.window = base + base/8*uint64(wd&7)
	}
	var did uint32
	switch didSize {
	case 1:
		did = uint32(b[p])
	case 2:
		did = uint32(binary.LittleEndian.Uint16(b[p:]))
	case 4:
		did = binary.LittleEndian.Uint32(b[p:])
	}
	if did != 0 {
		return frameHeader{}, fmt.Errorf("frame needs dictionary %#x; dictionaries are not supported", did)
	}
	p += didSize
	switch fcsSize {
	case 1:
		h.contentSize = uint64(b[p])
	case 2:
		h.contentSize = uint64(binary.LittleEndian.Uint16(b[p:])) + 256
	case 4:
		h.contentSize = uint64(binary.LittleEndian.Uint32(b[p:]))
	case 8:
		h.contentSize = binary.LittleEndian.Uint64(b[p:])
	}
	h.hasSize = fcsSize != 0
	if single {
		h.window = h.contentSize
	}
	return h, nil
}

// reserve makes room for n more bytes of output, or as many as the limit
// leaves.
func (d *decoder) reserve(n int) {
	left := d.limit - uint64(len(d.out))
	want := uint64(n)
	if want > left {
		want = left
	}
	if uint64(cap(d.out)-len(d.out)) >= want {
		return
	}
	newCap := uint64(len(d.out)) + want
	if grown := 2 * uint64(cap(d.out)); grown > newCap {
		newCap = min(grown, d.limit)
	}
	out := make([]byte, len(d.out), newCap)
	copy(out, d.out)
	d.out = out
}

// frame decodes the zstd frame at src[start:] and returns its length.
func (d *decoder) frame(src []byte, start int) (int, error) {
	h, err := parseFrameHeader(src[start:])
	if err != nil {
		return 0, fmt.Errorf("zstd: frame at offset %d: %w", start, err)
	}
	if h.hasSize {
		if h.contentSize > d.limit-uint64(d.size) {
			return 0, fmt.Errorf("%w: frame at offset %d holds %d bytes", ErrTooLarge, start, h.contentSize)
		}
		d.reserve(int(h.contentSize))
	}
	d.frameBase = d.size
	d.blockMax = int(min(h.window, maxBlockSize))
	d.huff.ok, d.ll.ok, d.of.ok, d.m.ok = false, false, false, false
	d.rep = [3]int{1, 4, 8}
	defer d.stop()
	in := start + h.size
	for {
		if d.size-d.checked >= ctxCheckInterval {
			if err := d.ctx.Err(); err != nil {
				return 0, err
			}
			d.checked = d.size
		}
		if d.pipe == nil && (d.size-d.frameBase >= d.pipeMin || h.hasSize && h.contentSize >= uint64(d.pipeMin)) {
			d.start()
		}
		n, last, err := d.parseBlock(src, in)
		if err != nil {
			return 0, err
		}
		in += n
		if last {
			break
		}
	}
	d.stop()
	got := uint64(d.size - d.frameBase)
	if h.hasSize && got != h.contentSize {
		return 0, fmt.Errorf("zstd: frame at offset %d holds %d bytes, its header says %d", start, got, h.contentSize)
	}
	if h.checksum {
		if len(src)-in < checksumSize {
			return 0, fmt.Errorf("zstd: checksum at offset %d truncated", in)
		}
		want := binary.LittleEndian.Uint32(src[in:])
		if sum := uint32(xxh64(d.out[d.frameBase:])); sum != want {
			return 0, fmt.Errorf("zstd: frame at offset %d: checksum %#08x, want %#08x", start, sum, want)
		}
		in += checksumSize
	}
	return in - start, nil
}

// parseBlock parses the block at src[in:] and hands it on to be written;
// it returns the block's length and whether it is the frame's last.
func (d *decoder) parseBlock(src []byte, in int) (int, bool, error) {
	if len(src)-in < blockHeaderSize {
		return 0, false, fmt.Errorf("zstd: block header at offset %d truncated", in)
	}
	bh := uint32(src[in]) | uint32(src[in+1])<<8 | uint32(src[in+2])<<16
	last := bh&1 != 0
	size := int(bh >> 3)
	at := in
	in += blockHeaderSize
	w := d.next()
	switch bh >> 1 & 3 {
	case 0: // raw
		if size > len(src)-in {
			return 0, false, fmt.Errorf("zstd: raw block at offset %d: %d bytes run past the input", at, size)
		}
		if err := d.room(size, at); err != nil {
			return 0, false, err
		}
		w.rle, w.lits, w.seqs, w.size = false, src[in:in+size:in+size], nil, size
	case 1: // RLE
		if len(src)-in < 1 {
			return 0, false, fmt.Errorf("zstd: RLE block at offset %d truncated", at)
		}
		if err := d.room(size, at); err != nil {
			return 0, false, err
		}
		w.rle, w.lits, w.size = true, src[in:in+1], size
		size = 1
	case 2: // compressed
		if size > len(src)-in {
			return 0, false, fmt.Errorf("zstd: compressed block at offset %d: %d bytes run past the input", at, size)
		}
		if size > d.blockMax {
			return 0, false, fmt.Errorf("zstd: compressed block at offset %d: %d bytes, more than %d", at, size, d.blockMax)
		}
		if err := d.block(src[in:in+size:in+size], in, w); err != nil {
			if errors.Is(err, ErrTooLarge) {
				return 0, false, err
			}
			return 0, false, fmt.Errorf("zstd: compressed block at offset %d: %w", at, err)
		}
	default:
		return 0, false, fmt.Errorf("zstd: block at offset %d has the reserved type", at)
	}
	d.size += w.size
	d.submit(w)
	return blockHeaderSize + size, last, nil
}

// room checks that a raw or RLE block of n bytes at offset at fits.
func (d *decoder) room(n, at int) error {
	if n > d.blockMax {
		return fmt.Errorf("zstd: block at offset %d: %d bytes, more than %d", at, n, d.blockMax)
	}
	if uint64(n) > d.limit-uint64(d.size) {
		return fmt.Errorf("%w: block at offset %d", ErrTooLarge, at)
	}
	return nil
}

// fill sets every byte of b to c.
func fill(b []byte, c byte) {
	if len(b) == 0 {
		return
	}
	b[0] = c
	for n := 1; n < len(b); n *= 2 {
		copy(b[n:], b[:n])
	}
}
