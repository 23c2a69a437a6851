package lzma2

import (
	"encoding/binary"
	"errors"
)

// The LZMA model: a state machine over the last few packets (literal,
// match, repeated match, short repeat), the four most recent distances,
// and the probabilities every decision is coded with. Sizes and the
// meaning of each probability follow the LZMA SDK's LzmaDec.c and the xz
// file format (tukaani.org/xz/xz-file-format.txt).

const (
	numStates      = 12
	litStates      = 7 // states below this one follow a literal
	maxPosBits     = 4
	lenLowBits     = 3
	lenMidBits     = 3
	lenHighBits    = 8
	minMatchLen    = 2
	distStates     = 4
	distSlotBits   = 6
	distModelStart = 4
	distModelEnd   = 14
	fullDistances  = 1 << (distModelEnd >> 1)
	alignBits      = 4
	literalCoders  = 0x300 // probabilities per literal context
)

var (
	errDistance = errors.New("match distance beyond the dictionary")
	errMatchLen = errors.New("match runs past the chunk's end")
)

// lengthDecoder decodes a match length: 3 bits for 2-9, 3 more for 10-17,
// 8 for 18-273, the short ones per position state.
type lengthDecoder struct {
	choice, choice2 prob
	low, mid        [1 << maxPosBits][1 << lenLowBits]prob
	high            [1 << lenHighBits]prob
}

func (l *lengthDecoder) reset() {
	l.choice, l.choice2 = probInit, probInit
	for i := range l.low {
		fill(l.low[i][:])
		fill(l.mid[i][:])
	}
	fill(l.high[:])
}

// decode returns the length minus minMatchLen.
func (l *lengthDecoder) decode(rc *rangeDecoder, posState uint32) uint32 {
	if rc.bit(&l.choice) == 0 {
		return rc.tree(l.low[posState][:], lenLowBits)
	}
	if rc.bit(&l.choice2) == 0 {
		return 1<<lenLowBits + rc.tree(l.mid[posState][:], lenMidBits)
	}
	return 1<<lenLowBits + 1<<lenMidBits + rc.tree(l.high[:], lenHighBits)
}

// decoder is the LZMA state that LZMA2 chunks carry on or reset.
type decoder struct {
	lc, lp, pb uint32 // literal context bits, literal position bits, position bits
	state      uint32
	reps       [4]uint32 // the last four distances, minus one

	literal     []prob // literalCoders << (lc+lp)
	isMatch     [numStates][1 << maxPosBits]prob
	isRep       [numStates]prob
	isRepG0     [numStates]prob
	isRepG1     [numStates]prob
	isRepG2     [numStates]prob
	isRep0Long  [numStates][1 << maxPosBits]prob
	distSlot    [distStates][1 << distSlotBits]prob
	distSpecial [1 + fullDistances - distModelEnd]prob // index 0 unused
	align       [1 << alignBits]prob
	matchLen    lengthDecoder
	repLen      lengthDecoder
}

// setProperties takes a properties byte, (pb*5 + lp)*9 + lc, with the
// LZMA2 limit lc + lp <= 4.
func (d *decoder) setProperties(b byte) bool {
	if b >= 9*5*5 {
		return false
	}
	lc, lp, pb := uint32(b%9), uint32(b/9%5), uint32(b/45)
	if lc+lp > 4 {
		return false
	}
	d.lc, d.lp, d.pb = lc, lp, pb
	if n := literalCoders << (lc + lp); cap(d.literal) >= n {
		d.literal = d.literal[:n]
	} else {
		d.literal = make([]prob, n)
	}
	return true
}

// resetState starts the model afresh: every probability one half.
func (d *decoder) resetState() {
	d.state, d.reps = 0, [4]uint32{}
	fill(d.literal)
	for i := range numStates {
		fill(d.isMatch[i][:])
		fill(d.isRep0Long[i][:])
	}
	fill(d.isRep[:])
	fill(d.isRepG0[:])
	fill(d.isRepG1[:])
	fill(d.isRepG2[:])
	for i := range d.distSlot {
		fill(d.distSlot[i][:])
	}
	fill(d.distSpecial[:])
	fill(d.align[:])
	d.matchLen.reset()
	d.repLen.reset()
}

func fill(p []prob) {
	for i := range p {
		p[i] = probInit
	}
}

