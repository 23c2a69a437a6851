package loader

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/bits"

	"github.com/gluevmm/glue/guestmem"
)

// Protocol is the boot protocol a kernel is entered through.
type Protocol int

const (
	// Linux64 is Linux's 64-bit boot protocol (Documentation/arch/x86/boot.rst,
	// "64-bit boot protocol"): the vCPU starts in long mode with identity
	// page tables, RSI holds the zero page (struct boot_params).
	Linux64 Protocol = iota + 1
	// PVH is Xen's direct boot ABI as used by QEMU and Cloud Hypervisor: the
	// vCPU starts in 32-bit protected mode without paging, EBX holds the
	// struct hvm_start_info.
	PVH
)

func (p Protocol) String() string {
	switch p {
	case Linux64:
		return "linux64"
	case PVH:
		return "pvh"
	default:
		return fmt.Sprintf("Protocol(%d)", int(p))
	}
}

// Format is the kind of kernel image file.
type Format int

const (
	// FormatELF is an uncompressed ELF64 x86-64 executable: a Linux vmlinux
	// or any other kernel with physical load addresses (glue's test guest).
	FormatELF Format = iota + 1
	// FormatBzImage is Linux's bzImage (what distributions ship as vmlinuz).
	FormatBzImage
)

func (f Format) String() string {
	switch f {
	case FormatELF:
		return "elf"
	case FormatBzImage:
		return "bzimage"
	default:
		return fmt.Sprintf("Format(%d)", int(f))
	}
}

// BzImageMode says how a bzImage is started.
type BzImageMode int

const (
	// BzImageExtract (the default) decompresses the vmlinux ELF embedded in
	// the bzImage and loads it as an ELF: the guest skips its decompressor.
	BzImageExtract BzImageMode = iota
	// BzImageEntry64 copies the bzImage's protected-mode part into RAM and
	// enters its own decompressor through the 64-bit entry (load address +
	// 0x200), as a boot loader does.
	BzImageEntry64
)

func (m BzImageMode) String() string {
	switch m {
	case BzImageExtract:
		return "extract"
	case BzImageEntry64:
		return "entry64"
	default:
		return fmt.Sprintf("BzImageMode(%d)", int(m))
	}
}

// DefaultMinAddr is the lowest address a kernel may occupy when
// Options.MinAddr is zero: the first byte above the legacy hole, so the boot
// structures the VMM places in low memory cannot be overwritten.
const DefaultMinAddr guestmem.Addr = 0x100000

// Options chooses how an image is loaded. The zero value is glue's default.
type Options struct {
	// Protocol selects the entry point. Zero means Linux64. PVH requires an
	// image with a Xen PHYS32_ENTRY note and fails with ErrNoPVHEntry
	// otherwise.
	Protocol Protocol
	// BzImageMode chooses between extraction (default) and the bzImage's
	// own 64-bit entry. It is ignored for ELF images.
	BzImageMode BzImageMode
	// MinAddr is the lowest guest-physical address the kernel may occupy.
	// Zero means DefaultMinAddr.
	MinAddr guestmem.Addr
	// Context, if not nil, bounds the load: a bzImage's decompression
	// stops between chunks once it ends, with its error. (A field rather
	// than a parameter, so that the loading functions keep their
	// signatures; Options is per call.)
	Context context.Context
}

func (o Options) context() context.Context {
	if o.Context == nil {
		return context.Background()
	}
	return o.Context
}

// EntryPoint is one way into a loaded kernel.
type EntryPoint struct {
	Protocol Protocol
	Addr     guestmem.Addr
}

// Kernel describes a kernel loaded into guest memory and how to enter it.
type Kernel struct {
	Format Format
	// Path names how the image was loaded, for logs: "elf", "pvh",
	// "bzimage-64bit", "bzimage-extracted-xz", "bzimage-extracted-xz-pvh".
	Path string
	// Compression is the bzImage payload's format ("xz", "gzip", "zstd",
	// "lz4"); empty when nothing was decompressed.
	Compression string
	// Protocol and Entry are the chosen entry; Entries lists every entry the
	// loaded image offers (Linux64 first).
	Protocol Protocol
	Entry    guestmem.Addr
	Entries  []EntryPoint
	// Start and End bound the memory the kernel occupies, End exclusive.
	// For the bzImage 64-bit entry it covers init_size, the memory the
	// decompressor needs.
	Start, End guestmem.Addr
	// SetupHeader is the bzImage's struct setup_header, bytes 0x1f1 up to
	// 0x202 plus the byte at 0x201, to copy into the zero page at offset
	// 0x1f1. Nil for an ELF image: the VMM then fills the fields itself.
	SetupHeader []byte
	// CmdlineMax is the longest command line the kernel accepts, without
	// the terminating NUL: cmdline_size from a bzImage header, and
	// DefaultCmdlineSize-1 for an ELF.
	CmdlineMax int
	// InitrdAddrMax is the highest address the initrd may occupy (inclusive).
	InitrdAddrMax guestmem.Addr
	// Version is the bzImage's kernel_version string, for diagnostics;
	// empty for an ELF or when the header has none.
	Version string
}

