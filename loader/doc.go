// Package loader places a guest kernel in guest memory and reports how to
// enter it. It reads three kinds of image, recognised by their magic:
//
//   - An ELF vmlinux (ELF64, x86-64, ET_EXEC): every non-empty PT_LOAD
//     segment is copied to its physical address p_paddr and its bss part
//     zeroed, as Firecracker does. Linux's x86-64 vmlinux has a physical
//     e_entry (ENTRY(phys_startup_64), 0x1000000 for a default build); an
//     e_entry that is instead a virtual address inside a segment is
//     translated through that segment's p_vaddr/p_paddr.
//   - A PVH ELF: the same ELF with a "Xen" note of type
//     XEN_ELFNOTE_PHYS32_ENTRY (in a PT_NOTE segment or, failing that, an
//     SHT_NOTE section), whose descriptor is a 32-bit physical entry.
//   - A bzImage (Documentation/arch/x86/boot.rst), see below.
//
// # Entry protocol
//
// Kernel.Entries lists every entry an image offers: Linux64 (the 64-bit
// Linux boot protocol, at e_entry) whenever e_entry lies in a loaded
// segment, and PVH when the note is present. Options.Protocol chooses; its
// zero value means Linux64, glue's default, even for an image that also
// offers PVH. An ELF cannot say whether its e_entry really is a 64-bit Linux
// entry, so a caller that boots a PVH-only kernel must ask for PVH.
//
// # bzImage: extraction (default) or the 64-bit entry
//
// A bzImage is a small setup program plus a compressed vmlinux ELF (the
// payload) and the decompressor that unpacks it. By default
// (BzImageExtract) the loader decompresses the payload itself (gzip, xz
// with the x86 BCJ filter, zstd, or lz4) and loads the ELF inside it, so the
// guest never runs its decompressor. That is faster (no in-guest
// decompression), and it is what works on hosts whose KVM emulates most
// guest-kernel instructions (PVM), where the 6.1 decompressor hangs in its
// 32-bit trampoline. BzImageEntry64 instead copies the
// protected-mode kernel to pref_address (or, for a relocatable kernel, the
// lowest address at or above Options.MinAddr aligned to kernel_alignment
// where init_size bytes fit) and enters it at +0x200: use it for payloads
// compressed with bzip2, lzma or lzo, which the loader does not decode.
//
// Both modes return the bzImage's setup header (Kernel.SetupHeader), which
// the VMM copies into the zero page at 0x1f1, so the kernel sees its real
// cmdline_size, version and flags; the VMM still fills in the loader's own
// fields (type_of_loader, cmd_line_ptr, ramdisk_*).
//
// # Untrusted input
//
// Images are untrusted. Every header field is checked with overflow-checked
// arithmetic against the file and against guest RAM before anything is
// copied, so a rejected image leaves guest memory untouched and nothing is
// ever written outside RAM or below Options.MinAddr. Each kind of defect has
// its own sentinel error (ErrSegmentOverlap, ErrSetupSize, ...), wrapped
// with context. Decompression is bounded by the size the payload declares,
// by guest RAM and by MaxDecompressedSize, so a decompression bomb fails
// with ErrPayloadTooLarge instead of exhausting host memory.
//
// LoadInitrd places an initrd above the kernel and below its
// initrd_addr_max; Cmdline builds and length-checks a command line.
package loader
