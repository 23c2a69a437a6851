// Package lzma2 decodes LZMA2 data, the compression inside the xz files
// the kernel build makes of a bzImage's payload, into a buffer that holds
// the whole output.
//
// Because the output is in memory from its first byte to its last, it is
// its own dictionary: a match copies from earlier output directly, with no
// circular window and no second copy out of one, which is most of what
// makes this decoder faster than a streaming one. The format is the one of
// the xz file format specification (tukaani.org/xz/xz-file-format.txt),
// LZMA2 chunks, and the LZMA SDK's description of LZMA.
//
// Input is untrusted: every size, distance and length is checked before it
// is used, and bad data is an error, never a panic or a read outside the
// buffers.
package lzma2

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
)

// Scan walks the chunk headers of LZMA2 data up to its end marker and
// returns the data's length and the size it decompresses to, without
// decompressing anything.
func Scan(data []byte) (packed int, unpacked uint64, err error) {
	pos := 0
	for {
		if pos >= len(data) {
			return 0, 0, errors.New("no end marker")
		}
		h, err := parseHeader(data[pos:])
		if err != nil {
			return 0, 0, fmt.Errorf("%w at offset %d", err, pos)
		}
		if h.end {
			return pos + 1, unpacked, nil
		}
		if h.packed > len(data)-pos-h.size {
			return 0, 0, fmt.Errorf("chunk at offset %d runs past the data", pos)
		}
		unpacked += uint64(h.unpacked)
		pos += h.size + h.packed
	}
}

// chunkHeader is what a chunk's control byte and sizes say.
type chunkHeader struct {
	end        bool // the end marker
	lzma       bool // LZMA data, else stored bytes
	dictReset  bool
	stateReset bool
	props      bool // a new properties byte follows the sizes
	propsByte  byte
	size       int // header bytes
	unpacked   int
	packed     int // bytes after the header
}

func parseHeader(b []byte) (chunkHeader, error) {
	control := b[0]
	switch {
	case control == 0x00:
		return chunkHeader{end: true, size: 1}, nil
	case control == 0x01 || control == 0x02:
		if len(b) < 3 {
			return chunkHeader{}, errors.New("chunk header truncated")
		}
		n := int(binary.BigEndian.Uint16(b[1:])) + 1
		return chunkHeader{dictReset: control == 0x01, size: 3, unpacked: n, packed: n}, nil
	case control >= 0x80:
		reset := control >> 5 & 3
		h := chunkHeader{lzma: true, size: 5, stateReset: reset >= 1, props: reset >= 2, dictReset: reset == 3}
		if h.props {
			h.size = 6
		}
		if len(b) < h.size {
			return chunkHeader{}, errors.New("chunk header truncated")
		}
		h.unpacked = int(control&0x1f)<<16 + int(binary.BigEndian.Uint16(b[1:])) + 1
		h.packed = int(binary.BigEndian.Uint16(b[3:])) + 1
		if h.props {
			h.propsByte = b[5]
		}
		return h, nil
	}
	return chunkHeader{}, fmt.Errorf("invalid control byte %#02x", control)
}

// Decode decodes the LZMA2 data src, as Scan delimits it, into dst, which
// must be exactly as long as Scan says it decompresses to. dictSize is the
// dictionary size of the filter's properties: no match may reach further
// back. Decode looks at ctx between chunks (at most 2 MiB of output
// apart) and returns its error once it ends.
func Decode(ctx context.Context, dst, src []byte, dictSize uint64) error {
	var d decoder
	var rc rangeDecoder
	pos, in := 0, 0
	dictStart := 0
	needDictReset, needProps := true, true
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		if in >= len(src) {
			return errors.New("no end marker")
		}
		h, err := parseHeader(src[in:])
		if err != nil {
			return fmt.Errorf("%w at offset %d", err, in)
		}
		if h.end {
			if in+1 != len(src) || pos != len(dst) {
				return fmt.Errorf("data ends at offset %d after %d bytes, want %d and %d", in, pos, len(src)-1, len(dst))
			}
			return nil
		}
		// The first chunk resets the dictionary, and a reset (which
		// forgets the properties) is followed by new ones.
		if h.dictReset {
			dictStart, needDictReset, needProps = pos, false, true
		} else if needDictReset {
			return fmt.Errorf("chunk at offset %d does not reset the dictionary", in)
		}
		if h.packed > len(src)-in-h.size || h.unpacked > len(dst)-pos {
			return fmt.Errorf("chunk at offset %d runs past the data", in)
		}
		data := src[in+h.size : in+h.size+h.packed]
		if !h.lzma {
			copy(dst[pos:], data)
		} else {
			switch {
			case h.props:
				if !d.setProperties(h.propsByte) {
					return fmt.Errorf("chunk at offset %d: invalid properties %#02x", in, h.propsByte)
				}
				needProps = false
			case needProps:
				return fmt.Errorf("chunk at offset %d has no properties after a dictionary reset", in)
			}
			if h.stateReset {
				d.resetState()
			}
			if !rc.reset(data) {
				return fmt.Errorf("chunk at offset %d: bad range coder start", in)
			}
			if err := d.decodeChunk(&rc, dst, pos, pos+h.unpacked, dictStart, dictSize); err != nil {
				return fmt.Errorf("chunk at offset %d: %w", in, err)
			}
			if !rc.finished() {
				return fmt.Errorf("chunk at offset %d: range coder does not end with the chunk", in)
			}
		}
		pos += h.unpacked
		in += h.size + h.packed
	}
}
