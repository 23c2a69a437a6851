package loader

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"hash/crc64"
	"slices"

	"github.com/gluevmm/glue/internal/sha256"
	"github.com/gluevmm/glue/loader/internal/bcj"
	"github.com/gluevmm/glue/loader/internal/lzma2"
)

// An xz container reader (tukaani.org/xz/xz-file-format.txt) for the one
// thing the kernel build produces: a stream of blocks filtered by x86 BCJ
// and LZMA2 (scripts/xz_wrap.sh). This parses the container, decodes the
// LZMA2 data with internal/lzma2 straight into the output and undoes BCJ
// itself. Every size is checked against the input before it is used; the
// index and footer are verified too.

const (
	xzMagic        = "\xfd7zXZ\x00"
	xzFooterMagic  = "YZ"
	xzHeaderSize   = 12
	xzFooterSize   = 12
	xzFilterBCJX86 = 0x04
	xzFilterLZMA2  = 0x21
	xzMaxDictByte  = 40 // LZMA2 dictionary size byte 40 means 4 GiB - 1
)

var xzFilterNames = map[uint64]string{
	0x03: "delta", 0x04: "x86 BCJ", 0x05: "PowerPC BCJ", 0x06: "IA-64 BCJ",
	0x07: "ARM BCJ", 0x08: "ARM-Thumb BCJ", 0x09: "SPARC BCJ", 0x0a: "ARM64 BCJ",
	0x0b: "RISC-V BCJ", 0x21: "LZMA2",
}

// xzCheckSizes maps the check types the loader verifies to their size.
var xzCheckSizes = map[byte]int{0x00: 0, 0x01: 4, 0x04: 8, 0x0a: 32}

// xzRecord is one index record: what the index must say about a block.
type xzRecord struct{ unpaddedSize, uncompressedSize uint64 }

func xzCorrupt(format string, args ...any) error {
	return errorf(ErrCorruptPayload, format, args...)
}

// decodeXZ decodes one xz stream (followed by nothing but stream padding)
// into at most limit bytes.
func decodeXZ(ctx context.Context, in []byte, sizeHint, limit uint64) ([]byte, error) {
	if len(in) < xzHeaderSize+xzFooterSize || string(in[:len(xzMagic)]) != xzMagic {
		return nil, xzCorrupt("not an xz stream (%d bytes)", len(in))
	}
	flags := in[6:8]
	if crc32.ChecksumIEEE(flags) != binary.LittleEndian.Uint32(in[8:]) {
		return nil, xzCorrupt("stream header CRC32 mismatch")
	}
	if flags[0] != 0 || flags[1]&0xf0 != 0 {
		return nil, xzCorrupt("reserved stream flags % x", flags)
	}
	check := flags[1]
	if _, ok := xzCheckSizes[check]; !ok {
		return nil, errorf(ErrUnsupportedCompression, "check type %#x is not supported (none, CRC32, CRC64, SHA-256 are)", check)
	}

	out := make([]byte, 0, min(sizeHint, limit))
	var records []xzRecord
	pos := xzHeaderSize
	for {
		if pos >= len(in) {
			return nil, xzCorrupt("stream ends at offset %d without an index", pos)
		}
		if in[pos] == 0 { // index indicator
			break
		}
		var rec xzRecord
		var n int
		var err error
		out, n, rec, err = decodeXZBlock(ctx, in[pos:], check, out, limit)
		if err != nil {
			return nil, fmt.Errorf("block %d at offset %d: %w", len(records), pos, err)
		}
		records = append(records, rec)
		pos += n
	}
	indexSize, err := verifyXZIndex(in[pos:], records)
	if err != nil {
		return nil, err
	}
	pos += indexSize
	if err := verifyXZFooter(in[pos:], flags, indexSize); err != nil {
		return nil, err
	}
	pos += xzFooterSize
	rest := in[pos:]
	if len(rest)%4 != 0 || !allZero(rest) {
		return nil, xzCorrupt("%d bytes of trailing data after the stream", len(rest))
	}
	return out, nil
}

