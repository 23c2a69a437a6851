package zstd

import (
	"errors"
	"fmt"
	"math/bits"
)

// maxHuffBits is the longest Huffman code a frame may use.
const maxHuffBits = 11

// huffTable decodes literals: indexed by the next maxBits bits of a
// stream, an entry holds the symbol in its high byte and the length of
// its code in its low byte.
type huffTable struct {
	t       [1 << maxHuffBits]uint16
	maxBits uint8
	ok      bool // set up, so a later block's treeless literals may use it
}

// read sets h up from the Huffman tree description at the start of src
// and returns the bytes it took.
func (h *huffTable) read(src []byte) (int, error) {
	if len(src) == 0 {
		return 0, errors.New("no Huffman tree description")
	}
	var weights [256]uint8
	var nw, n int
	header := int(src[0])
	if header >= 128 {
		// Direct: four bits a weight, the first in the high half.
		nw = header - 127
		n = 1 + (nw+1)/2
		if n > len(src) {
			return 0, errors.New("truncated Huffman weights")
		}
		for i := range nw {
			b := src[1+i/2]
			if i&1 == 0 {
				b >>= 4
			}
			weights[i] = b & 15
		}
	} else {
		n = 1 + header
		if n > len(src) {
			return 0, errors.New("truncated Huffman weights")
		}
		var err error
		nw, err = readFSEWeights(src[1:n], &weights)
		if err != nil {
			return 0, fmt.Errorf("weights of the Huffman tree: %w", err)
		}
	}
	if err := h.build(weights[:nw]); err != nil {
		return 0, err
	}
	return n, nil
}

// readFSEWeights decodes FSE-compressed Huffman weights: a table
// description, then a backward stream read with two interleaved states.
func readFSEWeights(src []byte, weights *[256]uint8) (int, error) {
	var norm [maxWeightSym + 1]int16
	log, nsym, n, err := readDistribution(src, maxWeightSym, maxWeightLog, norm[:])
	if err != nil {
		return 0, err
	}
	var table [1 << maxWeightLog]fseState
	if err := buildFSE(norm[:nsym], log, table[:]); err != nil {
		return 0, err
	}
	var br bitReader
	if err := br.init(src[n:]); err != nil {
		return 0, err
	}
	mask := uint64(len(table) - 1)
	s1 := br.read(uint8(log))
	s2 := br.read(uint8(log))
	if br.overflowed() {
		return 0, errors.New("weight stream too short")
	}
	nw := 0
	// Every way out emits one symbol more, and there are at most 255.
	const most = len(weights) - 2
	for {
		if nw >= most {
			return 0, errors.New("more than 255 Huffman weights")
		}
		e := table[s1&mask]
		weights[nw] = e.sym
		nw++
		s1 = uint64(e.next) + br.read(e.nb)
		if br.overflowed() {
			weights[nw] = table[s2&mask].sym
			return nw + 1, nil
		}
		if nw >= most {
			return 0, errors.New("more than 255 Huffman weights")
		}
		e = table[s2&mask]
		weights[nw] = e.sym
		nw++
		s2 = uint64(e.next) + br.read(e.nb)
		if br.overflowed() {
			weights[nw] = table[s1&mask].sym
			return nw + 1, nil
		}
	}
}

// build fills the table from the weights of all symbols but the last,
// whose weight is what makes the code complete.
func (h *huffTable) build(w []uint8) error {
	var total uint32
	for _, x := range w {
		if x > maxHuffBits {
			return fmt.Errorf("weight %d in the Huffman tree, above %d", x, maxHuffBits)
		}
		if x > 0 {
			total += 1 << (x - 1)
		}
	}
	if total == 0 {
		return errors.New("all Huffman weights zero")
	}
	maxBits := bits.Len32(total)
	if maxBits > maxHuffBits {
		return fmt.Errorf("codes of the Huffman tree longer than %d bits", maxHuffBits)
	}
	rest := uint32(1)<<maxBits - total
	if rest&(rest-1) != 0 {
		return errors.New("the Huffman weights do not make a complete code")
	}
	var all [256]uint8
	copy(all[:], w)
	nsym := len(w) + 1
	all[len(w)] = uint8(bits.Len32(rest))
	// Codes go to symbols by increasing weight, then by symbol, from
	// the start of the table.
	var start [maxHuffBits + 2]uint32
	for _, x := range all[:nsym] {
		if x > 0 {
			start[x+1] += 1 << (x - 1)
		}
	}
	for x := 1; x < len(start); x++ {
		start[x] += start[x-1]
	}
	for s, x := range all[:nsym] {
		if x == 0 {
			continue
		}
		e := uint16(s)<<8 | uint16(maxBits+1-int(x))
		p := start[x]
		n := uint32(1) << (x - 1)
		for i := p; i < p+n; i++ {
			h.t[i] = e
		}
		start[x] = p + n
	}
	h.maxBits = uint8(maxBits)
	h.ok = true
	return nil
}

