package loader

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math"
)

// xenElfnotePhys32Entry is XEN_ELFNOTE_PHYS32_ENTRY (xen/include/public/elfnote.h):
// a "Xen" note whose descriptor is the 32-bit physical PVH entry point.
// Linux emits it with an 8-byte descriptor on x86-64 (_ASM_PTR), other
// kernels with 4 bytes; both are accepted.
const xenElfnotePhys32Entry = 18

const noteHeaderSize = 12 // namesz, descsz, type: three uint32s

// maxNoteName is the longest note name findPVHEntry reads: "Xen" needs 4
// bytes, and a longer name (even "Xen" padded with NULs) is skipped unread.
const maxNoteName = 64

// findPVHEntry walks the size bytes of ELF notes that r yields (the
// contents of one PT_NOTE segment or SHT_NOTE section, whose name and
// descriptor fields are padded to align bytes) and returns the entry of the
// first Xen PHYS32_ENTRY note. Every note is bounds-checked, so a malformed
// one fails even if it is not the PVH note. The notes are read in order and
// only headers, short names and the PVH descriptor are kept, so a huge note
// area costs no memory.
func findPVHEntry(r io.Reader, size, align uint64) (entry uint32, found bool, err error) {
	if align != 8 {
		align = 4
	}
	var header [noteHeaderSize]byte
	skip := func(n uint64) error {
		_, err := io.CopyN(io.Discard, r, int64(n))
		return err
	}
	for pos := uint64(0); pos < size; {
		if size-pos < noteHeaderSize {
			return 0, false, errorf(ErrMalformedNote,
				"note at offset %d: header truncated (%d of %d bytes)", pos, size-pos, noteHeaderSize)
		}
		if _, err := io.ReadFull(r, header[:]); err != nil {
			return 0, false, fmt.Errorf("note at offset %d: %w", pos, err)
		}
		nameSize := uint64(binary.LittleEndian.Uint32(header[0:]))
		descSize := uint64(binary.LittleEndian.Uint32(header[4:]))
		noteType := binary.LittleEndian.Uint32(header[8:])

		// pos <= size < 2^63 and both sizes < 2^32: no sum below overflows.
		nameEnd := pos + noteHeaderSize + nameSize
		descStart, _ := alignUp(nameEnd, align)
		descEnd := descStart + descSize
		if descEnd > size {
			return 0, false, errorf(ErrMalformedNote,
				"note at offset %d: name (%d bytes) and descriptor (%d bytes) run past the %d-byte note area",
				pos, nameSize, descSize, size)
		}
		// Everything up to descEnd lies in the area: a read error below is
		// the reader's, not the note's.
		isXen := false
		if nameSize <= maxNoteName {
			name := make([]byte, nameSize)
			if _, err := io.ReadFull(r, name); err != nil {
				return 0, false, fmt.Errorf("note at offset %d: name: %w", pos, err)
			}
			isXen = string(bytes.TrimRight(name, "\x00")) == "Xen"
		} else if err := skip(nameSize); err != nil {
			return 0, false, fmt.Errorf("note at offset %d: name: %w", pos, err)
		}
		if err := skip(descStart - nameEnd); err != nil {
			return 0, false, fmt.Errorf("note at offset %d: padding: %w", pos, err)
		}
		if isXen && noteType == xenElfnotePhys32Entry {
			if descSize != 4 && descSize != 8 {
				return 0, false, errorf(ErrMalformedNote,
					"note at offset %d: Xen PHYS32_ENTRY: descriptor is %d bytes, want 4 or 8", pos, descSize)
			}
			desc := make([]byte, descSize)
			if _, err := io.ReadFull(r, desc); err != nil {
				return 0, false, fmt.Errorf("note at offset %d: descriptor: %w", pos, err)
			}
			e, err := decodePhys32Entry(desc)
			if err != nil {
				return 0, false, errorf(ErrMalformedNote, "note at offset %d: Xen PHYS32_ENTRY: %v", pos, err)
			}
			if !found {
				entry, found = e, true
			}
		} else if err := skip(descSize); err != nil {
			return 0, false, fmt.Errorf("note at offset %d: descriptor: %w", pos, err)
		}
		next, _ := alignUp(descEnd, align) // the last note's padding may be cut off
		if err := skip(min(next, size) - descEnd); err != nil {
			return 0, false, fmt.Errorf("note at offset %d: padding: %w", pos, err)
		}
		pos = next
	}
	return entry, found, nil
}

// decodePhys32Entry decodes a 4- or 8-byte PHYS32_ENTRY descriptor.
func decodePhys32Entry(desc []byte) (uint32, error) {
	if len(desc) == 4 {
		return binary.LittleEndian.Uint32(desc), nil
	}
	v := binary.LittleEndian.Uint64(desc)
	if v > math.MaxUint32 {
		return 0, errorf(ErrMalformedNote, "entry %#x does not fit in 32 bits", v)
	}
	return uint32(v), nil
}
