// Package mmio is the virtio-mmio transport (register layout version 2,
// virtio 1.x): one 4 KiB register window per device, which the VMM places
// on its MMIO bus (Transport implements bus.Device), announces to Linux
// with KernelParam, and wires to one interrupt line.
//
// # Registers
//
// Registers below ConfigOffset take aligned 32-bit accesses only; the
// device configuration space from ConfigOffset takes 8-, 16- and 32-bit
// accesses that lie inside Device.ConfigSize. Every other access reads as
// zero and is ignored on write; write-only registers read as zero. The
// status handshake, feature negotiation and the queue-configuration freeze
// are virtio.Common's (see its SetStatus); DeviceFeaturesSel and
// DriverFeaturesSel select 32-bit pages 0 and 1, other pages read as zero
// and ignore writes. QueueSel may name any queue; for a queue that does not
// exist QueueNumMax reads 0, which is how Linux learns the count. QueueNum
// values above 32768 are stored as 0 so that activation refuses them. The
// device has no shared memory regions (SHMLen reads -1) and does not offer
// VIRTIO_F_RING_RESET (QueueReset is ignored). Writing 0 to Status resets
// the device, its queues, the selectors and InterruptStatus.
//
// # Notifications
//
// A write to QueueNotify (value: the queue index) runs the device's work on
// the writing vCPU, a bounded amount of it: at most 16 batches (each at most
// the queue size in chains). A guest can keep a queue busy forever, from
// another vCPU or with buffers that overlap its own rings, and a vCPU stuck
// in an exit could never be paused or stopped. Work left over is deferred:
// the transport raises a used-buffer interrupt (the specification allows
// unrequested ones), and the InterruptACK write of the guest's handler runs
// the next bounded share, so a driver that stopped kicking because of the
// event index still gets its buffers processed.
//
// A VMM with an event loop instead binds an ioeventfd to base+NotifyOffset
// and calls NotifyQueue from the loop, resubmitting while it returns true;
// kicks then never reach Write. Kicks before DRIVER_OK or for queues that
// do not exist are dropped.
//
// # Interrupt line
//
// InterruptStatus holds bit 0 (used buffer) and bit 1 (configuration
// change, also sent with DEVICE_NEEDS_RESET); a configuration change also
// bumps ConfigGeneration. The line is a level: high while InterruptStatus
// is non-zero, low once InterruptACK has cleared every bit (or on reset).
// Trigger.SetLevel is called only on a change, in order, with the
// transport's innermost lock held; it must not block or call back into the
// transport. A VMM maps it to KVM_IRQ_LINE, or to an irqfd with a resample
// fd for a level-triggered IOAPIC pin; on an edge-triggered pin it may
// pulse on SetLevel(true) alone, because Linux's handler reads and
// acknowledges InterruptStatus before it looks at the rings, so an event
// that arrives while the line is still high is seen by the same handler.
//
// # Concurrency and lock order
//
// Read and Write may be called from any vCPU goroutine and NotifyQueue from
// any goroutine. The register lock is held around register accesses
// (including the device's Activate, Reset and configuration methods), never
// around Notify. Lock order: register lock, then the device's own lock,
// then the interrupt lock; a device signals interrupts with its lock held.
package mmio
