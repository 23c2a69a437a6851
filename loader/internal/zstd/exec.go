package zstd

// work is a parsed block: what writing it takes, checked against the
// output it will follow, so that writing cannot fail.
type work struct {
	size   int    // the bytes it makes
	rle    bool   // size copies of lits[0]; else seqs, then the rest of lits
	lits   []byte // the literals, in the input or in litBuf
	seqs   []seq
	litBuf []byte
	seqBuf []seq
}

// maxSeqs bounds the sequences of a block that the decoder can have
// decoded before it finds that they make too much: each makes at least
// 3 bytes, and it checks them a batch at a time.
const maxSeqs = maxBlockSize/3 + seqBatch

// literals returns a buffer for n literals.
func (w *work) literals(n int) []byte {
	if cap(w.litBuf) < n {
		w.litBuf = make([]byte, maxBlockSize)
	}
	return w.litBuf[:n]
}

// sequences returns a buffer for the first min(n, maxSeqs) sequences of
// a block.
func (w *work) sequences(n int) []seq {
	n = min(n, maxSeqs)
	if len(w.seqBuf) < n {
		w.seqBuf = make([]seq, min(max(n, 2*len(w.seqBuf)), maxSeqs))
	}
	return w.seqBuf
}

// exec writes w at the end of d.out.
func (d *decoder) exec(w *work) {
	d.reserve(w.size)
	n := len(d.out)
	if w.rle {
		d.out = d.out[:n+w.size]
		fill(d.out[n:], w.lits[0])
		return
	}
	buf := d.out[:cap(d.out)]
	d.out = buf[:run(buf, n, w.seqs, w.lits)]
}

// run carries out seqs with the literals lits into buf from pos on and
// returns where the output ends. The decoder checked that every length
// and offset fits.
func run(buf []byte, pos int, seqs []seq, lits []byte) int {
	litBuf := lits[:cap(lits)]
	lit := 0
	for _, s := range seqs {
		ll, ml, off := int(s.ll), int(s.ml), int(s.off)
		// Copy sixteen or eight bytes at a time where the buffers
		// have room for the overshoot, which later output overwrites.
		if pos+ll+16 <= len(buf) && lit+ll+16 <= len(litBuf) {
			for k := 0; k < ll; k += 16 {
				*(*[16]byte)(buf[pos+k:]) = *(*[16]byte)(litBuf[lit+k:])
			}
		} else {
			copy(buf[pos:pos+ll], lits[lit:lit+ll])
		}
		pos += ll
		lit += ll
		from := pos - off
		switch {
		case off >= 16 && pos+ml+16 <= len(buf):
			// Each sixteen bytes read were written before, even where
			// the match overlaps its copy.
			for k := 0; k < ml; k += 16 {
				*(*[16]byte)(buf[pos+k:]) = *(*[16]byte)(buf[from+k:])
			}
		case off >= 8 && pos+ml+8 <= len(buf):
			for k := 0; k < ml; k += 8 {
				*(*[8]byte)(buf[pos+k:]) = *(*[8]byte)(buf[from+k:])
			}
		case off >= ml:
			copy(buf[pos:pos+ml], buf[from:from+ml])
		default:
			// The match overlaps its copy: copy what is there, which
			// doubles each time.
			for p, stop := pos, pos+ml; p < stop; {
				p += copy(buf[p:stop], buf[from:p])
			}
		}
		pos += ml
	}
	return pos + copy(buf[pos:], lits[lit:])
}
