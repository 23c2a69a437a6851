package loader

import (
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/gluevmm/glue/guestmem"
)

// A minimal ELF64 reader for hostile input (debug/elf trusts its input far
// more than a VMM can). Field offsets are those of Elf64_Ehdr, Elf64_Phdr
// and Elf64_Shdr in the System V ABI.
const (
	elfHeaderSize     = 64
	progHeaderSize    = 56
	sectionHeaderSize = 64

	elfClass64  = 2
	elfData2LSB = 1
	evCurrent   = 1
	etExec      = 2
	etDyn       = 3
	emX86_64    = 62
	pnXNum      = 0xffff // e_phnum value meaning "extended numbering"
	ptLoad      = 1
	ptNote      = 4
	shtNote     = 7
)

// progHeader is the part of an Elf64_Phdr the loader uses.
type progHeader struct {
	index                        int
	typ                          uint32
	offset, vaddr, paddr, filesz uint64
	memsz, align                 uint64
}

// elfImage is a fully validated ELF: everything that does not depend on the
// guest's memory has been checked.
type elfImage struct {
	entry    uint64       // e_entry translated to a physical address
	entryOK  bool         // e_entry lies in a loaded segment
	loads    []progHeader // PT_LOAD segments with memsz > 0, by paddr
	pvhEntry uint32
	hasPVH   bool
}

// loadELF validates the ELF in src against mem and copies its segments from
// src straight into guest RAM. On a validation error nothing has been
// written; only a read error of src itself (a file shrinking under the
// loader, an I/O error) can leave part of a segment written, and the VM is
// not started then.
func loadELF(mem *guestmem.Memory, src source, opts Options) (*Kernel, error) {
	img, err := parseELF(src)
	if err != nil {
		return nil, err
	}
	if err := img.checkPlacement(mem, opts.minAddr()); err != nil {
		return nil, err
	}
	k := &Kernel{
		Format:        FormatELF,
		CmdlineMax:    DefaultCmdlineSize - 1,
		InitrdAddrMax: DefaultInitrdAddrMax,
		Start:         guestmem.Addr(img.loads[0].paddr),
	}
	for _, s := range img.loads {
		k.End = max(k.End, guestmem.Addr(s.paddr+s.memsz))
	}
	if img.entryOK {
		k.Entries = append(k.Entries, EntryPoint{Linux64, guestmem.Addr(img.entry)})
	}
	if img.hasPVH {
		k.Entries = append(k.Entries, EntryPoint{PVH, guestmem.Addr(img.pvhEntry)})
	}
	switch k.Protocol = opts.protocol(); k.Protocol {
	case Linux64:
		if !img.entryOK {
			return nil, errorf(ErrBadEntry, "e_entry %#x is in no loaded segment (physical or virtual)", img.entry)
		}
		k.Path = "elf"
	case PVH:
		if !img.hasPVH {
			return nil, errorf(ErrNoPVHEntry, "no Xen PHYS32_ENTRY note (kernel built without CONFIG_PVH?)")
		}
		k.Path = "pvh"
	}
	k.Entry, _ = k.EntryFor(k.Protocol)

	// Everything is validated; from here on nothing can fail half-way.
	for _, s := range img.loads {
		paddr := guestmem.Addr(s.paddr)
		dst, err := mem.Slice(paddr, s.filesz)
		if err != nil {
			return nil, err
		}
		if err := src.readAt(dst, s.offset); err != nil {
			return nil, fmt.Errorf("segment %d: %w", s.index, err)
		}
		if err := mem.Zero(paddr+guestmem.Addr(s.filesz), s.memsz-s.filesz); err != nil {
			return nil, err
		}
	}
	return k, nil
}

