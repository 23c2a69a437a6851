package zstd

import (
	"bytes"
	"encoding/binary"
	"math/big"
	"strings"
	"testing"
)

// frame builds a zstd frame with a one-byte content size (single
// segment) and the given blocks, each a type and its content.
type block struct {
	typ     byte
	content []byte
	rleSize int // the size an RLE block repeats its byte
}

func makeFrame(size int, checksum []byte, blocks ...block) []byte {
	b := binary.LittleEndian.AppendUint32(nil, frameMagic)
	desc := byte(0)
	if size >= 0 {
		desc |= 0x20
	} else {
		desc = 0x00 // window descriptor, no content size
	}
	if checksum != nil {
		desc |= 0x04
	}
	b = append(b, desc)
	if size >= 0 {
		b = append(b, byte(size))
	} else {
		b = append(b, 0) // 1 KiB window
	}
	for i, blk := range blocks {
		n := len(blk.content)
		if blk.typ == 1 {
			n = blk.rleSize
		}
		h := uint32(n)<<3 | uint32(blk.typ)<<1
		if i == len(blocks)-1 {
			h |= 1
		}
		b = append(b, byte(h), byte(h>>8), byte(h>>16))
		b = append(b, blk.content...)
	}
	if checksum != nil {
		b = binary.LittleEndian.AppendUint32(b, uint32(xxh64(checksum)))
	}
	return b
}

// backward makes a backward bitstream whose reader reads the given
// (value, bits) pairs in order.
func backward(fields ...[2]uint) []byte {
	v := big.NewInt(1)
	for _, f := range fields {
		v.Lsh(v, f[1])
		v.Or(v, big.NewInt(int64(f[0])))
	}
	be := v.Bytes()
	le := make([]byte, len(be))
	for i := range be {
		le[i] = be[len(be)-1-i]
	}
	return le
}

// seqBlock is a compressed block of raw literals and n equal sequences
// made with RLE tables: literal-length code ll (<16), offset code of
// with the extra bits ofExtra, match-length code ml (<32).
func seqBlock(lits []byte, n int, ll, of byte, ofExtra uint, ml byte) block {
	c := []byte{byte(len(lits)) << 3} // raw literals, up to 31
	c = append(c, lits...)
	c = append(c, byte(n), 0x54, ll, of, ml)
	var fields [][2]uint
	for range n {
		fields = append(fields, [2]uint{ofExtra, uint(of)})
	}
	c = append(c, backward(fields...)...)
	return block{typ: 2, content: c}
}

func raw(s string) block { return block{typ: 0, content: []byte(s)} }

func TestSequences(t *testing.T) {
	for _, c := range []struct {
		name   string
		blocks []block
		want   string // or the error, after "error: "
	}{
		{"literals then match", []block{seqBlock([]byte("abcdefgh"), 1, 8, 2, 0, 0)}, "abcdefghhhh"},
		{"match beyond literals", []block{seqBlock([]byte("abcdefgh"), 1, 8, 4, 0, 0)}, "error: offset 13"},
		{"overlapping match", []block{seqBlock([]byte("ab"), 1, 2, 2, 1, 7)}, "ab" + strings.Repeat("ab", 5)},
		{"rep1", []block{seqBlock([]byte("abcdefgh"), 1, 8, 0, 0, 0)}, "abcdefghhhh"},
		{"rep2", []block{seqBlock([]byte("abcdefgh"), 1, 8, 1, 0, 0)}, "abcdefghefg"},
		{"rep3", []block{seqBlock([]byte("abcdefgh"), 1, 8, 1, 1, 0)}, "abcdefghabc"},
		// With no literals, the repeat codes shift by one.
		{"ll0 rep2", []block{raw("abcdefgh"), seqBlock(nil, 1, 0, 0, 0, 0)}, "abcdefghefg"},
		{"ll0 rep3", []block{raw("abcdefgh"), seqBlock(nil, 1, 0, 1, 0, 0)}, "abcdefghabc"},
		{"ll0 rep1-1 is 0", []block{raw("abcdefgh"), seqBlock(nil, 1, 0, 1, 1, 0)}, "error: repeat offset 0"},
		// Offset 5 (8+0-3) makes the repeats 5, 1, 4; then rep1-1 is 4;
		// then the repeats are 4, 5, 1 and rep2 is 5.
		{"rep history", []block{
			raw("abcdefgh"),
			seqBlock(nil, 1, 0, 3, 0, 0), // offset 5: "def"
			seqBlock(nil, 1, 0, 1, 1, 0), // rep1-1 = 4: "hde"
			seqBlock(nil, 1, 0, 0, 0, 0), // ll 0, code 1 = rep2 = 5: "efh"
		}, "abcdefgh" + "def" + "hde" + "efh"},
		// Two sequences: the second uses rep1 of the first.
		{"two sequences", []block{raw("abcdefgh"), seqBlock([]byte("xy"), 2, 1, 3, 1, 0)}, "abcdefgh" + "x" + "def" + "y" + "hxd"},
		{"too few literals", []block{raw("abcdefgh"), seqBlock([]byte("x"), 2, 1, 3, 1, 0)}, "error: 1 literals, 0 left"},
	} {
		t.Run(c.name, func(t *testing.T) { checkBlocks(t, c.blocks, c.want) })
	}
}

