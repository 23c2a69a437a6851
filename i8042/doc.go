// Package i8042 models the PC's 8042 keyboard controller far enough for a
// guest to probe it and to reset the machine through it. There is no
// keyboard or mouse behind it: bytes sent to either device are dropped.
//
// # Two ports, one controller
//
// The controller answers at two I/O ports that are not adjacent: data at
// 0x60 and command/status at 0x64 (0x61-0x63 belong to other devices; Linux
// reads 0x61, the system control port, while calibrating timers). So a
// Controller is not itself a bus device: DataPort and CommandPort return
// one-byte views of it, to be registered on the port-I/O bus at 0x60 and
// 0x64 with size 1. Each view decodes offset 0 only; any other byte of an
// access reads as 0xff and is dropped on write, and no access panics.
//
// # What it answers
//
// The status register (read at 0x64) reports the output buffer (bit 0), the
// system flag (bit 2), whether the last write went to the command port (bit
// 3), an unlocked keyboard (bit 4) and, with bit 0, whether the pending byte
// came from the auxiliary (mouse) side (bit 5). Commands are executed at
// once, so the input-buffer-full bit (1) is always clear.
//
// Commands written to 0x64, each answering in the output buffer (read at
// 0x60) where it answers at all:
//
//	0x20-0x3f  read controller RAM byte (0x20: the command byte)
//	0x60-0x7f  write controller RAM byte: the next byte written to 0x60
//	0xa7/0xa8  disable/enable the auxiliary port (command byte bit 5)
//	0xa9       auxiliary interface test: 0x00
//	0xaa       controller self test: 0x55, sets the system flag
//	0xab       keyboard interface test: 0x00
//	0xad/0xae  disable/enable the keyboard (command byte bit 4)
//	0xd0       read the output port
//	0xd1       write the output port: the next data byte; bit 0 clear resets
//	0xd2/0xd3  the next data byte comes back as keyboard/auxiliary input
//	0xd4       the next data byte goes to the auxiliary device (dropped)
//	0xf0-0xff  pulse output port bits 0-3 low; 0xfe pulses reset
//
// Other commands are ignored. A new answer replaces an unread one (the
// output buffer is one byte, as on the real part). Linux's i8042 driver
// probes with 0xaa, 0x20/0x60, 0xd3 (loopback, which is how it finds the
// auxiliary port), 0xa7/0xa8 and 0xa9; all answer at once, so its probe
// never waits for a timeout.
//
// # Reset
//
// The injected Reset function is called once for each reset request: each
// command 0xf0-0xff with bit 0 clear (0xfe in practice) and each write of
// the output port with bit 0 clear. Linux's reboot path sends 0xfe up to ten
// times, so Reset must be idempotent. It is called after the controller's
// lock is released, from the vCPU goroutine that made the request, so it
// may call back into the controller; it should only request the reset
// (signal the VMM's run loop) and return.
//
// # Interrupts
//
// KeyboardIRQ (IRQ 1) and AuxIRQ (IRQ 12) are optional. Each is driven as a
// level, high while the output buffer holds a byte from its side and the
// command byte enables that side's interrupt (bit 0 keyboard, bit 1
// auxiliary), low once the guest reads the byte from 0x60. SetLevel is called
// only on changes, with the controller's lock held. Linux tests that the
// auxiliary interrupt arrives after a 0xd3 loopback and waits 250 ms when it
// does not, so a VMM that wants a fast boot either wires AuxIRQ or boots
// Linux with i8042.noaux. For KVM, each level change can be forwarded with
// KVM_IRQ_LINE as is: the in-kernel PIC and IOAPIC detect the rising edge of
// an edge-triggered ISA pin themselves.
//
// # Concurrency
//
// A Controller is safe for concurrent use; one mutex guards its state.
package i8042
