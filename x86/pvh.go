package x86

import (
	"encoding/binary"
	"fmt"

	"github.com/gluevmm/glue/guestmem"
)

// The PVH entry's boot information (Xen's
// xen/include/public/arch-x86/hvm/start_info.h): struct hvm_start_info,
// version 1, whose address the kernel gets in EBX. Address fields of 0 mean
// "not present".
const (
	pvhStartMagic       = 0x336e_c578 // "xEn3" with the 0x80 bit of the "E" set
	pvhStartInfoVersion = 1           // version 1 added the memory map

	pvhStartInfoSize    = 56
	pvhModlistEntrySize = 32 // paddr, size, cmdline_paddr, reserved: u64 each
	pvhMemmapEntrySize  = 24 // addr u64, size u64, type u32, reserved u32

	// Offsets in struct hvm_start_info.
	siMagic         = 0  // u32
	siVersion       = 4  // u32
	siFlags         = 8  // u32, SIF_*; none apply
	siNrModules     = 12 // u32
	siModlistPaddr  = 16 // u64
	siCmdlinePaddr  = 24 // u64
	siRSDPPaddr     = 32 // u64; 0: no ACPI
	siMemmapPaddr   = 40 // u64
	siMemmapEntries = 48 // u32
)

// WritePVHStartInfo writes struct hvm_start_info at PVHStartInfoAddr, the
// initrd (if any) as the only module at PVHModlistAddr, and info.E820 as the
// memory map at PVHMemmapAddr. info.CmdlineLen is not used: the PVH command
// line is only NUL-terminated.
func WritePVHStartInfo(mem *guestmem.Memory, info BootInfo) error {
	blobs, err := pvhBlobs(info)
	if err != nil {
		return err
	}
	return writeBlobs(mem, blobs...)
}

func pvhBlobs(info BootInfo) ([]blob, error) {
	if len(info.E820) > MaxE820Entries {
		return nil, fmt.Errorf("x86: PVH start info: %d memory map entries, at most %d fit", len(info.E820), MaxE820Entries)
	}
	le := binary.LittleEndian
	start := make([]byte, pvhStartInfoSize)
	le.PutUint32(start[siMagic:], pvhStartMagic)
	le.PutUint32(start[siVersion:], pvhStartInfoVersion)
	le.PutUint64(start[siCmdlinePaddr:], uint64(info.CmdlineAddr))
	le.PutUint64(start[siRSDPPaddr:], uint64(info.RSDPAddr))
	le.PutUint64(start[siMemmapPaddr:], uint64(PVHMemmapAddr))
	le.PutUint32(start[siMemmapEntries:], uint32(len(info.E820)))

	memmap := make([]byte, len(info.E820)*pvhMemmapEntrySize)
	for i, e := range info.E820 {
		entry := memmap[i*pvhMemmapEntrySize:]
		le.PutUint64(entry[0:], uint64(e.Addr))
		le.PutUint64(entry[8:], e.Size)
		le.PutUint32(entry[16:], uint32(e.Type))
	}

	blobs := []blob{{what: "PVH memory map", addr: PVHMemmapAddr, data: memmap}}
	if info.Initrd.Size != 0 {
		le.PutUint32(start[siNrModules:], 1)
		le.PutUint64(start[siModlistPaddr:], uint64(PVHModlistAddr))
		module := make([]byte, pvhModlistEntrySize)
		le.PutUint64(module[0:], uint64(info.Initrd.Base))
		le.PutUint64(module[8:], info.Initrd.Size)
		blobs = append(blobs, blob{what: "PVH module list", addr: PVHModlistAddr, data: module})
	}
	// The start info goes last, once everything it points to is in place.
	return append(blobs, blob{what: "PVH start info", addr: PVHStartInfoAddr, data: start}), nil
}
