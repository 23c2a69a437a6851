package zstd

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// block parses a compressed block, src, which starts at offset at of
// the input, into w.
func (d *decoder) block(src []byte, at int, w *work) error {
	lits, n, err := d.literals(src, w)
	if err != nil {
		return fmt.Errorf("literals: %w", err)
	}
	src = src[n:]
	at += n
	if len(src) == 0 {
		return fmt.Errorf("sequences section at offset %d missing", at)
	}
	nseq := int(src[0])
	n = 1
	switch {
	case nseq == 255:
		if len(src) < 3 {
			return fmt.Errorf("sequences header at offset %d truncated", at)
		}
		nseq = int(src[1]) + int(src[2])<<8 + 0x7f00
		n = 3
	case nseq >= 128:
		if len(src) < 2 {
			return fmt.Errorf("sequences header at offset %d truncated", at)
		}
		nseq = (nseq-128)<<8 + int(src[1])
		n = 2
	}
	room := int(min(uint64(d.blockMax), d.limit-uint64(d.size)))
	w.rle, w.lits, w.seqs = false, lits, nil
	if nseq == 0 {
		if n != len(src) {
			return fmt.Errorf("%d bytes after an empty sequences section at offset %d", len(src)-n, at)
		}
		if len(lits) > room {
			return d.tooLarge(len(lits), at)
		}
		w.size = len(lits)
		return nil
	}
	if len(src) < n+1 {
		return fmt.Errorf("sequences header at offset %d truncated", at)
	}
	modes := src[n]
	if modes&3 != 0 {
		return fmt.Errorf("reserved bits of the compression modes at offset %d set", at+n)
	}
	n++
	for i, t := range [3]*seqTable{&d.ll, &d.of, &d.m} {
		k, err := t.read(i, modes>>(6-2*i)&3, src[n:])
		if err != nil {
			return fmt.Errorf("sequences at offset %d: %w", at+n, err)
		}
		n += k
	}
	if err := d.sequences(src[n:], nseq, w, room); err != nil {
		if errors.Is(err, ErrTooLarge) {
			return d.tooLarge(room+1, at)
		}
		return fmt.Errorf("sequences bitstream at offset %d: %w", at+n, err)
	}
	return nil
}

// tooLarge is the error for a block that makes n bytes where the limit
// or the block size leaves fewer.
func (d *decoder) tooLarge(n, at int) error {
	if uint64(n) > d.limit-uint64(d.size) {
		return fmt.Errorf("%w: block at offset %d", ErrTooLarge, at)
	}
	return fmt.Errorf("block at offset %d makes more than %d bytes", at, d.blockMax)
}

// literals decodes the literals section at the start of src, into w's
// buffer unless they are raw, and returns the literals and the section's
// length.
func (d *decoder) literals(src []byte, w *work) ([]byte, int, error) {
	if len(src) == 0 {
		return nil, 0, errors.New("section missing")
	}
	typ := src[0] & 3
	format := src[0] >> 2 & 3
	if typ < 2 { // raw or RLE
		var size, n int
		switch format {
		case 0, 2:
			size, n = int(src[0]>>3), 1
		case 1:
			if len(src) < 2 {
				return nil, 0, errors.New("header truncated")
			}
			size, n = int(src[0]>>4)|int(src[1])<<4, 2
		case 3:
			if len(src) < 3 {
				return nil, 0, errors.New("header truncated")
			}
			size, n = int(src[0]>>4)|int(src[1])<<4|int(src[2])<<12, 3
		}
		if size > d.blockMax {
			return nil, 0, fmt.Errorf("%d literals, more than %d", size, d.blockMax)
		}
		if typ == 0 {
			if size > len(src)-n {
				return nil, 0, fmt.Errorf("%d raw literals run past the block", size)
			}
			return src[n : n+size], n + size, nil
		}
		if len(src) < n+1 {
			return nil, 0, errors.New("RLE literal missing")
		}
		lits := w.literals(size)
		fill(lits, src[n])
		return lits, n + 1, nil
	}
	// Huffman-compressed, with a tree or with the last block's.
	var n, bitsEach int
	four := format != 0
	switch format {
	case 0, 1:
		n, bitsEach = 3, 10
	case 2:
		n, bitsEach = 4, 14
	case 3:
		n, bitsEach = 5, 18
	}
	if len(src) < n {
		return nil, 0, errors.New("header truncated")
	}
	var v uint64
	for i := n - 1; i >= 0; i-- {
		v = v<<8 | uint64(src[i])
	}
	mask := uint64(1)<<bitsEach - 1
	size := int(v >> 4 & mask)
	csize := int(v >> (4 + bitsEach) & mask)
	if size > d.blockMax {
		return nil, 0, fmt.Errorf("%d literals, more than %d", size, d.blockMax)
	}
	if csize > len(src)-n {
		return nil, 0, fmt.Errorf("%d bytes of compressed literals run past the block", csize)
	}
	data := src[n : n+csize]
	if typ == 2 {
		k, err := d.huff.read(data)
		if err != nil {
			return nil, 0, err
		}
		data = data[k:]
	} else if !d.huff.ok {
		return nil, 0, errors.New("treeless literals with no earlier Huffman table")
	}
	lits := w.literals(size)
	if err := d.huff.decodeStreams(data, lits, four); err != nil {
		return nil, 0, err
	}
	return lits, n + csize, nil
}