// EntryFor returns the entry for protocol p, if the image offers one.
func (k *Kernel) EntryFor(p Protocol) (guestmem.Addr, bool) {
	for _, e := range k.Entries {
		if e.Protocol == p {
			return e.Addr, true
		}
	}
	return 0, false
}

const (
	// DefaultCmdlineSize is Linux x86's COMMAND_LINE_SIZE, terminating NUL
	// included; it applies to an ELF vmlinux, which has no header to say.
	DefaultCmdlineSize = 2048
	// DefaultInitrdAddrMax is boot.rst's initrd limit for kernels whose
	// header does not give one (protocol 2.02 and earlier, and ELF vmlinux).
	DefaultInitrdAddrMax guestmem.Addr = 0x37FFFFFF
)

var elfMagic = []byte{0x7f, 'E', 'L', 'F'}

// Load detects the image format by its magic (\x7fELF for an ELF, "HdrS" at
// 0x202 for a bzImage), validates every header field, and only then copies
// the kernel into mem. On error nothing has been written to mem.
func Load(mem *guestmem.Memory, image []byte, opts Options) (*Kernel, error) {
	return load(mem, bytesSource(image), opts)
}

// load is Load for an image read through src, which LoadFile uses to read
// a file piece by piece rather than whole.
func load(mem *guestmem.Memory, src source, opts Options) (*Kernel, error) {
	if mem == nil {
		return nil, errors.New("loader: nil guest memory")
	}
	if err := opts.validate(); err != nil {
		return nil, fmt.Errorf("loader: %w", err)
	}
	magic, err := src.bytesAt(0, min(src.size, hdrMagic+4))
	if err != nil {
		return nil, fmt.Errorf("loader: %w", err)
	}
	switch {
	case bytes.HasPrefix(magic, elfMagic):
		k, err := loadELF(mem, src, opts)
		if err != nil {
			return nil, fmt.Errorf("loader: ELF: %w", err)
		}
		return k, nil
	case isBzImage(magic):
		k, err := loadBzImage(mem, src, opts)
		if err != nil {
			return nil, fmt.Errorf("loader: bzImage: %w", err)
		}
		return k, nil
	default:
		return nil, errorf(ErrUnknownFormat,
			"loader: image (%d bytes, starting % x) is neither an ELF vmlinux nor a bzImage",
			src.size, magic[:min(len(magic), 8)])
	}
}

func (o Options) validate() error {
	switch o.Protocol {
	case 0, Linux64, PVH:
	default:
		return fmt.Errorf("unknown protocol %v", o.Protocol)
	}
	switch o.BzImageMode {
	case BzImageExtract, BzImageEntry64:
	default:
		return fmt.Errorf("unknown bzImage mode %v", o.BzImageMode)
	}
	return nil
}

func (o Options) minAddr() guestmem.Addr {
	if o.MinAddr == 0 {
		return DefaultMinAddr
	}
	return o.MinAddr
}

func (o Options) protocol() Protocol {
	if o.Protocol == 0 {
		return Linux64
	}
	return o.Protocol
}

// rangeEnd returns start+size, and false if that overflows 64 bits.
func rangeEnd(start, size uint64) (uint64, bool) {
	end, carry := bits.Add64(start, size, 0)
	return end, carry == 0
}

// inFile reports whether [off, off+size) lies inside a file of fileLen bytes.
func inFile(off, size, fileLen uint64) bool {
	return off <= fileLen && size <= fileLen-off
}

// alignUp rounds v up to a multiple of align (a power of two), and reports
// false on overflow.
func alignUp(v, align uint64) (uint64, bool) {
	end, ok := rangeEnd(v, align-1)
	return end &^ (align - 1), ok
}
