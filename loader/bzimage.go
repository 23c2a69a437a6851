package loader

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/gluevmm/glue/guestmem"
)

// Offsets of struct setup_header fields in a bzImage, from
// Documentation/arch/x86/boot.rst ("THE REAL-MODE KERNEL HEADER").
const (
	hdrSetupSects      = 0x1f1
	hdrSyssize         = 0x1f4
	hdrBootFlag        = 0x1fe
	hdrJump            = 0x200
	hdrMagic           = 0x202
	hdrVersion         = 0x206
	hdrKernelVersion   = 0x20e
	hdrLoadflags       = 0x211
	hdrInitrdAddrMax   = 0x22c
	hdrKernelAlignment = 0x230
	hdrRelocatable     = 0x234
	hdrXloadflags      = 0x236
	hdrCmdlineSize     = 0x238
	hdrPayloadOffset   = 0x248
	hdrPayloadLength   = 0x24c
	hdrPrefAddress     = 0x258
	hdrInitSize        = 0x260

	// The zero page (struct boot_params) has room for the setup header up
	// to its edd_mbr_sig_buffer at 0x290.
	zeroPageHeaderEnd = 0x290

	bootFlagMagic = 0xAA55
	loadedHigh    = 0x01 // loadflags: protected-mode code at 0x100000 (bzImage, not zImage)

	xlfKernel64          = 1 << 0 // xloadflags: has the 64-bit entry at +0x200
	xlfCanBeLoadedAbove4 = 1 << 1

	// Protocol versions that introduced the fields the loader relies on.
	minVersionExtract = 0x0208 // payload_offset, payload_length
	minVersionEntry64 = 0x020c // xloadflags
	versionPrefFields = 0x020a // pref_address, init_size

	entry64Offset = 0x200 // the 64-bit entry: startup_64 in arch/x86/boot/compressed/head_64.S
	sectorSize    = 512
	maxSetupSize  = 256 * sectorSize // setup_sects is one byte: at most 255 sectors and the boot sector
	maxVersionLen = 256
)

// bzImage is a validated bzImage header and the extent of its parts.
type bzImage struct {
	version         uint16
	xloadflags      uint16
	relocatable     bool
	kernelAlignment uint32
	prefAddress     uint64
	initSize        uint64
	cmdlineSize     uint32
	initrdAddrMax   uint32
	// The protected-mode part, (setup_sects+1)*512 onward, and the
	// compressed payload inside it, as offsets into the file. payloadSize
	// is zero when the header names no payload.
	kernelOff, kernelSize   uint64
	payloadOff, payloadSize uint64
	header                  []byte // setup_header as it goes into the zero page
	kernelVersion           string
}

func isBzImage(image []byte) bool {
	return len(image) >= hdrMagic+4 && string(image[hdrMagic:hdrMagic+4]) == "HdrS"
}

func loadBzImage(mem *guestmem.Memory, src source, opts Options) (*Kernel, error) {
	bz, err := parseBzImage(src)
	if err != nil {
		return nil, err
	}
	var k *Kernel
	if opts.BzImageMode == BzImageEntry64 {
		k, err = bz.loadEntry64(mem, src, opts)
	} else {
		k, err = bz.loadExtracted(mem, src, opts)
	}
	if err != nil {
		return nil, err
	}
	k.Format = FormatBzImage
	k.SetupHeader = bz.header
	k.CmdlineMax = int(min(bz.cmdlineSize, 1<<31-1))
	k.InitrdAddrMax = guestmem.Addr(bz.initrdAddrMax)
	if k.InitrdAddrMax == 0 {
		k.InitrdAddrMax = DefaultInitrdAddrMax
	}
	k.Version = bz.kernelVersion
	return k, nil
}