// lowMask[n] has the low n bits set.
var lowMask = [32]uint64{
	0, 1<<1 - 1, 1<<2 - 1, 1<<3 - 1, 1<<4 - 1, 1<<5 - 1, 1<<6 - 1, 1<<7 - 1,
	1<<8 - 1, 1<<9 - 1, 1<<10 - 1, 1<<11 - 1, 1<<12 - 1, 1<<13 - 1, 1<<14 - 1, 1<<15 - 1,
	1<<16 - 1, 1<<17 - 1, 1<<18 - 1, 1<<19 - 1, 1<<20 - 1, 1<<21 - 1, 1<<22 - 1, 1<<23 - 1,
	1<<24 - 1, 1<<25 - 1, 1<<26 - 1, 1<<27 - 1, 1<<28 - 1, 1<<29 - 1, 1<<30 - 1, 1<<31 - 1,
}

// seq is a decoded sequence.
type seq struct {
	ll, ml, off uint32
}

// seqBatch is how many sequences are decoded before they are checked:
// two short loops, each of whose variables fit in registers, run faster
// than one long one.
const seqBatch = 128

// seqState is the state of the sequences bitstream between batches.
type seqState struct {
	in               []byte
	pos              int
	val              uint64
	used             uint
	lls, ofs, mls    uint64
	rep1, rep2, rep3 int
}

// sequences decodes nseq sequences from the bitstream src into w and
// checks them against w's literals and the output, of which they may make
// at most room bytes.
func (d *decoder) sequences(src []byte, nseq int, w *work, room int) error {
	var br bitReader
	if err := br.init(src); err != nil {
		return err
	}
	s := seqState{
		lls:  br.read(d.ll.log),
		ofs:  br.read(d.of.log),
		mls:  br.read(d.m.log),
		rep1: d.rep[0], rep2: d.rep[1], rep3: d.rep[2],
	}
	s.in, s.pos, s.val, s.used = br.in, br.pos, br.val, br.used
	c := checker{lits: len(w.lits), room: room, before: d.size - d.frameBase}
	// Sequences past maxSeqs would make more than a block, which the
	// batch before them shows.
	seqs := w.sequences(nseq)
	for done := 0; done < nseq; {
		k := min(nseq-done, seqBatch)
		batch := seqs[done : done+k]
		if err := d.decodeSeqs(&s, batch, done+k == nseq); err != nil {
			return fmt.Errorf("sequence %d: %w", done, err)
		}
		if err := c.check(batch); err != nil {
			return fmt.Errorf("sequences %d to %d: %w", done, done+k-1, err)
		}
		done += k
	}
	br.pos, br.val, br.used = s.pos, s.val, s.used
	if !br.finished() {
		return errors.New("bitstream does not end with the sequences")
	}
	rest := len(w.lits) - c.lit
	if rest > room-c.made {
		return ErrTooLarge
	}
	w.seqs = seqs[:nseq]
	w.size = c.made + rest
	d.rep = [3]int{s.rep1, s.rep2, s.rep3}
	return nil
}