// decodeChunk decodes one LZMA chunk into out[pos:end]. The dictionary is
// out itself, from dictStart (the last dictionary reset) up to pos, and
// at most dictSize bytes of it.
func (d *decoder) decodeChunk(rc *rangeDecoder, out []byte, pos, end, dictStart int, dictSize uint64) error {
	pbMask := uint32(1)<<d.pb - 1
	lpMask := uint32(1)<<d.lp - 1
	lc := d.lc
	state, reps := d.state, d.reps
	defer func() { d.state, d.reps = state, reps }()

	for pos < end {
		rel := uint32(pos - dictStart) // positions count from the dictionary reset
		posState := rel & pbMask
		if rc.bit(&d.isMatch[state][posState]) == 0 {
			var prev uint32
			if pos > dictStart {
				prev = uint32(out[pos-1])
			}
			probs := d.literal[literalCoders*((rel&lpMask)<<lc+prev>>(8-lc)):][:literalCoders]
			if state < litStates {
				out[pos] = byte(rc.tree(probs, 8))
			} else {
				if uint64(reps[0]) >= uint64(pos-dictStart) {
					return errDistance
				}
				out[pos] = rc.matchedLiteral(probs, out[pos-int(reps[0])-1])
			}
			pos++
			state = nextAfterLiteral[state]
			continue
		}

		var length uint32
		if rc.bit(&d.isRep[state]) == 0 {
			// A match with a new distance.
			length = d.matchLen.decode(rc, posState)
			reps[3], reps[2], reps[1] = reps[2], reps[1], reps[0]
			reps[0] = d.decodeDistance(rc, length)
			state = nextAfterMatch[state]
		} else {
			if rc.bit(&d.isRepG0[state]) == 0 {
				if rc.bit(&d.isRep0Long[state][posState]) == 0 {
					// A short repeat: one byte at the last distance.
					if uint64(reps[0]) >= uint64(pos-dictStart) {
						return errDistance
					}
					out[pos] = out[pos-int(reps[0])-1]
					pos++
					state = nextAfterShortRep[state]
					continue
				}
			} else {
				var dist uint32
				if rc.bit(&d.isRepG1[state]) == 0 {
					dist = reps[1]
				} else {
					if rc.bit(&d.isRepG2[state]) == 0 {
						dist = reps[2]
					} else {
						dist = reps[3]
						reps[3] = reps[2]
					}
					reps[2] = reps[1]
				}
				reps[1] = reps[0]
				reps[0] = dist
			}
			length = d.repLen.decode(rc, posState)
			state = nextAfterRep[state]
		}

		dist := uint64(reps[0])
		if dist >= uint64(pos-dictStart) || dist >= dictSize {
			return errDistance
		}
		n := int(length) + minMatchLen
		if n > end-pos {
			return errMatchLen
		}
		copyMatch(out, pos, int(dist)+1, n)
		pos += n
	}
	return nil
}

// decodeDistance decodes a match's distance minus one; length (minus
// minMatchLen) picks the slot probabilities.
func (d *decoder) decodeDistance(rc *rangeDecoder, length uint32) uint32 {
	slot := rc.tree(d.distSlot[min(length, distStates-1)][:], distSlotBits)
	if slot < distModelStart {
		return slot
	}
	n := slot>>1 - 1 // the bits below the slot's top two
	dist := (2 | slot&1) << n
	if slot < distModelEnd {
		return dist + rc.reverseTree(d.distSpecial[dist-slot:], n)
	}
	dist += rc.direct(n-alignBits) << alignBits
	return dist + rc.reverseTree(d.align[:], alignBits)
}

// copyMatch copies n bytes from dist bytes back to out[pos:]. A match may
// overlap the bytes it produces (dist < n), repeating them. Most matches
// are short, so where 8 bytes past the match still lie in out they are
// copied 8 at a time, without a call to memmove; what lands past the
// match is overwritten by the bytes decoded there later.
func copyMatch(out []byte, pos, dist, n int) {
	src := pos - dist
	if dist >= 8 && n <= len(out)-pos-8 {
		for i := 0; i < n; i += 8 {
			binary.LittleEndian.PutUint64(out[pos+i:], binary.LittleEndian.Uint64(out[src+i:]))
		}
		return
	}
	if dist >= n {
		copy(out[pos:pos+n], out[src:src+n])
		return
	}
	for n > 0 {
		c := copy(out[pos:pos+n], out[src:pos])
		pos += c
		n -= c
	}
}

// The state transitions after each kind of packet.
var (
	nextAfterLiteral  = [numStates]uint32{0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 4, 5}
	nextAfterMatch    = [numStates]uint32{7, 7, 7, 7, 7, 7, 7, 10, 10, 10, 10, 10}
	nextAfterRep      = [numStates]uint32{8, 8, 8, 8, 8, 8, 8, 11, 11, 11, 11, 11}
	nextAfterShortRep = [numStates]uint32{9, 9, 9, 9, 9, 9, 9, 11, 11, 11, 11, 11}
)
