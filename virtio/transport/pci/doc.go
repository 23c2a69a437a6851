// Package virtiopci is the modern virtio-pci transport (virtio 1.x section
// 4.1): one PCI function per virtio device, built on glue's pci package,
// with the common, notify, ISR, device configuration and PCI configuration
// access capabilities, MSI-X and INTx. Its import path ends in pci; its
// name is virtiopci so that importers can use glue's pci package beside it.
// It knows virtio and pci, nothing of KVM, x86 or the VMM.
//
// # API
//
//	New(dev virtio.Device, mem *guestmem.Memory, cfg Config, log *slog.Logger) (*Transport, error)
//	(*Transport).Function() *pci.Function       // the VMM attaches it: root.Attach(slot, fn, intxLine)
//	(*Transport).NotifyAddress(queue int) (uint64, bool) // bind an ioeventfd here
//	(*Transport).NotifyQueue(queue int) (more bool)      // the ioeventfd's handler
//	(*Transport).NumQueues() int
//	(*Transport).Device() virtio.Device
//
// Config carries the BAR's initial address (Config.BARAddr, aligned to
// BARSize, inside one of the VMM's BAR windows: a 64-bit BAR may also lie
// below 4 GiB), the MSI-X sink (the VMM's KVM GSI routes
// and irqfds) and an optional Resubmit hook. The VMM registers
// Function().BARRegion(BAR) on its MMIO bus at the BAR's address with size
// BARSize, and moves it, and re-binds the queues' ioeventfds at the new
// NotifyAddress, when pci.RootConfig.BARMoved reports a move of this
// function (BARMove.Function == Function()).
//
// # Identity and BAR layout
//
// The function is 1af4:(1040 + virtio device ID), revision 1, subsystem
// 1af4:(40 + device ID), interrupt pin A, with a class code by device type
// (Ethernet, SCSI storage, other communication, unassigned). BAR 0 is one
// 64-bit non-prefetchable memory BAR of BARSize (64 KiB): the common
// configuration at CommonOffset, the ISR at ISROffset, the device
// configuration at DeviceOffset (no DEVICE_CFG capability for a device
// without one), the notification addresses at NotifyOffset, 4 bytes apart
// (notify_off_multiplier 4, queue_notify_off = queue index), and the MSI-X
// table and PBA of NumQueues+1 vectors at MSIXTableOffset and
// MSIXPBAOffset.
//
// # Registers and access widths
//
// The specification requires the driver to access each common
// configuration field with its own width and alignment, and 64-bit fields
// as two 32-bit halves. The transport follows exactly that (it also takes a
// whole aligned 8-byte access of a 64-bit field); any other access, and any
// access to an offset that is no field, reads as zero and is ignored on
// write. The device configuration takes 1-, 2- and 4-byte naturally
// aligned accesses inside Device.ConfigSize; the ISR takes a 1-byte read;
// a notification is a 2- or 4-byte write at a queue's address (its value is
// not needed: the address names the queue). Everything else in the BAR,
// outside the MSI-X structures that the pci package serves, reads zero.
//
// The status handshake, feature negotiation and the queue freeze are
// virtio.Common's, shared with the MMIO transport: queue_size, queue_enable
// and the ring addresses are ignored once the queue is enabled or the
// driver set DRIVER_OK, and so is queue_msix_vector. queue_select may name
// any queue; for one that does not exist queue_size reads 0 (how a driver
// learns the count), queue_msix_vector reads NoVector and writes are
// ignored. queue_enable takes only 1 (the driver must not write 0).
// queue_size values above 32768 are stored as 0 so that activation refuses
// them. Writing 0 to device_status resets the device, the selectors, the
// ISR and INTx, and sets every vector to NoVector. Only feature pages 0 and
// 1 exist; config_generation counts configuration changes.
//
// The PCI_CFG capability's window (pci_cfg_data) reads or writes length
// (1, 2 or 4) bytes at offset of BAR 0's virtio structures, with the access
// rules above, whether or not memory decoding is on; a read covering the
// window's first byte performs the BAR read, a write covering it the BAR
// write. Another BAR or length reads zero and drops writes. The MSI-X table
// is not reachable through it.
//
// # Interrupts
//
// Every interrupt first sets its ISR bit: bit 0 for a used buffer, bit 1
// for a configuration change (also sent with DEVICE_NEEDS_RESET). With
// MSI-X enabled it is then sent to the vector the driver assigned to the
// queue (queue_msix_vector) or to the configuration (msix_config) through
// the pci package, which holds it pending while masked and sends it on
// unmask; an event whose vector is NoVector is not signalled. A vector
// written outside the table reads back as NoVector (section 4.1.5.1.2).
// With MSI-X disabled the function's INTx request goes high instead; the
// driver's ISR read returns and clears the bits and lowers the request,
// so the level-triggered line stays high until the driver acknowledged.
//
// # Notifications
//
// A VMM binds one ioeventfd per queue at NotifyAddress and calls
// NotifyQueue from its event loop, resubmitting while it returns true.
// Without an ioeventfd the guest's write reaches the BAR and runs the
// device's work on the writing vCPU, at most virtio.KickRounds (16)
// batches of it, with virtio.Kicks as the MMIO transport does: a vCPU stuck in an exit could never be paused. Work left
// over goes to Config.Resubmit when it is set; otherwise the transport
// raises a used-buffer interrupt (the specification allows unrequested
// ones) and runs the next share on the driver's next ISR read or
// notification write. Kicks before DRIVER_OK, while bus mastering is off,
// or for queues that do not exist are dropped.
//
// # Concurrency and lock order
//
// Everything may be called from any goroutine. The register lock is held
// around register accesses (including the device's Activate, Reset and
// configuration methods), never around Notify. Lock order: the pci root's
// lock (configuration accesses), the register lock, the device's lock, the
// ISR lock, then the function's lock inside the pci package, where the
// MSI-X sink and the INTx line are called.
package virtiopci
