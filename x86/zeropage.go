package x86

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/gluevmm/glue/guestmem"
)

// The zero page is struct boot_params, handed to a kernel entered through
// Linux's 64-bit boot protocol (Documentation/arch/x86/boot.rst and
// zero-page.rst). Offsets are from the start of the page; those at 0x1f1 and
// above are inside the embedded struct setup_header.
const (
	ZeroPageSize = 4096

	zpACPIRSDPAddr    = 0x070 // u64 acpi_rsdp_addr; 0: scan for it
	zpExtRamdiskImage = 0x0c0 // high 32 bits of ramdisk_image
	zpExtRamdiskSize  = 0x0c4 // high 32 bits of ramdisk_size
	zpExtCmdLinePtr   = 0x0c8 // high 32 bits of cmd_line_ptr
	zpE820Entries     = 0x1e8 // u8
	zpSentinel        = 0x1ef // stays 0 (the header is copied in after it), or the kernel wipes fields
	zpSetupHeader     = 0x1f1 // struct setup_header starts here
	zpSetupHeaderEnd  = 0x290 // room for the header ends at edd_mbr_sig_buffer
	zpE820Table       = 0x2d0 // struct boot_e820_entry[MaxE820Entries]

	hdrVidMode         = 0x1fa // u16
	hdrBootFlag        = 0x1fe // u16, 0xaa55
	hdrMagic           = 0x202 // u32, "HdrS"
	hdrVersion         = 0x206 // u16, boot protocol version
	hdrTypeOfLoader    = 0x210 // u8
	hdrLoadFlags       = 0x211 // u8
	hdrRamdiskImage    = 0x218 // u32
	hdrRamdiskSize     = 0x21c // u32
	hdrHeapEndPtr      = 0x224 // u16
	hdrCmdLinePtr      = 0x228 // u32
	hdrKernelAlignment = 0x230 // u32
	hdrCmdlineSize     = 0x238 // u32, protocol 2.06+

	e820EntrySize = 20 // packed: addr u64, size u64, type u32
)

const (
	bootFlagMagic   = 0xaa55
	setupHdrMagic   = 0x5372_6448 // "HdrS"
	loaderUndefined = 0xff        // type_of_loader for a loader with no assigned ID
	// elfKernelAlignment is what a bzImage of a default x86-64 config carries
	// (CONFIG_PHYSICAL_ALIGN); an ELF vmlinux has no header to take it from.
	elfKernelAlignment = 0x0100_0000

	// loadflags bits a loader owns (the others are the kernel's).
	loadQuiet        = 1 << 5
	loadKeepSegments = 1 << 6
	loadCanUseHeap   = 1 << 7

	minCmdlineProtocol     = 0x0202 // cmd_line_ptr exists from 2.02
	cmdlineSizeProtocol    = 0x0206 // cmdline_size exists from 2.06
	legacyCmdlineSizeLimit = 255    // the limit before 2.06
)

// BootInfo is what either boot protocol tells the kernel besides the entry
// registers: where its command line and initrd are, and the memory map.
type BootInfo struct {
	CmdlineAddr guestmem.Addr // NUL-terminated command line; 0: none
	CmdlineLen  int           // bytes, without the NUL
	Initrd      guestmem.Span // Size 0: no initrd
	E820        []E820Entry
	RSDPAddr    guestmem.Addr // the ACPI RSDP; 0: no ACPI tables
}

// WriteZeroPage writes struct boot_params at ZeroPageAddr.
//
// setupHeader is the raw setup header of a bzImage: its bytes from offset
// 0x1f1 up to 0x202 plus the byte at 0x201, as the boot protocol defines it.
// It is copied in, then the loader's fields are set over it. For an ELF
// vmlinux, which has no header, pass nil and a minimal header is built.
//
// Fields only the kernel's 16-bit setup code reads are left alone, because
// glue enters the kernel past that code: vid_mode keeps the image's value
// and CAN_USE_HEAP/heap_end_ptr are cleared, since there is no setup heap.
func WriteZeroPage(mem *guestmem.Memory, info BootInfo, setupHeader []byte) error {
	b, err := zeroPageBlob(info, setupHeader)
	if err != nil {
		return err
	}
	return writeBlobs(mem, b)
}

