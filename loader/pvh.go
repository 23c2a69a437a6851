package loader

import (
	"bytes"
	"encoding/binary"
	"math"
)

// xenElfnotePhys32Entry is XEN_ELFNOTE_PHYS32_ENTRY (xen/include/public/elfnote.h):
// a "Xen" note whose descriptor is the 32-bit physical PVH entry point.
// Linux emits it with an 8-byte descriptor on x86-64 (_ASM_PTR), other
// kernels with 4 bytes; both are accepted.
const xenElfnotePhys32Entry = 18

const noteHeaderSize = 12 // namesz, descsz, type: three uint32s

// findPVHEntry walks the ELF notes in notes (the contents of one PT_NOTE
// segment or SHT_NOTE section, whose name and descriptor fields are padded
// to align bytes) and returns the entry of the first Xen PHYS32_ENTRY note.
// Every note is bounds-checked, so a malformed one fails even if it is not
// the PVH note.
func findPVHEntry(notes []byte, align uint64) (entry uint32, found bool, err error) {
	if align != 8 {
		align = 4
	}
	size := uint64(len(notes))
	for pos := uint64(0); pos < size; {
		if size-pos < noteHeaderSize {
			return 0, false, errorf(ErrMalformedNote,
				"note at offset %d: header truncated (%d of %d bytes)", pos, size-pos, noteHeaderSize)
		}
		nameSize := uint64(binary.LittleEndian.Uint32(notes[pos:]))
		descSize := uint64(binary.LittleEndian.Uint32(notes[pos+4:]))
		noteType := binary.LittleEndian.Uint32(notes[pos+8:])

		// pos <= size < 2^63 and both sizes < 2^32: no sum below overflows.
		nameStart := pos + noteHeaderSize
		nameEnd := nameStart + nameSize
		descStart, _ := alignUp(nameEnd, align)
		descEnd := descStart + descSize
		if descEnd > size {
			return 0, false, errorf(ErrMalformedNote,
				"note at offset %d: name (%d bytes) and descriptor (%d bytes) run past the %d-byte note area",
				pos, nameSize, descSize, size)
		}
		name := bytes.TrimRight(notes[nameStart:nameEnd], "\x00")
		if string(name) == "Xen" && noteType == xenElfnotePhys32Entry {
			e, err := decodePhys32Entry(notes[descStart:descEnd])
			if err != nil {
				return 0, false, errorf(ErrMalformedNote, "note at offset %d: Xen PHYS32_ENTRY: %v", pos, err)
			}
			if !found {
				entry, found = e, true
			}
		}
		pos, _ = alignUp(descEnd, align) // the last note's padding may be cut off
	}
	return entry, found, nil
}

func decodePhys32Entry(desc []byte) (uint32, error) {
	switch len(desc) {
	case 4:
		return binary.LittleEndian.Uint32(desc), nil
	case 8:
		v := binary.LittleEndian.Uint64(desc)
		if v > math.MaxUint32 {
			return 0, errorf(ErrMalformedNote, "entry %#x does not fit in 32 bits", v)
		}
		return uint32(v), nil
	default:
		return 0, errorf(ErrMalformedNote, "descriptor is %d bytes, want 4 or 8", len(desc))
	}
}
