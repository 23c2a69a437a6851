package x86

import (
	"errors"
	"fmt"
	"strings"

	"github.com/gluevmm/glue/guestmem"
	"github.com/gluevmm/glue/loader"
)

// BootConfig is what WriteBootMemory needs besides guest memory.
type BootConfig struct {
	Protocol loader.Protocol // loader.Linux64 (also the zero value) or loader.PVH
	// Cmdline is the kernel command line, at most CmdlineRegionSize-1 bytes
	// and no longer than the kernel accepts (the loader knows that limit).
	Cmdline string
	// Initrd is where the loader placed the initrd; Size 0: none.
	Initrd guestmem.Span
	// SetupHeader is the raw setup header of a bzImage (see WriteZeroPage);
	// nil for an ELF vmlinux. Linux64 only.
	SetupHeader []byte
	NumCPUs     int
	// RSDPAddr is where the ACPI tables' RSDP is (the VMM wrote them
	// already); 0 when the guest gets no ACPI tables.
	RSDPAddr guestmem.Addr
	// Reserved are address ranges outside RAM that the memory map reports
	// reserved: the PCI ECAM region.
	Reserved []guestmem.Span
}

// WriteBootMemory writes everything in low memory that the guest needs at
// its first instruction, in this order: the GDT and an empty IDT, the
// identity page tables, the command line at CmdlineAddr, the MP table, and
// last the zero page (Linux64) or the PVH start info, which point to the
// command line and the ACPI RSDP and carry the e820 map of mem.
//
// The kernel and initrd must already be loaded. The config is validated
// before anything is written; an error from a write means mem is too small
// for the layout and the VM must not be started.
func WriteBootMemory(mem *guestmem.Memory, cfg BootConfig) error {
	var ram []guestmem.Span
	for _, r := range mem.Regions() {
		ram = append(ram, r.Span)
	}
	e820, err := E820Map(ram, cfg.Reserved...)
	if err != nil {
		return err
	}
	if cfg.Initrd.Size != 0 && !mem.Contains(cfg.Initrd.Base, cfg.Initrd.Size) {
		return fmt.Errorf("x86: initrd %#x+%#x is not inside guest RAM", cfg.Initrd.Base, cfg.Initrd.Size)
	}
	info := BootInfo{
		CmdlineAddr: CmdlineAddr,
		CmdlineLen:  len(cfg.Cmdline),
		Initrd:      cfg.Initrd,
		E820:        e820,
		RSDPAddr:    cfg.RSDPAddr,
	}

	blobs := append(descriptorTableBlobs(), pageTableBlobs()...)
	cmdline, err := cmdlineBlob(cfg.Cmdline)
	if err != nil {
		return err
	}
	mp, err := mpTableBlob(cfg.NumCPUs)
	if err != nil {
		return err
	}
	blobs = append(blobs, cmdline, mp)
	switch cfg.Protocol {
	case 0, loader.Linux64:
		zp, err := zeroPageBlob(info, cfg.SetupHeader)
		if err != nil {
			return err
		}
		blobs = append(blobs, zp)
	case loader.PVH:
		if cfg.SetupHeader != nil {
			return errors.New("x86: a bzImage setup header has no use in a PVH boot")
		}
		pvh, err := pvhBlobs(info)
		if err != nil {
			return err
		}
		blobs = append(blobs, pvh...)
	default:
		return fmt.Errorf("x86: unknown boot protocol %v", cfg.Protocol)
	}
	return writeBlobs(mem, blobs...)
}

// WriteCmdline writes cmdline, NUL-terminated, at CmdlineAddr.
func WriteCmdline(mem *guestmem.Memory, cmdline string) error {
	b, err := cmdlineBlob(cmdline)
	if err != nil {
		return err
	}
	return writeBlobs(mem, b)
}

func cmdlineBlob(cmdline string) (blob, error) {
	if len(cmdline) > CmdlineRegionSize-1 {
		return blob{}, fmt.Errorf("x86: command line is %d bytes, at most %d fit", len(cmdline), CmdlineRegionSize-1)
	}
	if strings.IndexByte(cmdline, 0) >= 0 {
		return blob{}, errors.New("x86: command line contains a NUL byte")
	}
	data := append([]byte(cmdline), 0)
	return blob{what: "command line", addr: CmdlineAddr, data: data}, nil
}

// blob is one encoded structure and the guest address it belongs at. Every
// structure is encoded (and so validated) into a blob before any is written.
type blob struct {
	what string
	addr guestmem.Addr
	data []byte
}

func writeBlobs(mem *guestmem.Memory, blobs ...blob) error {
	for _, b := range blobs {
		if err := mem.WriteAt(b.data, b.addr); err != nil {
			return fmt.Errorf("x86: write %s: %w", b.what, err)
		}
	}
	return nil
}