// decodeXZBlock decodes the block at the start of in, appending its data to
// out, and returns how many bytes of in it spans.
func decodeXZBlock(ctx context.Context, in []byte, check byte, out []byte, limit uint64) ([]byte, int, xzRecord, error) {
	var rec xzRecord
	headerSize := (int(in[0]) + 1) * 4
	if headerSize > len(in) {
		return out, 0, rec, xzCorrupt("header of %d bytes is truncated", headerSize)
	}
	header := in[:headerSize-4]
	if crc32.ChecksumIEEE(header) != binary.LittleEndian.Uint32(in[headerSize-4:]) {
		return out, 0, rec, xzCorrupt("header CRC32 mismatch")
	}
	flags := header[1]
	if flags&0x3c != 0 {
		return out, 0, rec, xzCorrupt("reserved block flags %#02x", flags)
	}
	p := 2
	var compressedSize, uncompressedSize uint64
	hasCompressed, hasUncompressed := flags&0x40 != 0, flags&0x80 != 0
	var err error
	if hasCompressed {
		if compressedSize, p, err = xzVarint(header, p); err != nil || compressedSize == 0 {
			return out, 0, rec, xzCorrupt("bad compressed size field")
		}
	}
	if hasUncompressed {
		if uncompressedSize, p, err = xzVarint(header, p); err != nil {
			return out, 0, rec, xzCorrupt("bad uncompressed size field")
		}
	}
	bcjStart, useBCJ, dictSize, p, err := parseXZFilters(header, p, int(flags&3)+1)
	if err != nil {
		return out, 0, rec, err
	}
	if !allZero(header[p:]) {
		return out, 0, rec, xzCorrupt("non-zero header padding")
	}

	data := in[headerSize:]
	packed, unpacked, err := lzma2.Scan(data)
	if err != nil {
		return out, 0, rec, xzCorrupt("LZMA2: %v", err)
	}
	if hasCompressed && compressedSize != uint64(packed) {
		return out, 0, rec, xzCorrupt("header says %d compressed bytes, the data has %d", compressedSize, packed)
	}
	if hasUncompressed && uncompressedSize != unpacked {
		return out, 0, rec, xzCorrupt("header says %d uncompressed bytes, the data has %d", uncompressedSize, unpacked)
	}
	if unpacked > limit-uint64(len(out)) {
		return out, 0, rec, errorf(ErrPayloadTooLarge, "decompresses to more than %d bytes", limit)
	}

	start := len(out)
	out = slices.Grow(out, int(unpacked))[:start+int(unpacked)]
	block := out[start:]
	if err := lzma2.Decode(ctx, block, data[:packed], dictSize); err != nil {
		if ctx.Err() != nil {
			return out, 0, rec, err
		}
		return out, 0, rec, xzCorrupt("LZMA2: %v", err)
	}
	if useBCJ {
		bcj.X86Decode(block, bcjStart)
	}

	pos := headerSize + packed
	for ; pos%4 != 0; pos++ {
		if pos >= len(in) || in[pos] != 0 {
			return out, 0, rec, xzCorrupt("bad block padding")
		}
	}
	checkSize := xzCheckSizes[check]
	if checkSize > len(in)-pos {
		return out, 0, rec, xzCorrupt("check field truncated")
	}
	if !xzCheckMatches(check, block, in[pos:pos+checkSize]) {
		return out, 0, rec, xzCorrupt("check (type %#x) mismatch: data corrupt", check)
	}
	rec = xzRecord{
		unpaddedSize:     uint64(headerSize) + uint64(packed) + uint64(checkSize),
		uncompressedSize: unpacked,
	}
	return out, pos + checkSize, rec, nil
}

// parseXZFilters reads the filter flags of a block header: an optional x86
// BCJ filter followed by LZMA2, the chain the kernel build uses.
func parseXZFilters(header []byte, p, count int) (bcjStart uint32, useBCJ bool, dictSize uint64, next int, err error) {
	for i := range count {
		var id, propsSize uint64
		if id, p, err = xzVarint(header, p); err != nil {
			return 0, false, 0, 0, xzCorrupt("bad filter ID")
		}
		if propsSize, p, err = xzVarint(header, p); err != nil || propsSize > uint64(len(header)-p) {
			return 0, false, 0, 0, xzCorrupt("bad properties size for filter %#x", id)
		}
		props := header[p : p+int(propsSize)]
		p += int(propsSize)
		last := i == count-1
		switch {
		case id == xzFilterBCJX86 && !last && !useBCJ:
			switch len(props) {
			case 0:
			case 4:
				bcjStart = binary.LittleEndian.Uint32(props)
			default:
				return 0, false, 0, 0, xzCorrupt("x86 BCJ properties are %d bytes, want 0 or 4", len(props))
			}
			useBCJ = true
		case id == xzFilterLZMA2 && last:
			if len(props) != 1 || props[0] > xzMaxDictByte {
				return 0, false, 0, 0, xzCorrupt("bad LZMA2 properties % x", props)
			}
			dictSize = lzma2DictSize(props[0])
		default:
			name := xzFilterNames[id]
			if name == "" {
				name = "unknown"
			}
			return 0, false, 0, 0, errorf(ErrUnsupportedCompression,
				"filter %d of %d is %#x (%s); only x86 BCJ followed by LZMA2 is supported", i+1, count, id, name)
		}
	}
	return bcjStart, useBCJ, dictSize, p, nil
}