// parseBzImage validates the setup header and locates the kernel and its
// payload inside the file. It reads only the real-mode setup (at most
// maxSetupSize bytes).
func parseBzImage(src source) (*bzImage, error) {
	image, err := src.bytesAt(0, min(src.size, maxSetupSize))
	if err != nil {
		return nil, err
	}
	le := binary.LittleEndian
	if !isBzImage(image) {
		return nil, errorf(ErrBzImageHeader, "no \"HdrS\" magic at %#x", hdrMagic)
	}
	if f := le.Uint16(image[hdrBootFlag:]); f != bootFlagMagic {
		return nil, errorf(ErrBzImageHeader, "boot_flag %#04x, want %#04x", f, bootFlagMagic)
	}
	if j := image[hdrJump]; j != 0xEB {
		return nil, errorf(ErrBzImageHeader, "jump opcode %#02x at %#x, want 0xeb", j, hdrJump)
	}
	// The jump's target ends the header (boot.rst: it "can be used to
	// determine the size of the header").
	headerEnd := hdrMagic + int(image[hdrJump+1])
	if headerEnd > zeroPageHeaderEnd {
		return nil, errorf(ErrBzImageHeader, "setup header ends at %#x, past the zero page's %#x", headerEnd, zeroPageHeaderEnd)
	}
	if headerEnd > len(image) { // only when the file is shorter than maxSetupSize
		return nil, errorf(ErrSetupSize, "setup header ends at %#x, past the %d-byte file", headerEnd, src.size)
	}
	if headerEnd < hdrVersion+2 {
		return nil, errorf(ErrBzImageHeader, "setup header ends at %#x, before its version field", headerEnd)
	}
	version := le.Uint16(image[hdrVersion:])
	if version < minVersionExtract {
		return nil, errorf(ErrBzImageVersion, "boot protocol %s; the loader needs at least %s",
			protocolVersion(version), protocolVersion(minVersionExtract))
	}
	if need := fieldsEnd(version); headerEnd < need {
		return nil, errorf(ErrBzImageHeader, "boot protocol %s header must reach %#x but ends at %#x",
			protocolVersion(version), need, headerEnd)
	}
	if image[hdrLoadflags]&loadedHigh == 0 {
		return nil, errorf(ErrBzImageHeader, "loadflags %#02x lack LOADED_HIGH: a zImage, not a bzImage", image[hdrLoadflags])
	}

	setupSects := uint64(image[hdrSetupSects])
	if setupSects == 0 {
		setupSects = 4 // boot.rst: "If this field is 0, the real value is 4."
	}
	setupSize := (setupSects + 1) * sectorSize
	if setupSize >= src.size {
		return nil, errorf(ErrSetupSize, "setup_sects %d (%d bytes of setup) leaves no kernel in the %d-byte file",
			image[hdrSetupSects], setupSize, src.size)
	}
	kernelSize := src.size - setupSize
	if syssize := uint64(le.Uint32(image[hdrSyssize:])); syssize != 0 {
		// The file may carry more after the kernel (a signature, padding).
		if syssize*16 > kernelSize {
			return nil, errorf(ErrSetupSize, "syssize %#x (%d bytes) exceeds the %d bytes after the setup code",
				syssize, syssize*16, kernelSize)
		}
		kernelSize = syssize * 16
	}
	bz := &bzImage{
		version:         version,
		initrdAddrMax:   le.Uint32(image[hdrInitrdAddrMax:]),
		kernelAlignment: le.Uint32(image[hdrKernelAlignment:]),
		relocatable:     image[hdrRelocatable] != 0,
		cmdlineSize:     le.Uint32(image[hdrCmdlineSize:]),
		kernelOff:       setupSize,
		kernelSize:      kernelSize,
		header:          append([]byte(nil), image[hdrSetupSects:headerEnd]...),
		kernelVersion:   readKernelVersion(image[:setupSize]),
	}
	if version >= minVersionEntry64 {
		bz.xloadflags = le.Uint16(image[hdrXloadflags:])
	}
	if version >= versionPrefFields {
		bz.prefAddress = le.Uint64(image[hdrPrefAddress:])
		bz.initSize = uint64(le.Uint32(image[hdrInitSize:]))
	}
	payloadOffset := uint64(le.Uint32(image[hdrPayloadOffset:]))
	payloadLength := uint64(le.Uint32(image[hdrPayloadLength:]))
	if payloadLength > 0 {
		if !inFile(payloadOffset, payloadLength, bz.kernelSize) {
			return nil, errorf(ErrPayloadRange, "payload_offset %#x + payload_length %#x past the %d-byte kernel",
				payloadOffset, payloadLength, bz.kernelSize)
		}
		bz.payloadOff, bz.payloadSize = bz.kernelOff+payloadOffset, payloadLength
	}
	return bz, nil
}

// fieldsEnd returns where the header fields the loader reads end for a
// protocol version.
func fieldsEnd(version uint16) int {
	if version >= versionPrefFields {
		return hdrInitSize + 4
	}
	return hdrPayloadLength + 4
}

func protocolVersion(v uint16) string { return fmt.Sprintf("%d.%02d", v>>8, v&0xff) }

// readKernelVersion returns the kernel_version string, or "" if the pointer
// or the string is unusable: it is only for diagnostics.
func readKernelVersion(setup []byte) string {
	ptr := int(binary.LittleEndian.Uint16(setup[hdrKernelVersion:]))
	if ptr == 0 || hdrJump+ptr >= len(setup) {
		return ""
	}
	s := setup[hdrJump+ptr:]
	s = s[:min(len(s), maxVersionLen)]
	for i, c := range s {
		if c == 0 {
			return string(s[:i])
		}
		if c < 0x20 || c > 0x7e {
			return ""
		}
	}
	return ""
}