// parseELF validates the ELF header, the program headers and the notes,
// reading src one header at a time.
func parseELF(src source) (*elfImage, error) {
	if src.size < elfHeaderSize {
		return nil, errorf(ErrELFHeader, "file is %d bytes, shorter than the %d-byte ELF header", src.size, elfHeaderSize)
	}
	ehdr, err := src.bytesAt(0, elfHeaderSize)
	if err != nil {
		return nil, err
	}
	le := binary.LittleEndian
	if string(ehdr[:4]) != string(elfMagic) {
		return nil, errorf(ErrELFHeader, "bad magic % x", ehdr[:4])
	}
	if c := ehdr[4]; c != elfClass64 {
		return nil, errorf(ErrELFClass, "EI_CLASS %d, want %d (ELFCLASS64)", c, elfClass64)
	}
	if d := ehdr[5]; d != elfData2LSB {
		return nil, errorf(ErrELFClass, "EI_DATA %d, want %d (little-endian)", d, elfData2LSB)
	}
	if v := ehdr[6]; v != evCurrent {
		return nil, errorf(ErrELFHeader, "EI_VERSION %d, want %d", v, evCurrent)
	}
	switch t := le.Uint16(ehdr[0x10:]); t {
	case etExec:
	case etDyn:
		return nil, errorf(ErrELFType, "e_type ET_DYN: position-independent images need relocation, which the loader does not do")
	default:
		return nil, errorf(ErrELFType, "e_type %d, want %d (ET_EXEC)", t, etExec)
	}
	if m := le.Uint16(ehdr[0x12:]); m != emX86_64 {
		return nil, errorf(ErrELFMachine, "e_machine %d, want %d (EM_X86_64)", m, emX86_64)
	}
	if v := le.Uint32(ehdr[0x14:]); v != evCurrent {
		return nil, errorf(ErrELFHeader, "e_version %d, want %d", v, evCurrent)
	}

	phdrs, err := parseProgHeaders(src, ehdr)
	if err != nil {
		return nil, err
	}
	img := &elfImage{}
	for _, ph := range phdrs {
		switch ph.typ {
		case ptLoad:
			if err := checkSegment(ph, src.size); err != nil {
				return nil, err
			}
			if ph.memsz > 0 {
				img.loads = append(img.loads, ph)
			}
		case ptNote:
			if !inFile(ph.offset, ph.filesz, src.size) {
				return nil, errorf(ErrSegmentFileRange, "PT_NOTE %d: offset %#x + size %#x past the %d-byte file",
					ph.index, ph.offset, ph.filesz, src.size)
			}
			entry, found, err := findPVHEntry(src.stream(ph.offset, ph.filesz), ph.filesz, ph.align)
			if err != nil {
				return nil, errorf(ErrMalformedNote, "PT_NOTE %d: %v", ph.index, err)
			}
			if found && !img.hasPVH {
				img.pvhEntry, img.hasPVH = entry, true
			}
		}
	}
	if len(img.loads) == 0 {
		return nil, errorf(ErrNoLoadableSegments, "none of the %d program headers is a non-empty PT_LOAD", len(phdrs))
	}
	slices.SortFunc(img.loads, func(a, b progHeader) int {
		switch {
		case a.paddr < b.paddr:
			return -1
		case a.paddr > b.paddr:
			return 1
		}
		return 0
	})
	for i := 1; i < len(img.loads); i++ {
		prev, cur := img.loads[i-1], img.loads[i]
		if prev.paddr+prev.memsz > cur.paddr {
			return nil, errorf(ErrSegmentOverlap, "segments %d [%#x, %#x) and %d [%#x, %#x) overlap",
				prev.index, prev.paddr, prev.paddr+prev.memsz, cur.index, cur.paddr, cur.paddr+cur.memsz)
		}
	}
	if !img.hasPVH {
		if err := img.findPVHInSections(src, ehdr); err != nil {
			return nil, err
		}
	}
	if img.hasPVH {
		if _, ok := img.physical(uint64(img.pvhEntry)); !ok {
			return nil, errorf(ErrBadEntry, "PVH entry %#x is in no loaded segment", img.pvhEntry)
		}
	}
	img.entry = le.Uint64(ehdr[0x18:])
	if phys, ok := img.physical(img.entry); ok {
		img.entry, img.entryOK = phys, true
	} else if phys, ok := img.virtualToPhysical(img.entry); ok {
		img.entry, img.entryOK = phys, true
	}
	return img, nil
}

