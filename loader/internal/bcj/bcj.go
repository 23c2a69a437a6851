// Package bcj implements the x86 branch/call/jump (BCJ) filter of the xz
// format (filter ID 0x04), which Linux applies before LZMA2 when it builds an
// xz-compressed kernel (scripts/xz_wrap.sh passes --x86).
//
// The filter rewrites the 32-bit relative target of E8 (CALL) and E9 (JMP)
// opcodes into an absolute one, so that repeated calls to one function become
// identical byte strings that LZMA2 compresses well. Decoding subtracts the
// position again. The conversion is bijective: X86Decode(X86Encode(b)) == b
// for every input.
package bcj

import "encoding/binary"

// X86Decode undoes the x86 BCJ filter in place. start is the stream position
// of buf[0] (the filter's start offset, 0 unless the xz filter properties say
// otherwise). buf must hold the whole filtered stream: the filter keeps state
// from one opcode to the next, and its last four bytes are never converted.
func X86Decode(buf []byte, start uint32) { x86Convert(buf, start, false) }

// X86Encode applies the x86 BCJ filter in place, as xz --x86 does.
func X86Encode(buf []byte, start uint32) { x86Convert(buf, start, true) }

// isDisplacementMSB reports whether b can be the most significant byte of a
// near call/jump displacement: targets within ±16 MiB start with 00 or FF.
func isDisplacementMSB(b byte) bool { return b == 0x00 || b == 0xFF }

// The filter remembers, in a bit mask, which of the previous few bytes were
// E8/E9 opcodes it declined to convert. Some mask patterns mean the current
// opcode is probably inside another instruction's operand, so it is skipped.
var (
	maskAllowsConversion = [8]bool{true, true, true, false, true, false, false, false}
	maskToByteIndex      = [8]uint32{0, 1, 2, 2, 3, 3, 3, 3}
)

func x86Convert(buf []byte, start uint32, encode bool) {
	if len(buf) < 5 {
		return
	}
	var prevMask uint32
	prevPos := -5 // position of the last E8/E9 seen, relative to buf
	for i := 0; i <= len(buf)-5; {
		if op := buf[i]; op != 0xE8 && op != 0xE9 {
			i++
			continue
		}
		if gap := i - prevPos; gap > 5 {
			prevMask = 0
		} else {
			for range gap {
				prevMask = (prevMask & 0x77) << 1
			}
		}
		prevPos = i

		msb := buf[i+4]
		// prevMask>>1 < 0x10 means no skipped opcode in the last 4 bytes had
		// an MSB-like operand; with it, (prevMask>>1) is already below 8.
		if !isDisplacementMSB(msb) || !maskAllowsConversion[(prevMask>>1)&7] || prevMask>>1 >= 0x10 {
			i++
			prevMask |= 1
			if isDisplacementMSB(msb) {
				prevMask |= 0x10
			}
			continue
		}

		src := binary.LittleEndian.Uint32(buf[i+1:])
		pos := start + uint32(i) + 5 // address of the next instruction
		var dest uint32
		for {
			if encode {
				dest = src + pos
			} else {
				dest = src - pos
			}
			if prevMask == 0 {
				break
			}
			shift := 24 - maskToByteIndex[(prevMask>>1)&7]*8
			if !isDisplacementMSB(byte(dest >> shift)) {
				break
			}
			src = dest ^ (1<<(shift+8) - 1)
		}
		// Keep 25 bits and sign-extend bit 24, so the MSB stays 00 or FF.
		dest &= 0x01FFFFFF
		dest |= -(dest & 0x01000000)
		binary.LittleEndian.PutUint32(buf[i+1:], dest)
		i += 5
		prevMask = 0
	}
}