// lzma2DictSize decodes the LZMA2 dictionary size byte: 2 or 3 times a
// power of two, from 4 KiB up to 4 GiB - 1.
func lzma2DictSize(b byte) uint64 {
	if b == xzMaxDictByte {
		return 1<<32 - 1
	}
	return uint64(2|b&1) << (b/2 + 11)
}

func xzCheckMatches(check byte, data, want []byte) bool {
	switch check {
	case 0x01:
		return crc32.ChecksumIEEE(data) == binary.LittleEndian.Uint32(want)
	case 0x04: // MakeTable builds its tables on first use, not at start-up
		return crc64.Checksum(data, crc64.MakeTable(crc64.ECMA)) == binary.LittleEndian.Uint64(want)
	case 0x0a:
		sum := sha256.Sum256(data)
		return bytes.Equal(sum[:], want)
	}
	return true // check type 0: none
}

// verifyXZIndex checks the index at the start of in against the blocks
// decoded and returns its size.
func verifyXZIndex(in []byte, records []xzRecord) (int, error) {
	count, p, err := xzVarint(in, 1) // in[0] is the index indicator
	if err != nil || count != uint64(len(records)) {
		return 0, xzCorrupt("index lists %d blocks, the stream has %d", count, len(records))
	}
	for i, want := range records {
		var got xzRecord
		if got.unpaddedSize, p, err = xzVarint(in, p); err != nil {
			return 0, xzCorrupt("index record %d truncated", i)
		}
		if got.uncompressedSize, p, err = xzVarint(in, p); err != nil {
			return 0, xzCorrupt("index record %d truncated", i)
		}
		if got != want {
			return 0, xzCorrupt("index record %d says %+v, block was %+v", i, got, want)
		}
	}
	for ; p%4 != 0; p++ {
		if p >= len(in) || in[p] != 0 {
			return 0, xzCorrupt("bad index padding")
		}
	}
	if len(in)-p < 4 || crc32.ChecksumIEEE(in[:p]) != binary.LittleEndian.Uint32(in[p:]) {
		return 0, xzCorrupt("index CRC32 mismatch")
	}
	return p + 4, nil
}

func verifyXZFooter(in, streamFlags []byte, indexSize int) error {
	if len(in) < xzFooterSize {
		return xzCorrupt("stream footer truncated")
	}
	footer := in[:xzFooterSize]
	if crc32.ChecksumIEEE(footer[4:10]) != binary.LittleEndian.Uint32(footer) {
		return xzCorrupt("stream footer CRC32 mismatch")
	}
	if backward := (uint64(binary.LittleEndian.Uint32(footer[4:])) + 1) * 4; backward != uint64(indexSize) {
		return xzCorrupt("footer says the index is %d bytes, it is %d", backward, indexSize)
	}
	if !bytes.Equal(footer[8:10], streamFlags) || string(footer[10:]) != xzFooterMagic {
		return xzCorrupt("stream footer does not match the header")
	}
	return nil
}

// xzVarint decodes the xz multibyte integer at b[p:] and returns it with the
// offset after it.
func xzVarint(b []byte, p int) (uint64, int, error) {
	var v uint64
	for i := 0; i < 9; i++ {
		if p+i >= len(b) {
			break
		}
		c := b[p+i]
		v |= uint64(c&0x7f) << (7 * i)
		if c&0x80 == 0 {
			if c == 0 && i > 0 {
				return 0, 0, errors.New("non-minimal integer")
			}
			return v, p + i + 1, nil
		}
	}
	return 0, 0, errors.New("truncated integer")
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
