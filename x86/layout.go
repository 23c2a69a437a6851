package x86

import "github.com/gluevmm/glue/guestmem"

// The guest-physical memory map and IRQ map. This file is the only place that
// assigns guest addresses, I/O ports and interrupt lines; every other package
// takes them from here. docs/memory-layout.md draws the same map.

// Low memory (first MiB). Everything the VMM writes for boot lives here,
// below the EBDA, so it never collides with a kernel loaded at 1 MiB or above.
const (
	GDTAddr           guestmem.Addr = 0x500  // boot GDT (see gdt.go), room for 8 descriptors
	IDTAddr           guestmem.Addr = 0x540  // empty IDT loaded before entry (BootIDTSize bytes)
	PVHStartInfoAddr  guestmem.Addr = 0x6000 // hvm_start_info for the PVH entry
	PVHModlistAddr    guestmem.Addr = 0x6040 // hvm_modlist_entry for the initrd
	PVHMemmapAddr     guestmem.Addr = 0x6100 // hvm_memmap_table_entry array
	ZeroPageAddr      guestmem.Addr = 0x7000 // struct boot_params (the "zero page")
	BootStackTop      guestmem.Addr = 0x8ff0 // initial RSP/ESP
	PML4Addr          guestmem.Addr = 0x9000 // identity page tables: PML4
	PDPTAddr          guestmem.Addr = 0xa000 // one PDPT
	PDAddr            guestmem.Addr = 0xb000 // IdentityMapGiB page directories, 2 MiB pages
	CmdlineAddr       guestmem.Addr = 0x20000
	CmdlineRegionSize               = 0x10000 // room reserved for the command line
	EBDAStart         guestmem.Addr = 0x9fc00 // MP table lives at the start of the EBDA
	MPTableAddr                     = EBDAStart
	HighMemStart      guestmem.Addr = 0x100000 // first byte above the legacy hole
)

// IdentityMapGiB is how much of the guest-physical space the boot page tables
// identity-map, with 2 MiB pages (1 GiB pages triple-fault on some KVM hosts,
// PVM among them). 4 GiB covers RAM below the MMIO gap and the LAPIC/IOAPIC.
const IdentityMapGiB = 4

// The 32-bit MMIO gap: guest RAM above MMIOGapStart is placed at 4 GiB
// instead, so that the devices and the interrupt controllers have addresses
// below 4 GiB.
const (
	MMIOGapStart guestmem.Addr = 0xc000_0000
	MMIOGapEnd   guestmem.Addr = 1 << 32

	VirtioMMIOBase guestmem.Addr = 0xd000_0000 // first virtio-mmio device window
	VirtioMMIOSize               = 0x1000      // one window per device
	IOAPICAddr     guestmem.Addr = 0xfec0_0000
	LAPICAddr      guestmem.Addr = 0xfee0_0000
)

// Legacy I/O ports.
const (
	COM1Port   = 0x3f8
	COM2Port   = 0x2f8
	UARTPorts  = 8
	I8042Data  = 0x60
	I8042Cmd   = 0x64
	RTCIndex   = 0x70
	RTCData    = 0x71
	DebugPort  = 0x80 // POST code port; ignored, but its writes are cheap exits
	PCIConfigA = 0xcf8
)

// ISA interrupt lines (IOAPIC pins 0-15 follow the PC convention).
const (
	IRQKeyboard  = 1
	IRQCOM2      = 3
	IRQCOM1      = 4
	IRQRTC       = 8
	IRQMouse     = 12
	IRQVirtioMin = 5 // virtio-mmio devices take the free lines from here, see VirtioIRQ
)

// virtioIRQs are the IOAPIC pins left for virtio-mmio devices, in order.
var virtioIRQs = []uint32{5, 6, 7, 9, 10, 11, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23}

// MaxVirtioDevices is how many virtio-mmio devices have an interrupt line.
var MaxVirtioDevices = len(virtioIRQs)

// VirtioIRQ returns the interrupt line of the n-th virtio-mmio device, and
// false when n is past the last free line.
func VirtioIRQ(n int) (uint32, bool) {
	if n < 0 || n >= len(virtioIRQs) {
		return 0, false
	}
	return virtioIRQs[n], true
}

// VirtioMMIOAddr returns the base of the n-th virtio-mmio window.
func VirtioMMIOAddr(n int) guestmem.Addr {
	return VirtioMMIOBase + guestmem.Addr(n)*VirtioMMIOSize
}

// MaxRAM is the most guest RAM the layout supports (1 TiB): far beyond what
// the tests use, small enough that every address computation stays in range.
const MaxRAM = 1 << 40

// RAMSpans splits memBytes of guest RAM around the MMIO gap: up to
// MMIOGapStart at address 0, the rest from 4 GiB.
func RAMSpans(memBytes uint64) []guestmem.Span {
	if memBytes <= uint64(MMIOGapStart) {
		return []guestmem.Span{{Base: 0, Size: memBytes}}
	}
	return []guestmem.Span{
		{Base: 0, Size: uint64(MMIOGapStart)},
		{Base: MMIOGapEnd, Size: memBytes - uint64(MMIOGapStart)},
	}
}

// MaxCPUs is the most vCPUs the boot tables describe: xAPIC IDs are 8 bits,
// the IOAPIC takes the ID after the last CPU, and 0xff is the broadcast ID.
const MaxCPUs = 254

// KVM needs three private pages below 4 GiB for the TSS and the identity map
// it uses for real-mode emulation; they sit at the top of the MMIO gap,
// clear of the LAPIC and IOAPIC.
const (
	KVMIdentityMapAddr guestmem.Addr = 0xfffb_c000
	KVMTSSAddr         guestmem.Addr = 0xfffb_d000
)
