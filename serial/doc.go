// Package serial models a 16550A UART, the PC's COM port, as a pure register
// file: no goroutines, no file descriptors, every side effect injected.
//
// # Registers
//
// The UART decodes eight byte registers at offsets 0-7 from its base (0x3f8
// for COM1): RBR/THR, IER, IIR/FCR, LCR, MCR, LSR, MSR and SCR, with the
// divisor latch (DLL/DLM) replacing RBR/THR and IER while LCR bit 7 (DLAB)
// is set. An access wider than one byte is split into byte accesses at
// consecutive offsets, as the ISA bus does for an 8-bit device; bytes past
// offset 7 read as 0xff and are dropped on write. No access panics.
//
// Transmission is instantaneous: a byte written to THR goes straight to the
// injected io.Writer (or, in loopback mode, to the receiver), so LSR always
// reports THRE and TEMT and the transmit FIFO is always empty. The receive
// FIFO holds FIFOSize bytes when FCR enables the FIFOs and one byte (the
// 16450's RBR) when it does not. The receive trigger level is stored but not
// modelled: "received data available" is raised as soon as one byte is
// waiting, so no character-timeout timer is needed.
//
// # Interrupt line
//
// The UART drives its interrupt output as a level: high while an enabled
// interrupt condition is pending (IIR bit 0 clear) and MCR.OUT2 is set and
// the UART is not in loopback mode. On a PC, OUT2 gates the UART's IRQ onto
// the ISA bus and loopback forces OUT2 inactive, so Linux's 8250 driver sets
// OUT2 before it expects interrupts. Trigger.SetLevel is called only when
// that level changes, with the UART's lock held, so calls arrive in order and
// never repeat a level.
//
// For KVM the VMM can forward each level change verbatim with KVM_IRQ_LINE:
// the in-kernel PIC and IOAPIC both detect the rising edge of an
// edge-triggered ISA pin themselves. A VMM that prefers to pulse (assert and
// deassert on SetLevel(true), ignore SetLevel(false)) delivers the same
// interrupts: one per rising edge, which is what real hardware on an
// edge-triggered ISA line produces and what the 8250 driver is written for
// (its handler loops on IIR until no interrupt is pending, so the line is low
// when it returns).
//
// # Output never blocks for long
//
// The UART calls the injected io.Writer from the vCPU that wrote THR, with the
// UART's lock held. That writer must not block: the VMM passes one that
// copies into a bounded buffer drained by another goroutine, dropping bytes
// when the buffer is full, so that a stalled consumer of the console never
// stalls a vCPU. Errors and short writes are ignored; the guest cannot act on
// them.
//
// # Input
//
// Enqueue hands host bytes to the receiver. It accepts at most Room bytes and
// never overruns the FIFO (the host applies flow control instead of losing
// input); the caller retries the rest after Drained delivers:
//
//	for len(p) > 0 {
//		p = p[u.Enqueue(p):]
//		if len(p) > 0 {
//			select {
//			case <-u.Drained():
//			case <-ctx.Done():
//				return
//			}
//		}
//	}
//
// Drained is signalled (through a channel with a buffer of one, so a signal
// is never lost) once the guest has emptied the receive FIFO after an
// Enqueue that could not take everything. An input goroutine therefore
// sleeps while the guest is not reading, and wakes at most once per FIFO's
// worth of input. Overrun (LSR.OE) happens only when the guest itself
// overfills its receiver in loopback mode.
//
// # Concurrency
//
// All methods are safe for concurrent use by vCPU goroutines and an input
// goroutine; one mutex guards the whole register file. The injected Trigger
// and io.Writer are called with that mutex held and must not call back into
// the UART.
package serial
