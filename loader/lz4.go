package loader

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
)

// The kernel's lz4 payload uses the legacy frame format (lz4 -l): a magic
// number, then blocks each preceded by its compressed size, each
// decompressing to at most 8 MiB. The kernel's own decompressor
// (lib/decompress_unlz4.c) decodes every block on its own, so a match never
// reaches back into an earlier block.
const (
	lz4LegacyMagic     = 0x184C2102
	lz4LegacyBlockSize = 8 << 20
)

func decodeLZ4Legacy(ctx context.Context, stream []byte, sizeHint, limit uint64) ([]byte, error) {
	out := make([]byte, 0, min(sizeHint, limit))
	for pos := 4; pos < len(stream); { // the magic was matched by decompress
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if len(stream)-pos < 4 {
			return nil, errorf(ErrCorruptPayload, "%d stray bytes at offset %d", len(stream)-pos, pos)
		}
		n := binary.LittleEndian.Uint32(stream[pos:])
		pos += 4
		if n == lz4LegacyMagic { // concatenated legacy streams
			continue
		}
		if n == 0 || uint64(n) > uint64(len(stream)-pos) {
			return nil, errorf(ErrCorruptPayload, "block at offset %d claims %d bytes; %d remain", pos-4, n, len(stream)-pos)
		}
		blockLimit := min(uint64(len(out))+lz4LegacyBlockSize, limit)
		var err error
		out, err = lz4Block(out, stream[pos:pos+int(n)], int(blockLimit))
		switch {
		case errors.Is(err, errLZ4TooLong) && blockLimit == limit:
			return nil, errorf(ErrPayloadTooLarge, "decompresses to more than %d bytes", limit)
		case err != nil:
			return nil, errorf(ErrCorruptPayload, "block at offset %d: %v", pos-4, err)
		}
		pos += int(n)
	}
	return out, nil
}

var errLZ4TooLong = errors.New("decompresses past its end")

// lz4Block appends the decoding of one lz4 block (the block format of
// github.com/lz4/lz4's doc/lz4_Block_format.md) to out, which it lets grow to
// at most max bytes. A block is a series of sequences: a token whose high
// nibble is a literal length and low nibble a match length minus 4 (15 in
// either: more length in the bytes that follow, each adding up to 255), the
// literals, then a 2-byte little-endian offset back into the block's own
// output. The last sequence is literals only.
func lz4Block(out, src []byte, max int) ([]byte, error) {
	start, pos := len(out), 0
	for {
		if pos >= len(src) {
			return nil, fmt.Errorf("ends inside a sequence at offset %d", pos)
		}
		token := src[pos]
		lits, next, err := lz4Length(src, pos+1, int(token>>4))
		if err != nil {
			return nil, err
		}
		pos = next
		if lits > len(src)-pos {
			return nil, fmt.Errorf("%d literals at offset %d, but %d bytes remain", lits, pos, len(src)-pos)
		}
		if lits > max-len(out) {
			return nil, errLZ4TooLong
		}
		out = append(out, src[pos:pos+lits]...)
		pos += lits
		if pos == len(src) {
			return out, nil
		}
		if len(src)-pos < 2 {
			return nil, fmt.Errorf("match offset cut short at offset %d", pos)
		}
		offset := int(binary.LittleEndian.Uint16(src[pos:]))
		pos += 2
		if offset == 0 || offset > len(out)-start {
			return nil, fmt.Errorf("match at offset %d reaches %d bytes back, but the block has produced %d", pos-2, offset, len(out)-start)
		}
		length, next, err := lz4Length(src, pos, int(token&0x0f))
		if err != nil {
			return nil, err
		}
		pos = next
		length += 4
		if length > max-len(out) {
			return nil, errLZ4TooLong
		}
		out = lz4Copy(out, offset, length)
	}
}

// lz4Length reads a length whose nibble is n: 15 continues in the bytes at
// pos, each one added, until one is not 255.
func lz4Length(src []byte, pos, n int) (int, int, error) {
	if n != 15 {
		return n, pos, nil
	}
	for {
		if pos >= len(src) {
			return 0, 0, fmt.Errorf("length cut short at offset %d", pos)
		}
		b := src[pos]
		pos++
		n += int(b) // cannot overflow: it grows by at most 255 per input byte
		if b != 255 {
			return n, pos, nil
		}
	}
}

// lz4Copy appends length bytes copied from offset bytes back. An offset
// shorter than the length repeats the bytes it copies (a run): what has
// been copied so far repeats the pattern a whole number of times, so each
// step copies all of it and doubles what the next step can take.
func lz4Copy(out []byte, offset, length int) []byte {
	from := len(out) - offset
	for length > 0 {
		n := min(length, len(out)-from)
		out = append(out, out[from:from+n]...)
		length -= n
	}
	return out
}