// huffCodes are the codes of the table the weights {2, 1} (and 1 for
// symbol 2) make: symbol 0 is "1", 1 is "00", 2 is "01".
var huffCodes = [3][2]uint{{1, 1}, {0, 2}, {1, 2}}

func huffStream(syms []byte) []byte {
	var f [][2]uint
	for _, s := range syms {
		f = append(f, huffCodes[s])
	}
	return backward(f...)
}

// huffBlock is a compressed block of Huffman-coded literals and no
// sequences; tree says whether it carries the tree (direct weights).
func huffBlock(syms []byte, tree, four bool) block {
	var data []byte
	if tree {
		data = append(data, 127+2, 0x21)
	}
	if four {
		seg := (len(syms) + 3) / 4
		var streams [][]byte
		for k := range 4 {
			streams = append(streams, huffStream(syms[min(k*seg, len(syms)):min((k+1)*seg, len(syms))]))
		}
		for _, s := range streams[:3] {
			data = binary.LittleEndian.AppendUint16(data, uint16(len(s)))
		}
		for _, s := range streams {
			data = append(data, s...)
		}
	} else {
		data = append(data, huffStream(syms)...)
	}
	typ, format := uint32(2), uint32(0)
	if !tree {
		typ = 3
	}
	if four {
		format = 1
	}
	v := typ | format<<2 | uint32(len(syms))<<4 | uint32(len(data))<<14
	c := []byte{byte(v), byte(v >> 8), byte(v >> 16)}
	c = append(c, data...)
	c = append(c, 0) // no sequences
	return block{typ: 2, content: c}
}

func TestLiterals(t *testing.T) {
	syms := []byte{0, 1, 2, 2, 0, 0, 1, 0, 2, 1, 1, 0, 0, 2, 0, 1, 2, 0}
	rawLits := block{typ: 2, content: append(append([]byte{5 << 3}, "hello"...), 0)}
	rleLits := block{typ: 2, content: []byte{4<<3 | 1, 'z', 0}}
	// 12-bit and 20-bit raw literal sizes.
	long := strings.Repeat("0123456789", 10)
	raw12 := block{typ: 2, content: append(append([]byte{byte(len(long))<<4 | 1<<2, byte(len(long) >> 4)}, long...), 0)}
	raw20 := block{typ: 2, content: append(append([]byte{byte(len(long))<<4 | 3<<2, byte(len(long) >> 4), 0}, long...), 0)}
	for _, c := range []struct {
		name   string
		blocks []block
		want   string
	}{
		{"raw", []block{rawLits}, "hello"},
		{"rle", []block{rleLits}, "zzzz"},
		{"raw 12-bit size", []block{raw12}, long},
		{"raw 20-bit size", []block{raw20}, long},
		{"huffman 1 stream", []block{huffBlock(syms, true, false)}, string(syms)},
		{"huffman 4 streams", []block{huffBlock(syms, true, true)}, string(syms)},
		// 17 literals: streams of 5, 5, 5 and 2.
		{"huffman 4 streams, uneven", []block{huffBlock(syms[:17], true, true)}, string(syms[:17])},
		{"treeless", []block{huffBlock(syms[:5], true, false), huffBlock(syms, false, true), huffBlock(syms[3:], false, false)},
			string(syms[:5]) + string(syms) + string(syms[3:])},
		{"treeless first", []block{huffBlock(syms, false, false)}, "error: treeless literals with no earlier Huffman table"},
		{"stream too long", []block{func() block {
			b := huffBlock(append(syms, 0), true, false)
			b.content[1]-- // one symbol fewer: the stream does not end
			return b
		}()}, "error: does not end"},
	} {
		t.Run(c.name, func(t *testing.T) { checkBlocks(t, c.blocks, c.want) })
	}
}

// TestFrameBoundary checks that a match cannot reach into an earlier
// frame's output.
func TestFrameBoundary(t *testing.T) {
	first := makeFrame(-1, nil, raw("abcdefgh"))
	// Offset 5 is fine within a frame of its own eight bytes...
	check(t, "within", append(bytes.Clone(first), makeFrame(-1, nil, raw("ABCDEFGH"), seqBlock(nil, 1, 0, 3, 0, 0))...),
		[]byte("abcdefghABCDEFGHDEF"))
	// ...but not where the frame has made only two.
	_, err := decode(append(bytes.Clone(first), makeFrame(-1, nil, raw("AB"), seqBlock(nil, 1, 0, 3, 0, 0))...))
	if err == nil || !strings.Contains(err.Error(), "offset 5 reaches before the frame's 2 bytes") {
		t.Fatalf("offset into the first frame: %v", err)
	}
}

// checkBlocks decodes a frame of blocks: want is its output, or
// "error: " and a part of the error's text.
func checkBlocks(t *testing.T, blocks []block, want string) {
	t.Helper()
	got, err := decode(makeFrame(-1, nil, blocks...))
	if text, ok := strings.CutPrefix(want, "error: "); ok {
		if err == nil || !strings.Contains(err.Error(), text) {
			t.Fatalf("got %q, %v; want an error with %q", got, err, text)
		}
		return
	}
	if err != nil || string(got) != want {
		t.Fatalf("got %q, %v; want %q", got, err, want)
	}
}
