// Package pci models a PCI root complex for a VMM: bus 0 with a host bridge,
// type-0 configuration spaces, memory BARs, a capability list, MSI-X and
// INTx. Like glue's other device models it is a pure state machine: no
// goroutines, no file descriptors, every side effect (moving a BAR, sending
// an MSI-X message, driving an interrupt line) injected by the VMM. It knows
// nothing of virtio; a virtio-pci transport is one Function built on it.
//
// # Pieces and who owns what
//
// A device model creates a Function with NewFunction (its Header: IDs,
// class, interrupt pin), declares BARs with AddBAR, capabilities with
// AddCapability (NewVendorCapability for read-only vendor-specific ones) and
// MSI-X with AddMSIX. The VMM owns placement: it chooses each BAR's initial
// address, the slot (Attach, device numbers 1-31; 0 is the host bridge), the
// Line behind the INTx pin and the MSIXSink behind the vectors. It registers
// three kinds of device on its buses, all with the Read/Write(offset, data)
// shape of glue's bus.Device:
//
//   - Root.ConfigIO on the port bus at 0xcf8, 8 ports (mechanism #1);
//   - Root.ECAM on the MMIO bus, ECAMBusSize per bus the MCFG table lists;
//   - Function.BARRegion(i) on the MMIO bus at each BAR's address and size.
//
// The host bridge at 00:00.0 has Red Hat's generic PCIe host bridge ID
// (1b36:0008), class 06/00/00, no BARs and no capabilities.
//
// # Configuration accesses
//
// Every configuration space is 256 bytes; through ECAM, registers
// 0x100-0xfff read as zero (no extended capabilities). An access carries 1,
// 2 or 4 bytes inside one dword, as a configuration transaction's byte
// enables allow; ECAM also splits an aligned 8-byte access into two dwords.
// Any other access, and any access to a function that does not exist (also
// on a bus other than 0), reads all ones and is dropped; a miss sets the
// host bridge's Received Master Abort status bit, which the guest clears by
// writing one. Nothing panics on guest input.
//
// Fields are read-only unless the header defines them writable: the command
// register's memory-space, bus-master, parity, SERR and INTx-disable bits,
// cache line size, interrupt line, and the address bits of each BAR above
// its size. I/O space stays off (no I/O BARs) and there is no expansion ROM.
// Status reports the capability list and the INTx request.
//
// # BARs: sizing and relocation
//
// A BAR register keeps whatever the guest writes to its address bits, so the
// sizing protocol works as on hardware: write all ones, read back the size
// mask with the type and prefetchable flags, restore. Linux's BAR probe
// (drivers/pci/probe.c) does this with decoding disabled and sizes a 64-bit
// BAR's low dword before its high one.
//
// The register is not the mapping. A BAR is decoded at its mapped address,
// which starts at BAR.Addr and changes only when the package places the BAR
// again, which it does only with memory decoding enabled: when the guest
// sets the memory-space bit, and after every configuration write that
// changes a BAR register while it is set. Sizing with decoding disabled
// therefore never moves anything. A placement takes the register value if
// the whole BAR lies inside one RootConfig.Windows range, overlaps no
// Reserved range (RAM) and no other BAR's mapping; then the mapping follows
// and RootConfig.BARMoved is called (the VMM moves the region on its bus).
// Otherwise the mapping stays where it was and RootConfig.BARRejected
// receives the reason; the register keeps the guest's value, so a guest that
// writes a 64-bit BAR's halves one at a time with decoding on (Linux
// switches decoding off first) passes through a rejected transient and then
// moves. Placement happens under the root's lock, so two functions never
// claim the same range.
//
// BARRegion answers only while memory decoding is on. Device models check
// Function.BusMaster before touching guest memory.
//
// # Interrupts
//
// Function.Notify(vector) is the device side's one call. With MSI-X enabled
// it sends the vector's message through the MSIXSink: Route first when the
// vector's address or data changed since it was last routed (KVM:
// KVM_SET_GSI_ROUTING), then Signal (KVM: the vector's irqfd). If the
// function or the vector is masked, or bus mastering is off, the vector's
// pending bit is set instead, and the message is sent, and the bit cleared,
// as soon as all of them allow it again. Vectors outside the table are
// ignored. Every vector starts masked.
//
// Without MSI-X enabled, Notify raises the function's INTx request; the
// device model lowers it with SetINTx(false) when the driver acknowledges
// (virtio: reading the ISR). The Line sees the request unless the guest set
// Interrupt Disable or enabled MSI-X. Swizzle gives the standard mapping of
// slot and pin onto the four interrupt inputs the VMM reserves for PCI; the
// ACPI _PRT must list the same mapping.
//
// # Concurrency
//
// All methods are safe for concurrent use by vCPU goroutines and device
// goroutines. Root.mu serialises configuration accesses; each Function has
// its own mutex for its registers and MSI-X state; the order is Root, then
// Function. BARMoved and BARRejected run with the root's lock held, the
// MSIXSink and Line with the function's lock held: they must not call back
// into the package. Capability and Region callbacks run without the
// function's lock.
package pci