// parseProgHeaders reads the program header table that ELF header ehdr
// describes, one entry at a time.
func parseProgHeaders(src source, ehdr []byte) ([]progHeader, error) {
	le := binary.LittleEndian
	phoff := le.Uint64(ehdr[0x20:])
	phentsize := uint64(le.Uint16(ehdr[0x36:]))
	phnum := uint64(le.Uint16(ehdr[0x38:]))
	switch {
	case phnum == 0:
		return nil, errorf(ErrNoLoadableSegments, "e_phnum is 0")
	case phnum == pnXNum:
		return nil, errorf(ErrProgramHeaders, "e_phnum %#x (extended numbering) is not supported", phnum)
	case phentsize < progHeaderSize:
		return nil, errorf(ErrProgramHeaders, "e_phentsize %d is smaller than Elf64_Phdr (%d)", phentsize, progHeaderSize)
	case !inFile(phoff, phnum*phentsize, src.size): // both factors < 2^16
		return nil, errorf(ErrProgramHeaders, "table at e_phoff %#x (%d entries of %d bytes) runs past the %d-byte file",
			phoff, phnum, phentsize, src.size)
	}
	phdrs := make([]progHeader, phnum)
	err := src.readTable(phoff, phnum, phentsize, progHeaderSize, func(i uint64, b []byte) error {
		phdrs[i] = progHeader{
			index:  int(i),
			typ:    le.Uint32(b[0:]),
			offset: le.Uint64(b[0x08:]),
			vaddr:  le.Uint64(b[0x10:]),
			paddr:  le.Uint64(b[0x18:]),
			filesz: le.Uint64(b[0x20:]),
			memsz:  le.Uint64(b[0x28:]),
			align:  le.Uint64(b[0x30:]),
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("program headers: %w", err)
	}
	return phdrs, nil
}

// checkSegment validates a PT_LOAD against the file and the address space.
func checkSegment(ph progHeader, fileLen uint64) error {
	if ph.filesz > ph.memsz {
		return errorf(ErrSegmentSize, "segment %d: p_filesz %#x > p_memsz %#x", ph.index, ph.filesz, ph.memsz)
	}
	if !inFile(ph.offset, ph.filesz, fileLen) {
		return errorf(ErrSegmentFileRange, "segment %d: p_offset %#x + p_filesz %#x past the %d-byte file",
			ph.index, ph.offset, ph.filesz, fileLen)
	}
	if _, ok := rangeEnd(ph.paddr, ph.memsz); !ok {
		return errorf(ErrAddressOverflow, "segment %d: p_paddr %#x + p_memsz %#x", ph.index, ph.paddr, ph.memsz)
	}
	if _, ok := rangeEnd(ph.vaddr, ph.memsz); !ok {
		return errorf(ErrAddressOverflow, "segment %d: p_vaddr %#x + p_memsz %#x", ph.index, ph.vaddr, ph.memsz)
	}
	return nil
}

// checkPlacement checks every segment against the guest's RAM.
func (img *elfImage) checkPlacement(mem *guestmem.Memory, minAddr guestmem.Addr) error {
	for _, s := range img.loads {
		if guestmem.Addr(s.paddr) < minAddr {
			return errorf(ErrBelowMinAddr, "segment %d at %#x is below %#x", s.index, s.paddr, minAddr)
		}
		if !mem.Contains(guestmem.Addr(s.paddr), s.memsz) {
			return errorf(ErrOutsideRAM, "segment %d [%#x, %#x) is not inside one RAM region (guest RAM is %d MiB)",
				s.index, s.paddr, s.paddr+s.memsz, mem.Size()>>20)
		}
	}
	return nil
}

// physical reports whether addr lies in the file-backed part of a loaded
// segment's physical range.
func (img *elfImage) physical(addr uint64) (uint64, bool) {
	for _, s := range img.loads {
		if addr >= s.paddr && addr-s.paddr < s.filesz {
			return addr, true
		}
	}
	return 0, false
}

// virtualToPhysical translates a virtual address inside a loaded segment's
// file-backed part. Linux's x86-64 vmlinux already has a physical e_entry
// (ENTRY(phys_startup_64)); other kernels may give a virtual one.
func (img *elfImage) virtualToPhysical(addr uint64) (uint64, bool) {
	for _, s := range img.loads {
		if addr >= s.vaddr && addr-s.vaddr < s.filesz {
			return s.paddr + (addr - s.vaddr), true
		}
	}
	return 0, false
}

// findPVHInSections looks for the PVH note in SHT_NOTE sections, for images
// whose notes are not covered by a PT_NOTE segment. An image without section
// headers (e_shnum 0) simply has none. ehdr is the ELF header; the table
// is read one entry at a time.
func (img *elfImage) findPVHInSections(src source, ehdr []byte) error {
	le := binary.LittleEndian
	shoff := le.Uint64(ehdr[0x28:])
	shentsize := uint64(le.Uint16(ehdr[0x3a:]))
	shnum := uint64(le.Uint16(ehdr[0x3c:]))
	if shnum == 0 {
		return nil
	}
	if shentsize < sectionHeaderSize {
		return errorf(ErrSectionHeaders, "e_shentsize %d is smaller than Elf64_Shdr (%d)", shentsize, sectionHeaderSize)
	}
	if !inFile(shoff, shnum*shentsize, src.size) {
		return errorf(ErrSectionHeaders, "table at e_shoff %#x (%d entries of %d bytes) runs past the %d-byte file",
			shoff, shnum, shentsize, src.size)
	}
	err := src.readTable(shoff, shnum, shentsize, sectionHeaderSize, func(i uint64, sh []byte) error {
		if img.hasPVH || le.Uint32(sh[4:]) != shtNote {
			return nil
		}
		offset, size, align := le.Uint64(sh[0x18:]), le.Uint64(sh[0x20:]), le.Uint64(sh[0x30:])
		if !inFile(offset, size, src.size) {
			return errorf(ErrSectionHeaders, "SHT_NOTE section %d: offset %#x + size %#x past the %d-byte file",
				i, offset, size, src.size)
		}
		entry, found, err := findPVHEntry(src.stream(offset, size), size, align)
		if err != nil {
			return errorf(ErrMalformedNote, "SHT_NOTE section %d: %v", i, err)
		}
		if found {
			img.pvhEntry, img.hasPVH = entry, true
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("section headers: %w", err)
	}
	return nil
}
