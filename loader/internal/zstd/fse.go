package zstd

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
)

// fseState is one state of an FSE decoding table: the symbol it emits and
// how to find the next state, next plus nb bits read from the stream.
type fseState struct {
	sym  uint8
	nb   uint8
	next uint16
}

// Largest accuracy logs and symbols of the tables a frame may describe.
const (
	maxLLLog, maxMLLog, maxOFLog = 9, 9, 8
	maxLLSym, maxMLSym, maxOFSym = 35, 52, 31
	maxWeightLog                 = 6
	maxWeightSym                 = 12
	maxTableSize                 = 1 << maxLLLog
)

// peekForward returns at least 25 bits of src from bit pos on, in the
// low bits, reading zero past its end.
func peekForward(src []byte, pos int) uint32 {
	i := pos >> 3
	var v uint32
	if i+4 <= len(src) {
		v = binary.LittleEndian.Uint32(src[i:])
	} else {
		for k := 0; k < 4 && i+k < len(src); k++ {
			v |= uint32(src[i+k]) << (8 * k)
		}
	}
	return v >> (pos & 7)
}

// readDistribution reads an FSE table description from the start of src
// into norm (the probability of each symbol, -1 for "less than one") and
// returns the accuracy log, the number of symbols and the bytes it took.
func readDistribution(src []byte, maxSym int, maxLog uint, norm []int16) (log uint, nsym, n int, err error) {
	if len(src) == 0 {
		return 0, 0, 0, errors.New("FSE table description missing")
	}
	log = uint(src[0]&15) + 5
	if log > maxLog {
		return 0, 0, 0, fmt.Errorf("FSE accuracy log %d above %d", log, maxLog)
	}
	pos := 4
	size := 1 << log
	remaining := size + 1
	threshold := size
	nb := int(log) + 1
	for remaining > 1 {
		if pos > len(src)*8 {
			return 0, 0, 0, errors.New("FSE table description truncated")
		}
		if nsym > maxSym {
			return 0, 0, 0, fmt.Errorf("FSE table description has more than %d symbols", maxSym+1)
		}
		v := int(peekForward(src, pos))
		limit := 2*threshold - 1 - remaining
		var count int
		if v&(threshold-1) < limit {
			count = v & (threshold - 1)
			pos += nb - 1
		} else {
			count = v & (2*threshold - 1)
			if count >= threshold {
				count -= limit
			}
			pos += nb
		}
		count-- // the probability; -1 means less than one
		if count < 0 {
			remaining--
		} else {
			remaining -= count
		}
		if remaining < 1 {
			return 0, 0, 0, errors.New("FSE probabilities exceed the table")
		}
		norm[nsym] = int16(count)
		nsym++
		if count == 0 {
			for {
				if pos > len(src)*8 {
					return 0, 0, 0, errors.New("FSE table description truncated")
				}
				r := int(peekForward(src, pos) & 3)
				pos += 2
				if nsym+r > maxSym+1 {
					return 0, 0, 0, fmt.Errorf("FSE table description has more than %d symbols", maxSym+1)
				}
				for range r {
					norm[nsym] = 0
					nsym++
				}
				if r != 3 {
					break
				}
			}
		}
		for remaining < threshold {
			nb--
			threshold >>= 1
		}
	}
	n = (pos + 7) >> 3
	if n > len(src) {
		return 0, 0, 0, errors.New("FSE table description truncated")
	}
	return log, nsym, n, nil
}

// buildFSE spreads the symbols of the distribution norm over the 1<<log
// states of table and gives each state its next-state baseline and bits.
// norm must add up to 1<<log, counting -1 as 1.
func buildFSE(norm []int16, log uint, table []fseState) error {
	size := 1 << log
	high := size - 1
	var next [maxMLSym + 1]uint16
	for s, p := range norm {
		if p == -1 {
			table[high].sym = uint8(s)
			high--
			next[s] = 1
		} else {
			next[s] = uint16(p)
		}
	}
	step := size>>1 + size>>3 + 3
	mask := size - 1
	pos := 0
	for s, p := range norm {
		for range int(p) {
			table[pos].sym = uint8(s)
			pos = (pos + step) & mask
			for pos > high {
				pos = (pos + step) & mask
			}
		}
	}
	if pos != 0 {
		return errors.New("FSE distribution does not fill the table")
	}
	for i := range table[:size] {
		s := table[i].sym
		ns := next[s]
		next[s]++
		nb := log - uint(bits.Len16(ns)-1)
		table[i].nb = uint8(nb)
		table[i].next = uint16(int(ns)<<nb - size)
	}
	return nil
}

// seqEntry is a state of a sequence table with its symbol resolved into
// the value's baseline and extra bits, packed into one word so that the
// decoding loop holds an entry in one register: the baseline in bits 0-31,
// the extra bits in 32-39, the state bits in 40-47 and the next-state
// baseline in 48-63.
type seqEntry uint64