// decodeSeqs fills seqs from the bitstream; last says the batch ends
// the block, whose last sequence updates no states.
//
// The bit reader lives in local variables here, where the compiler
// keeps it in registers; refill and read are written out, with shift
// counts masked so that they compile to single instructions.
func (d *decoder) decodeSeqs(s *seqState, seqs []seq, last bool) error {
	in, bpos, val, used := s.in, s.pos, s.val, s.used
	lls, ofs, mls := s.lls, s.ofs, s.mls
	rep1, rep2, rep3 := s.rep1, s.rep2, s.rep3
	llt, oft, mlt := &d.ll.t, &d.of.t, &d.m.t
	for i := range seqs {
		if bpos >= 8 {
			bpos -= int(used >> 3)
			used &= 7
		} else {
			n := min(int(used>>3), bpos)
			bpos -= n
			used -= uint(n) * 8
		}
		val = binary.LittleEndian.Uint64(in[bpos:])

		le := llt[lls&(maxTableSize-1)]
		oe := oft[ofs&(maxTableSize-1)]
		me := mlt[mls&(maxTableSize-1)]
		ofv := int(oe.base()) + int(val>>((64-used-uint(oe.extra()))&63)&lowMask[oe.extra()&31])
		used += uint(oe.extra())
		if oe.extra() > 24 {
			if bpos >= 8 {
				bpos -= int(used >> 3)
				used &= 7
			} else {
				n := min(int(used>>3), bpos)
				bpos -= n
				used -= uint(n) * 8
			}
			val = binary.LittleEndian.Uint64(in[bpos:])
		}
		ml := me.base() + uint32(val>>((64-used-uint(me.extra()))&63)&lowMask[me.extra()&31])
		used += uint(me.extra())
		ll := le.base() + uint32(val>>((64-used-uint(le.extra()))&63)&lowMask[le.extra()&31])
		used += uint(le.extra())
		// The repeat offsets, written so that the compiler can use
		// conditional moves: which one is used is hard to predict.
		idx := ofv - 1
		if ll == 0 {
			idx++
		}
		reps := [4]int{rep1, rep2, rep3, rep1 - 1}
		off := reps[idx&3]
		if ofv > 3 {
			off = ofv - 3
		}
		if off == 0 {
			return errors.New("repeat offset 0")
		}
		if ofv > 3 || idx >= 2 {
			rep3 = rep2
		}
		if ofv > 3 || idx != 0 {
			rep2 = rep1
			rep1 = off
		}
		seqs[i] = seq{ll: ll, ml: ml, off: uint32(off)}
		if !last || i+1 < len(seqs) {
			if bpos >= 8 {
				bpos -= int(used >> 3)
				used &= 7
			} else {
				n := min(int(used>>3), bpos)
				bpos -= n
				used -= uint(n) * 8
			}
			val = binary.LittleEndian.Uint64(in[bpos:])
			lls = le.next() + val>>((64-used-uint(le.nb()))&63)&lowMask[le.nb()&31]
			used += uint(le.nb())
			mls = me.next() + val>>((64-used-uint(me.nb()))&63)&lowMask[me.nb()&31]
			used += uint(me.nb())
			ofs = oe.next() + val>>((64-used-uint(oe.nb()))&63)&lowMask[oe.nb()&31]
			used += uint(oe.nb())
		}
	}
	s.pos, s.val, s.used = bpos, val, used
	s.lls, s.ofs, s.mls = lls, ofs, mls
	s.rep1, s.rep2, s.rep3 = rep1, rep2, rep3
	return nil
}

// checker follows the literals and output of a block's sequences, to
// check that each has the literals it takes, room for what it makes and
// an offset within the frame.
type checker struct {
	lits   int // the block's literals
	lit    int // the literals taken
	room   int // what the block may make
	made   int // what it has made
	before int // what the frame made before the block
}

func (c *checker) check(seqs []seq) error {
	lit, made := c.lit, c.made
	for _, s := range seqs {
		ll, ml, off := int(s.ll), int(s.ml), int(s.off)
		if ll > c.lits-lit {
			return fmt.Errorf("%d literals, %d left", ll, c.lits-lit)
		}
		if ll+ml > c.room-made {
			return ErrTooLarge
		}
		lit += ll
		made += ll
		if off > c.before+made {
			return fmt.Errorf("offset %d reaches before the frame's %d bytes", off, c.before+made)
		}
		made += ml
	}
	c.lit, c.made = lit, made
	return nil
}
