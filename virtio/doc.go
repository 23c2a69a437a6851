// Package virtio is the transport-neutral core of glue's virtio devices
// (virtio 1.x, split virtqueues): the Device interface that device models
// implement, Common (device status handshake, feature negotiation, queue
// configuration, activation, reset) that transports drive, Kicks (the bound
// on work a notification runs on a vCPU), Queue and DescriptorChain, and
// Interrupt.
//
// Three layers: a transport (virtio/transport/mmio, virtio/transport/pci)
// decodes registers into calls on Common; Common validates and activates a
// Device; the Device processes its Queues and signals through Interrupt,
// knowing nothing of interrupt lines or MSI-X.
//
// # Writing a device
//
// A device implements Device. virtio/rng is the complete small example:
//
//	type Device struct {
//		virtio.NoConfig            // or ConfigSize/ReadConfig/WriteConfig
//		mu sync.Mutex              // serializes Notify, Activate, Reset
//		q  *virtio.Queue           // nil while inactive
//	}
//
//	func (d *Device) Activate(mem *guestmem.Memory, features uint64, queues []*virtio.Queue, irq virtio.Interrupt) error {
//		d.mu.Lock(); defer d.mu.Unlock()
//		d.q = queues[0] // nil if the driver did not enable it
//		return nil
//	}
//
//	func (d *Device) Reset() { d.mu.Lock(); defer d.mu.Unlock(); d.q = nil }
//
//	func (d *Device) Notify(queue int) bool {
//		d.mu.Lock(); defer d.mu.Unlock()
//		if queue != 0 || d.q == nil {
//			return false
//		}
//		return d.q.Process(func(c *virtio.DescriptorChain) uint32 {
//			hdr := make([]byte, 16) // or a fixed array: bounded, host-owned
//			if _, err := io.ReadFull(c.Reader(), hdr); err != nil {
//				return 0 // malformed request: count it, answer it
//			}
//			w := c.Writer()
//			// ... parse hdr once, execute, write the response ...
//			return w.Written()
//		})
//	}
//
// The contract:
//
//   - Notify, Activate and Reset may run on different goroutines (vCPU
//     threads, later an event loop), so the device serializes them with its
//     own lock. Notify must do nothing before activation or after Reset;
//     Reset must not return while a Notify is using the queues, because
//     after it returns the transport may reuse the memory the rings were
//     in. Devices start no goroutines of their own; a rate-limited device
//     (virtio/blk, virtio/vnet) arms a timer on its limiter's clock, and
//     the timer only asks the VMM to notify the queue again (package
//     ratelimit).
//   - Queues arrive validated (size, alignment, every ring inside one RAM
//     region) and never change; queues[i] is nil if the driver left queue
//     i disabled. A Queue is not safe for concurrent use: call it under
//     the device's lock.
//   - Queue.Process pops at most Size chains, hands each to the callback
//     and returns it to the driver with the length the callback wrote,
//     then interrupts the driver if it asked (event index or
//     VIRTQ_AVAIL_F_NO_INTERRUPT). It returns true when more chains are
//     waiting; Notify passes that on so the caller calls again. Devices
//     that complete requests later use Pop, AddUsed and SignalUsed directly,
//     and must AddUsed every chain they popped.
//   - A DescriptorChain is already checked: at most Size descriptors, each
//     buffer inside one RAM region, total length within 2^32-1 (lower with
//     Queue.SetMaxChainBytes), readable buffers before writable ones.
//     What the chain means is the device's to check: read a header once
//     into host memory (Reader), validate the copy, and answer a bad
//     request with a status and a counter, never a panic. Host buffers are
//     sized by the device, never by a guest-declared length; Reader.WriteTo
//     and Writer.ReadFrom move data between guest memory and a file or
//     socket without a host copy.
//   - Interrupt.Signal(InterruptConfigChange, 0) after changing the
//     configuration space; Queue.SignalUsed for used buffers.
//
// # What the guest cannot do
//
// Common enforces the status handshake (ACKNOWLEDGE, DRIVER, FEATURES_OK
// only for a subset of the offered features that includes VERSION_1,
// DRIVER_OK; illegal writes are ignored, see SetStatus) and freezes each
// queue's geometry once it is enabled or DRIVER_OK is set, so a running
// device's rings stay where they were validated.
//
// A Queue checks every index the guest gives it. Two kinds of failure:
//
//   - A malformed chain (a loop or chain longer than the queue, next out of
//     range, a buffer outside RAM or wrapping the address space, total
//     length over the limit, readable after writable, a bad indirect table)
//     is returned to the driver with used length 0, counted in
//     QueueStats.Malformed and logged (the first at Warn, then Debug); the
//     queue goes on. Everything Common and its queues log at Info and
//     above is rate-limited per device and message, across resets
//     (LogBurst, LogInterval).
//   - A ring-level inconsistency (avail.idx more than Size ahead of the
//     device, a head index out of range, a head made available again while
//     still in flight) means the driver's ring state cannot be trusted: the
//     queue stops (Broken) and the device is marked DEVICE_NEEDS_RESET with
//     a configuration-change interrupt. Only a reset by the driver revives
//     it. Invalid geometry at DRIVER_OK, or an Activate error, does the
//     same.
//
// Indirect descriptors (VIRTIO_RING_F_INDIRECT_DESC) are offered and fully
// validated: the indirect descriptor must end the chain (no NEXT), its
// table must be a non-empty multiple of 16 bytes inside one RAM region, its
// entries may not be indirect themselves, their next indices stay inside the
// table, and they count toward the Size bound of the whole chain.
//
// Each descriptor and ring entry is read from guest memory once into a host
// copy; avail.idx is read with acquire ordering once per batch, and used
// elements are written before used.idx is published with release ordering
// (guestmem's ring-index accessors).
//
// Per notification a device does bounded work: at most Size available
// entries per Process, each chain at most Size descriptors. A notification
// a transport receives as a register write runs at most KickRounds such
// batches (Kicks); the transport defers the rest until the driver comes
// back.
package virtio
