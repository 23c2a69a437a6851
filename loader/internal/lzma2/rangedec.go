package lzma2

// The range decoder of LZMA (the LZMA SDK's LzmaDec.c describes the
// arithmetic): 11-bit probabilities adapted by 1/32 of the distance to the
// decided value, and a 32-bit range renormalised a byte at a time.
//
// The loops that decode many bits in a row (trees, literals) keep range,
// code and input position in local variables and step them with norm and
// decide, which the compiler inlines; a method on *rangeDecoder would load
// and store the fields for every bit, and the decoder spends most of its
// time here.

const (
	probBits     = 11
	probInit     = 1 << probBits / 2
	adaptShift   = 5
	normTopValue = 1 << 24
)

// prob is one adaptive bit probability: the chance of a 0, in 1/2048ths.
type prob uint16

// rangeDecoder reads one LZMA chunk's range-coded data. Reading past the
// chunk's end yields zeros and is caught by finished: the chunk's size
// bounds the data, so no read needs to fail on its own.
type rangeDecoder struct {
	rng, code uint32
	in        []byte
	pos       int
}

// reset starts on a chunk's data: a zero byte, then the first 32 bits of
// the code.
func (rc *rangeDecoder) reset(in []byte) bool {
	if len(in) < 5 || in[0] != 0 {
		return false
	}
	rc.rng = 0xffffffff
	rc.code = uint32(in[1])<<24 | uint32(in[2])<<16 | uint32(in[3])<<8 | uint32(in[4])
	rc.in, rc.pos = in, 5
	return true
}

// norm shifts in the next input byte once the range has fallen below
// 2^24.
func norm(rng, code uint32, in []byte, pos int) (uint32, uint32, int) {
	if rng < normTopValue {
		var b byte
		if pos < len(in) {
			b = in[pos]
		}
		return rng << 8, code<<8 | uint32(b), pos + 1
	}
	return rng, code, pos
}

// decide decodes one bit with probability p, adapting p to it.
func decide(rng, code uint32, p *prob) (bit, newRng, newCode uint32) {
	v := uint32(*p)
	bound := (rng >> probBits) * v
	if code < bound {
		*p = prob(v + (1<<probBits-v)>>adaptShift)
		return 0, bound, code
	}
	*p = prob(v - v>>adaptShift)
	return 1, rng - bound, code - bound
}

// finished reports whether the chunk ended where the encoder flushed it:
// every byte consumed, none more, and the code back at zero.
func (rc *rangeDecoder) finished() bool {
	rc.rng, rc.code, rc.pos = norm(rc.rng, rc.code, rc.in, rc.pos)
	return rc.pos == len(rc.in) && rc.code == 0
}

// bit decodes one bit with probability p.
func (rc *rangeDecoder) bit(p *prob) uint32 {
	rng, code, pos := norm(rc.rng, rc.code, rc.in, rc.pos)
	b, rng, code := decide(rng, code, p)
	rc.rng, rc.code, rc.pos = rng, code, pos
	return b
}

// direct decodes n bits of equal probability, most significant first.
func (rc *rangeDecoder) direct(n uint32) uint32 {
	rng, code, in, pos := rc.rng, rc.code, rc.in, rc.pos
	var v uint32
	for ; n > 0; n-- {
		rng, code, pos = norm(rng, code, in, pos)
		rng >>= 1
		code -= rng
		mask := 0 - (code >> 31) // all ones if code went below zero
		code += rng & mask
		v = v<<1 + mask + 1
	}
	rc.rng, rc.code, rc.pos = rng, code, pos
	return v
}

// tree decodes an n-bit symbol, most significant bit first, with the
// binary tree of probabilities probs (1<<n entries, index 0 unused).
func (rc *rangeDecoder) tree(probs []prob, n uint32) uint32 {
	rng, code, in, pos := rc.rng, rc.code, rc.in, rc.pos
	m, top := uint32(1), uint32(1)<<n
	probs = probs[:top]
	for m < top {
		var b uint32
		rng, code, pos = norm(rng, code, in, pos)
		b, rng, code = decide(rng, code, &probs[m])
		m = m<<1 | b
	}
	rc.rng, rc.code, rc.pos = rng, code, pos
	return m - top
}

// reverseTree decodes an n-bit symbol, least significant bit first.
func (rc *rangeDecoder) reverseTree(probs []prob, n uint32) uint32 {
	rng, code, in, pos := rc.rng, rc.code, rc.in, rc.pos
	m, v := uint32(1), uint32(0)
	for i := range n {
		var b uint32
		rng, code, pos = norm(rng, code, in, pos)
		b, rng, code = decide(rng, code, &probs[m])
		m = m<<1 | b
		v |= b << i
	}
	rc.rng, rc.code, rc.pos = rng, code, pos
	return v
}

// matchedLiteral decodes a literal coded against match, the byte at the
// last distance: bit by bit with match's bits as context while the two
// agree, then as a plain literal.
func (rc *rangeDecoder) matchedLiteral(probs []prob, match byte) byte {
	rng, code, in, pos := rc.rng, rc.code, rc.in, rc.pos
	probs = probs[:literalCoders]
	m := uint32(match) << 1
	offset := uint32(0x100)
	sym := uint32(1)
	for sym < 0x100 {
		var b uint32
		matchBit := m & offset
		m <<= 1
		rng, code, pos = norm(rng, code, in, pos)
		b, rng, code = decide(rng, code, &probs[offset+matchBit+sym])
		sym = sym<<1 | b
		if b != 0 {
			offset &= matchBit
		} else {
			offset &^= matchBit
		}
	}
	rc.rng, rc.code, rc.pos = rng, code, pos
	return byte(sym)
}