// loadEntry64 copies the protected-mode kernel from src straight to its
// load address for the 64-bit entry: the guest's own decompressor runs
// from there.
func (bz *bzImage) loadEntry64(mem *guestmem.Memory, src source, opts Options) (*Kernel, error) {
	if bz.version < minVersionEntry64 {
		return nil, errorf(ErrBzImageVersion, "boot protocol %s has no xloadflags; the 64-bit entry needs %s",
			protocolVersion(bz.version), protocolVersion(minVersionEntry64))
	}
	if bz.xloadflags&xlfKernel64 == 0 {
		return nil, errorf(ErrNo64BitEntry, "xloadflags %#x lack XLF_KERNEL_64", bz.xloadflags)
	}
	if bz.kernelSize <= entry64Offset {
		return nil, errorf(ErrSetupSize, "protected-mode kernel is %d bytes; its 64-bit entry would be at +%#x",
			bz.kernelSize, entry64Offset)
	}
	if opts.protocol() == PVH {
		return nil, errorf(ErrNoPVHEntry, "the 64-bit entry is for the Linux 64-bit boot protocol only; use extraction for PVH")
	}
	size := max(bz.initSize, bz.kernelSize)
	addr, err := bz.chooseLoadAddr(mem, opts.minAddr(), size)
	if err != nil {
		return nil, err
	}
	dst, err := mem.Slice(addr, bz.kernelSize)
	if err != nil {
		return nil, err
	}
	if err := src.readAt(dst, bz.kernelOff); err != nil {
		return nil, fmt.Errorf("protected-mode kernel: %w", err)
	}
	entry := addr + entry64Offset
	return &Kernel{
		Path:     "bzimage-64bit",
		Protocol: Linux64,
		Entry:    entry,
		Entries:  []EntryPoint{{Linux64, entry}},
		Start:    addr,
		End:      addr + guestmem.Addr(size),
	}, nil
}

// chooseLoadAddr picks where the protected-mode kernel goes: pref_address
// when it fits, otherwise (relocatable kernels only) the lowest address at
// or above minAddr aligned to kernel_alignment where size bytes fit.
func (bz *bzImage) chooseLoadAddr(mem *guestmem.Memory, minAddr guestmem.Addr, size uint64) (guestmem.Addr, error) {
	fits := func(addr uint64) bool {
		end, ok := rangeEnd(addr, size)
		if !ok || addr < uint64(minAddr) || !mem.Contains(guestmem.Addr(addr), size) {
			return false
		}
		return end <= 1<<32 || bz.xloadflags&xlfCanBeLoadedAbove4 != 0
	}
	if bz.prefAddress != 0 && fits(bz.prefAddress) {
		return guestmem.Addr(bz.prefAddress), nil
	}
	if !bz.relocatable {
		return 0, errorf(ErrOutsideRAM, "kernel is not relocatable and [pref_address %#x, +%#x) is not in RAM at or above %#x",
			bz.prefAddress, size, minAddr)
	}
	align := uint64(bz.kernelAlignment)
	if align == 0 || align&(align-1) != 0 {
		return 0, errorf(ErrBzImageHeader, "kernel_alignment %#x is not a power of two", align)
	}
	for _, r := range mem.Regions() {
		addr, ok := alignUp(max(uint64(r.Base), uint64(minAddr)), align)
		if ok && fits(addr) {
			return guestmem.Addr(addr), nil
		}
	}
	return 0, errorf(ErrOutsideRAM, "no %#x-aligned place for the kernel's %#x bytes (init_size) in RAM at or above %#x",
		align, size, minAddr)
}

// loadExtracted decompresses the payload and loads the vmlinux ELF in it.
// The compressed payload (bounded by the file, itself bounded by guest RAM)
// and the decompressed vmlinux (bounded by guest RAM) are held in memory
// while its segments are copied.
func (bz *bzImage) loadExtracted(mem *guestmem.Memory, src source, opts Options) (*Kernel, error) {
	payload, err := bz.readPayload(src)
	if err != nil {
		return nil, err
	}
	limit := min(MaxDecompressedSize, mem.Size())
	vmlinux, format, err := decompress(opts.context(), payload, limit)
	if errors.Is(err, ErrPayloadTooLarge) && limit < MaxDecompressedSize {
		// Guest RAM, not the absolute cap, was the limit: more memory would
		// fit this kernel, so say so in the error's kind too.
		return nil, fmt.Errorf("%w: %w (guest RAM is %d bytes)", ErrOutsideRAM, err, limit)
	}
	if err != nil {
		return nil, err
	}
	k, err := loadELF(mem, bytesSource(vmlinux), opts)
	if err != nil {
		return nil, fmt.Errorf("%s payload: extracted vmlinux: %w", format, err)
	}
	k.Compression = format
	k.Path = "bzimage-extracted-" + format
	if k.Protocol == PVH {
		k.Path += "-pvh"
	}
	return k, nil
}

// readPayload reads the compressed payload from src.
func (bz *bzImage) readPayload(src source) ([]byte, error) {
	if bz.payloadSize == 0 {
		return nil, errorf(ErrPayloadRange, "payload_length is 0: nothing to extract")
	}
	payload, err := src.bytesAt(bz.payloadOff, bz.payloadSize)
	if err != nil {
		return nil, fmt.Errorf("payload: %w", err)
	}
	return payload, nil
}