// decode decodes len(dst) literals from the stream br reads.
func (h *huffTable) decode(br *bitReader, dst []byte) {
	shift := 64 - h.maxBits
	i := 0
	for ; i+4 <= len(dst); i += 4 {
		br.refill()
		e := h.t[(br.val<<br.used>>shift)&(1<<maxHuffBits-1)]
		br.used += uint(e & 255)
		dst[i] = uint8(e >> 8)
		e = h.t[(br.val<<br.used>>shift)&(1<<maxHuffBits-1)]
		br.used += uint(e & 255)
		dst[i+1] = uint8(e >> 8)
		e = h.t[(br.val<<br.used>>shift)&(1<<maxHuffBits-1)]
		br.used += uint(e & 255)
		dst[i+2] = uint8(e >> 8)
		e = h.t[(br.val<<br.used>>shift)&(1<<maxHuffBits-1)]
		br.used += uint(e & 255)
		dst[i+3] = uint8(e >> 8)
	}
	br.refill()
	for ; i < len(dst); i++ {
		e := h.t[(br.val<<br.used>>shift)&(1<<maxHuffBits-1)]
		br.used += uint(e & 255)
		dst[i] = uint8(e >> 8)
	}
}

// decodeStreams decodes the literals of a Huffman-compressed literals
// section, one stream or four, from src into dst.
func (h *huffTable) decodeStreams(src, dst []byte, four bool) error {
	if !four {
		var br bitReader
		if err := br.init(src); err != nil {
			return err
		}
		h.decode(&br, dst)
		if !br.finished() {
			return errors.New("the Huffman stream does not end with its literals")
		}
		return nil
	}
	if len(src) < 10 {
		return errors.New("four Huffman streams in fewer than 10 bytes")
	}
	s1 := int(src[0]) | int(src[1])<<8
	s2 := int(src[2]) | int(src[3])<<8
	s3 := int(src[4]) | int(src[5])<<8
	rest := len(src) - 6
	if s1+s2+s3 > rest {
		return errors.New("the Huffman jump table runs past the literals")
	}
	seg := (len(dst) + 3) / 4
	if 3*seg > len(dst) {
		return errors.New("too few literals for four streams")
	}
	var brs [4]bitReader
	at := 6
	for k, sz := range [4]int{s1, s2, s3, rest - s1 - s2 - s3} {
		if err := brs[k].init(src[at : at+sz]); err != nil {
			return fmt.Errorf("the Huffman stream %d: %w", k+1, err)
		}
		at += sz
	}
	d1, d2, d3, d4 := dst[:seg], dst[seg:2*seg], dst[2*seg:3*seg], dst[3*seg:]
	// Decode the four streams side by side while the shortest has
	// room, then each on its own.
	shift := 64 - h.maxBits
	b1, b2, b3, b4 := &brs[0], &brs[1], &brs[2], &brs[3]
	i := 0
	for ; i+4 <= len(d4); i += 4 {
		b1.refill()
		b2.refill()
		b3.refill()
		b4.refill()
		for j := i; j < i+4; j++ {
			e1 := h.t[(b1.val<<b1.used>>shift)&(1<<maxHuffBits-1)]
			e2 := h.t[(b2.val<<b2.used>>shift)&(1<<maxHuffBits-1)]
			e3 := h.t[(b3.val<<b3.used>>shift)&(1<<maxHuffBits-1)]
			e4 := h.t[(b4.val<<b4.used>>shift)&(1<<maxHuffBits-1)]
			b1.used += uint(e1 & 255)
			b2.used += uint(e2 & 255)
			b3.used += uint(e3 & 255)
			b4.used += uint(e4 & 255)
			d1[j] = uint8(e1 >> 8)
			d2[j] = uint8(e2 >> 8)
			d3[j] = uint8(e3 >> 8)
			d4[j] = uint8(e4 >> 8)
		}
	}
	for k, d := range [4][]byte{d1, d2, d3, d4} {
		h.decode(&brs[k], d[i:])
		if !brs[k].finished() {
			return fmt.Errorf("the Huffman stream %d does not end with its literals", k+1)
		}
	}
	return nil
}