func zeroPageBlob(info BootInfo, setupHeader []byte) (blob, error) {
	page, err := encodeZeroPage(info, setupHeader)
	if err != nil {
		return blob{}, fmt.Errorf("x86: zero page: %w", err)
	}
	return blob{what: "zero page", addr: ZeroPageAddr, data: page[:]}, nil
}

func encodeZeroPage(info BootInfo, setupHeader []byte) (*[ZeroPageSize]byte, error) {
	if len(info.E820) > MaxE820Entries {
		return nil, fmt.Errorf("%d e820 entries, at most %d fit", len(info.E820), MaxE820Entries)
	}
	if info.CmdlineLen < 0 {
		return nil, fmt.Errorf("negative command line length %d", info.CmdlineLen)
	}
	var page [ZeroPageSize]byte
	le := binary.LittleEndian

	if setupHeader != nil {
		if err := checkSetupHeader(setupHeader, info.CmdlineLen); err != nil {
			return nil, err
		}
		copy(page[zpSetupHeader:], setupHeader)
		page[hdrLoadFlags] &^= loadQuiet | loadKeepSegments | loadCanUseHeap
		le.PutUint16(page[hdrHeapEndPtr:], 0)
	} else {
		le.PutUint16(page[hdrBootFlag:], bootFlagMagic)
		le.PutUint32(page[hdrMagic:], setupHdrMagic)
		le.PutUint32(page[hdrKernelAlignment:], elfKernelAlignment)
	}
	page[hdrTypeOfLoader] = loaderUndefined

	cmdline := uint64(info.CmdlineAddr)
	le.PutUint32(page[hdrCmdLinePtr:], uint32(cmdline))
	le.PutUint32(page[zpExtCmdLinePtr:], uint32(cmdline>>32))

	var initrdAddr, initrdSize uint64
	if info.Initrd.Size != 0 {
		initrdAddr, initrdSize = uint64(info.Initrd.Base), info.Initrd.Size
	}
	le.PutUint32(page[hdrRamdiskImage:], uint32(initrdAddr))
	le.PutUint32(page[zpExtRamdiskImage:], uint32(initrdAddr>>32))
	le.PutUint32(page[hdrRamdiskSize:], uint32(initrdSize))
	le.PutUint32(page[zpExtRamdiskSize:], uint32(initrdSize>>32))

	le.PutUint64(page[zpACPIRSDPAddr:], uint64(info.RSDPAddr))

	page[zpE820Entries] = uint8(len(info.E820))
	for i, e := range info.E820 {
		entry := page[zpE820Table+i*e820EntrySize:]
		le.PutUint64(entry[0:], uint64(e.Addr))
		le.PutUint64(entry[8:], e.Size)
		le.PutUint32(entry[16:], uint32(e.Type))
	}
	return &page, nil
}

// checkSetupHeader validates a bzImage setup header before it is copied in,
// and that the kernel accepts a command line of cmdlineLen bytes (it would
// silently truncate a longer one).
func checkSetupHeader(hdr []byte, cmdlineLen int) error {
	minLen := hdrCmdLinePtr + 4 - zpSetupHeader
	maxLen := zpSetupHeaderEnd - zpSetupHeader
	if len(hdr) < minLen || len(hdr) > maxLen {
		return fmt.Errorf("setup header is %d bytes, want %d to %d", len(hdr), minLen, maxLen)
	}
	field := func(off int) []byte { return hdr[off-zpSetupHeader:] }
	le := binary.LittleEndian
	if le.Uint16(field(hdrBootFlag)) != bootFlagMagic || le.Uint32(field(hdrMagic)) != setupHdrMagic {
		return errors.New("setup header lacks the 0xaa55 boot flag or the HdrS magic")
	}
	version := le.Uint16(field(hdrVersion))
	if version < minCmdlineProtocol {
		return fmt.Errorf("boot protocol %#x is older than %#x", version, minCmdlineProtocol)
	}
	limit := legacyCmdlineSizeLimit
	if version >= cmdlineSizeProtocol && len(hdr) >= hdrCmdlineSize+4-zpSetupHeader {
		limit = int(le.Uint32(field(hdrCmdlineSize)))
	}
	if cmdlineLen > limit {
		return fmt.Errorf("command line is %d bytes, the kernel accepts at most %d", cmdlineLen, limit)
	}
	return nil
}
