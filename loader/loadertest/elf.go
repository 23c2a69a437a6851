// Package loadertest builds synthetic kernel images (ELF vmlinux, PVH ELF,
// bzImage with a compressed payload) for tests of the loader and of
// anything that boots a kernel.
package loadertest

import "encoding/binary"

// Layout sizes of an ELF64 file as ELF.Bytes writes it: the program headers
// follow the ELF header, PT_LOAD segments first, in order.
const (
	ELFHeaderSize     = 64
	ProgHeaderSize    = 56
	SectionHeaderSize = 64
)

// ELF describes an ELF64 x86-64 executable.
type ELF struct {
	Entry    uint64
	Segments []Segment
	// Notes go into one PT_NOTE segment, or into an SHT_NOTE section (and
	// no PT_NOTE) when NotesInSection is set.
	Notes          []Note
	NotesInSection bool
}

// Segment is one PT_LOAD.
type Segment struct {
	Paddr uint64
	Vaddr uint64 // zero means Paddr
	Data  []byte
	// MemSize is p_memsz; zero means len(Data). Bytes past Data are bss.
	MemSize uint64
}

// Note is one ELF note.
type Note struct {
	Name string
	Type uint32
	Desc []byte
}

// PVHNote returns the Xen PHYS32_ENTRY note (type 18) for entry, with the
// 8-byte descriptor Linux emits on x86-64.
func PVHNote(entry uint32) Note {
	return Note{Name: "Xen", Type: 18, Desc: binary.LittleEndian.AppendUint64(nil, uint64(entry))}
}

// ProgHeaderOffset returns the file offset of program header i.
func ProgHeaderOffset(i int) int { return ELFHeaderSize + i*ProgHeaderSize }

// Bytes encodes the executable.
func (e ELF) Bytes() []byte {
	le := binary.LittleEndian
	notes := encodeNotes(e.Notes)
	phnum := len(e.Segments)
	if len(notes) > 0 && !e.NotesInSection {
		phnum++
	}
	b := make([]byte, align16(ProgHeaderOffset(phnum)))
	copy(b, "\x7fELF")
	b[4], b[5], b[6] = 2, 1, 1 // ELFCLASS64, little-endian, EV_CURRENT
	le.PutUint16(b[0x10:], 2)  // ET_EXEC
	le.PutUint16(b[0x12:], 62) // EM_X86_64
	le.PutUint32(b[0x14:], 1)
	le.PutUint64(b[0x18:], e.Entry)
	le.PutUint64(b[0x20:], ELFHeaderSize)
	le.PutUint16(b[0x34:], ELFHeaderSize)
	le.PutUint16(b[0x36:], ProgHeaderSize)
	le.PutUint16(b[0x38:], uint16(phnum))

	for i, s := range e.Segments {
		off := len(b)
		b = append(b, s.Data...)
		b = b[:align16(len(b))]
		vaddr, memsz := s.Vaddr, s.MemSize
		if vaddr == 0 {
			vaddr = s.Paddr
		}
		if memsz == 0 {
			memsz = uint64(len(s.Data))
		}
		putProgHeader(b[ProgHeaderOffset(i):], 1, uint64(off), vaddr, s.Paddr, uint64(len(s.Data)), memsz, 16)
	}
	if len(notes) == 0 {
		return b
	}
	notesOff := len(b)
	b = append(b, notes...)
	if !e.NotesInSection {
		putProgHeader(b[ProgHeaderOffset(len(e.Segments)):], 4, uint64(notesOff), 0, 0, uint64(len(notes)), 0, 4)
		return b
	}
	// A null section and the SHT_NOTE section.
	b = b[:align16(len(b))]
	shoff := len(b)
	b = append(b, make([]byte, 2*SectionHeaderSize)...)
	sh := b[shoff+SectionHeaderSize:]
	le.PutUint32(sh[4:], 7) // SHT_NOTE
	le.PutUint64(sh[0x18:], uint64(notesOff))
	le.PutUint64(sh[0x20:], uint64(len(notes)))
	le.PutUint64(sh[0x30:], 4)
	le.PutUint64(b[0x28:], uint64(shoff))
	le.PutUint16(b[0x3a:], SectionHeaderSize)
	le.PutUint16(b[0x3c:], 2)
	return b
}

func putProgHeader(b []byte, typ uint32, off, vaddr, paddr, filesz, memsz, align uint64) {
	le := binary.LittleEndian
	le.PutUint32(b[0:], typ)
	le.PutUint32(b[4:], 5) // PF_R|PF_X
	le.PutUint64(b[0x08:], off)
	le.PutUint64(b[0x10:], vaddr)
	le.PutUint64(b[0x18:], paddr)
	le.PutUint64(b[0x20:], filesz)
	le.PutUint64(b[0x28:], memsz)
	le.PutUint64(b[0x30:], align)
}

// encodeNotes lays notes out with 4-byte padding after name and descriptor.
func encodeNotes(notes []Note) []byte {
	var b []byte
	le := binary.LittleEndian
	for _, n := range notes {
		name := append([]byte(n.Name), 0)
		b = le.AppendUint32(b, uint32(len(name)))
		b = le.AppendUint32(b, uint32(len(n.Desc)))
		b = le.AppendUint32(b, n.Type)
		b = append(b, name...)
		b = append(b, make([]byte, pad4(len(name)))...)
		b = append(b, n.Desc...)
		b = append(b, make([]byte, pad4(len(n.Desc)))...)
	}
	return b
}

// EncodeNotes returns notes as they appear in a PT_NOTE segment.
func EncodeNotes(notes ...Note) []byte { return encodeNotes(notes) }

func pad4(n int) int    { return (4 - n%4) % 4 }
func align16(n int) int { return (n + 15) &^ 15 }