func (e seqEntry) base() uint32 { return uint32(e) }
func (e seqEntry) extra() uint8 { return uint8(e >> 32) }
func (e seqEntry) nb() uint8    { return uint8(e >> 40) }
func (e seqEntry) next() uint64 { return uint64(e >> 48) }

// seqTable is the decoding table of one of the three sequence fields.
type seqTable struct {
	t   [maxTableSize]seqEntry
	log uint8
	ok  bool // set up, so a later block may repeat it
}

// Baselines and extra bits of the literal-length and match-length codes
// (RFC 8878 section 3.1.1.3.2.1.1); offset code n is 1<<n plus n bits.
var (
	llBase = [maxLLSym + 1]uint32{
		0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
		16, 18, 20, 22, 24, 28, 32, 40, 48, 64, 128, 256, 512, 1024, 2048, 4096,
		8192, 16384, 32768, 65536}
	llExtra = [maxLLSym + 1]uint8{
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
		1, 1, 1, 1, 2, 2, 3, 3, 4, 6, 7, 8, 9, 10, 11, 12,
		13, 14, 15, 16}
	mlBase = [maxMLSym + 1]uint32{
		3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18,
		19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34,
		35, 37, 39, 41, 43, 47, 51, 59, 67, 83, 99, 131, 259, 515, 1027, 2051,
		4099, 8195, 16387, 32771, 65539}
	mlExtra = [maxMLSym + 1]uint8{
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
		1, 1, 1, 1, 2, 2, 3, 3, 4, 4, 5, 7, 8, 9, 10, 11,
		12, 13, 14, 15, 16}
)

// The predefined distributions (RFC 8878 section 3.1.1.3.2.2).
var (
	llDefault = [maxLLSym + 1]int16{
		4, 3, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 1, 1, 1,
		2, 2, 2, 2, 2, 2, 2, 2, 2, 3, 2, 1, 1, 1, 1, 1,
		-1, -1, -1, -1}
	mlDefault = [maxMLSym + 1]int16{
		1, 4, 3, 2, 2, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1,
		1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
		1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, -1, -1,
		-1, -1, -1, -1, -1}
	ofDefault = [29]int16{
		1, 1, 1, 1, 1, 1, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1,
		1, 1, 1, 1, 1, 1, 1, 1, -1, -1, -1, -1, -1}
)

// Which sequence field a table decodes.
const (
	fieldLL = iota
	fieldOF
	fieldML
)

var fieldNames = [3]string{"literal length", "offset", "match length"}

// setup fills t from a distribution of the given field.
func (t *seqTable) setup(field int, norm []int16, log uint) error {
	var states [maxTableSize]fseState
	if err := buildFSE(norm, log, states[:]); err != nil {
		return err
	}
	for i := range states[:1<<log] {
		t.t[i] = makeEntry(field, states[i])
	}
	t.log = uint8(log)
	t.ok = true
	return nil
}

func makeEntry(field int, s fseState) seqEntry {
	var base uint32
	var extra uint8
	switch field {
	case fieldLL:
		base, extra = llBase[s.sym], llExtra[s.sym]
	case fieldML:
		base, extra = mlBase[s.sym], mlExtra[s.sym]
	default:
		base, extra = 1<<s.sym, s.sym
	}
	return seqEntry(uint64(base) | uint64(extra)<<32 | uint64(s.nb)<<40 | uint64(s.next)<<48)
}

// read sets t up as the mode of a sequences section header says, from the
// table description at the start of src if there is one, and returns the
// bytes it took.
func (t *seqTable) read(field int, mode byte, src []byte) (int, error) {
	maxSym := [3]int{maxLLSym, maxOFSym, maxMLSym}[field]
	switch mode {
	case 0: // predefined
		var err error
		switch field {
		case fieldLL:
			err = t.setup(field, llDefault[:], 6)
		case fieldML:
			err = t.setup(field, mlDefault[:], 6)
		default:
			err = t.setup(field, ofDefault[:], 5)
		}
		return 0, err
	case 1: // RLE
		if len(src) == 0 {
			return 0, fmt.Errorf("%s RLE symbol missing", fieldNames[field])
		}
		if int(src[0]) > maxSym {
			return 0, fmt.Errorf("%s code %d above %d", fieldNames[field], src[0], maxSym)
		}
		t.t[0] = makeEntry(field, fseState{sym: src[0]})
		t.log = 0
		t.ok = true
		return 1, nil
	case 2: // FSE-compressed
		maxLog := [3]uint{maxLLLog, maxOFLog, maxMLLog}[field]
		var norm [maxMLSym + 1]int16
		log, nsym, n, err := readDistribution(src, maxSym, maxLog, norm[:])
		if err != nil {
			return 0, fmt.Errorf("%s table: %w", fieldNames[field], err)
		}
		if err := t.setup(field, norm[:nsym], log); err != nil {
			return 0, fmt.Errorf("%s table: %w", fieldNames[field], err)
		}
		return n, nil
	default: // repeat
		if !t.ok {
			return 0, fmt.Errorf("%s table repeated with no earlier table", fieldNames[field])
		}
		return 0, nil
	}
}
